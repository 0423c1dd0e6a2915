"""Maintained aggregates (app/services/aggregates.py): after any random sequence of changes to the
rows they count — check-ins, activities (kind, time, grid, verification, fellows, residents, the
household they were recorded for), points entries, diary entries, covering members, training
sessions and completions — every aggregate equals a recount from the source rows, and the figures
read from them equal the same figures counted from the rows. The recount command reports a
difference and repairs it."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.clock import days_bounds, local_day
from app.extensions import db
from app.models import (
    Activity,
    ActivityKind,
    ActivityMonth,
    Checkin,
    CheckinDay,
    CheckinMemberMonth,
    CheckinMethod,
    DiaryEntry,
    HouseholdYear,
    MemberStatus,
    MemberVisitYear,
    MemberYear,
    Need,
    NeedCategory,
    NeedOrigin,
    NeedOutcome,
    NeedRating,
    NeedStatus,
    PointsEntry,
    PointsYear,
    ResidentHousehold,
    RuleCode,
    StationEvent,
    StationEventKind,
    TrainingCompletion,
    TrainingKind,
    TrainingMode,
    TrainingSession,
    VerifyState,
)
from app.services import aggregates, overview, training
from app.services.evaluation.figures import (
    Subject,
    Year,
    activity_ids,
    figures,
    training_sessions,
    visited_residents,
)
from app.services.needs import submit_need
from app.services.points import lists
from tests.factories import make_household, make_member, make_personas, make_resident, make_station

# Instants either side of the Asia/Shanghai year and month ends (UTC+8).
INSTANTS = [
    datetime(2025, 12, 31, 15, 59, tzinfo=UTC),  # 2025-12-31 23:59 there
    datetime(2025, 12, 31, 16, 0, tzinfo=UTC),  # 2026-01-01 00:00 there
    datetime(2026, 1, 31, 16, 30, tzinfo=UTC),  # 2026-02-01 00:30 there
    datetime(2026, 2, 15, 3, 0, tzinfo=UTC),
    datetime(2025, 6, 30, 17, 0, tzinfo=UTC),  # 2025-07-01 01:00 there
]
DAYS = [date(2025, 12, 31), date(2026, 1, 1), date(2026, 1, 31), date(2026, 2, 1), date(2025, 7, 1)]


def _differences() -> list:
    return aggregates.check(db.session.connection())


def _session(station, mode: TrainingMode, at: datetime, minutes: int) -> TrainingSession:  # type: ignore[no-untyped-def]
    event = None
    if mode is TrainingMode.OFFLINE:
        event = StationEvent(station_id=station.id, title="培训", kind=StationEventKind.TRAINING,
                             starts_at=at, ends_at=at + timedelta(hours=2))
        db.session.add(event)
        db.session.flush()
    session = TrainingSession(org_node_id=station.org_node_id, title="微党课", kind=TrainingKind.MICRO_LESSON,
                              mode=mode, starts_at=at, ends_at=at + timedelta(hours=2), duration_minutes=minutes,
                              station_event_id=event.id if event else None,
                              link_url="" if event else "https://example.org/lesson")
    db.session.add(session)
    db.session.flush()
    return session


@pytest.mark.parametrize("seed", [11, 2024])
def test_random_operations_keep_every_aggregate_equal_to_a_recount(app, seed):
    p = make_personas()
    rng = random.Random(seed)
    grids = [p.tree.grid, p.tree.grid_b, p.tree.grid2]
    hh = p.member.central_household
    hh2 = make_household(p.tree.grid_b)
    members = [p.member, p.other_member] + [
        make_member(rng.choice(grids), name=f"党员{i}", household=rng.choice([hh, hh2, None])) for i in range(5)]
    residents = [make_resident(rng.choice(grids), rng.choice(members + [None]), head_name=f"户{i}")
                 for i in range(8)]
    stations = [p.station, make_station(p.tree.grid2, name="杨桥驿站")]
    sessions = [_session(stations[0], TrainingMode.OFFLINE, INSTANTS[1], 90),
                _session(stations[1], TrainingMode.OFFLINE, INSTANTS[0], 45),
                _session(stations[0], TrainingMode.ONLINE, INSTANTS[3], 30)]
    db.session.commit()
    assert _differences() == []
    activities: list[Activity] = []
    checkins: list[Checkin] = []
    diary: list[DiaryEntry] = []
    needs: list[Need] = []
    for step in range(200):
        op = rng.randrange(18)
        if op == 0 or not activities:
            author = rng.choice(members)
            at_station = rng.random() < 0.5
            a = Activity(author_member_id=author.id, grid_id=author.grid_id, kind=rng.choice(list(ActivityKind)),
                         started_at=rng.choice(INSTANTS), duration_minutes=30,
                         station_id=stations[0].id if at_station else None,
                         address="" if at_station else "龙山路1号",
                         verify_state=VerifyState.PENDING if at_station else VerifyState.NONE,
                         central_household_id=rng.choice([None, hh.id, hh2.id]),
                         created_by_id=author.user_id)
            a.fellows = rng.sample([m for m in members if m.id != author.id], rng.randrange(3))
            a.residents = rng.sample(residents, rng.randrange(3))
            db.session.add(a)
            activities.append(a)
        elif op == 1:
            a = rng.choice(activities)
            if sa.inspect(a).persistent:  # its lists loaded, as the edit form's service does
                db.session.execute(sa.select(Activity).where(Activity.id == a.id).options(
                    selectinload(Activity.fellows), selectinload(Activity.residents))).all()
            what = rng.randrange(6)
            if what == 0:
                a.kind = rng.choice(list(ActivityKind))
            elif what == 1:
                a.started_at = rng.choice(INSTANTS)
            elif what == 2:
                a.grid_id = rng.choice(grids).id
            elif what == 3:
                a.fellows = rng.sample([m for m in members if m.id != a.author_member_id], rng.randrange(3))
            elif what == 4:
                a.residents = rng.sample(residents, rng.randrange(3))
            else:
                a.central_household_id = rng.choice([None, hh.id, hh2.id])
        elif op == 2:  # verification: sent back (no longer counted for its members), verified again
            a = rng.choice([x for x in activities if x.station_id is not None] or activities)
            if a.station_id is not None:
                a.verify_state = rng.choice([VerifyState.PENDING, VerifyState.VERIFIED, VerifyState.RETURNED])
                a.return_reason = "照片不清楚" if a.verify_state is VerifyState.RETURNED else ""
        elif op == 3:
            a = rng.choice(activities)
            activities.remove(a)
            db.session.delete(a)
        elif op == 4:
            m, s, d = rng.choice(members), rng.choice(stations), rng.choice(DAYS)
            if not any(c.member_id == m.id and c.station_id == s.id and c.day == d for c in checkins):
                event = rng.choice([None, sessions[0].station_event_id, sessions[1].station_event_id])
                c = Checkin(member_id=m.id, station_id=s.id, day=d, method=CheckinMethod.KIOSK,
                            checked_in_at=datetime(d.year, d.month, d.day, 2, tzinfo=UTC), event_id=event)
                db.session.add(c)
                checkins.append(c)
        elif op == 5 and checkins:
            c = rng.choice(checkins)
            if rng.random() < 0.5:
                checkins.remove(c)
                db.session.delete(c)
            else:
                d = rng.choice(DAYS)
                if not any(o.member_id == c.member_id and o.station_id == c.station_id and o.day == d
                           for o in checkins):
                    c.day = d
        elif op == 6:
            db.session.add(PointsEntry(member_id=rng.choice(members).id, points=rng.choice([-3, 2, 5]),
                                       code=RuleCode.DIARY_ENTRY, source_type="test", source_id=step,
                                       occurred_on=rng.choice(DAYS)))
        elif op == 7:
            if diary and rng.random() < 0.5:
                e = rng.choice(diary)
                if rng.random() < 0.4:
                    diary.remove(e)
                    db.session.delete(e)
                elif rng.random() < 0.5:
                    e.entry_date = rng.choice(DAYS)
                else:
                    e.resident_household_id = rng.choice(residents).id
            else:
                e = DiaryEntry(member_id=rng.choice(members).id, resident_household_id=rng.choice(residents).id,
                               entry_date=rng.choice(DAYS), text="反映路灯坏了")
                db.session.add(e)
                diary.append(e)
        elif op == 8:
            r = rng.choice(residents)
            m = rng.choice(members + [None])
            r.covering_member_id = m.id if m is not None else None
        elif op == 9:
            s = rng.choice(sessions)
            what = rng.randrange(3)
            if what == 0:
                s.duration_minutes = rng.choice([30, 60, 120])
            elif what == 1:
                s.cancelled_at = None if s.cancelled_at else INSTANTS[0]
            else:
                s.starts_at = rng.choice(INSTANTS[:2])
                s.ends_at = s.starts_at + timedelta(hours=2)
        elif op == 10:
            m = rng.choice(members)
            if db.session.scalar(sa.select(TrainingCompletion.id).where(
                    TrainingCompletion.member_id == m.id, TrainingCompletion.session_id == sessions[2].id)) is None:
                db.session.add(TrainingCompletion(member_id=m.id, session_id=sessions[2].id,
                                                  completed_at=rng.choice(INSTANTS), reflection="学习了"))
        elif op == 11:
            m = rng.choice(members)
            m.status = rng.choice([MemberStatus.ACTIVE, MemberStatus.ACTIVE, MemberStatus.INACTIVE])
        elif op in (12, 13) or not needs:  # a need routed to a member: filed, then moved along or hidden
            needs.append(submit_need(NeedCategory.REPAIR, "路灯坏了", origin=NeedOrigin.CARD,
                                     household=rng.choice(residents), contact_phone="13911112222", consent=True,
                                     now=rng.choice(INSTANTS)))
        else:
            need = rng.choice(needs)
            if _change_need(rng, need, members, [hh, hh2]):
                needs.remove(need)
        if rng.random() < 0.3:
            if rng.random() < 0.2:
                db.session.rollback()
                # What the database holds again: a row deleted in the rolled-back part is back.
                activities = list(db.session.scalars(sa.select(Activity).order_by(Activity.id)))
                checkins = list(db.session.scalars(sa.select(Checkin).order_by(Checkin.id)))
                diary = list(db.session.scalars(sa.select(DiaryEntry).order_by(DiaryEntry.id)))
                # A need is filed in Core and then loaded: after a rollback its object is still
                # in the session, its row gone. Keep those whose row is there.
                by_id = {sa.inspect(n).identity[0]: n for n in needs if sa.inspect(n).identity}
                alive = set(db.session.scalars(sa.select(Need.id).where(Need.id.in_(list(by_id)))))
                needs = [n for i, n in by_id.items() if i in alive]
            else:
                db.session.commit()
        db.session.flush()
        assert _differences() == [], f"after step {step} (operation {op})"
    db.session.commit()
    # The needs' counts were exercised (routed, resolved, rated, in time).
    kept = db.session.execute(sa.select(*(sa.func.sum(getattr(MemberYear, f"needs_{f}")) for f in (
        "submitted", "in_time", "resolved", "rated", "unsatisfied")))).one()
    assert all(kept), kept
    assert db.session.scalar(sa.select(sa.func.sum(HouseholdYear.needs_submitted))) > 0
    _figures_equal_the_rows(p, members)


def _change_need(rng: random.Random, need: Need, members: list, households: list) -> bool:
    """One of the changes the needs workflow makes to what the needs' counts read (or the need
    deleted: True)."""
    what = rng.randrange(10)
    if what == 0:  # accepted, in time or late
        need.status = NeedStatus.ACCEPTED if need.status not in (NeedStatus.RESOLVED, NeedStatus.RATED) else need.status
        need.accepted_at = need.first_accept_due_at + timedelta(hours=rng.choice([-2, 3]))
    elif what == 1:  # resolved, or reopened
        if need.status in (NeedStatus.RESOLVED, NeedStatus.RATED):
            need.status, need.outcome, need.resolved_at, need.rating = NeedStatus.IN_PROGRESS, None, None, None
        else:
            need.status, need.outcome, need.resolved_at = NeedStatus.RESOLVED, NeedOutcome.SOLVED, need.submitted_at
            if rng.random() < 0.5:
                need.status, need.rating = NeedStatus.RATED, rng.choice(list(NeedRating))
    elif what == 2:  # rated, once resolved
        if need.status in (NeedStatus.RESOLVED, NeedStatus.RATED):
            need.status, need.rating = NeedStatus.RATED, rng.choice(list(NeedRating))
    elif what == 3:  # hidden, or shown again
        need.hidden_at, need.hidden_reason = (None, None) if need.hidden_at else (need.submitted_at, "重复")
    elif what == 4:  # routed to another member (or none), and their household
        m = rng.choice(members + [None])
        need.member_id = m.id if m is not None else None
        need.central_household_id = rng.choice([None, *(h.id for h in households)])
    elif what == 5:  # its submission moved (a correction across a year's end)
        need.submitted_at = rng.choice(INSTANTS)
    elif what < 9:  # resolved and rated in one step
        if need.status not in (NeedStatus.RESOLVED, NeedStatus.RATED):
            need.outcome, need.resolved_at = NeedOutcome.SOLVED, need.submitted_at
            need.accepted_at = need.accepted_at or need.first_accept_due_at - timedelta(hours=1)
        need.status, need.rating = NeedStatus.RATED, rng.choice(list(NeedRating))
    else:
        db.session.delete(need)
        return True
    return False


def _figures_equal_the_rows(p, members) -> None:  # type: ignore[no-untyped-def]
    """What the pages read from the aggregates equals the same figures counted from the rows."""
    for year in (2025, 2026):
        y = Year(year)
        start, end = days_bounds(y.first, y.last)
        for subject in Subject:
            ids = (sa.select(sa.literal_column("id")).select_from(sa.table("members"))
                   if subject is Subject.MEMBERS else sa.select(sa.literal_column("id")).select_from(
                       sa.table("central_households")))
            got = figures(subject, ids, year)
            rows = db.session.execute(activity_ids(subject, ids, y)).all()
            for key in {r[0] for r in rows}:
                kinds = {}
                for r in rows:
                    if r[0] == key:
                        kinds[r[2]] = kinds.get(r[2], 0) + 1
                assert got[key].activities == kinds, (subject, year, key)
            assert sum(f.activities_total for f in got.values()) == len(rows)
        member_ids = sa.select(sa.literal_column("id")).select_from(sa.table("members"))
        got = figures(Subject.MEMBERS, member_ids, year)
        visited = set(db.session.scalars(visited_residents(Subject.MEMBERS, member_ids, y)))
        assert sum(f.visited for f in got.values()) == len(visited)
        minutes = db.session.execute(sa.select(sa.func.coalesce(sa.func.sum(sa.literal_column("minutes")), 0))
                                     .select_from(training_sessions(member_ids, year).subquery())).scalar()
        assert sum(f.training_minutes for f in got.values()) == minutes
        for m in members:
            points = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(PointsEntry.points), 0)).where(
                PointsEntry.member_id == m.id, PointsEntry.occurred_on.between(y.first, y.last)))
            assert (got.get(m.id).points if m.id in got else 0) == points
    # The rankings over a year, a month and days across a month's end read the aggregates.
    for first, last in [(date(2026, 1, 1), date(2026, 12, 31)), (date(2026, 1, 1), date(2026, 1, 31)),
                        (date(2025, 12, 31), date(2026, 2, 1))]:
        period = lists.Period("c", first, last, "")
        ranked = lists.ranking_rows(p.tree.district, "member", period, [m.id for m in members])
        for m in members:
            points = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(PointsEntry.points), 0)).where(
                PointsEntry.member_id == m.id, PointsEntry.occurred_on.between(first, last)))
            if m.status is MemberStatus.ACTIVE:
                assert ranked[m.id].total == points, (first, last, m.id)
    # Activities by kind over days across month ends, check-ins per week.
    grids = sa.select(sa.literal_column("id")).select_from(sa.table("org_nodes"))
    for first, last in [(date(2025, 12, 31), date(2026, 2, 1)), (date(2026, 1, 1), date(2026, 1, 31)),
                        (date(2026, 1, 1), None), (date(2025, 12, 31), None), (None, date(2026, 1, 31)),
                        (None, date(2026, 2, 1)), (None, None), (date(2026, 2, 2), date(2026, 1, 1))]:
        counted: dict = {}
        for kind, at in db.session.execute(sa.select(Activity.kind, Activity.started_at)):
            if (first is None or first <= local_day(at)) and (last is None or local_day(at) <= last):
                counted[kind] = counted.get(kind, 0) + 1
        assert aggregates.activities_by_kind(grids, first, last) == counted, (first, last)
    # The admin home's training figures: participations (attended or completed, each once).
    for year in (2025, 2026):
        counts = training.scope_counts(p.district_admin, year)
        first, last = days_bounds(date(year, 1, 1), date(year, 12, 31))
        pairs = {(s.id, c.member_id) for s in db.session.scalars(sa.select(TrainingSession).where(
                     TrainingSession.starts_at >= first, TrainingSession.starts_at < last,
                     TrainingSession.cancelled_at.is_(None)))
                 for c in db.session.scalars(sa.select(Checkin).where(Checkin.event_id == s.station_event_id))}
        pairs |= {(c.session_id, c.member_id) for c in db.session.scalars(sa.select(TrainingCompletion))
                  if first <= c.session.starts_at < last and c.session.cancelled_at is None}
        assert counts.participations == len(pairs)
        minutes = sum(db.session.get(TrainingSession, sid).duration_minutes for sid, _m in pairs)
        assert counts.minutes == minutes
    sessions = list(db.session.scalars(sa.select(TrainingSession)))
    for sid, n in training.participation_counts(sessions).items():
        s = db.session.get(TrainingSession, sid)
        attended = {c.member_id for c in db.session.scalars(sa.select(Checkin).where(
            Checkin.event_id == s.station_event_id))} if s.station_event_id else set()
        completed = set(db.session.scalars(sa.select(TrainingCompletion.member_id).where(
            TrainingCompletion.session_id == sid)))
        assert n == len(completed or attended)
    weeks = overview.weekly_checkins(p.district_admin, date(2026, 2, 3), weeks=10)
    for monday, n in weeks:
        assert n == db.session.scalar(sa.select(sa.func.count(Checkin.id)).where(
            Checkin.day >= monday, Checkin.day <= monday + timedelta(days=6)))


def test_the_recount_command_reports_a_wrong_aggregate_and_repairs_it(app):
    p = make_personas()
    resident = make_resident(p.tree.grid, p.member)
    a = Activity(author_member_id=p.member.id, grid_id=p.member.grid_id, kind=ActivityKind.VISIT,
                 started_at=INSTANTS[3], duration_minutes=30, address="龙山路1号",
                 verify_state=VerifyState.NONE, created_by_id=p.member.user_id)
    a.residents = [resident]
    db.session.add(a)
    db.session.add(Checkin(member_id=p.member.id, station_id=p.station.id, day=DAYS[1],
                           method=CheckinMethod.KIOSK, checked_in_at=INSTANTS[1]))
    db.session.add(PointsEntry(member_id=p.member.id, points=5, code=RuleCode.DIARY_ENTRY,
                               source_type="test", source_id=1, occurred_on=DAYS[1]))
    db.session.commit()
    assert _differences() == []
    assert db.session.get(MemberVisitYear, (p.member.id, 2026)).visited == 1
    db.session.execute(sa.update(CheckinDay).values(checkins=7))
    db.session.execute(sa.delete(ActivityMonth))
    db.session.execute(sa.update(PointsYear).values(points=99))
    db.session.execute(sa.update(CheckinMemberMonth).values(checkins=3))
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["recount-counters"])
    assert result.exit_code == 1
    assert "checkin_days" in result.output and "activity_months" in result.output
    assert "points_years" in result.output and "checkin_member_months" in result.output
    result = runner.invoke(args=["recount-counters", "--repair"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["recount-counters"]).exit_code == 0
    assert _differences() == []
    assert db.session.get(PointsYear, (p.member.id, 2026)).points == 5


def test_split_months():
    assert aggregates.split_months(date(2026, 1, 1), date(2026, 3, 31)) == (
        [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)], [])
    assert aggregates.split_months(date(2025, 12, 31), date(2026, 2, 1)) == (
        [date(2026, 1, 1)], [(date(2025, 12, 31), date(2025, 12, 31)), (date(2026, 2, 1), date(2026, 2, 1))])
    assert aggregates.split_months(date(2026, 1, 5), date(2026, 1, 20)) == ([], [(date(2026, 1, 5), date(2026, 1, 20))])


def test_the_residents_list_total_comes_from_the_counters_and_equals_its_rows(app, client):
    """The district's resident-household list is not counted per page: its total is the grid
    counters' sum, and it equals the rows the list holds (all, those nobody covers, under a node,
    and — counted — with a search)."""
    from tests.factories import login
    from tests.helpers import count_queries

    p = make_personas()
    for i in range(7):
        make_resident(p.tree.grid if i % 2 else p.tree.grid2, p.member if i % 3 == 0 else None,
                      head_name=f"户主{i}")
    db.session.commit()
    login(client, p.district_admin)
    residents = list(db.session.scalars(sa.select(ResidentHousehold)))
    uncovered = [r for r in residents if r.covering_member_id is None]
    in_grid = [r for r in residents if r.grid_id == p.tree.grid.id]
    for url, n in [("/structure/residents", len(residents)), ("/structure/residents?below=1", len(uncovered)),
                   (f"/structure/residents?node={p.tree.grid.id}", len(in_grid)),
                   ("/structure/residents?q=户主3", 1)]:
        with count_queries() as statements:
            page = client.get(url).get_data(as_text=True)
        assert f"共 {n} 户群众户" in page, url
        counted = any("count(" in s.lower() and "resident_households" in s for s in statements)
        assert counted == ("q=" in url), url


def test_the_activity_ledger_total_comes_from_the_aggregates_and_equals_its_rows(app, client):
    """The ledger's total is read from the activities per grid and month (whole months) and the
    edge days, and equals the rows it lists, whatever the period, kind and grid; filtered by
    verification it is counted."""
    from tests.factories import login

    p = make_personas()
    for i, at in enumerate(INSTANTS * 2):
        author = p.member if i % 2 else p.other_member
        db.session.add(Activity(author_member_id=author.id, grid_id=author.grid_id,
                                kind=ActivityKind.VISIT if i % 3 else ActivityKind.ERRAND, started_at=at,
                                duration_minutes=30, address="龙山路1号", verify_state=VerifyState.NONE,
                                created_by_id=author.user_id))
    db.session.commit()
    login(client, p.district_admin)
    rows = [(a.kind, local_day(a.started_at), a.grid_id) for a in db.session.scalars(sa.select(Activity))]
    cases = [({"date_from": "2025-12-31"}, lambda k, d, g: d >= date(2025, 12, 31)),
             ({"date_from": "2026-01-01", "date_to": "2026-02-01"},
              lambda k, d, g: date(2026, 1, 1) <= d <= date(2026, 2, 1)),
             ({"date_to": "2026-01-31", "kind": "visit"}, lambda k, d, g: d <= date(2026, 1, 31) and k.value == "visit"),
             ({"date_from": "2025-06-01", "grid": str(p.member.grid_id)}, lambda k, d, g: g == p.member.grid_id),
             ({"date_from": "2025-06-01", "state": "none"}, lambda k, d, g: True)]
    for args, keep in cases:
        n = sum(1 for r in rows if keep(*r))
        page = client.get("/activities/ledger", query_string=args).get_data(as_text=True)
        assert f"共 {n} 条" in page, (args, n)


def test_concurrent_writers_on_one_key_leave_the_aggregates_right(app):
    """Four sessions at once record check-ins at one station on one day and points in one month
    for one member: the advisory locks make each recount see the others' committed rows."""
    from tests.factories import make_member
    from tests.helpers import write_concurrently

    p = make_personas()
    members = [make_member(p.tree.grid, name=f"并发{i}") for i in range(4)]
    db.session.commit()
    station_id, member_ids, target = p.station.id, [m.id for m in members], p.member.id

    def record(n: int, i: int) -> None:
        db.session.add(Checkin(member_id=member_ids[n], station_id=station_id, day=DAYS[i],
                               method=CheckinMethod.KIOSK, checked_in_at=INSTANTS[1]))
        db.session.add(PointsEntry(member_id=target, points=1, code=RuleCode.DIARY_ENTRY,
                                   source_type="test", source_id=n * 10 + i, occurred_on=DAYS[1]))

    write_concurrently(app, record)
    assert _differences() == []
    assert db.session.get(CheckinDay, (station_id, DAYS[0])).checkins == 4
    assert db.session.get(PointsYear, (target, 2026)).points == 20
