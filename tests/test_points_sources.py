"""Points awarded by the events themselves, in the event's own transaction: one test per source
kind through the real service or route, each checking the entry (member, points, rule, source,
day) and that a refused event awards nothing; caps at their boundary in Asia/Shanghai days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from app.extensions import db
from app.models import (
    Activity,
    CheckinMethod,
    MemberStatus,
    NeedOutcome,
    NeedRating,
    PointsEntry,
    RuleCode,
    StationEvent,
    StationEventKind,
    TrainingKind,
    TrainingMode,
    TrainingSession,
    VerifyState,
)
from app.services import checkin as checkin_service
from app.services import needs
from app.services import nominations as nominations_service
from app.services.errors import NotAllowed, Refused
from app.services.points import sources
from tests.factories import (
    activity_form_data,
    advance_to_notice,
    make_activity,
    make_admin,
    make_event,
    make_member,
    make_need,
    make_need_world,
    make_nomination,
    make_personas,
    make_station,
    make_world,
    user_of,
)
from tests.helpers import login

# 10:00 in Shanghai on Wednesday 1 July 2026.
T0 = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
DAY0 = date(2026, 7, 1)


def ledger(member_id: int | None = None) -> list[tuple]:
    """(code, points, source type, source id, day) of every entry, oldest first."""
    stmt = sa.select(PointsEntry).order_by(PointsEntry.id)
    if member_id is not None:
        stmt = stmt.where(PointsEntry.member_id == member_id)
    return [(e.code, e.points, e.source_type, e.source_id, e.occurred_on) for e in db.session.scalars(stmt)]


def net(member_id: int) -> int:
    return sum(row[1] for row in ledger(member_id))


# --- check-ins ---------------------------------------------------------------------------------


def test_a_theme_day_check_in_earns_once_on_its_shanghai_day(app):
    p = make_personas()
    event = make_event(p.station, T0 - timedelta(hours=1), T0 + timedelta(hours=1), kind="theme_day")
    with time_machine.travel(T0, tick=False):
        first = checkin_service.check_in(p.member, p.station, CheckinMethod.KIOSK)
        again = checkin_service.check_in(p.member, p.station, CheckinMethod.KIOSK)  # a second scan
        db.session.commit()
    assert first.checkin.event_id == event.id and again.created is False
    assert ledger(p.member.id) == [(RuleCode.THEME_DAY_CHECKIN, 5, "checkin", first.checkin.id, DAY0)]
    entry = db.session.scalar(sa.select(PointsEntry))
    assert entry.created_by_id == p.member.user_id and entry.rule_id is None  # the built-in rule


def test_an_event_attached_to_an_earlier_check_in_earns_then(app):
    p = make_personas()
    with time_machine.travel(T0, tick=False):
        early = checkin_service.check_in(p.member, p.station, CheckinMethod.KIOSK)
        db.session.commit()
    assert ledger() == []  # no event running: a visit earns nothing
    make_event(p.station, T0 + timedelta(hours=1), T0 + timedelta(hours=3), kind="theme_day")
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        checkin_service.check_in(p.member, p.station, CheckinMethod.KIOSK)
        db.session.commit()
    assert ledger(p.member.id) == [(RuleCode.THEME_DAY_CHECKIN, 5, "checkin", early.checkin.id, DAY0)]


def test_a_refused_check_in_and_other_events_earn_nothing(app):
    p = make_personas()
    make_event(p.station, T0 - timedelta(hours=1), T0 + timedelta(hours=1), kind="activity")
    other = make_station(p.tree.community, name="第二驿站")
    make_event(other, T0 - timedelta(hours=1), T0 + timedelta(hours=1), kind="theme_day")
    with time_machine.travel(T0, tick=False):
        checkin_service.check_in(p.member, p.station, CheckinMethod.KIOSK)  # an ordinary activity
        db.session.commit()
        p.member.status = MemberStatus.INACTIVE
        db.session.commit()
        with pytest.raises(NotAllowed):
            checkin_service.check_in(p.member, other, CheckinMethod.KIOSK)
        db.session.rollback()
    assert ledger() == []


def _training(station, starts, ends, cancelled: bool = False) -> TrainingSession:  # type: ignore[no-untyped-def]
    event = StationEvent(station_id=station.id, title="微党课：基层治理", kind=StationEventKind.TRAINING,
                         starts_at=starts, ends_at=ends)
    db.session.add(event)
    db.session.flush()
    session = TrainingSession(org_node_id=station.org_node_id, title="微党课：基层治理",
                              kind=TrainingKind.MICRO_LESSON, mode=TrainingMode.OFFLINE, starts_at=starts,
                              ends_at=ends, duration_minutes=90, station_event_id=event.id,
                              cancelled_at=starts if cancelled else None)
    db.session.add(session)
    db.session.commit()
    return session


def test_a_check_in_at_an_offline_training_session_counts_as_training_attended(app):
    p = make_personas()
    _training(p.station, T0 - timedelta(minutes=30), T0 + timedelta(hours=1))
    with time_machine.travel(T0, tick=False):
        result = checkin_service.check_in(p.member, p.station, CheckinMethod.MANUAL,
                                          recorded_by=p.station_admin)
        db.session.commit()
    assert ledger(p.member.id) == [(RuleCode.TRAINING_ATTENDED, 3, "checkin", result.checkin.id, DAY0)]
    assert db.session.scalar(sa.select(PointsEntry.created_by_id)) == p.station_admin.id


def test_a_cancelled_session_or_a_training_event_without_a_session_earns_nothing(app):
    p = make_personas()
    _training(p.station, T0 - timedelta(minutes=30), T0 + timedelta(hours=1), cancelled=True)
    other = make_station(p.tree.community, name="第二驿站")
    make_event(other, T0 - timedelta(hours=1), T0 + timedelta(hours=1), kind="training")
    with time_machine.travel(T0, tick=False):
        checkin_service.check_in(p.member, p.station, CheckinMethod.KIOSK)
        checkin_service.check_in(p.member, other, CheckinMethod.KIOSK)
        db.session.commit()
    assert ledger() == []


def test_the_daily_cap_counts_shanghai_days_2359_in_0001_next_day_in(app):
    """Two theme days at two stations: the cap (5 a day) lets one in per Shanghai day."""
    p = make_personas()
    second = make_station(p.tree.community, name="第二驿站")
    third = make_station(p.tree.community, name="第三驿站")
    late = datetime(2026, 7, 1, 15, 59, tzinfo=UTC)  # 23:59 on 1 July in Shanghai
    for station in (p.station, second, third):
        make_event(station, late - timedelta(hours=2), late + timedelta(hours=2), kind="theme_day")
    with time_machine.travel(late - timedelta(minutes=30), tick=False):
        checkin_service.check_in(p.member, p.station, CheckinMethod.KIOSK)
        db.session.commit()
    with time_machine.travel(late, tick=False):
        refused = checkin_service.check_in(p.member, second, CheckinMethod.KIOSK)  # same day: over the cap
        db.session.commit()
    with time_machine.travel(late + timedelta(minutes=2), tick=False):  # 00:01 on 2 July
        kept = checkin_service.check_in(p.member, third, CheckinMethod.KIOSK)
        db.session.commit()
    assert refused.checkin.day == date(2026, 7, 1) and kept.checkin.day == date(2026, 7, 2)
    days = [row[4] for row in ledger(p.member.id)]
    assert days == [date(2026, 7, 1), date(2026, 7, 2)]


# --- activities -----------------------------------------------------------------------------------


def _entries_of(activity: Activity) -> list[tuple]:
    return [(e.member_id, e.code, e.points, e.activity_kind) for e in db.session.scalars(
        sa.select(PointsEntry).where(PointsEntry.source_type == "activity", PointsEntry.source_id == activity.id)
        .order_by(PointsEntry.id))]


def test_a_verified_activity_earns_its_author_and_fellows_by_kind_and_a_return_earns_nothing(app):
    w = make_world()
    started = datetime(2026, 6, 30, 3, 0, tzinfo=UTC)
    activity = make_activity(w.member, kind="teaching", station=w.p.station, fellows=[w.fellow],
                             started_at=started)
    returned = make_activity(w.member, kind="mediation", station=w.p.station, started_at=started)
    admin = app.test_client()
    login(admin, w.p.station_admin)
    assert admin.post(f"/activities/{returned.id}/return", data={"reason": "照片与内容不符"}).status_code == 303
    assert admin.post(f"/activities/{activity.id}/verify").status_code == 303
    assert admin.post(f"/activities/{activity.id}/verify").status_code == 303  # refused: decided already
    assert _entries_of(returned) == []
    assert sorted(_entries_of(activity)) == sorted([
        (w.member.id, RuleCode.ACTIVITY_VERIFIED, 3, "teaching"),
        (w.fellow.id, RuleCode.ACTIVITY_VERIFIED, 3, "teaching"),
    ])
    # The day is the activity's (Shanghai) day, not the day it was verified.
    assert {e.occurred_on for e in db.session.scalars(sa.select(PointsEntry))} == {date(2026, 6, 30)}
    assert {e.created_by_id for e in db.session.scalars(sa.select(PointsEntry))} == {w.p.station_admin.id}


def test_an_edit_that_sends_a_verified_activity_back_reverses_and_a_new_verification_reinstates(app):
    w = make_world()
    activity = make_activity(w.member, kind="errand", station=w.p.station)
    admin, author = app.test_client(), app.test_client()
    login(admin, w.p.station_admin)
    login(author, user_of(w.member))
    admin.post(f"/activities/{activity.id}/verify")
    assert net(w.member.id) == 2
    data = activity_form_data(kind="errand", station_id=str(w.p.station.id), address="", note="改了内容")
    data["started_at"] = activity.started_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    assert author.post(f"/activities/{activity.id}/edit", data=data).status_code == 303
    db.session.expire_all()
    assert db.session.get(Activity, activity.id).verify_state is VerifyState.PENDING
    assert [p for _m, _c, p, _k in _entries_of(activity)] == [2] and net(w.member.id) == 0
    corrections = db.session.scalars(sa.select(PointsEntry).where(PointsEntry.code == RuleCode.CORRECTION)).all()
    assert [(c.points, c.created_by_id) for c in corrections] == [(-2, None)]  # a system step
    admin.post(f"/activities/{activity.id}/verify")
    assert net(w.member.id) == 2
    assert len(ledger(w.member.id)) == 3  # award, reversal, reinstatement: nothing edited


def test_an_admins_correction_stands_when_the_activity_is_verified_again(app):
    w = make_world()
    activity = make_activity(w.member, kind="errand", station=w.p.station)
    with time_machine.travel(activity.created_at + timedelta(minutes=5)):
        sources.for_activity(activity, None)  # nothing yet: pending
        activity.verify_state = VerifyState.VERIFIED
        sources.for_activity(activity, None)
        db.session.commit()
    award = db.session.scalar(sa.select(PointsEntry))
    sources.correct(award, w.p.community_admin, "活动未实际开展")
    activity.verify_state = VerifyState.PENDING
    sources.for_activity(activity, None)
    activity.verify_state = VerifyState.VERIFIED
    sources.for_activity(activity, None)
    db.session.commit()
    assert net(w.member.id) == 0
    assert [row[1] for row in ledger(w.member.id)] == [2, -2]


def test_a_visit_naming_covered_households_earns_its_author_when_recorded(app):
    w = make_world()
    member = app.test_client()
    with time_machine.travel(T0):
        login(member, user_of(w.member))
        ok = member.post("/activities/new", data=activity_form_data(residents=[str(w.r1.id), str(w.r2.id)]))
        bare = member.post("/activities/new", data=activity_form_data())  # no household named
        refused = member.post("/activities/new", data=activity_form_data(residents=[str(w.r_other.id)]))
    assert (ok.status_code, bare.status_code, refused.status_code) == (303, 303, 422)
    visit = db.session.scalar(sa.select(Activity).order_by(Activity.id))
    assert ledger() == [(RuleCode.VISIT_DONE, 1, "activity", visit.id, DAY0)]


# --- needs --------------------------------------------------------------------------------------


def _accepted(w, at: datetime):  # type: ignore[no-untyped-def]
    with time_machine.travel(at, tick=False):
        need = make_need(w.household)
        needs.accept(need, user_of(w.member))
        db.session.commit()
    return need


def test_a_need_resolved_by_its_deadline_earns_the_resolver_one_resolved_late_nothing(app):
    w = make_need_world()
    on_time, late = _accepted(w, T0), _accepted(w, T0 + timedelta(minutes=1))
    due = on_time.resolve_due_at
    needs.resolve(on_time, user_of(w.member), NeedOutcome.SOLVED, "已修好", now=due)  # exactly at the deadline
    db.session.commit()
    with pytest.raises(Refused):
        needs.resolve(late, user_of(w.member), NeedOutcome.REFERRED, "转交", now=due)  # no addressee: refused
    db.session.rollback()
    needs.resolve(late, user_of(w.member), NeedOutcome.SOLVED, "已修好", now=late.resolve_due_at + timedelta(seconds=1))
    db.session.commit()
    assert ledger(w.member.id) == [(RuleCode.NEED_RESOLVED_IN_SLA, 3, "need", on_time.id, date(2026, 7, 8))]


def test_ratings_earn_or_cost_the_member_the_need_is_attributed_to(app):
    w = make_need_world()
    ratings = [NeedRating.SATISFIED, NeedRating.BASICALLY, NeedRating.UNSATISFIED]
    made = []
    for rating in ratings:
        need = _accepted(w, T0)
        with time_machine.travel(T0 + timedelta(hours=2), tick=False):
            needs.resolve(need, user_of(w.member), NeedOutcome.SOLVED, "已处理")
            needs.rate(need, rating)
            db.session.commit()
        made.append(need)
    with pytest.raises(Refused):
        needs.rate(made[0], NeedRating.UNSATISFIED)  # rated already
    db.session.rollback()
    rows = [r for r in ledger(w.member.id) if r[0] is not RuleCode.NEED_RESOLVED_IN_SLA]
    assert rows == [(RuleCode.RATED_SATISFIED, 2, "need", made[0].id, DAY0),
                    (RuleCode.RATED_UNSATISFIED, -2, "need", made[2].id, DAY0)]


def test_a_breach_against_a_member_costs_them_one_held_by_the_community_nobody(app):
    w = make_need_world()
    with time_machine.travel(T0, tick=False):
        need = make_need(w.household)
    with time_machine.travel(T0 + timedelta(hours=25), tick=False):
        assert needs.escalate_overdue() == 1  # the member let it pass: to the head
        db.session.commit()
    with time_machine.travel(T0 + timedelta(hours=50), tick=False):
        assert needs.escalate_overdue() == 1  # the head let it pass: to the community
        db.session.commit()
    with time_machine.travel(T0 + timedelta(hours=75), tick=False):
        assert needs.escalate_overdue() == 1  # the community: no member to cost
        db.session.commit()
    rows = db.session.execute(sa.select(PointsEntry.member_id, PointsEntry.points, PointsEntry.source_type)
                              .order_by(PointsEntry.id)).all()
    assert rows == [(w.member.id, -2, "need_breach"), (w.head.id, -2, "need_breach")]
    assert need.id  # the breaches are the need's


# --- diary ---------------------------------------------------------------------------------------


def _write(app, member, resident_id: int, at: datetime):  # type: ignore[no-untyped-def]
    """A diary entry written through the form at ``at`` (logged in then: a session cookie from
    the future would be refused)."""
    with time_machine.travel(at, tick=False):
        client = app.test_client()
        login(client, user_of(member))
        day = at.astimezone(UTC) + timedelta(hours=8)
        return client.post("/diary/new", data={"resident_id": resident_id, "entry_date": day.date().isoformat(),
                                               "text": "反映楼道灯坏了"})


def test_diary_entries_earn_up_to_the_weekly_cap_monday_to_sunday_in_shanghai(app):
    w = make_world()
    sunday_2359 = datetime(2026, 7, 5, 15, 59, tzinfo=UTC)  # 23:59 on Sunday 5 July in Shanghai
    for at in (T0, T0 + timedelta(days=1), sunday_2359, sunday_2359 + timedelta(seconds=30)):
        assert _write(app, w.member, w.r1.id, at).status_code == 303
    assert _write(app, w.member, w.r1.id, sunday_2359 + timedelta(minutes=2)).status_code == 303  # Monday 00:01
    member = app.test_client()
    login(member, user_of(w.member))
    bad = member.post("/diary/new", data={"resident_id": w.r_other.id, "entry_date": "2026-07-06", "text": "x"})
    assert bad.status_code == 422
    days = [(row[1], row[4]) for row in ledger(w.member.id)]
    assert days == [(1, date(2026, 7, 1)), (1, date(2026, 7, 2)), (1, date(2026, 7, 5)), (1, date(2026, 7, 6))]


# --- objections -----------------------------------------------------------------------------------


def test_an_upheld_objection_costs_the_candidate_a_dismissed_one_nothing(app):
    p = make_personas()
    township_admin = make_admin(p.tree.township, name="镇管理员")
    upheld_for = make_member(p.tree.grid, name="陈候选")
    dismissed_for = make_member(p.tree.grid, name="吴候选")
    posted = datetime(2024, 5, 10, 2, 0, tzinfo=UTC)
    found = []
    for candidate, upheld in ((upheld_for, True), (dismissed_for, False)):
        nom = make_nomination(candidate)
        with time_machine.travel(posted, tick=False):
            advance_to_notice(nom, p.community_admin, township_admin)
        with time_machine.travel(posted + timedelta(days=2), tick=False):
            objection = nominations_service.lodge_objection(nom, "13912345678", "长期不在本地居住")
            nominations_service.resolve_objection(p.community_admin, objection, upheld, "已核实")
            db.session.commit()
        found.append(objection)
    assert ledger() == [(RuleCode.OBJECTION_UPHELD, -5, "notice_objection", found[0].id, date(2024, 5, 12))]
    assert db.session.scalar(sa.select(PointsEntry.member_id)) == upheld_for.id
