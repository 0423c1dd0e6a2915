"""Recompute a period from the source records and compare it with the ledger.

``expected(first, last)`` reads every source record whose award falls on a day of the period —
check-ins at 主题党日 and training sessions, online completions, verified activities, visits,
needs resolved in time, ratings, diary entries, breaches, upheld objections — and replays the
awards in the order the events happened, with the same rule resolution and caps as
``ledger.award`` (rules loaded once, caps counted in memory, seeded with the ledger's entries
before the period for the cap windows that reach into it). ``compare`` sets that against the
ledger: entries missing, extra, or with other points. Nothing here edits the ledger except
``apply_missing``, which writes the missing ones through ``award`` (idempotent), and
``insert_expected``, which the demo uses to build an empty ledger in bulk.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

import sqlalchemy as sa

from app.clock import days_bounds, local_day
from app.extensions import db
from app.models import (
    Activity,
    ActivityKind,
    BreachKind,
    CapPeriod,
    Checkin,
    DiaryEntry,
    EventKind,
    Member,
    Need,
    NeedBreach,
    NeedEvent,
    NeedRating,
    Nomination,
    NoticeObjection,
    ObjectionStatus,
    OrgNode,
    PointsEntry,
    RuleCode,
    StationEvent,
    StationEventKind,
    TrainingCompletion,
    TrainingMode,
    TrainingSession,
    User,
    VerifyState,
    activity_members,
    activity_residents,
)
from app.services.points import sources as src
from app.services.points.ledger import award, cap_window
from app.services.points.rules import RuleBook

Key = tuple[RuleCode, str, int, int]  # code, source type, source id, member id
CHUNK = 500


class SourceEvent(NamedTuple):
    """One event that earns (or costs) points: when it happened, to whom, on which day. A plain
    tuple: a replay builds a few hundred thousand, and sorts them by their fields in this order
    (when, then the key: what happened first is awarded first)."""

    at: datetime
    code: RuleCode
    source_type: str
    source_id: int
    member_id: int
    day: date
    activity_kind: str = ""
    actor_id: int | None = None

    @property
    def key(self) -> Key:
        return (self.code, self.source_type, self.source_id, self.member_id)


class Award(NamedTuple):
    """What the ledger should hold for one event."""

    event: SourceEvent
    points: int
    rule_id: int | None


# --- the source records -------------------------------------------------------------------------


def _checkins(first: date, last: date) -> list[SourceEvent]:
    base = (
        sa.select(Checkin.id, Checkin.member_id, Checkin.day, Checkin.checked_in_at,
                  sa.func.coalesce(Checkin.recorded_by_id, Member.user_id))
        .join(Member, Member.id == Checkin.member_id)
        .where(Checkin.day.between(first, last))
    )
    theme = base.join(StationEvent, StationEvent.id == Checkin.event_id).where(
        StationEvent.kind == StationEventKind.THEME_DAY)
    training = base.join(TrainingSession, TrainingSession.station_event_id == Checkin.event_id).where(
        TrainingSession.mode == TrainingMode.OFFLINE, TrainingSession.cancelled_at.is_(None))
    events = []
    for code, stmt in ((RuleCode.THEME_DAY_CHECKIN, theme), (RuleCode.TRAINING_ATTENDED, training)):
        for cid, member_id, day, at, actor in db.session.execute(stmt):
            events.append(SourceEvent(at, code, src.CHECKIN, cid, member_id, day, actor_id=actor))
    return events


def _completions(lo: datetime, hi: datetime) -> list[SourceEvent]:
    rows = db.session.execute(
        sa.select(TrainingCompletion.id, TrainingCompletion.member_id, TrainingCompletion.completed_at,
                  Member.user_id)
        .join(Member, Member.id == TrainingCompletion.member_id)
        .where(TrainingCompletion.completed_at >= lo, TrainingCompletion.completed_at < hi)
    )
    return [SourceEvent(at, RuleCode.TRAINING_COMPLETED, src.TRAINING_COMPLETION, cid, member_id,
                        local_day(at), actor_id=uid) for cid, member_id, at, uid in rows]


def _activities(lo: datetime, hi: datetime) -> list[SourceEvent]:
    verified = (
        sa.select(Activity.id, Activity.author_member_id, Activity.kind, Activity.started_at,
                  Activity.verified_at, Activity.verified_by_id)
        .where(Activity.verify_state == VerifyState.VERIFIED, Activity.started_at >= lo,
               Activity.started_at < hi)
    )
    rows = db.session.execute(verified).all()
    fellows: dict[int, list[int]] = defaultdict(list)
    ids = sa.select(verified.subquery().c.id)
    for activity_id, member_id in db.session.execute(
        sa.select(activity_members.c.activity_id, activity_members.c.member_id)
        .where(activity_members.c.activity_id.in_(ids))
    ):
        fellows[activity_id].append(member_id)
    events = []
    for aid, author, kind, started, verified_at, verifier in rows:
        for member_id in [author, *fellows.get(aid, [])]:
            events.append(SourceEvent(verified_at or started, RuleCode.ACTIVITY_VERIFIED, src.ACTIVITY,
                                      aid, member_id, local_day(started), ActivityKind(kind).value,
                                      verifier))
    visits = db.session.execute(
        sa.select(Activity.id, Activity.author_member_id, Activity.created_at, Activity.created_by_id)
        .where(Activity.kind == ActivityKind.VISIT, Activity.created_at >= lo, Activity.created_at < hi,
               sa.exists().where(activity_residents.c.activity_id == Activity.id))
    )
    events += [SourceEvent(at, RuleCode.VISIT_DONE, src.ACTIVITY, aid, author, local_day(at), actor_id=uid)
               for aid, author, at, uid in visits]
    return events


def _resolutions(lo: datetime, hi: datetime) -> list[SourceEvent]:
    """Per need and resolving member, the first resolution no later than the deadline in force
    then: submission + resolve hours, restarted by each resolve breach and each reopening."""
    in_period = sa.select(NeedEvent.need_id).where(
        NeedEvent.kind == EventKind.RESOLVED, NeedEvent.at >= lo, NeedEvent.at < hi)
    needs = {nid: (submitted, hours) for nid, submitted, hours in db.session.execute(
        sa.select(Need.id, Need.submitted_at, Need.resolve_hours).where(Need.id.in_(in_period)))}
    restarts: dict[int, list[datetime]] = defaultdict(list)
    for nid, at in db.session.execute(
        sa.select(NeedEvent.need_id, NeedEvent.at).where(
            NeedEvent.need_id.in_(in_period), NeedEvent.kind == EventKind.REOPENED)
    ):
        restarts[nid].append(at)
    for nid, at in db.session.execute(
        sa.select(NeedBreach.need_id, NeedBreach.at).where(
            NeedBreach.need_id.in_(in_period), NeedBreach.kind == BreachKind.RESOLVE)
    ):
        restarts[nid].append(at)
    resolved = db.session.execute(
        sa.select(NeedEvent.need_id, NeedEvent.at, NeedEvent.actor_id, Member.id)
        .join(Member, Member.user_id == NeedEvent.actor_id)
        .where(NeedEvent.need_id.in_(in_period), NeedEvent.kind == EventKind.RESOLVED)
        .order_by(NeedEvent.at, NeedEvent.id)
    ).all()
    seen: set[tuple[int, int]] = set()
    events = []
    for nid, at, actor_id, member_id in resolved:
        submitted, hours = needs[nid]
        start = max([submitted, *(t for t in restarts.get(nid, ()) if t < at)])
        if (nid, member_id) in seen or at > start + timedelta(hours=hours):
            continue
        seen.add((nid, member_id))
        if lo <= at < hi:
            events.append(SourceEvent(at, RuleCode.NEED_RESOLVED_IN_SLA, src.NEED, nid, member_id,
                                      local_day(at), actor_id=actor_id))
    return events


def _ratings(lo: datetime, hi: datetime) -> list[SourceEvent]:
    satisfied = db.session.execute(
        sa.select(Need.id, Need.member_id, Need.rated_at).where(
            Need.rating == NeedRating.SATISFIED, Need.member_id.is_not(None),
            Need.rated_at >= lo, Need.rated_at < hi)
    )
    events = [SourceEvent(at, RuleCode.RATED_SATISFIED, src.NEED, nid, member_id, local_day(at))
              for nid, member_id, at in satisfied]
    # 不满意 reopens the need: its first reopening is the first 不满意 (one deduction per need).
    first = (sa.select(NeedEvent.need_id, sa.func.min(NeedEvent.at).label("at"))
             .where(NeedEvent.kind == EventKind.REOPENED).group_by(NeedEvent.need_id).subquery())
    unsatisfied = db.session.execute(
        sa.select(Need.id, Need.member_id, first.c.at).join(first, first.c.need_id == Need.id)
        .where(Need.member_id.is_not(None), first.c.at >= lo, first.c.at < hi)
    )
    events += [SourceEvent(at, RuleCode.RATED_UNSATISFIED, src.NEED, nid, member_id, local_day(at))
               for nid, member_id, at in unsatisfied]
    return events


def _diary(lo: datetime, hi: datetime) -> list[SourceEvent]:
    rows = db.session.execute(
        sa.select(DiaryEntry.id, DiaryEntry.member_id, DiaryEntry.created_at, Member.user_id)
        .join(Member, Member.id == DiaryEntry.member_id)
        .where(DiaryEntry.created_at >= lo, DiaryEntry.created_at < hi)
    )
    return [SourceEvent(at, RuleCode.DIARY_ENTRY, src.DIARY_ENTRY, eid, member_id, local_day(at),
                        actor_id=uid) for eid, member_id, at, uid in rows]


def _breaches_and_objections(lo: datetime, hi: datetime) -> list[SourceEvent]:
    breaches = db.session.execute(
        sa.select(NeedBreach.id, NeedBreach.owner_member_id, NeedBreach.at).where(
            NeedBreach.owner_member_id.is_not(None), NeedBreach.at >= lo, NeedBreach.at < hi)
    )
    events = [SourceEvent(at, RuleCode.SLA_BREACH, src.NEED_BREACH, bid, member_id, local_day(at))
              for bid, member_id, at in breaches]
    upheld = db.session.execute(
        sa.select(NoticeObjection.id, Nomination.candidate_id, NoticeObjection.resolved_at,
                  NoticeObjection.resolved_by_id)
        .join(Nomination, Nomination.id == NoticeObjection.nomination_id)
        .where(NoticeObjection.status == ObjectionStatus.UPHELD, NoticeObjection.resolved_at >= lo,
               NoticeObjection.resolved_at < hi)
    )
    events += [SourceEvent(at, RuleCode.OBJECTION_UPHELD, src.NOTICE_OBJECTION, oid, member_id,
                           local_day(at), actor_id=uid) for oid, member_id, at, uid in upheld]
    return events


def source_events(first: date, last: date) -> list[SourceEvent]:
    """Every event whose award falls on a day from ``first`` to ``last``, in the order they
    happened."""
    lo, hi = days_bounds(first, last)
    events = [*_checkins(first, last), *_completions(lo, hi), *_activities(lo, hi),
              *_resolutions(lo, hi), *_ratings(lo, hi), *_diary(lo, hi),
              *_breaches_and_objections(lo, hi)]
    events.sort(key=lambda e: e[:5])  # when, then the key (never the optional actor)
    return events


# --- replaying the awards -----------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _window_start(period: CapPeriod, day: date) -> date:
    """The first day of the cap window holding ``day`` (a replay asks for the same days often)."""
    return cap_window(period, day)[0]


class Caps:
    """Points per member, code and activity kind in every cap window, counted as ``award`` does
    (every entry of the code, corrected or not) — in the windows of the periods the code's rules
    use (``periods``), which are the only ones a cap will ask about."""

    def __init__(self, periods: dict[RuleCode, tuple[CapPeriod, ...]]) -> None:
        self.periods = periods
        self.used: dict[tuple, int] = defaultdict(int)

    def add(self, member_id: int, code: RuleCode, kind: str, day: date, points: int) -> None:
        for period in self.periods[code]:
            self.used[(member_id, code, kind, period, _window_start(period, day))] += points

    def fits(self, member_id: int, code: RuleCode, kind: str, day: date, period: CapPeriod,
             cap: int, points: int) -> bool:
        used = abs(self.used[(member_id, code, kind, period, _window_start(period, day))])
        return used + abs(points) <= cap


def period_start(first: date) -> date:
    """Where the replay starts: early enough that every cap window of the period's days (a
    week, a month, the year) is counted from its own start."""
    return min(first.replace(month=1, day=1), first - timedelta(days=first.weekday()))


def _paths(member_ids: Iterable[int]) -> dict[int, str]:
    ids = list(set(member_ids))
    paths: dict[int, str] = {}
    for start in range(0, len(ids), CHUNK):
        paths.update(db.session.execute(
            sa.select(Member.id, OrgNode.path).join(OrgNode, OrgNode.id == Member.grid_id)
            .where(Member.id.in_(ids[start:start + CHUNK]))
        ).all())
    return paths


def _seed(caps: Caps, start: date) -> None:
    """The ledger's own entries in the cap windows that begin before the replay does."""
    before = min(start.replace(month=1, day=1), start - timedelta(days=6))
    for member_id, code, kind, day, points in db.session.execute(
        sa.select(PointsEntry.member_id, PointsEntry.code, PointsEntry.activity_kind,
                  PointsEntry.occurred_on, PointsEntry.points)
        .where(PointsEntry.occurred_on >= before, PointsEntry.occurred_on < start,
               PointsEntry.code != RuleCode.CORRECTION)
    ):
        caps.add(member_id, code, kind, day, points)


def replay(events: list[SourceEvent], seed_from_ledger: bool = True,
           start: date | None = None) -> list[Award]:
    """The awards the events make, one per source and member, in order, within the caps."""
    book = RuleBook()
    paths = _paths(e.member_id for e in events)
    caps = Caps({code: book.cap_periods(code) for code in RuleCode})
    if seed_from_ledger and start is not None:
        _seed(caps, start)
    done: set[Key] = set()
    awards = []
    for event in events:
        key = event.key
        path = paths.get(event.member_id)
        if key in done or path is None:
            continue
        rule = book.rule(path, event.code, event.activity_kind, event.day)
        if rule is None or rule.points == 0:
            continue
        if rule.cap_points is not None and not caps.fits(
            event.member_id, event.code, rule.activity_kind, event.day, rule.cap_period,  # type: ignore[arg-type]
            rule.cap_points, rule.points,
        ):
            continue
        done.add(key)
        caps.add(event.member_id, event.code, event.activity_kind, event.day, rule.points)
        awards.append(Award(event, rule.points, rule.rule_id))
    return awards


def expected(first: date, last: date, members: set[int] | None = None) -> list[Award]:
    """What the ledger should hold for the days ``first`` to ``last`` (for ``members`` only,
    when given: caps are per member, so leaving the others out changes nothing)."""
    start = period_start(first)
    events = source_events(start, last)
    if members is not None:
        events = [e for e in events if e.member_id in members]
    awards = replay(events, seed_from_ledger=True, start=start)
    return [a for a in awards if first <= a.event.day <= last]


# --- comparing ----------------------------------------------------------------------------------

MISSING, EXTRA, DIFFERENT, CORRECTED = "missing", "extra", "different", "corrected"


@dataclass
class Difference:
    kind: str  # MISSING, EXTRA, DIFFERENT; CORRECTED (an admin's 更正: listed, not a difference)
    key: Key
    day: date
    expected: int  # 0: the ledger should hold nothing for it
    ledger: int  # what the ledger counts for it now (after corrections)
    award: Award | None = None
    applied: bool = False

    @property
    def member_id(self) -> int:
        return self.key[3]


@dataclass
class Report:
    first: date
    last: date
    node: OrgNode | None
    checked: int = 0  # awards expected in the period
    entries: int = 0  # ledger awards in the period
    differences: list[Difference] = field(default_factory=list)

    def of(self, kind: str) -> list[Difference]:
        return [d for d in self.differences if d.kind == kind]

    @property
    def clean(self) -> bool:
        """No difference left (a missing entry written by ``apply_missing`` no longer counts)."""
        return not any(d.kind != CORRECTED and not d.applied for d in self.differences)


def _ledger(first: date, last: date) -> dict[Key, src.Holding]:
    """The period's awards with their corrections (which keep the award's day); plain rows, as
    a period may hold a few hundred thousand."""
    entries = db.session.execute(
        sa.select(PointsEntry.id, PointsEntry.member_id, PointsEntry.points, PointsEntry.code,
                  PointsEntry.source_type, PointsEntry.source_id, PointsEntry.occurred_on,
                  PointsEntry.created_by_id)
        .where(PointsEntry.occurred_on.between(first, last)).order_by(PointsEntry.id)
    ).all()
    by_id = {e.id: src.Holding(e) for e in entries if e.code is not RuleCode.CORRECTION}  # type: ignore[arg-type]
    heads = dict(by_id)
    for e in entries:  # corrections come after what they correct: ids grow
        if e.code is RuleCode.CORRECTION and e.source_id in heads:
            holding = heads.pop(e.source_id)
            holding.links.append(e)  # type: ignore[arg-type]
            heads[e.id] = holding
    return {(h.award.code, h.award.source_type, h.award.source_id, h.award.member_id): h
            for h in by_id.values()}


def _elsewhere(keys: list[Key]) -> dict[Key, PointsEntry]:
    """Awards for these keys outside the period (an activity's day changed after its award)."""
    found: dict[Key, PointsEntry] = {}
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start:start + CHUNK]
        for e in db.session.scalars(sa.select(PointsEntry).where(
            PointsEntry.source_id.in_({k[2] for k in chunk}),
            PointsEntry.source_type.in_({k[1] for k in chunk}),
        )):
            key = (e.code, e.source_type, e.source_id, e.member_id)
            if key in chunk:
                found[key] = e
    return found


def _under(node: OrgNode | None) -> set[int] | None:
    if node is None:
        return None
    return set(db.session.scalars(
        sa.select(Member.id).join(OrgNode, OrgNode.id == Member.grid_id).where(OrgNode.under(node.path))))


def compare(first: date, last: date, node: OrgNode | None = None) -> Report:
    """The differences between what the period should hold and what the ledger holds."""
    members = _under(node)
    awards = {a.event.key: a for a in expected(first, last, members)}
    ledger = {k: h for k, h in _ledger(first, last).items() if members is None or k[3] in members}
    report = Report(first, last, node, checked=len(awards), entries=len(ledger))
    absent = [k for k in awards if k not in ledger]
    moved = _elsewhere(absent) if absent else {}
    for key in sorted(set(awards) | set(ledger), key=lambda k: (k[1], k[2], k[0].value, k[3])):
        want, holding = awards.get(key), ledger.get(key)
        points = want.points if want else 0
        day = want.event.day if want else holding.award.occurred_on  # type: ignore[union-attr]
        if holding is None:
            other = moved.get(key)
            if other is None:
                report.differences.append(Difference(MISSING, key, day, points, 0, want))
            elif other.points != points:
                report.differences.append(Difference(DIFFERENT, key, day, points, other.points, want))
            continue
        if holding.net == points:
            continue
        kind = CORRECTED if holding.by_admin and want is not None else DIFFERENT if want else EXTRA
        report.differences.append(Difference(kind, key, day, points, holding.net, want))
    return report


def apply_missing(report: Report) -> int:
    """Write the report's missing entries through ``award`` (which still applies today's view
    of the caps); mark those written. Returns how many were."""
    written = 0
    for diff in report.of(MISSING):
        event = diff.award.event  # type: ignore[union-attr]
        member = db.session.get(Member, event.member_id)
        actor = db.session.get(User, event.actor_id) if event.actor_id else None
        entry = award(member, event.code, event.source_type, event.source_id, event.day,  # type: ignore[arg-type]
                      activity_kind=event.activity_kind, actor=actor)
        if entry is not None:
            diff.applied = True
            written += 1
    return written


# --- the demo's ledger ---------------------------------------------------------------------------


def insert_expected(conn: sa.Connection, first: date, last: date) -> int:
    """Build the ledger of a freshly generated database in bulk: every award the sources make
    from ``first`` to ``last``, written with one executemany per chunk. An entry already there
    (a generator that awarded through the service) is left as it is. Returns how many were
    written."""
    awards = replay(source_events(first, last), seed_from_ledger=False)
    present = {tuple(row) for row in conn.execute(
        sa.select(PointsEntry.code, PointsEntry.source_type, PointsEntry.source_id, PointsEntry.member_id)
        .where(PointsEntry.code != RuleCode.CORRECTION)
    )}
    rows = [{
        "member_id": a.event.member_id, "points": a.points, "code": a.event.code,
        "activity_kind": a.event.activity_kind, "rule_id": a.rule_id,
        "source_type": a.event.source_type, "source_id": a.event.source_id,
        "occurred_on": a.event.day, "note": "", "created_by_id": a.event.actor_id,
        "created_at": a.event.at,
    } for a in awards if a.event.key not in present]
    for start in range(0, len(rows), 5000):
        conn.execute(sa.insert(PointsEntry.__table__), rows[start:start + 5000])
    from app.services import stamps

    stamps.bump_shared(conn)  # written bypassing the ORM: every kept home reads again
    return len(rows)
