"""A member's home is kept per process under their home stamps (issue 14: the member home at a
fraction of the statements) — and is never out of date: every write to something the home shows
changes a stamp in the same transaction, so the next view reads afresh. Each case below opens the
home (kept: two statements the second time), makes one write the way the app makes it (the ORM),
and checks the home shows it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from app.extensions import db
from app.models import (
    CentralHousehold,
    HomeStamp,
    Need,
    PointsEntry,
    PostAssignment,
    PostType,
    ResidentHousehold,
    TrainingKind,
    TrainingMode,
    TrainingSession,
)
from app.models.points import RuleCode
from app.services import stamps
from tests.factories import (
    login,
    make_activity,
    make_checkin,
    make_diary_entry,
    make_event,
    make_household,
    make_need,
    make_need_world,
    make_resident,
)
from tests.helpers import count_queries

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Asia/Shanghai
KEPT_HOME_QUERIES = 2  # the principal; the member's and the shared home stamps


def _figure(html: str, fig_id: str) -> str:
    m = re.search(rf'<a id="{fig_id}"[^>]*>([^<]*)</a>', html)
    assert m, fig_id
    return m.group(1)


def _reads(client) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    with count_queries() as statements:
        html = client.get("/").get_data(as_text=True)
    return html, [s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK"))]


def _need_filed(w) -> Callable[[str], bool]:  # type: ignore[no-untyped-def]
    make_need(w.household, text="水管漏水")
    return lambda html: "水管漏水" in html.split('id="waiting-needs"', 1)[1]


def _need_handed_away(w) -> Callable[[str], bool]:  # type: ignore[no-untyped-def]
    need = db.session.scalar(sa.select(Need).where(Need.text == "楼道灯坏了"))
    need.owner_member_id = w.fellow.id  # as a dispatcher's reassignment writes it
    db.session.commit()
    return lambda html: "楼道灯坏了" not in html


def _checked_in(w) -> Callable[[str], bool]:  # type: ignore[no-untyped-def]
    make_checkin(w.member, w.p.station, NOW - timedelta(hours=1))
    return lambda html: _figure(html, "fig-checkins-month") == "1"


def _taken_along(w) -> Callable[[str], bool]:  # type: ignore[no-untyped-def]
    make_activity(w.fellow, kind="group_study", fellows=[w.member], started_at=NOW - timedelta(hours=2))
    return lambda html: _figure(html, "fig-activities-month") == "1"


def _visited_by_a_fellow(w) -> Callable[[str], bool]:  # type: ignore[no-untyped-def]
    make_activity(w.fellow, residents=[w.household], started_at=NOW - timedelta(hours=2))
    return lambda html: "本期待走访 0 户" in html


def _diary_about_the_household(w) -> Callable[[str], bool]:  # type: ignore[no-untyped-def]
    make_diary_entry(w.fellow, w.household, entry_date=date(2026, 11, 17))
    return lambda html: "本期待走访 0 户" in html


def _household_handed_over(w) -> Callable[[str], bool]:  # type: ignore[no-untyped-def]
    other = make_resident(w.p.tree.grid, member=w.fellow, head_name="钱大妈")
    db.session.get(ResidentHousehold, other.id).covering_member_id = w.member.id
    db.session.commit()
    return lambda html: "共联系 2 户" in html and "钱大妈" in html


def _event_at_the_station(w) -> Callable[[str], bool]:  # type: ignore[no-untyped-def]
    make_event(w.p.station, NOW + timedelta(days=1), NOW + timedelta(days=1, hours=2), title="主题党日活动")
    return lambda html: 'id="week-events"' in html and "主题党日活动" in html.split('id="week-events"', 1)[1]


def _training_published(w) -> Callable[[str], bool]:  # type: ignore[no-untyped-def]
    db.session.add(TrainingSession(
        org_node_id=w.p.tree.community.id, title="微党课：初心", kind=TrainingKind.MICRO_LESSON,
        mode=TrainingMode.ONLINE, starts_at=NOW - timedelta(days=1), ends_at=NOW + timedelta(days=10),
        duration_minutes=45, link_url="https://example.org/lesson"))
    db.session.commit()
    return lambda html: "微党课：初心" in html and "培训 1 项" in html


def _points_awarded(w) -> Callable[[str], bool]:  # type: ignore[no-untyped-def]
    db.session.add(PointsEntry(member_id=w.member.id, points=5, code=RuleCode.CORRECTION, source_type="manual", source_id=1,
                               occurred_on=date(2026, 11, 17), note="补记", created_at=NOW))
    db.session.commit()
    return lambda html: _figure(html, "fig-points-month") == "5"


def _post_assigned(w) -> Callable[[str], bool]:  # type: ignore[no-untyped-def]
    post = PostType(org_node_id=w.p.tree.community.id, name="政策宣传岗", duty="宣讲政策")
    db.session.add(post)
    db.session.flush()
    db.session.add(PostAssignment(member_id=w.member.id, post_type_id=post.id, duty="宣讲政策", assigned_by_id=w.p.community_admin.id,
                                  assigned_at=NOW - timedelta(days=1)))
    db.session.commit()
    return lambda html: "政策宣传岗" in html


def _made_head(w) -> Callable[[str], bool]:  # type: ignore[no-untyped-def]
    household = make_household(w.p.tree.grid)
    db.session.get(CentralHousehold, household.id).head_member_id = w.member.id
    db.session.commit()
    return lambda html: 'id="head-today"' in html


def _filed_through_the_card(w) -> Callable[[str], bool]:  # type: ignore[no-untyped-def]
    from app.services import entry_tokens

    token = entry_tokens.current_token(w.household).token
    db.session.commit()
    resident = w.app.test_client()
    reply = resident.post(f"/c/{token}", data={"category": "hardship", "text": "电梯停了", "consent": "y",
                                                "contact_phone": "13911112222"})
    assert reply.status_code == 303, re.findall(r'class="[^"]*(?:error|alert)[^"]*"[^>]*>([^<]+)<', reply.get_data(as_text=True))
    return lambda html: "电梯停了" in html.split('id="waiting-needs"', 1)[1]


def _first_scan_at_the_kiosk(w) -> Callable[[str], bool]:  # type: ignore[no-untyped-def]
    from app.services import checkin_tokens

    member = w.app.test_client()
    login(member, w.member.user)
    assert "签到成功" in member.get(f"/k/{checkin_tokens.kiosk_token(w.p.station.id)}").get_data(as_text=True)
    return lambda html: _figure(html, "fig-checkins-month") == "1"


CASES = {
    "a need a resident filed through the contact card": _filed_through_the_card,
    "their first scan at a kiosk": _first_scan_at_the_kiosk,
    "a need filed on a household they cover": _need_filed,
    "a need handed to another member": _need_handed_away,
    "their check-in": _checked_in,
    "a service a fellow recorded with them": _taken_along,
    "a fellow's visit to a household they cover": _visited_by_a_fellow,
    "a diary entry about a household they cover": _diary_about_the_household,
    "a household handed to them": _household_handed_over,
    "an event at their station": _event_at_the_station,
    "a training session for their community": _training_published,
    "points for them": _points_awarded,
    "a post given to them": _post_assigned,
    "their heading a central household": _made_head,
}


@pytest.mark.parametrize("write", CASES.values(), ids=CASES.keys())
def test_a_kept_home_shows_each_write_at_once(app, client, write):
    with time_machine.travel(NOW, tick=False):
        w = make_need_world()
        make_need(w.household, text="楼道灯坏了")
        login(client, w.member.user)
        before, _statements = _reads(client)
        again, statements = _reads(client)
        assert again == before and len(statements) <= KEPT_HOME_QUERIES, statements  # kept
        w.app = app
        shows = write(w)
        assert not shows(before)
        after, _statements = _reads(client)
        assert shows(after), after


def test_a_rolled_back_write_changes_no_stamp_and_a_committed_one_changes_only_its_members(app):
    w = make_need_world()
    db.session.commit()
    before = {m: stamps.read(m) for m in (w.member.id, w.fellow.id)}
    make_checkin(w.member, w.p.station, NOW)
    after = {m: stamps.read(m) for m in (w.member.id, w.fellow.id)}
    assert after[w.member.id] != before[w.member.id] and after[w.fellow.id] == before[w.fellow.id]
    make_checkin(w.fellow, w.p.station, NOW)
    db.session.rollback()  # nothing left to roll back: the stamps stay
    stamp = db.session.get(HomeStamp, w.member.id).stamp
    row = db.session.get(Need, make_need(w.household).id)
    row.text = "改了又撤回"
    db.session.flush()
    db.session.rollback()
    assert db.session.get(HomeStamp, w.member.id).stamp != stamp  # the need's commit changed it
    stamp = db.session.get(HomeStamp, w.member.id).stamp
    row = db.session.get(Need, row.id)
    row.text = "再改又撤回"
    db.session.flush()
    db.session.rollback()
    assert db.session.get(HomeStamp, w.member.id).stamp == stamp


def test_a_bulk_write_that_bypasses_the_orm_makes_every_home_read_again(app, client):
    with time_machine.travel(NOW, tick=False):
        w = make_need_world()
        login(client, w.member.user)
        before, _statements = _reads(client)
        db.session.execute(sa.insert(PointsEntry), [{  # as the demo and the recompute write
            "member_id": w.member.id, "points": 7, "code": RuleCode.CORRECTION, "occurred_on": date(2026, 11, 17),
            "source_type": "manual", "source_id": 2,
            "note": "", "created_at": NOW}])
        stamps.bump_shared(db.session.connection())
        db.session.commit()
        after, _statements = _reads(client)
        assert _figure(before, "fig-points-month") == "0" and _figure(after, "fig-points-month") == "7"


def test_a_kept_homes_time_left_moves_with_the_clock_and_a_need_falls_overdue(app, client):
    with time_machine.travel(NOW, tick=False):
        w = make_need_world()
        due = make_need(w.household, text="楼道灯坏了").accept_due_at
        login(client, w.member.user, remember=True)  # signed in on the phone for days
        first, _statements = _reads(client)
        left = re.search(r"剩余 (\d+) 小时", first)
        assert left and "todo-overdue" not in first
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        later, statements = _reads(client)
        assert len(statements) <= KEPT_HOME_QUERIES  # the same reads, kept: only the clock moved
        assert re.search(r"剩余 (\d+) 小时", later).group(1) == str(int(left.group(1)) - 2)
    with time_machine.travel(due + timedelta(minutes=30), tick=False):  # past the deadline
        overdue, _statements = _reads(client)
        assert "todo-overdue" in overdue and "已超时" in overdue
