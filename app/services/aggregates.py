"""Maintained aggregates (``app/models/aggregates.py``), the sibling of ``counters.py`` for the
history rows: check-ins per station and day (and per station, month and member: who checked
in), activities per grid, month and kind, the needs routed to a member or a central household
per year (with the counts of their rates), points per
member and month / year, the evaluation's yearly figures per member (activities by kind,
households visited, training) and per household (activities recorded on its behalf), the
members who took part in each training session, and a member's yearly figures side by side
(``member_years``, counted from four of the others: the evaluation sheet ranks by it).

How they are kept: each flush that inserts, deletes or changes a check-in, an activity (or its
residents and fellows), a points entry, a diary entry, a resident household's covering member, a
training session or completion reads what the rows counted in *before* the flush and what they
count in *after* it (from the database, in the same transaction). The aggregates that are sums
over rows (check-ins per day, activities per month, points, a member's and a household's
activities: ``ADDITIVE``) take the difference, ``n = n + delta`` per key — exact whatever the
change (a kind edited, an activity sent back, an entry moved to another month), one statement per
aggregate, and no recount; a key whose count falls to zero is deleted. The others count distinct
things (households visited, training sessions taken part in, participants, a member's year side by
side) and are recounted for exactly the keys touched. On PostgreSQL the changed and deleted rows
are locked before they are read (``FOR UPDATE``: a row two transactions change is read as the
first leaves it), the additive rows are updated in one order (sorted keys), and the recounted keys
are locked first (transaction advisory locks, in one order), so two transactions touching one key
recount one after the other and the second sees the first's rows; SQLite has one writer at a time.

Writes that bypass the ORM (the demo's bulk inserts, ``points.recompute.insert_expected``) are
followed by ``recount_all`` (``counters.recount_all`` calls it) or ``recount``; a hot path that
inserts a source row in Core (the kiosk's first check-in) adds its share with ``add``; ``check`` compares
every aggregate with a recount from the source rows (``flask recount-counters``).

The readers (the 工作看板, the home pages, the points rankings, the evaluation sheet) use the
helpers at the end of this module: a period is read as whole months (or a whole year) from the
aggregates, plus the days at its edges from the source rows.
"""

from __future__ import annotations

import functools
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.clock import day_start, local_day
from app.extensions import db
from app.models import (
    Activity,
    ActivityKind,
    ActivityMonth,
    Checkin,
    CheckinDay,
    CheckinMemberMonth,
    DiaryEntry,
    HouseholdActivityYear,
    HouseholdYear,
    MemberActivityYear,
    MemberTrainingYear,
    MemberVisitYear,
    MemberYear,
    Need,
    NeedRating,
    PointsEntry,
    PointsMonth,
    PointsYear,
    ResidentHousehold,
    SessionParticipants,
    TrainingCompletion,
    TrainingMode,
    TrainingSession,
    VerifyState,
    activity_members,
    activity_residents,
)
from app.services.needs.common import CLOSED_STATES

Key = tuple
Values = tuple[int, ...]

_KEY = "aggregates.touched"
_LOCK_SPACE = 7400  # pg_advisory_xact_lock(7400 + the aggregate's index, a hash of the key)
_CHUNK = 500


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(first: date) -> date:
    return (first.replace(day=1) + timedelta(days=32)).replace(day=1)


def _local(at: datetime) -> date:
    return local_day(at)


def _year_bounds(years: Iterable[int]) -> tuple[datetime, datetime]:
    years = sorted(years)
    return day_start(date(years[0], 1, 1)), day_start(date(years[-1] + 1, 1, 1))


def _ids(values: Iterable[object]) -> list:
    return sorted({v for v in values if v is not None}, key=repr)


# --- counting from the source rows -----------------------------------------------------------


def _rows(conn: sa.Connection, stmt: sa.Select, keys: list[Key] | None) -> sa.CursorResult:
    """A recount of every key streams its rows (a server-side cursor on PostgreSQL); a recount of
    a flush's few keys reads them in one round trip."""
    return conn.execute(stmt.execution_options(yield_per=20_000) if keys is None else stmt)
# Each function counts the aggregate from the source rows: for the given keys (the rows it reads
# are bounded by the keys' columns; the caller keeps only the keys it asked for), or for every key
# (None). They return {key: values}, keys with nothing counted absent.


def _count_checkin_days(conn: sa.Connection, keys: list[Key] | None) -> dict[Key, Values]:
    stmt = (sa.select(Checkin.station_id, Checkin.day, sa.func.count())
            .group_by(Checkin.station_id, Checkin.day))
    if keys is not None:
        stmt = stmt.where(Checkin.station_id.in_(_ids(k[0] for k in keys)),
                          Checkin.day.in_(_ids(k[1] for k in keys)))
    return {(s, d): (n,) for s, d, n in conn.execute(stmt)}


def _count_checkin_member_months(conn: sa.Connection, keys: list[Key] | None) -> dict[Key, Values]:
    year, month = sa.extract("year", Checkin.day), sa.extract("month", Checkin.day)
    stmt = (sa.select(Checkin.station_id, year, month, Checkin.member_id, sa.func.count())
            .group_by(Checkin.station_id, year, month, Checkin.member_id))
    if keys is not None:
        months = sorted({k[1] for k in keys})
        stmt = stmt.where(Checkin.station_id.in_(_ids(k[0] for k in keys)),
                          Checkin.member_id.in_(_ids(k[2] for k in keys)),
                          Checkin.day >= months[0], Checkin.day < next_month(months[-1]))
    return {(s, date(int(y), int(m), 1), mid): (int(n),) for s, y, m, mid, n in _rows(conn, stmt, keys)}


def _count_activity_months(conn: sa.Connection, keys: list[Key] | None) -> dict[Key, Values]:
    stmt = sa.select(Activity.grid_id, Activity.kind, Activity.started_at)
    if keys is not None:
        months = sorted({k[1] for k in keys})
        stmt = stmt.where(Activity.grid_id.in_(_ids(k[0] for k in keys)),
                          Activity.kind.in_(_ids(k[2] for k in keys)),
                          Activity.started_at >= day_start(months[0]),
                          Activity.started_at < day_start(next_month(months[-1])))
    found: Counter[Key] = Counter()
    for grid_id, kind, at in _rows(conn, stmt, keys):
        found[(grid_id, month_of(_local(at)), kind)] += 1
    return {k: (n,) for k, n in found.items()}


def _count_points(conn: sa.Connection, keys: list[Key] | None, monthly: bool) -> dict[Key, Values]:
    year = sa.extract("year", PointsEntry.occurred_on)
    period = (year, sa.extract("month", PointsEntry.occurred_on)) if monthly else (year,)
    stmt = (sa.select(PointsEntry.member_id, *period, sa.func.count(), sa.func.sum(PointsEntry.points))
            .group_by(PointsEntry.member_id, *period))
    if keys is not None:
        if monthly:
            months = sorted({k[1] for k in keys})
            first, last = months[0], next_month(months[-1]) - timedelta(days=1)
        else:
            years = sorted({k[1] for k in keys})
            first, last = date(years[0], 1, 1), date(years[-1], 12, 31)
        stmt = stmt.where(PointsEntry.member_id.in_(_ids(k[0] for k in keys)),
                          PointsEntry.occurred_on.between(first, last))
    out = {}
    for row in conn.execute(stmt):
        member_id, *when, n, points = row
        key = (member_id, date(int(when[0]), int(when[1]), 1)) if monthly else (member_id, int(when[0]))
        out[key] = (int(n), int(points or 0))
    return out


def _count_points_months(conn: sa.Connection, keys: list[Key] | None) -> dict[Key, Values]:
    return _count_points(conn, keys, monthly=True)


def _count_points_years(conn: sa.Connection, keys: list[Key] | None) -> dict[Key, Values]:
    return _count_points(conn, keys, monthly=False)


_NOT_RETURNED = Activity.verify_state != VerifyState.RETURNED


def _count_member_activities(conn: sa.Connection, keys: list[Key] | None) -> dict[Key, Values]:
    """Recorded (author) or taken part in (fellow, when not also the author): each once."""
    authored = sa.select(Activity.author_member_id, Activity.kind, Activity.started_at).where(_NOT_RETURNED)
    fellows = (sa.select(activity_members.c.member_id, Activity.kind, Activity.started_at)
               .join(Activity, Activity.id == activity_members.c.activity_id)
               .where(_NOT_RETURNED, activity_members.c.member_id != Activity.author_member_id))
    if keys is not None:
        members, kinds = _ids(k[0] for k in keys), _ids(k[2] for k in keys)
        start, end = _year_bounds(k[1] for k in keys)
        window = (Activity.kind.in_(kinds), Activity.started_at >= start, Activity.started_at < end)
        authored = authored.where(Activity.author_member_id.in_(members), *window)
        fellows = fellows.where(activity_members.c.member_id.in_(members), *window)
    took_part: Counter[Key] = Counter()
    wrote: Counter[Key] = Counter()
    for member_id, kind, at in _rows(conn, authored, keys):
        key = (member_id, _local(at).year, kind)
        took_part[key] += 1
        wrote[key] += 1
    for member_id, kind, at in _rows(conn, fellows, keys):
        took_part[(member_id, _local(at).year, kind)] += 1
    return {k: (n, wrote.get(k, 0)) for k, n in took_part.items()}


def _count_household_activities(conn: sa.Connection, keys: list[Key] | None) -> dict[Key, Values]:
    stmt = (sa.select(Activity.central_household_id, Activity.author_member_id, Activity.kind,
                      Activity.started_at)
            .where(Activity.central_household_id.is_not(None), _NOT_RETURNED))
    if keys is not None:
        start, end = _year_bounds(k[2] for k in keys)
        stmt = stmt.where(Activity.central_household_id.in_(_ids(k[0] for k in keys)),
                          Activity.kind.in_(_ids(k[3] for k in keys)),
                          Activity.started_at >= start, Activity.started_at < end)
    found: Counter[Key] = Counter()
    for hid, author, kind, at in conn.execute(stmt):
        found[(hid, author, _local(at).year, kind)] += 1
    return {k: (n,) for k, n in found.items()}


def _count_member_visits(conn: sa.Connection, keys: list[Key] | None) -> dict[Key, Values]:
    """Of the households each member covers, those visited in the year (visits.py's rule)."""
    by_activity = (sa.select(ResidentHousehold.covering_member_id, ResidentHousehold.id, Activity.started_at)
                   .select_from(activity_residents)
                   .join(ResidentHousehold, ResidentHousehold.id == activity_residents.c.resident_household_id)
                   .join(Activity, Activity.id == activity_residents.c.activity_id)
                   .where(ResidentHousehold.covering_member_id.is_not(None),
                          Activity.kind == ActivityKind.VISIT))
    by_diary = (sa.select(ResidentHousehold.covering_member_id, ResidentHousehold.id, DiaryEntry.entry_date)
                .join(ResidentHousehold, ResidentHousehold.id == DiaryEntry.resident_household_id)
                .where(ResidentHousehold.covering_member_id.is_not(None)))
    if keys is not None:
        members = _ids(k[0] for k in keys)
        years = sorted({k[1] for k in keys})
        start, end = _year_bounds(years)
        by_activity = by_activity.where(ResidentHousehold.covering_member_id.in_(members),
                                        Activity.started_at >= start, Activity.started_at < end)
        by_diary = by_diary.where(ResidentHousehold.covering_member_id.in_(members),
                                  DiaryEntry.entry_date.between(date(years[0], 1, 1), date(years[-1], 12, 31)))
    seen: set[tuple[int, int, int]] = set()
    for member_id, resident_id, at in _rows(conn, by_activity, keys):
        seen.add((member_id, resident_id, _local(at).year))
    for member_id, resident_id, day in _rows(conn, by_diary, keys):
        seen.add((member_id, resident_id, day.year))
    found: Counter[Key] = Counter((m, y) for m, _r, y in seen)
    return {k: (n,) for k, n in found.items()}


def _count_member_training(conn: sa.Connection, keys: list[Key] | None) -> dict[Key, Values]:
    """Offline sessions attended (a check-in at the session's event; the session's start year) and
    online sessions completed (the completion's year), cancelled ones left out, each once."""
    offline = (sa.select(Checkin.member_id, TrainingSession.id, TrainingSession.duration_minutes,
                         TrainingSession.starts_at)
               .join(TrainingSession, TrainingSession.station_event_id == Checkin.event_id)
               .where(TrainingSession.mode == TrainingMode.OFFLINE, TrainingSession.cancelled_at.is_(None)))
    online = (sa.select(TrainingCompletion.member_id, TrainingSession.id, TrainingSession.duration_minutes,
                        TrainingCompletion.completed_at)
              .join(TrainingSession, TrainingSession.id == TrainingCompletion.session_id)
              .where(TrainingSession.mode == TrainingMode.ONLINE, TrainingSession.cancelled_at.is_(None)))
    if keys is not None:
        members = _ids(k[0] for k in keys)
        start, end = _year_bounds(k[1] for k in keys)
        offline = offline.where(Checkin.member_id.in_(members), TrainingSession.starts_at >= start,
                                TrainingSession.starts_at < end)
        online = online.where(TrainingCompletion.member_id.in_(members),
                              TrainingCompletion.completed_at >= start, TrainingCompletion.completed_at < end)
    taken: dict[tuple[int, int, int], int] = {}
    for stmt in (offline, online):
        for member_id, session_id, minutes, at in conn.execute(stmt):
            taken[(member_id, session_id, _local(at).year)] = minutes
    found: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for (member_id, _session, year), minutes in taken.items():
        cell = found[(member_id, year)]
        cell[0] += 1
        cell[1] += minutes
    return {k: (n, m) for k, (n, m) in found.items()}


def _count_session_participants(conn: sa.Connection, keys: list[Key] | None) -> dict[Key, Values]:
    attended = (sa.select(TrainingSession.id.label("sid"), Checkin.member_id.label("mid"))
                .join(Checkin, Checkin.event_id == TrainingSession.station_event_id))
    completed = sa.select(TrainingCompletion.session_id, TrainingCompletion.member_id)
    if keys is not None:
        ids = _ids(k[0] for k in keys)
        attended = attended.where(TrainingSession.id.in_(ids))
        completed = completed.where(TrainingCompletion.session_id.in_(ids))
    taken = sa.union(attended, completed).subquery()
    return {(sid,): (n,) for sid, n in conn.execute(
        sa.select(taken.c.sid, sa.func.count()).group_by(taken.c.sid))}


_NEED_FIGURES = ("needs_submitted", "needs_in_time", "needs_resolved", "needs_rated", "needs_satisfied",
                 "needs_unsatisfied")


def _need_flags() -> list[sa.ColumnElement[int]]:
    """A need's part in each of ``_NEED_FIGURES`` (0 or 1): the counts of the evaluation's
    ``needs_select`` (the needs rates' definitions, plus 不满意)."""
    def one(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.case((condition, 1), else_=0)

    return [sa.literal(1), one(Need.accepted_at <= Need.first_accept_due_at), one(Need.status.in_(CLOSED_STATES)),
            one(Need.rating.is_not(None)), one(Need.rating.in_((NeedRating.SATISFIED, NeedRating.BASICALLY))),
            one(Need.rating == NeedRating.UNSATISFIED)]


def _count_member_years(conn: sa.Connection, keys: list[Key] | None) -> dict[Key, Values]:
    """Each member's yearly figures side by side, read from the four aggregates that keep them
    (``recount`` stores those first, in ``AGGREGATES``' order; ``check`` compares them each with
    the source rows): points, activities and authored (over the kinds), visited, minutes; and
    counted from the needs routed to them submitted in the year (hidden ones left out): the
    ``needs_*`` figures."""
    figures = ("points", "activities", "authored", "visited", "minutes")
    parts: list[tuple[type, tuple[str, ...]]] = [
        (PointsYear, ("points",)), (MemberActivityYear, ("activities", "authored")),
        (MemberVisitYear, ("visited",)), (MemberTrainingYear, ("minutes",))]
    selects = []
    for model, columns in parts:  # each padded to the five figures: one statement, one round trip
        member_id, year = model.member_id, model.year  # type: ignore[attr-defined]
        stmt = (sa.select(member_id.label("member_id"), year.label("year"),
                          *(sa.func.sum(getattr(model, f)).label(f) if f in columns else sa.literal(0).label(f)
                            for f in figures))
                .group_by(member_id, year))
        if keys is not None:
            stmt = stmt.where(member_id.in_(_ids(k[0] for k in keys)), year.in_(_ids(k[1] for k in keys)))
        selects.append(stmt)
    width = len(figures) + len(_NEED_FIGURES)
    found: dict[Key, list[int]] = defaultdict(lambda: [0] * width)
    for mid, y, *values in conn.execute(sa.union_all(*selects)):
        cell = found[(mid, y)]
        for i, v in enumerate(values):
            cell[i] += int(v or 0)
    needs = sa.select(Need.member_id, Need.submitted_at, *_need_flags()).where(
        Need.member_id.is_not(None), Need.hidden_at.is_(None))
    if keys is not None:
        start, end = _year_bounds(k[1] for k in keys)
        needs = needs.where(Need.member_id.in_(_ids(k[0] for k in keys)), Need.submitted_at >= start,
                            Need.submitted_at < end)
    for mid, at, *flags in _rows(conn, needs, keys):
        cell = found[(mid, _local(at).year)]
        for i, v in enumerate(flags, start=len(figures)):
            cell[i] += int(v)
    return {k: tuple(v) for k, v in found.items()}


def _count_household_years(conn: sa.Connection, keys: list[Key] | None) -> dict[Key, Values]:
    """The needs routed to each central household submitted in the year (hidden ones left out):
    the ``needs_*`` figures, as ``_count_member_years`` counts a member's."""
    needs = sa.select(Need.central_household_id, Need.submitted_at, *_need_flags()).where(
        Need.central_household_id.is_not(None), Need.hidden_at.is_(None))
    if keys is not None:
        start, end = _year_bounds(k[1] for k in keys)
        needs = needs.where(Need.central_household_id.in_(_ids(k[0] for k in keys)), Need.submitted_at >= start,
                            Need.submitted_at < end)
    found: dict[Key, list[int]] = defaultdict(lambda: [0] * len(_NEED_FIGURES))
    for hid, at, *flags in _rows(conn, needs, keys):
        cell = found[(hid, _local(at).year)]
        for i, v in enumerate(flags):
            cell[i] += int(v)
    return {k: tuple(v) for k, v in found.items()}


@dataclass(frozen=True)
class Aggregate:
    name: str
    model: type
    keys: tuple[str, ...]
    values: tuple[str, ...]
    count: Callable[[sa.Connection, list[Key] | None], dict[Key, Values]]

    @property
    def table(self) -> sa.Table:
        return self.model.__table__  # type: ignore[attr-defined]


AGGREGATES: list[Aggregate] = [
    Aggregate("checkin_days", CheckinDay, ("station_id", "day"), ("checkins",), _count_checkin_days),
    Aggregate("checkin_member_months", CheckinMemberMonth, ("station_id", "month", "member_id"), ("checkins",),
              _count_checkin_member_months),
    Aggregate("activity_months", ActivityMonth, ("grid_id", "month", "kind"), ("activities",),
              _count_activity_months),
    Aggregate("points_months", PointsMonth, ("member_id", "month"), ("entries", "points"),
              _count_points_months),
    Aggregate("points_years", PointsYear, ("member_id", "year"), ("entries", "points"), _count_points_years),
    Aggregate("member_activity_years", MemberActivityYear, ("member_id", "year", "kind"),
              ("activities", "authored"), _count_member_activities),
    Aggregate("household_activity_years", HouseholdActivityYear,
              ("household_id", "author_member_id", "year", "kind"), ("activities",),
              _count_household_activities),
    Aggregate("member_visit_years", MemberVisitYear, ("member_id", "year"), ("visited",), _count_member_visits),
    Aggregate("member_training_years", MemberTrainingYear, ("member_id", "year"), ("sessions", "minutes"),
              _count_member_training),
    Aggregate("session_participants", SessionParticipants, ("session_id",), ("participants",),
              _count_session_participants),
    Aggregate("household_years", HouseholdYear, ("household_id", "year"), _NEED_FIGURES, _count_household_years),
    # Last: read from the four above once they are stored.
    Aggregate("member_years", MemberYear, ("member_id", "year"),
              ("points", "activities", "authored", "visited", "minutes", *_NEED_FIGURES), _count_member_years),
]
BY_NAME = {a.name: a for a in AGGREGATES}


# --- what a source row counts in -------------------------------------------------------------

Touched = dict[str, set[Key]]
Sums = dict[str, dict[Key, list[int]]]

# Aggregates that are sums over the rows (a count, and a total): a row adds its share to one key,
# so a change is applied as the difference of the shares, ``n = n + delta`` — exact, and no
# recount. The others count distinct things (households visited, sessions taken part in, a
# member's year side by side) and are recounted for the keys touched.
ADDITIVE = frozenset({"checkin_days", "checkin_member_months", "activity_months", "points_months", "points_years",
                      "member_activity_years", "household_activity_years"})


@dataclass
class Tally:
    """What some source rows count in, as the database holds them: every key they touch, and for
    the additive aggregates each key's share summed over the rows."""

    keys: Touched = field(default_factory=lambda: {a.name: set() for a in AGGREGATES})
    sums: Sums = field(default_factory=lambda: {name: {} for name in ADDITIVE})

    def add(self, name: str, key: Key, *share: int) -> None:
        self.keys[name].add(key)
        if share:
            cell = self.sums[name].setdefault(key, [0] * len(share))
            for i, v in enumerate(share):
                cell[i] += v


def _checkin_keys(conn: sa.Connection, ids: list[int], out: Tally) -> None:
    for station_id, day, member_id, session_id, starts in conn.execute(
            sa.select(Checkin.station_id, Checkin.day, Checkin.member_id, TrainingSession.id,
                      TrainingSession.starts_at)
            .outerjoin(TrainingSession, TrainingSession.station_event_id == Checkin.event_id)
            .where(Checkin.id.in_(ids))):  # one row per check-in: a station event has one session at most
        out.add("checkin_days", (station_id, day), 1)
        out.add("checkin_member_months", (station_id, month_of(day), member_id), 1)
        if session_id is not None:
            out.add("member_training_years", (member_id, _local(starts).year))
            out.add("session_participants", (session_id,))


def _activity_keys(conn: sa.Connection, ids: list[int], out: Tally) -> None:
    """An activity counts in its grid's month (whatever its verification); unless sent back, for
    its author (recorded and taken part in), each fellow other than the author (taken part in)
    and the central household it was recorded for; a 走访's households' members' visited year."""
    rows = {r.id: r for r in conn.execute(
        sa.select(Activity.id, Activity.author_member_id, Activity.central_household_id, Activity.grid_id,
                  Activity.kind, Activity.started_at, Activity.verify_state).where(Activity.id.in_(ids)))}
    for r in rows.values():
        day = _local(r.started_at)
        out.add("activity_months", (r.grid_id, month_of(day), r.kind), 1)
        counted = int(r.verify_state is not VerifyState.RETURNED)
        out.add("member_activity_years", (r.author_member_id, day.year, r.kind), counted, counted)
        if r.central_household_id is not None:
            out.add("household_activity_years", (r.central_household_id, r.author_member_id, day.year, r.kind),
                    counted)
    for activity_id, member_id in conn.execute(
            sa.select(activity_members.c.activity_id, activity_members.c.member_id)
            .where(activity_members.c.activity_id.in_(ids))):
        r = rows[activity_id]
        counted = int(r.verify_state is not VerifyState.RETURNED and member_id != r.author_member_id)
        out.add("member_activity_years", (member_id, _local(r.started_at).year, r.kind), counted, 0)
    for activity_id, member_id in conn.execute(
            sa.select(activity_residents.c.activity_id, ResidentHousehold.covering_member_id)
            .join(ResidentHousehold, ResidentHousehold.id == activity_residents.c.resident_household_id)
            .where(activity_residents.c.activity_id.in_(ids), ResidentHousehold.covering_member_id.is_not(None))):
        r = rows[activity_id]
        if r.kind is ActivityKind.VISIT:
            out.add("member_visit_years", (member_id, _local(r.started_at).year))


def _points_keys(conn: sa.Connection, ids: list[int], out: Tally) -> None:
    for member_id, day, points in conn.execute(
            sa.select(PointsEntry.member_id, PointsEntry.occurred_on, PointsEntry.points)
            .where(PointsEntry.id.in_(ids))):
        out.add("points_months", (member_id, month_of(day)), 1, points)
        out.add("points_years", (member_id, day.year), 1, points)


def _resident_keys(conn: sa.Connection, ids: list[int], out: Tally) -> None:
    """A household's covering member, for every year it was visited in."""
    covering = dict(conn.execute(
        sa.select(ResidentHousehold.id, ResidentHousehold.covering_member_id)
        .where(ResidentHousehold.id.in_(ids), ResidentHousehold.covering_member_id.is_not(None))).all())
    if not covering:
        return
    for resident_id, at in conn.execute(
            sa.select(activity_residents.c.resident_household_id, Activity.started_at)
            .join(Activity, Activity.id == activity_residents.c.activity_id)
            .where(activity_residents.c.resident_household_id.in_(list(covering)),
                   Activity.kind == ActivityKind.VISIT)):
        out.add("member_visit_years", (covering[resident_id], _local(at).year))
    for resident_id, day in conn.execute(
            sa.select(DiaryEntry.resident_household_id, DiaryEntry.entry_date)
            .where(DiaryEntry.resident_household_id.in_(list(covering)))):
        out.add("member_visit_years", (covering[resident_id], day.year))


def _diary_keys(conn: sa.Connection, ids: list[int], out: Tally) -> None:
    for member_id, day in conn.execute(
            sa.select(ResidentHousehold.covering_member_id, DiaryEntry.entry_date)
            .join(ResidentHousehold, ResidentHousehold.id == DiaryEntry.resident_household_id)
            .where(DiaryEntry.id.in_(ids), ResidentHousehold.covering_member_id.is_not(None))):
        out.add("member_visit_years", (member_id, day.year))


def _session_keys(conn: sa.Connection, ids: list[int], out: Tally) -> None:
    for i in ids:
        out.add("session_participants", (i,))
    for member_id, at in conn.execute(
            sa.select(Checkin.member_id, TrainingSession.starts_at)
            .join(TrainingSession, TrainingSession.station_event_id == Checkin.event_id)
            .where(TrainingSession.id.in_(ids))):
        out.add("member_training_years", (member_id, _local(at).year))
    for member_id, at in conn.execute(
            sa.select(TrainingCompletion.member_id, TrainingCompletion.completed_at)
            .where(TrainingCompletion.session_id.in_(ids))):
        out.add("member_training_years", (member_id, _local(at).year))


def _completion_keys(conn: sa.Connection, ids: list[int], out: Tally) -> None:
    for member_id, session_id, at in conn.execute(
            sa.select(TrainingCompletion.member_id, TrainingCompletion.session_id, TrainingCompletion.completed_at)
            .where(TrainingCompletion.id.in_(ids))):
        out.add("member_training_years", (member_id, _local(at).year))
        out.add("session_participants", (session_id,))


def _need_keys(conn: sa.Connection, ids: list[int], out: Tally) -> None:
    for member_id, household_id, at in conn.execute(
            sa.select(Need.member_id, Need.central_household_id, Need.submitted_at).where(Need.id.in_(ids))):
        year = _local(at).year
        if member_id is not None:
            out.add("member_years", (member_id, year))
        if household_id is not None:
            out.add("household_years", (household_id, year))


# The models whose rows the aggregates count: the attributes whose change moves a count, and how
# to read what a row counts in.
_SOURCES: dict[type, tuple[tuple[str, ...], Callable[[sa.Connection, list[int], Tally], None]]] = {
    Checkin: (("station_id", "day", "member_id", "event_id"), _checkin_keys),
    Activity: (("author_member_id", "central_household_id", "grid_id", "kind", "started_at",
                "verify_state", "fellows", "residents"), _activity_keys),
    PointsEntry: (("member_id", "occurred_on", "points"), _points_keys),
    ResidentHousehold: (("covering_member_id",), _resident_keys),
    DiaryEntry: (("resident_household_id", "entry_date"), _diary_keys),
    TrainingSession: (("mode", "cancelled_at", "starts_at", "duration_minutes", "station_event_id"),
                      _session_keys),
    TrainingCompletion: (("member_id", "session_id", "completed_at"), _completion_keys),
    Need: (("member_id", "central_household_id", "submitted_at", "hidden_at", "accepted_at", "first_accept_due_at",
            "status", "rating"), _need_keys),
}
# A member's row of the year (``member_years``) moves with any of the four figures it holds.
_MEMBER_YEAR_PARTS = ("points_years", "member_activity_years", "member_visit_years", "member_training_years")


def tally(conn: sa.Connection, rows: dict[type, Iterable[int]], lock: bool = False) -> Tally:
    """What the given rows (model → ids) count in, as the database holds them now. ``lock``: on
    PostgreSQL, lock the rows first (``FOR UPDATE``), so that a row another transaction is changing
    is read as that transaction leaves it (their old shares are taken away)."""
    out = Tally()
    for model, ids in rows.items():
        read = _SOURCES[model][1]
        for chunk in _chunks(ids):
            if lock and conn.dialect.name == "postgresql":
                conn.execute(sa.select(model.id).where(model.id.in_(chunk))  # type: ignore[attr-defined]
                             .order_by(model.id).with_for_update())  # type: ignore[attr-defined]
            read(conn, chunk, out)
    return out


def keys_of(conn: sa.Connection, rows: dict[type, Iterable[int]]) -> Touched:
    """The keys the given rows (model → ids) count in, as the database holds them now."""
    out = tally(conn, rows).keys
    for name in _MEMBER_YEAR_PARTS:
        out["member_years"] |= {k[:2] for k in out[name]}
    return out


def _chunks(items: Iterable, size: int = _CHUNK) -> Iterable[list]:
    items = sorted(set(items), key=repr)
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --- the flush listeners -----------------------------------------------------------------------


@dataclass
class _Pending:
    before: Tally = field(default_factory=Tally)  # what changed and deleted rows counted in before the flush
    after: list[object] = field(default_factory=list)  # rows read again after the flush


def _changed(obj: object) -> bool:
    state = sa.inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in _SOURCES[type(obj)][0])


def _before_flush(session: Session, _context: object, _instances: object) -> None:
    """Read what changed and deleted rows count in before this flush (from the database, their
    rows locked on PostgreSQL); new and changed rows are read again after it."""
    pending = _Pending()
    session.info[_KEY] = pending
    old: dict[type, set[int]] = defaultdict(set)
    for obj in session.new:
        if type(obj) in _SOURCES:
            pending.after.append(obj)
    for obj in session.deleted:
        if type(obj) in _SOURCES:
            old[type(obj)].add(obj.id)  # type: ignore[attr-defined]
    for obj in session.dirty:
        if type(obj) in _SOURCES and _changed(obj):
            old[type(obj)].add(obj.id)  # type: ignore[attr-defined]
            pending.after.append(obj)
    if old:
        pending.before = tally(session.connection(), old, lock=True)


def _after_flush(session: Session, _context: object) -> None:
    pending: _Pending | None = session.info.pop(_KEY, None)
    if pending is None:
        return
    rows: dict[type, set[int]] = defaultdict(set)
    for obj in pending.after:
        if getattr(obj, "id", None) is not None:
            rows[type(obj)].add(obj.id)  # type: ignore[attr-defined]
    if not rows and not any(pending.before.keys.values()):
        return
    conn = session.connection()
    after = tally(conn, rows) if rows else Tally()
    apply(conn, pending.before, after)


def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)


def install() -> None:
    """Maintain the aggregates in every ORM session (``counters.install`` calls it)."""
    if not sa.event.contains(Session, "before_flush", _before_flush):
        sa.event.listen(Session, "before_flush", _before_flush)
        sa.event.listen(Session, "after_flush", _after_flush)
        sa.event.listen(Session, "after_soft_rollback", lambda s, _t: _after_rollback(s))


# --- keeping them ------------------------------------------------------------------------------


def apply(conn: sa.Connection, before: Tally, after: Tally) -> None:
    """Bring the aggregates from what some rows counted in (``before``) to what they count in now
    (``after``): the additive ones by the difference of their shares, the others (and each
    member's year whose figures moved) recounted for the keys touched."""
    deltas: Sums = {}
    for name in ADDITIVE:
        old, new = before.sums[name], after.sums[name]
        moved = {}
        for key in old.keys() | new.keys():
            a, b = old.get(key), new.get(key)
            d = [y - x for x, y in zip(a or [0] * len(b), b or [0] * len(a), strict=True)]  # type: ignore[arg-type]
            if any(d):
                moved[key] = d
        if moved:
            deltas[name] = moved
    again: Touched = {name: before.keys[name] | after.keys[name]
                      for name in BY_NAME if name not in ADDITIVE and name != "member_years"}
    years = before.keys["member_years"] | after.keys["member_years"]  # the needs' (read from the rows)
    for name in _MEMBER_YEAR_PARTS:
        years |= {k[:2] for k in (deltas.get(name, {}) if name in ADDITIVE else again[name])}
    again["member_years"] = years
    add(conn, deltas)
    if any(again.values()):
        recount(conn, again)


def inserted(conn: sa.Connection, rows: dict[type, Iterable[int]]) -> None:
    """Count rows a writer inserted without the ORM (the flush never saw them) in every aggregate
    they count in, by reading them back and recounting their keys."""
    apply(conn, Tally(), tally(conn, rows))


def need_filed(conn: sa.Connection, member_id: int | None, household_id: int | None, submitted_at: datetime) -> None:
    """A need just filed without the ORM (a card's submission: submitted, not hidden, nothing
    accepted, closed or rated yet) counts one ``needs_submitted`` in its member's and its central
    household's year, and nothing else (``_need_flags``): added, not recounted — two upserts
    instead of reading the need back and recounting both years under the write lock."""
    year = _local(submitted_at).year
    deltas: Sums = {}
    for name, owner in (("member_years", member_id), ("household_years", household_id)):
        if owner is not None:
            deltas[name] = {(owner, year): [int(v == "needs_submitted") for v in BY_NAME[name].values]}
    add(conn, deltas)


def add(conn: sa.Connection, deltas: Sums) -> None:
    """Add to the additive aggregates: ``{name: {key: [delta per value]}}`` (``INSERT … ON CONFLICT
    DO UPDATE SET n = n + delta``), in one order (sorted keys) so two transactions wait for each
    other's rows and never deadlock; a key whose count falls to zero is deleted (no zero rows).
    For a writer that inserts source rows without the ORM (the kiosk's first check-in)."""
    for agg in AGGREGATES:
        moved = deltas.get(agg.name)
        if not moved:
            continue
        keys = sorted(moved, key=repr)
        stmt = _add_statement(agg.name, conn.dialect.name)
        rows = [_row(agg, k, moved[k]) for k in keys]
        conn.execute(stmt, rows[0] if len(rows) == 1 else rows)
        fallen = [k for k in keys if moved[k][0] < 0]
        for chunk in _chunks(fallen):
            conn.execute(sa.delete(agg.table).where(_key_condition(agg, chunk), agg.table.c[agg.values[0]] <= 0))


@functools.cache
def _add_statement(name: str, dialect: str) -> sa.Insert:
    agg = BY_NAME[name]
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(agg.table)
    return insert.on_conflict_do_update(index_elements=list(agg.keys),
                                        set_={v: agg.table.c[v] + insert.excluded[v] for v in agg.values})


def _lock_id(key: Key) -> int:
    """A stable 32-bit signed number for a key (Python's hash() differs between processes)."""
    h = zlib.crc32(repr(key).encode())
    return h - (1 << 32) if h >= 1 << 31 else h


def recount(conn: sa.Connection, touched: Touched) -> None:
    """Recount the given keys of each aggregate from the source rows and store them (a key with
    nothing left is deleted)."""
    if conn.dialect.name == "postgresql":
        locks = sorted({(_LOCK_SPACE + i, _lock_id(k)) for i, a in enumerate(AGGREGATES)
                        for k in touched.get(a.name, ())})
        if locks:  # one round trip, taken in this order (unnest keeps the arrays' order)
            conn.execute(sa.text(
                "SELECT count(*) FROM (SELECT pg_advisory_xact_lock(s, k) FROM"
                " unnest(CAST(:spaces AS integer[]), CAST(:keys AS integer[])) AS t(s, k)) AS locked"),
                {"spaces": [s for s, _k in locks], "keys": [k for _s, k in locks]})
    for agg in AGGREGATES:
        keys = touched.get(agg.name)
        if keys:
            for chunk in _chunks(keys):
                _store(conn, agg, chunk, agg.count(conn, chunk))


def _key_condition(agg: Aggregate, keys: list[Key]) -> sa.ColumnElement[bool]:
    return sa.tuple_(*(agg.table.c[k] for k in agg.keys)).in_(keys)


def _store(conn: sa.Connection, agg: Aggregate, keys: list[Key], counted: dict[Key, Values]) -> None:
    gone = [k for k in keys if k not in counted]
    if gone:
        conn.execute(sa.delete(agg.table).where(_key_condition(agg, gone)))
    rows = [_row(agg, k, counted[k]) for k in keys if k in counted]
    if not rows:
        return
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(agg.table)
    conn.execute(insert.on_conflict_do_update(index_elements=list(agg.keys),
                                              set_={v: insert.excluded[v] for v in agg.values}), rows)


def _row(agg: Aggregate, key: Key, values: Values) -> dict[str, object]:
    return {**dict(zip(agg.keys, key, strict=True)), **dict(zip(agg.values, values, strict=True))}


def recount_all(conn: sa.Connection, only: Iterable[str] | None = None) -> None:
    """Rebuild every aggregate (or those named in ``only``) from the source rows."""
    for agg in AGGREGATES if only is None else [BY_NAME[name] for name in only]:
        conn.execute(sa.delete(agg.table))
        rows = [_row(agg, k, v) for k, v in agg.count(conn, None).items()]
        for start in range(0, len(rows), 5000):
            conn.execute(sa.insert(agg.table), rows[start:start + 5000])


@dataclass
class Difference:
    counter: str  # the aggregate's name
    key: str
    figure: str
    stored: int
    counted: int


def _stored(conn: sa.Connection, agg: Aggregate) -> dict[Key, Values]:
    cols = [agg.table.c[c] for c in (*agg.keys, *agg.values)]
    n = len(agg.keys)
    return {tuple(r[:n]): tuple(r[n:]) for r in conn.execute(sa.select(*cols))}


def _show(key: Key) -> str:
    return "/".join(k.value if isinstance(k, ActivityKind) else str(k) for k in key)


def check(conn: sa.Connection) -> list[Difference]:
    """Every aggregate compared with a recount from the source rows."""
    out: list[Difference] = []
    for agg in AGGREGATES:
        stored, counted = _stored(conn, agg), agg.count(conn, None)
        zero = (0,) * len(agg.values)
        for key in sorted(set(stored) | set(counted), key=repr):
            a, b = stored.get(key, zero), counted.get(key, zero)
            for name, x, y in zip(agg.values, a, b, strict=True):
                if x != y or (key in stored) != (key in counted):
                    out.append(Difference(agg.name, _show(key), name, x, y))
    return out


# --- reading -------------------------------------------------------------------------------------


def split_months(first: date, last: date) -> tuple[list[date], list[tuple[date, date]]]:
    """The whole months inside the days ``first``..``last`` (their first days) and the days left
    at its edges, as (first, last) ranges."""
    months: list[date] = []
    edges: list[tuple[date, date]] = []
    if first > last:
        return months, edges
    start = first if first.day == 1 else next_month(first)
    if start > last:
        return months, [(first, last)]
    if start > first:
        edges.append((first, start - timedelta(days=1)))
    month = start
    while next_month(month) - timedelta(days=1) <= last:
        months.append(month)
        month = next_month(month)
    if month <= last:
        edges.append((month, last))
    return months, edges


def points_totals(first: date, last: date) -> sa.Subquery:
    """(member_id, total): each member's net points on the days ``first``..``last``, for the
    members with any entry then — a whole year or whole months read from the aggregates, the
    days at the edges from the entries."""
    if (first.month, first.day, last.month, last.day) == (1, 1, 12, 31) and first.year == last.year:
        return (sa.select(PointsYear.member_id, PointsYear.points.label("total"))
                .where(PointsYear.year == first.year).subquery())
    months, edges = split_months(first, last)
    parts: list[sa.Select] = []
    if months:
        parts.append(sa.select(PointsMonth.member_id, PointsMonth.points.label("total"))
                     .where(PointsMonth.month.in_(months)))
    parts += [sa.select(PointsEntry.member_id, PointsEntry.points.label("total"))
              .where(PointsEntry.occurred_on.between(a, b)) for a, b in edges]
    if not parts:  # no day at all
        return sa.select(PointsYear.member_id, PointsYear.points.label("total")).where(sa.false()).subquery()
    if len(months) == 1 and not edges:
        return parts[0].subquery()
    rows = sa.union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    return (sa.select(rows.c.member_id, sa.func.sum(rows.c.total).label("total"))
            .group_by(rows.c.member_id).subquery())


def activities_by_kind(grids: sa.Select, first: date | None, last: date | None) -> dict[ActivityKind, int]:
    """Activities recorded in the grids ``grids`` selects that started on the days
    ``first``..``last`` (Asia/Shanghai; None: no bound on that side), per kind (kinds with none
    absent): whole months from the aggregates, the days at the edges from the activities."""
    found: Counter[ActivityKind] = Counter()
    if first is not None and last is not None:
        months, edges = split_months(first, last)
        conditions = [ActivityMonth.month.in_(months)] if months else None
    else:  # open on a side: every month of the aggregates on that side
        edges, conditions = [], []
        if first is not None:
            if first.day != 1:
                edges.append((first, next_month(first) - timedelta(days=1)))
                first = next_month(first)
            conditions.append(ActivityMonth.month >= first)
        if last is not None:
            if next_month(last) - timedelta(days=1) != last:
                edges.append((month_of(last), last))
                last = month_of(last) - timedelta(days=1)
            conditions.append(ActivityMonth.month <= last)
    stmts = []
    if conditions is not None:
        stmts.append(sa.select(ActivityMonth.kind, sa.func.sum(ActivityMonth.activities))
                     .where(ActivityMonth.grid_id.in_(grids), *conditions)
                     .group_by(ActivityMonth.kind))
    stmts += [sa.select(Activity.kind, sa.func.count(Activity.id))
              .where(Activity.grid_id.in_(grids), Activity.started_at >= day_start(a),
                     Activity.started_at < day_start(b + timedelta(days=1)))
              .group_by(Activity.kind) for a, b in edges]
    for stmt in stmts:
        for kind, n in db.session.execute(stmt):
            found[kind] += int(n or 0)
    return {k: n for k, n in found.items() if n}


def checkins_between(stations: sa.Select, first: date, last: date) -> int:
    """Check-ins at the stations ``stations`` selects on the days ``first``..``last``."""
    return int(db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(CheckinDay.checkins), 0))
        .where(CheckinDay.station_id.in_(stations), CheckinDay.day >= first, CheckinDay.day <= last)) or 0)


def checkins_by_station(stations: sa.Select, first: date, last: date) -> dict[int, int]:
    """Check-ins at each station ``stations`` selects on the days ``first``..``last`` (stations
    with none absent)."""
    return {station_id: int(n) for station_id, n in db.session.execute(
        sa.select(CheckinDay.station_id, sa.func.sum(CheckinDay.checkins))
        .where(CheckinDay.station_id.in_(stations), CheckinDay.day >= first, CheckinDay.day <= last)
        .group_by(CheckinDay.station_id)) if n}


def checkin_members_by_station(stations: sa.Select, first: date, last: date) -> dict[int, int]:
    """The members who checked in at each station ``stations`` selects on the days
    ``first``..``last``, each once (stations with none absent): whole months from the maintained
    check-ins per station, month and member, the days at the edges from the check-ins."""
    months, edges = split_months(first, last)
    parts: list[sa.Select] = []
    if months:
        parts.append(sa.select(CheckinMemberMonth.station_id, CheckinMemberMonth.member_id)
                     .where(CheckinMemberMonth.station_id.in_(stations), CheckinMemberMonth.month.in_(months)))
    parts += [sa.select(Checkin.station_id, Checkin.member_id)
              .where(Checkin.station_id.in_(stations), Checkin.day >= a, Checkin.day <= b) for a, b in edges]
    if not parts:
        return {}
    # A member counts once per station, whether found in a month's rows or on an edge's days.
    rows = (sa.union(*parts) if len(parts) > 1 else parts[0].distinct()).subquery()
    return {station_id: int(n) for station_id, n in db.session.execute(
        sa.select(rows.c.station_id, sa.func.count()).group_by(rows.c.station_id))}


def activities_by_grid_and_kind(grids: sa.Select, first: date, last: date) -> dict[tuple[int, ActivityKind], int]:
    """Activities recorded in each of the grids ``grids`` selects that started on the days
    ``first``..``last`` (Asia/Shanghai), per (grid id, kind) (pairs with none absent): whole
    months from the aggregates, the days at the edges from the activities."""
    months, edges = split_months(first, last)
    stmts = []
    if months:
        stmts.append(sa.select(ActivityMonth.grid_id, ActivityMonth.kind, sa.func.sum(ActivityMonth.activities))
                     .where(ActivityMonth.grid_id.in_(grids), ActivityMonth.month.in_(months))
                     .group_by(ActivityMonth.grid_id, ActivityMonth.kind))
    stmts += [sa.select(Activity.grid_id, Activity.kind, sa.func.count(Activity.id))
              .where(Activity.grid_id.in_(grids), Activity.started_at >= day_start(a),
                     Activity.started_at < day_start(b + timedelta(days=1)))
              .group_by(Activity.grid_id, Activity.kind) for a, b in edges]
    found: Counter[tuple[int, ActivityKind]] = Counter()
    for stmt in stmts:
        for grid_id, kind, n in db.session.execute(stmt):
            found[(grid_id, kind)] += int(n or 0)
    return {k: n for k, n in found.items() if n}
