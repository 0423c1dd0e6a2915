"""Training in a real browser: on a phone, a member opens 我的培训 and completes an online session
with a 心得; an offline session at their station shows where and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.clock import TZ
from app.extensions import db
from app.models import TrainingCompletion
from app.services import training as svc
from tests.browser.conftest import browser_login, screenshot
from tests.factories import (
    PASSWORD,
    make_admin,
    make_household,
    make_member,
    make_station,
    make_tree,
)


def test_member_completes_an_online_session_with_a_reflection_on_a_phone(live_server, phone):
    tree = make_tree()
    station = make_station(tree.community)
    admin = make_admin(tree.community, name="社区管理员")
    household = make_household(tree.grid)
    member = make_member(tree.grid, name="李党员", household=household)
    now = datetime.now(UTC)
    lesson = svc.plan_session(admin, svc.SessionInput(
        title="微党课：红色家书", kind="micro_lesson", org_node_id=tree.community.id, description="读一封家书",
        starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=6), duration_minutes=45, mode="online",
        link_url="https://example.org/lesson"), None, now)
    svc.plan_session(admin, svc.SessionInput(
        title="集中学习：党章", kind="concentrated", org_node_id=tree.community.id, description="",
        starts_at=now + timedelta(days=2), ends_at=now + timedelta(days=2, hours=2), duration_minutes=120,
        mode="offline", station_id=station.id), None, now)
    db.session.commit()

    browser_login(phone, live_server.url, member.phone, PASSWORD)
    phone.locator("#nav-more summary").click()  # on a phone it is in the nav's 更多 sheet
    phone.get_by_role("link", name="我的培训").first.click()
    phone.wait_for_url(f"{live_server.url}/training/me")
    phone.get_by_text("龙山党群驿站").first.wait_for()  # the offline one: where
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "training-mine-phone")
    phone.get_by_text("我已学完", exact=True).click()
    phone.get_by_label("学习心得（选填，500 字以内）").fill("家书里的信念让我很受触动，要讲给联系户听。")
    screenshot(phone, "training-complete-phone")
    phone.get_by_role("button", name="提交").click()
    phone.get_by_text("已记录学完，感谢您的学习。").wait_for()
    phone.locator(f"#session-{lesson.id}").get_by_text("已学完").wait_for()
    phone.locator("#training-record").get_by_text("家书里的信念").wait_for()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "training-done-phone")

    db.session.rollback()  # end the read snapshot taken before the browser saved
    done = db.session.scalars(sa.select(TrainingCompletion)).unique().all()
    assert [(c.member_id, c.reflection) for c in done] == [(member.id, "家书里的信念让我很受触动，要讲给联系户听。")]


def test_admin_moves_a_planned_session_on_a_tablet(live_server, tablet):
    tree = make_tree()
    station = make_station(tree.community)
    admin = make_admin(tree.community, name="社区管理员")
    now = datetime.now(UTC)
    session = svc.plan_session(admin, svc.SessionInput(
        title="集中学习：党章", kind="concentrated", org_node_id=tree.community.id, description="",
        starts_at=now + timedelta(days=2), ends_at=now + timedelta(days=2, hours=2), duration_minutes=120,
        mode="offline", station_id=station.id), None, now)
    db.session.commit()

    browser_login(tablet, live_server.url, admin.phone, PASSWORD)
    tablet.goto(f"{live_server.url}/training/sessions/{session.id}")
    tablet.locator("#session-edit").click()
    tablet.get_by_label("培训名称").fill("集中学习：党章（改到周五）")
    ends = tablet.get_by_label("结束时间")
    ends.fill((now + timedelta(days=2, hours=3)).astimezone(TZ).strftime("%Y-%m-%dT%H:%M"))
    screenshot(tablet, "training-edit-tablet")
    tablet.get_by_role("button", name="保存").click()
    tablet.get_by_text("培训已修改。").wait_for()
    tablet.get_by_role("heading", name="集中学习：党章（改到周五）").wait_for()
    screenshot(tablet, "training-edited-tablet")

    db.session.rollback()
    event = db.session.get(type(session), session.id).station_event
    assert event.title == "集中学习：党章（改到周五）"
    assert event.ends_at - event.starts_at == timedelta(hours=3)
