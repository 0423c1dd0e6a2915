"""Points in a real browser at phone width: a member checks in at a training session through the
station's kiosk and sees the points appear on 我的积分."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import zxingcpp
from PIL import Image

from app.extensions import db
from app.models import StationEvent, StationEventKind, TrainingKind, TrainingMode, TrainingSession
from tests.browser.conftest import PHONE, _context, browser_login, screenshot
from tests.factories import PASSWORD, make_member, make_station, make_station_admin, make_tree


def test_a_member_checks_in_at_a_training_session_by_the_kiosk_and_sees_the_points(live_server, browser):
    tree = make_tree()
    station = make_station(tree.community)
    admin = make_station_admin(station)
    member = make_member(tree.grid, name="李党员")
    now = datetime.now(UTC)
    event = StationEvent(station_id=station.id, title="微党课：身边的好党员", kind=StationEventKind.TRAINING,
                         starts_at=now - timedelta(minutes=10), ends_at=now + timedelta(hours=1))
    db.session.add(event)
    db.session.flush()
    db.session.add(TrainingSession(org_node_id=tree.community.id, title=event.title,
                                   kind=TrainingKind.MICRO_LESSON, mode=TrainingMode.OFFLINE,
                                   starts_at=event.starts_at, ends_at=event.ends_at, duration_minutes=70,
                                   station_event_id=event.id))
    db.session.commit()

    kiosk_context, phone_context = _context(browser, PHONE), _context(browser, PHONE, has_touch=True, is_mobile=True)
    try:
        # The station admin opens the kiosk; its QR code is read off the screen, as a camera would.
        kiosk = kiosk_context.new_page()
        browser_login(kiosk, live_server.url, admin.phone, PASSWORD)
        kiosk.goto(f"{live_server.url}/stations/{station.id}/kiosk")
        kiosk.get_by_text("微党课：身边的好党员").first.wait_for()
        found = zxingcpp.read_barcodes(Image.open(io.BytesIO(kiosk.locator("#kiosk-qr").screenshot())))
        assert len(found) == 1 and found[0].text.startswith(f"{live_server.url}/k/")
        screenshot(kiosk, "points-kiosk-phone")

        # The member scans it on their phone, logs in, and the check-in completes.
        phone = phone_context.new_page()
        phone.goto(found[0].text)
        phone.get_by_label("手机号").fill(member.phone)
        phone.get_by_label("密码").fill(PASSWORD)
        phone.get_by_role("button", name="登录").click()
        phone.get_by_role("heading", name="签到成功").wait_for()
        assert phone.get_by_text("已计出勤").is_visible()

        # 我的积分 shows the training's points, where they came from, and the rank.
        phone.goto(f"{live_server.url}/")
        if not phone.get_by_role("link", name="我的积分").first.is_visible():
            phone.locator("#nav-more summary").click()  # on a phone it is in the 更多 sheet
        phone.get_by_role("link", name="我的积分").first.click()
        phone.get_by_role("heading", name="我的积分").wait_for()
        assert phone.locator("#points-balance").inner_text() == "3"
        assert phone.locator("#points-month").inner_text() == "3"
        entry = phone.locator(".points-entry").first
        assert "参加培训" in entry.inner_text() and "+3" in entry.inner_text()
        assert "微党课：身边的好党员" in entry.inner_text()
        assert "网格内第 1 名 / 共 1 人" in phone.locator("#rank-month").inner_text()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360
        screenshot(phone, "points-mine-phone")
    finally:
        kiosk_context.close()
        phone_context.close()
