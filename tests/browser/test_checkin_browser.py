"""Check-in in a real browser: a member scans on a phone; the kiosk's list updates on a tablet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.database import writing
from app.extensions import db
from app.models import CheckinMethod
from app.services import checkin as svc
from app.services.checkin_tokens import kiosk_token
from tests.browser.conftest import browser_login, screenshot
from tests.factories import (
    PASSWORD,
    make_event,
    make_member,
    make_station,
    make_station_admin,
    make_tree,
)


def test_member_scans_a_kiosk_code_logged_out_logs_in_and_lands_on_success(live_server, phone):
    tree = make_tree()
    station = make_station(tree.community)
    member = make_member(tree.grid, name="李党员")
    phone.goto(f"{live_server.url}/k/{kiosk_token(station.id)}")
    phone.get_by_text("登录后将自动完成签到").wait_for()
    screenshot(phone, "checkin-phone-login")
    phone.get_by_label("手机号").fill(member.phone)
    phone.get_by_label("密码").fill(PASSWORD)
    phone.get_by_role("button", name="登录").click()
    phone.wait_for_url("**/checkin/resume/**")
    phone.get_by_role("heading", name="签到成功").wait_for()
    assert phone.get_by_text("龙山党群驿站").is_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "checkin-phone-success")
    # Scanning again the same day: idempotent.
    phone.goto(f"{live_server.url}/k/{kiosk_token(station.id)}")
    phone.get_by_role("heading", name="今日已签到").wait_for()
    screenshot(phone, "checkin-phone-again")
    phone.get_by_role("link", name="我的签到").first.click()
    phone.get_by_text("平板扫码").wait_for()
    screenshot(phone, "checkin-phone-mine")


def test_kiosk_on_a_tablet_shows_a_new_check_in_without_reloading(live_server, tablet):
    tree = make_tree()
    station = make_station(tree.community)
    admin = make_station_admin(station)
    now = datetime.now(UTC)
    make_event(station, now - timedelta(minutes=20), now + timedelta(hours=2), title="六月主题党日")
    early = make_member(tree.grid, name="王早到")
    late = make_member(tree.grid_b, name="赵晚来")
    with writing():
        svc.check_in(early, station, CheckinMethod.KIOSK)
        db.session.commit()
    browser_login(tablet, live_server.url, admin.phone, PASSWORD)
    tablet.goto(f"{live_server.url}/stations/{station.id}/kiosk")
    tablet.locator("#kiosk-qr svg").wait_for()
    tablet.get_by_text("王*到").wait_for()
    assert tablet.locator("#kiosk-count").inner_text() == "1"
    clock = tablet.locator("#kiosk-clock").inner_text()
    assert len(clock) == 8 and clock[2] == ":"
    tablet.evaluate("window.__kioskMarker = 42")  # lost if the page reloads
    assert tablet.evaluate("document.documentElement.scrollWidth") <= 1024
    screenshot(tablet, "kiosk-tablet")
    db.session.commit()  # end the test's read snapshot so the write below can take the lock
    with writing():
        svc.check_in(late, station, CheckinMethod.KIOSK)
        db.session.commit()
    tablet.get_by_text("赵*来").wait_for(timeout=12_000)
    assert tablet.locator("#kiosk-count").inner_text() == "2"
    assert tablet.evaluate("window.__kioskMarker") == 42
    screenshot(tablet, "kiosk-tablet-updated")


def test_poster_page_prints_on_a4(live_server, tablet):
    tree = make_tree()
    station = make_station(tree.community)
    admin = make_station_admin(station)
    browser_login(tablet, live_server.url, admin.phone, PASSWORD)
    tablet.goto(f"{live_server.url}/stations/{station.id}/poster")
    tablet.locator(".poster-qr svg").wait_for()
    screenshot(tablet, "poster-screen")
    tablet.emulate_media(media="print")
    assert not tablet.locator("#poster-tools").is_visible()
    screenshot(tablet, "poster-print")


def test_station_pages_on_a_tablet_and_the_kiosk_on_a_phone(live_server, tablet, phone):
    tree = make_tree()
    station = make_station(tree.community)
    admin = make_station_admin(station)
    member = make_member(tree.grid, name="李党员")
    now = datetime.now(UTC)
    make_event(station, now - timedelta(minutes=5), now + timedelta(hours=1), title="主题党日")
    with writing():
        svc.check_in(member, station, CheckinMethod.KIOSK)
        db.session.commit()
    browser_login(tablet, live_server.url, admin.phone, PASSWORD)
    tablet.goto(f"{live_server.url}/stations/{station.id}/")
    screenshot(tablet, "station-detail-tablet")
    tablet.goto(f"{live_server.url}/stations/{station.id}/ledger")
    tablet.get_by_text("李党员").wait_for()
    screenshot(tablet, "station-ledger-tablet")
    tablet.goto(f"{live_server.url}/stations/{station.id}/manual?q=李")
    screenshot(tablet, "station-manual-tablet")
    browser_login(phone, live_server.url, admin.phone, PASSWORD)
    phone.goto(f"{live_server.url}/stations/{station.id}/kiosk")
    phone.locator("#kiosk-qr svg").wait_for()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "kiosk-phone")
