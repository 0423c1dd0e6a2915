"""``flask points recompute``: the period recomputed from the source records, compared with the
ledger, differences reported (exit code 1), nothing edited except the missing entries an explicit
``--apply-missing`` writes — once, through the award path."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
import time_machine

from app.clock import local_today
from app.extensions import db
from app.models import (
    CheckinMethod,
    NeedOutcome,
    NeedRating,
    PointsEntry,
    RuleCode,
    TrainingCompletion,
    TrainingKind,
    TrainingMode,
    TrainingSession,
)
from app.services import activities, needs
from app.services import checkin as checkin_service
from app.services import diary as diary_service
from app.services.points import recompute, sources
from tests.factories import (
    make_activity,
    make_diary_entry,
    make_event,
    make_need,
    make_need_world,
    make_resident,
    make_world,
    user_of,
)
from tests.helpers import login

T0 = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)  # 10:00, Wednesday 1 July 2026, Shanghai


def run(runner, first: str, last: str, *extra: str):  # type: ignore[no-untyped-def]
    return runner.invoke(args=["points", "recompute", "--from", first, "--to", last, *extra])


def count() -> int:
    return db.session.scalar(sa.select(sa.func.count(PointsEntry.id)))


def _busy_week(w) -> None:  # type: ignore[no-untyped-def]
    """A week of events through the services: a theme day, diary entries past the weekly cap, a
    verified activity, a need resolved in time and rated 满意, a reopened one."""
    make_event(w.p.station, T0 - timedelta(hours=1), T0 + timedelta(hours=1), kind="theme_day")
    with time_machine.travel(T0, tick=False):
        checkin_service.check_in(w.member, w.p.station, CheckinMethod.KIOSK)
        for i in range(5):
            diary_service.create(w.member, w.r1.id, local_today(), f"第{i}条", local_today())
        db.session.commit()
    activity = make_activity(w.member, kind="mediation", station=w.p.station, fellows=[w.fellow],
                             started_at=T0 - timedelta(days=1))
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        activities.verify(activity, w.p.station_admin, T0 + timedelta(hours=1))
        db.session.commit()


def test_after_the_events_awarded_themselves_a_recompute_finds_nothing(app, runner):
    w = make_world()
    _busy_week(w)
    before = count()
    assert before == 1 + 3 + 2  # theme day, 3 diary entries (the cap), the activity for two members
    result = run(runner, "2026-06-01", "2026-07-31")
    assert result.exit_code == 0, result.output
    assert "应有 6 条，台账 6 条" in result.output and "没有差异" in result.output
    assert run(runner, "2026-06-01", "2026-07-31", "--apply-missing").exit_code == 0
    assert count() == before


def test_a_source_recorded_without_its_award_is_reported_missing_and_applied_once(app, runner):
    w = make_world()
    entry = make_diary_entry(w.member, w.r1, entry_date=date(2026, 7, 1))  # written past the service
    db.session.execute(sa.update(type(entry)).where(type(entry).id == entry.id).values(created_at=T0))
    db.session.commit()
    result = run(runner, "2026-07-01", "2026-07-01")
    assert result.exit_code == 1
    assert f"缺少 2026-07-01 党员#{w.member.id} 民情日记 diary_entry#{entry.id} 应计 +1 台账 +0" in result.output
    assert count() == 0  # reported, not written
    applied = run(runner, "2026-07-01", "2026-07-01", "--apply-missing")
    assert applied.exit_code == 0, applied.output
    assert "（已补记）" in applied.output and "已补记 1 条" in applied.output
    assert run(runner, "2026-07-01", "2026-07-01").exit_code == 0
    assert run(runner, "2026-07-01", "2026-07-01", "--apply-missing").exit_code == 0
    assert [(e.code, e.points, e.source_id) for e in db.session.scalars(sa.select(PointsEntry))] == [
        (RuleCode.DIARY_ENTRY, 1, entry.id)]


def test_extra_and_different_entries_are_reported_and_left_for_an_admin(app, runner):
    w = make_world()
    entry = make_diary_entry(w.member, w.r1, entry_date=date(2026, 7, 1))
    db.session.execute(sa.update(type(entry)).where(type(entry).id == entry.id).values(created_at=T0))
    day = date(2026, 7, 1)
    db.session.add_all([
        PointsEntry(member_id=w.member.id, points=5, code=RuleCode.DIARY_ENTRY, source_type="diary_entry",
                    source_id=entry.id, occurred_on=day),  # the rule gives 1
        PointsEntry(member_id=w.fellow.id, points=3, code=RuleCode.NEED_RESOLVED_IN_SLA, source_type="need",
                    source_id=999, occurred_on=day),  # no such need
    ])
    db.session.commit()
    result = run(runner, "2026-07-01", "2026-07-01", "--apply-missing")
    assert result.exit_code == 1
    assert f"分值不同 2026-07-01 党员#{w.member.id} 民情日记 diary_entry#{entry.id} 应计 +1 台账 +5" in result.output
    assert f"多出 2026-07-01 党员#{w.fellow.id} 诉求按时办结 need#999 应计 +0 台账 +3" in result.output
    assert count() == 2
    # Only the member under the node asked for are checked.
    other = run(runner, "2026-07-01", "2026-07-01", "--node", str(w.p.tree.community2.id))
    assert other.exit_code == 0 and "应有 0 条，台账 0 条" in other.output


def test_an_admins_correction_is_listed_but_is_no_difference(app, runner):
    w = make_world()
    with time_machine.travel(T0, tick=False):
        entry = diary_service.create(w.member, w.r1.id, date(2026, 7, 1), "反映路灯", date(2026, 7, 1))
        db.session.commit()
    award = db.session.scalar(sa.select(PointsEntry).where(PointsEntry.source_id == entry.id))
    sources.correct(award, w.p.community_admin, "重复记录")
    db.session.commit()
    result = run(runner, "2026-07-01", "2026-07-01")
    assert result.exit_code == 0, result.output
    assert "已人工更正" in result.output


def test_a_rule_changed_today_leaves_yesterdays_entries_alone_and_recompute_agrees(app, runner):
    w = make_world()
    yesterday_at, today_at = T0 - timedelta(days=1), T0
    with time_machine.travel(yesterday_at, tick=False):
        diary_service.create(w.member, w.r1.id, date(2026, 6, 30), "昨天", date(2026, 6, 30))
        db.session.commit()
    with time_machine.travel(today_at, tick=False):
        admin = app.test_client()
        login(admin, w.p.community_admin)
        response = admin.post(f"/points/rules/{w.p.tree.community.id}/diary_entry",
                              data={"points": "4", "cap_period": "week", "cap_points": "12",
                                    "starts_on": "2026-07-01"})
        assert response.status_code == 303, response.get_data(as_text=True)
        diary_service.create(w.member, w.r1.id, date(2026, 7, 1), "今天", date(2026, 7, 1))
        db.session.commit()
    assert [(e.points, e.occurred_on) for e in db.session.scalars(sa.select(PointsEntry).order_by(PointsEntry.id))] == [
        (1, date(2026, 6, 30)), (4, date(2026, 7, 1))]
    for first, last in (("2026-06-30", "2026-06-30"), ("2026-07-01", "2026-07-01"), ("2026-06-01", "2026-07-31")):
        result = run(runner, first, last)
        assert result.exit_code == 0, result.output


def test_needs_resolved_again_after_a_reopening_award_once_and_recompute_agrees(app, runner):
    w = make_need_world()
    with time_machine.travel(T0, tick=False):
        need = make_need(w.household)
        needs.accept(need, user_of(w.member))
        needs.resolve(need, user_of(w.member), NeedOutcome.SOLVED, "已修好")
        db.session.commit()
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        needs.rate(need, NeedRating.UNSATISFIED)  # reopens, with a fresh 7-day deadline
        db.session.commit()
    with time_machine.travel(T0 + timedelta(days=9), tick=False):
        needs.resolve(need, user_of(w.member), NeedOutcome.SOLVED, "再次上门")  # late this time
        needs.rate(need, NeedRating.SATISFIED)
        db.session.commit()
    rows = [(e.code, e.points) for e in db.session.scalars(sa.select(PointsEntry).order_by(PointsEntry.id))]
    assert rows == [(RuleCode.NEED_RESOLVED_IN_SLA, 3), (RuleCode.RATED_UNSATISFIED, -2),
                    (RuleCode.RATED_SATISFIED, 2)]
    result = run(runner, "2026-06-01", "2026-07-31")
    assert result.exit_code == 0, result.output


def test_online_completions_are_recomputed_for_the_training_area(app, runner):
    """The training area awards TRAINING_COMPLETED in its own service (source
    "training_completion"); the recompute and the demo backfill read the completions too."""
    w = make_world()
    session = TrainingSession(org_node_id=w.p.tree.community.id, title="线上微党课", kind=TrainingKind.MICRO_LESSON,
                              mode=TrainingMode.ONLINE, starts_at=T0 - timedelta(days=3), ends_at=T0 + timedelta(days=3),
                              duration_minutes=30, link_url="https://example.org/lesson")
    db.session.add(session)
    db.session.flush()
    done = TrainingCompletion(session_id=session.id, member_id=w.member.id, completed_at=T0)
    db.session.add(done)
    db.session.commit()
    result = run(runner, "2026-07-01", "2026-07-01", "--apply-missing")
    assert result.exit_code == 0 and "已补记 1 条" in result.output
    entry = db.session.scalar(sa.select(PointsEntry))
    assert (entry.code, entry.points, entry.source_type, entry.source_id) == (
        RuleCode.TRAINING_COMPLETED, 2, "training_completion", done.id)


def test_the_bulk_build_matches_what_the_events_award(app):
    """The demo's builder replays the same sources under the same rules and caps."""
    w = make_world()
    make_resident(w.p.tree.grid, w.member)
    _busy_week(w)
    built = sorted((a.event.key, a.points) for a in recompute.expected(date(2026, 6, 1), date(2026, 7, 31)))
    awarded = sorted(((e.code, e.source_type, e.source_id, e.member_id), e.points)
                     for e in db.session.scalars(sa.select(PointsEntry)))
    assert built == awarded and len(built) == 6


def test_bad_arguments_are_refused_in_chinese(app, runner):
    result = run(runner, "2026-07-02", "2026-07-01")
    assert result.exit_code == 2 and "截止日期不能早于起始日期" in result.output
    result = run(runner, "2026-07-01", "2026-07-01", "--node", "999999")
    assert result.exit_code == 2 and "没有编号为 999999 的组织" in result.output
    assert run(runner, "2026-13-01", "2026-07-01").exit_code == 2


def test_the_bulk_build_leaves_entries_already_awarded_and_writes_the_rest(app):
    """A generator that awarded some events through the services: the demo's last step adds only
    what is missing (no duplicate, which the UNIQUE constraint would refuse anyway)."""
    w = make_world()
    _busy_week(w)
    entry = make_diary_entry(w.member, w.r2, entry_date=date(2026, 7, 8))
    db.session.execute(sa.update(type(entry)).where(type(entry).id == entry.id)
                       .values(created_at=T0 + timedelta(days=7)))
    db.session.commit()
    assert recompute.insert_expected(db.session.connection(), date(2026, 6, 1), date(2026, 7, 31)) == 1
    db.session.commit()
    assert count() == 7
