"""Home pages as to-do lists for today (今日待办), one per role. Each figure here is the count of a
list the page links to, computed with the same condition as that list (tested figure by figure).
"Today", "this week" and "this month" are Asia/Shanghai."""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.clock import day_start, local_day
from app.extensions import db, read_core
from app.models import (
    Activity,
    CentralHousehold,
    Checkin,
    HasSummary,
    Member,
    MemberStatus,
    Need,
    NeedCategory,
    NeedStatus,
    OrgNode,
    Role,
    Station,
    StationEvent,
    StationEventKind,
    TrainingKind,
    TrainingMode,
    User,
    VerifyState,
)
from app.policy import scope_condition, scope_roots
from app.services import aggregates, structure, visits
from app.services import needs as needs_service

SHOWN = 8  # items of a to-do list shown on the home page (the figure counts them all)


@dataclass(frozen=True)
class NeedBrief(HasSummary):
    """A need as a to-do line shows it (one Core row, no ORM object)."""

    id: int
    category: NeedCategory
    text: str
    status: NeedStatus
    central_household_id: int | None


@dataclass
class Waiting:
    """A need waiting for someone, with its running deadline."""

    need: NeedBrief
    due: datetime
    overdue: bool
    hours: int  # whole hours left before the deadline (negative: hours past it)

    @property
    def reason(self) -> str:
        if self.need.status is NeedStatus.SUBMITTED:
            return str(_l("已超过接单时限")) if self.overdue else str(_l("待接单"))
        return str(_l("已超过办结时限")) if self.overdue else str(_l("待办结"))


_OPEN = (NeedStatus.SUBMITTED, NeedStatus.ACCEPTED, NeedStatus.IN_PROGRESS)
# Built once (issue 14): the home page runs these on every view.
_WAITING = (
    sa.select(Need.id, Need.category, Need.text, Need.status, Need.central_household_id,
              Need.accept_due_at, Need.resolve_due_at)
    .where(Need.owner_member_id == sa.bindparam("member"), Need.hidden_at.is_(None), Need.status.in_(_OPEN))
    .order_by(sa.case((Need.status == NeedStatus.SUBMITTED, Need.accept_due_at), else_=Need.resolve_due_at),
              Need.id)
)


def _waiting(member_id: int, now: datetime) -> list[Waiting]:
    """Open needs the member holds, overdue first, then by the running deadline."""
    return _waiting_at(tuple(tuple(r) for r in read_core(_WAITING, {"member": member_id})), now)


def _waiting_at(rows: tuple[tuple, ...], now: datetime) -> list[Waiting]:
    """:func:`_waiting` from its rows, with the time left as it stands at ``now``."""
    out = []
    for nid, category, text, status, central_id, accept_due, resolve_due in rows:
        deadline = accept_due if status is NeedStatus.SUBMITTED else resolve_due
        left = (deadline - now).total_seconds() / 3600
        out.append(Waiting(NeedBrief(nid, category, text or "", status, central_id), deadline, deadline < now,
                           int(left) if left >= 0 else math.floor(left)))
    return out


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def week_bounds(day: date) -> tuple[date, date]:
    """Monday and Sunday of the week holding ``day``."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def stations_of(member: Member) -> list[Station]:
    """The active stations a member belongs to: those of their grid and the nodes above it."""
    chain = member.grid.ancestor_ids  # root first, the grid last
    found = db.session.scalars(
        sa.select(Station).where(Station.active, Station.org_node_id.in_(chain)).order_by(Station.id))
    return sorted(found, key=lambda s: -chain.index(s.org_node_id))


def events_between(station_ids: list[int], first: date, last: date) -> list[StationEvent]:
    """Events at these stations on the days ``first``..``last``, in time order."""
    if not station_ids:
        return []
    return list(db.session.scalars(
        sa.select(StationEvent)
        .where(StationEvent.station_id.in_(station_ids),
               StationEvent.starts_at < day_start(last + timedelta(days=1)),
               StationEvent.ends_at > day_start(first))
        .order_by(StationEvent.starts_at, StationEvent.id)
    ))


@dataclass(frozen=True)
class EventBrief:
    """An event at one of the member's stations, as the week's list shows it."""

    id: int
    title: str
    kind: StationEventKind
    starts_at: datetime
    ends_at: datetime
    station: _Named


@dataclass(frozen=True)
class _Named:
    name: str


@dataclass(frozen=True)
class SessionBrief:
    """An open training session, as the home's training line shows it."""

    id: int
    title: str
    kind: TrainingKind
    mode: TrainingMode
    starts_at: datetime
    ends_at: datetime
    done: bool


@dataclass
class MemberToday:
    waiting: list[Waiting]
    inbox: dict[str, int]
    visits_due: list[visits.HouseholdVisit]
    covered: int
    events_today: list[EventBrief]
    events_week: list[EventBrief]
    checkins_month: int
    activities_month: int
    month: date
    points_month: int = 0  # net points this month (the sum of 我的积分's entries for the month)
    training_open: int = 0  # sessions open or coming for the member (the 我的培训 list)
    training_todo: list[SessionBrief] = field(default_factory=list)  # of those, online ones not yet done
    # The reads' stamps and what the clock made of them: equal versions, equal pages (web.keyed).
    kept_version: tuple | None = field(default=None, compare=False)

    @property
    def overdue(self) -> int:
        return sum(1 for w in self.waiting if w.overdue)


@dataclass(frozen=True)
class _Ref:
    """Stands for a member in the list builders of other services, its id a bound parameter: the
    same conditions as the lists the figures link to, built once as statements."""

    id: object


@functools.cache
def _member_statements() -> dict[str, sa.Select]:
    """The member home's statements, built once per process (issue 14: building a statement
    costs more than running it). Each figure keeps the condition of the list it links to."""
    from app.models import PointsEntry, TrainingCompletion, TrainingSession
    from app.services.activities import mine

    member = sa.bindparam("member")
    first, nxt = sa.bindparam("first"), sa.bindparam("next")

    def held(states: tuple[NeedStatus, ...]) -> sa.ScalarSelect:
        return (sa.select(sa.func.count(Need.id))
                .where(Need.owner_member_id == member, Need.hidden_at.is_(None), Need.status.in_(states))
                .scalar_subquery())

    activities = (mine(_Ref(member)).order_by(None).with_only_columns(Activity.id)  # type: ignore[arg-type]
                  .where(Activity.started_at >= sa.bindparam("from"), Activity.started_at < sa.bindparam("to")))
    figures = sa.select(
        *(held(states).label(state) for state, states in needs_service.INBOX_STATES.items() if state != "closed"),
        sa.select(sa.func.count(Checkin.id))
        .where(Checkin.member_id == member, Checkin.day >= first, Checkin.day < nxt).scalar_subquery(),
        sa.select(sa.func.coalesce(sa.func.sum(PointsEntry.points), 0))
        .where(PointsEntry.member_id == member, PointsEntry.occurred_on >= first,
               PointsEntry.occurred_on < nxt).scalar_subquery(),
        sa.select(sa.func.count()).select_from(activities.subquery()).scalar_subquery(),
        sa.select(OrgNode.path).join(Member, Member.grid_id == OrgNode.id).where(Member.id == member)
        .scalar_subquery(),
    )
    chain = sa.bindparam("chain", expanding=True)
    events = (
        sa.select(StationEvent.id, StationEvent.title, StationEvent.kind, StationEvent.starts_at,
                  StationEvent.ends_at, Station.name)
        .join(Station, Station.id == StationEvent.station_id)
        .where(Station.active, Station.org_node_id.in_(chain), StationEvent.starts_at < sa.bindparam("to"),
               StationEvent.ends_at > sa.bindparam("from"))
        .order_by(StationEvent.starts_at, StationEvent.id)
    )
    # training.open_for and training.member_progress, in one statement.
    attended = sa.exists().where(Checkin.event_id == TrainingSession.station_event_id, Checkin.member_id == member)
    completed = sa.exists().where(TrainingCompletion.session_id == TrainingSession.id,
                                  TrainingCompletion.member_id == member)
    sessions = (
        sa.select(TrainingSession.id, TrainingSession.title, TrainingSession.kind, TrainingSession.mode,
                  TrainingSession.starts_at, TrainingSession.ends_at, sa.or_(attended, completed))
        .where(TrainingSession.org_node_id.in_(chain), TrainingSession.cancelled_at.is_(None),
               TrainingSession.ends_at > sa.bindparam("now"))
        .order_by(TrainingSession.starts_at, TrainingSession.id)
    )
    return {"figures": figures, "events": events, "sessions": sessions}


@dataclass(frozen=True)
class _Reads:
    """What a member's home reads from the database, as read at ``at`` (kept per process under
    the member's home stamps: ``services/stamps.py``)."""

    at: datetime
    stamp: tuple | None  # (member, their stamps, day) when kept under the stamps
    figures: tuple
    households: tuple
    week: tuple[EventBrief, ...]
    sessions: tuple[SessionBrief, ...]  # open at ``at``: those ended since are dropped when shown
    waiting: tuple[tuple, ...]  # the needs held, as rows: the time left is worked out when shown
    headed: int | None  # the central household the member heads
    post: object  # posts.MemberPost


class _KeptReads:
    """Member id → (stamps, day, reads), least recently used dropped first."""

    SIZE = 2048

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.data: OrderedDict[tuple, tuple[tuple[int, int], date, _Reads]] = OrderedDict()

    def get(self, key: tuple, stamps: tuple[int, int], day: date, now: datetime) -> _Reads | None:
        with self.lock:
            found = self.data.get(key)
            if found is None or found[0] != stamps or found[1] != day or found[2].at > now:
                return None
            self.data.move_to_end(key)
            return found[2]

    def put(self, key: tuple, stamps: tuple[int, int], day: date, reads: _Reads) -> None:
        with self.lock:
            self.data[key] = (stamps, day, reads)
            self.data.move_to_end(key)
            while len(self.data) > self.SIZE:
                self.data.popitem(last=False)


_kept_reads = _KeptReads()


def _member_reads(member_id: int, now: datetime) -> _Reads:
    """Everything a member's home reads, from the process's keep when the member's home stamps and
    the day are those it was read with (two indexed lookups instead of some ten statements),
    else from the database. A stamp changes with every write to what the home shows, in the
    same transaction (``services/stamps.py``): a kept read is never out of date."""
    from app.services import posts, stamps

    today = local_day(now)
    stamped = stamps.read(member_id)
    key = (str(db.engine.url), member_id)
    if stamped is not None:
        kept = _kept_reads.get(key, stamped, today, now)
        if kept is not None:
            return kept
    first, nxt = _month_start(today), _next_month(today)
    run = _member_statements()
    figures = tuple(read_core(run["figures"], {
        "member": member_id, "first": first, "next": nxt, "from": day_start(first), "to": day_start(nxt)}).one())
    chain = [int(p) for p in (figures[-1] or "").strip("/").split("/") if p]  # the grid and the nodes above it
    monday, sunday = week_bounds(today)
    reads = _Reads(
        at=now,
        stamp=(member_id, stamped, today) if stamped is not None else None,
        figures=figures,
        households=tuple(visits.member_households_of(member_id, today)),
        week=tuple(EventBrief(i, title, kind, starts, ends, _Named(station))
                   for i, title, kind, starts, ends, station in read_core(run["events"], {
                       "chain": chain, "from": day_start(monday), "to": day_start(sunday + timedelta(days=1))})),
        sessions=tuple(SessionBrief(*r[:6], bool(r[6])) for r in read_core(run["sessions"], {
            "member": member_id, "chain": chain, "now": now})),
        waiting=tuple(tuple(r) for r in read_core(_WAITING, {"member": member_id})),
        headed=read_core(_HEADED, {"member": member_id}).scalar(),
        post=posts.member_post_brief(member_id, today),
    )
    if stamped is not None:
        _kept_reads.put(key, stamped, today, reads)
    return reads


def member_today(member_id: int, now: datetime, reads: _Reads | None = None) -> MemberToday:
    """What a member has to do today: the needs they hold (overdue first, with the time left),
    the households due a visit this period, events at their stations, and this month's figures.
    Six statements, each built once (issue 14), or none when the member's reads are kept."""
    reads = reads or _member_reads(member_id, now)
    today = local_day(now)
    submitted, accepted, in_progress, checkins, points_month, activities_month, _grid_path = reads.figures
    households = list(reads.households)
    sessions = [t for t in reads.sessions if t.ends_at > now]
    todo = [t for t in sessions if not t.done and t.mode is TrainingMode.ONLINE and t.starts_at <= now]
    waiting = _waiting_at(reads.waiting, now)
    week = list(reads.week)
    version = None if reads.stamp is None else (
        reads.stamp, tuple((w.need.id, w.hours, w.overdue) for w in waiting),
        tuple(t.id for t in sessions), tuple(t.id for t in todo))
    return MemberToday(
        kept_version=version,
        points_month=int(points_month or 0),
        training_open=len(sessions),
        training_todo=todo,
        waiting=waiting,
        inbox={"submitted": submitted, "accepted": accepted, "in_progress": in_progress},
        visits_due=[h for h in households if h.overdue],
        covered=len(households),
        events_today=[e for e in week if local_day(e.starts_at) <= today <= local_day(e.ends_at)],
        events_week=week,
        checkins_month=checkins or 0,
        activities_month=activities_month or 0,
        month=_month_start(today),
    )


def activities_in_month(member: Member, first: date) -> int:
    """Services the member recorded or took part in during the month of ``first`` (the total of
    their service list for that month)."""
    from app.services.activities import mine

    ids = mine(member, (first.year, first.month)).order_by(None).with_only_columns(Activity.id)
    return db.session.scalar(sa.select(sa.func.count()).select_from(ids.subquery())) or 0


@dataclass
class HeadToday:
    household: CentralHousehold
    members: list[tuple[Member, int]]  # the household's members and how many households each covers
    passed_up: list[Waiting]  # needs passed up to the head
    members_overdue_needs: dict[int, int]  # member id → overdue needs they hold

    @property
    def linked(self) -> int:
        return sum(1 for m, _n in self.members if m.id != self.household.head_member_id)

    @property
    def below(self) -> list[tuple[Member, int]]:
        return [(m, n) for m, n in self.members if n < 15]


_HEADED = sa.select(CentralHousehold.id).where(CentralHousehold.head_member_id == sa.bindparam("member")).limit(1)


def head_today(head_id: int, now: datetime, headed: int | None = -1) -> HeadToday | None:
    """The central household a member heads, against 1+10+15, and what waits for the head
    (``headed``: that household's id, when the caller read it)."""
    if headed == -1:
        headed = read_core(_HEADED, {"member": head_id}).scalar()
    if headed is None:  # most members head nothing: one indexed lookup, no ORM object
        return None
    household = db.session.get(CentralHousehold, headed)
    assert household is not None
    members = structure.linked_members(household)
    member_ids = [m.id for m, _n in members]
    overdue = dict(db.session.execute(
        sa.select(Need.owner_member_id, sa.func.count(Need.id))
        .where(Need.owner_member_id.in_(member_ids), needs_service.overdue_condition(now))
        .group_by(Need.owner_member_id)).all()) if member_ids else {}
    passed = [w for w in _waiting(head_id, now) if w.need.central_household_id == household.id]
    return HeadToday(household, members, passed, overdue)


@dataclass
class StationToday:
    station: Station
    checkins_today: int
    expected: int  # active members who belong to the station (its node and below)
    events_today: list[StationEvent]
    day: date | None = None  # today (Asia/Shanghai): the station ledger's period behind the figure


def pending_verification(user: User) -> int:
    """Activities waiting for the user's verification (the total of the verify queue's 待审核)."""
    from app.services.activities import to_verify

    ids = to_verify(user, VerifyState.PENDING).order_by(None).with_only_columns(Activity.id)
    return db.session.scalar(sa.select(sa.func.count()).select_from(ids.subquery())) or 0


def station_today(user: User, now: datetime) -> list[StationToday]:
    """For each station the user runs: today's check-ins against its members and today's events."""
    today = local_day(now)
    out = []
    for station in user.admin_stations:
        if not station.active:
            continue
        node = station.org_node
        checkins = db.session.scalar(
            sa.select(sa.func.count(Checkin.id))
            .where(Checkin.station_id == station.id, Checkin.day == today)) or 0
        expected = db.session.scalar(
            sa.select(sa.func.count(Member.id)).join(OrgNode, OrgNode.id == Member.grid_id)
            .where(OrgNode.under(node.path), Member.status == MemberStatus.ACTIVE)) or 0
        out.append(StationToday(station, checkins, expected,
                                events_between([station.id], today, today), today))
    return out


@dataclass
class AdminToday:
    standing: structure.ScopeSummary
    overdue_needs: int
    queue: int
    month_checkins: int
    last_month_checkins: int
    month_activities: int
    last_month_activities: int
    month: date
    last_month: date
    rates: needs_service.RateRow
    today: date
    training: object = None  # training.ScopeCounts of this year
    leaders: list[tuple[Member, int]] = field(default_factory=list)  # this month's top members
    leaders_node: OrgNode | None = None

    @property
    def month_last(self) -> date:
        return _next_month(self.month) - timedelta(days=1)

    @property
    def last_month_last(self) -> date:
        return self.month - timedelta(days=1)


def admin_today(user: User, now: datetime) -> AdminToday:
    """An org admin's node at a glance: 1+10+15 gaps, needs overdue and waiting for dispatch,
    this month's needs rates, and check-ins and activities this month against last."""
    today = local_day(now)
    first, nxt = _month_start(today), _next_month(today)
    last_first = _month_start(first - timedelta(days=1))
    scope = scope_condition(user)

    def checkins(a: date, b: date) -> int:
        """Check-ins at the stations in scope (the scope-wide check-in list's total), from the
        maintained check-ins per station and day."""
        stations = sa.select(Station.id).join(OrgNode, OrgNode.id == Station.org_node_id).where(scope)
        return aggregates.checkins_between(stations, a, b - timedelta(days=1))

    def activities(a: date, b: date) -> int:
        """Activities recorded in scope (the activity ledger's total), from the maintained
        activities per grid and month."""
        grids = sa.select(OrgNode.id).where(scope)
        return sum(aggregates.activities_by_kind(grids, a, b - timedelta(days=1)).values())

    _rows, total = needs_service.period_rates(user, "community", first, today)
    return AdminToday(
        standing=structure.scope_summary(user),
        overdue_needs=needs_service.overdue_count(user, now),
        queue=needs_service.queue_count(user),
        month_checkins=checkins(first, nxt),
        last_month_checkins=checkins(last_first, first),
        month_activities=activities(first, nxt),
        last_month_activities=activities(last_first, first),
        month=first,
        last_month=last_first,
        rates=total,
        today=today,
        training=_training_counts(user, today.year, now),
        leaders=_leaders(user, today),
        leaders_node=(scope_roots(user) or [None])[0],
    )


def _leaders(user: User, today: date, n: int = 5) -> list[tuple[Member, int]]:
    """The month's points leaders under the admin's first node (the top of its points ranking)."""
    from app.services.points import lists

    roots = scope_roots(user)
    if not roots:
        return []
    return lists.leaders(roots[0], lists.period_of("", None, None, today), n)


def _training_counts(user: User, year: int, now: datetime) -> object:
    from app.services import training

    return training.scope_counts(user, year, now)


def home(user: User, now: datetime) -> dict[str, object]:
    """Every to-do list the user's roles give them, for the home page."""
    from app.policy import member_standing

    roles = user.role_set
    member_id = member_standing(user)[0] if Role.MEMBER in roles else None
    reads = _member_reads(member_id, now) if member_id else None
    return {
        "roles": roles,
        "member_today": member_today(member_id, now, reads) if member_id else None,
        "head_today": head_today(member_id, now, reads.headed) if member_id and reads else None,
        "station_today": station_today(user, now) if Role.STATION_ADMIN in roles else [],
        "pending_verification": pending_verification(user) if Role.STATION_ADMIN in roles else 0,
        "admin_today": admin_today(user, now) if Role.ORG_ADMIN in roles else None,
        **_mentoring_today(user, member_id, now, reads.post if reads else None),
    }


def _mentoring_today(user: User, member_id: int | None, now: datetime, post: object = None) -> dict[str, object]:
    """A mentor's households not guided this quarter; a member's post and its work."""
    from app.policy import is_mentor
    from app.services import mentoring, posts

    if member_id is None:
        return {"mentor_today": None, "member_post": None}
    day = local_day(now)
    return {"mentor_today": mentoring.mentor_page(user.member, day) if is_mentor(user) else None,
            "member_post": post if post is not None else posts.member_post_brief(member_id, day)}
