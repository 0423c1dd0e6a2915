"""Checking in at a station, the events held there, and the lists built from check-ins.

"Today" at a station is the Asia/Shanghai date, stored on the row (``Checkin.day``) so that the
one-per-day rule is a UNIQUE constraint the database enforces under any concurrency.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import lazyload

from app.clock import day_bounds, local_day, month_bounds
from app.extensions import db, read_core
from app.models import (
    Checkin,
    CheckinMethod,
    Member,
    MemberStatus,
    OrgNode,
    Station,
    StationEvent,
    StationEventKind,
    User,
    utcnow,
)
from app.phones import phone_match
from app.services import aggregates, stamps
from app.services.errors import NotAllowed, Refused
from app.services.points import sources as points_sources

SEARCH_LIMIT = 20


class CheckinError(Refused):
    """A check-in or event change the rules refuse; ``str(e)`` is the message for the user."""


@dataclass
class CheckinResult:
    checkin: Checkin | SeenCheckin
    created: bool  # False: the member had already checked in here today


@dataclass(frozen=True)
class StationRef:
    """An open station as a scan names it: one Core row, no ORM object (issue 14)."""

    id: int
    name: str


@dataclass(frozen=True)
class _Named:
    name: str


@dataclass(frozen=True)
class _Titled:
    title: str


@dataclass(frozen=True)
class SeenCheckin:
    """Today's check-in as the result page shows it (read as one Core row, the same attributes
    as a ``Checkin``'s that the page reads)."""

    checked_in_at: datetime
    method: CheckinMethod
    member: _Named
    event: _Titled | None


# Built once: the scan's reads run on every repeat scan (issue 14).
_OPEN_STATION = sa.select(Station.id, Station.name).where(Station.id == sa.bindparam("id"), Station.active)
_SEEN_TODAY = (
    sa.select(Checkin.checked_in_at, Checkin.method, Checkin.event_id, StationEvent.title)
    .outerjoin(StationEvent, StationEvent.id == Checkin.event_id)
    .where(Checkin.member_id == sa.bindparam("member"), Checkin.station_id == sa.bindparam("station"),
           Checkin.day == sa.bindparam("day"))
)
_RUNNING = (
    sa.select(StationEvent.id)
    .where(StationEvent.station_id == sa.bindparam("station"), StationEvent.starts_at <= sa.bindparam("at"),
           StationEvent.ends_at > sa.bindparam("at"))
    .limit(1)
)


def _scan_statement() -> sa.Select:
    """A kiosk scan's reads in one statement: the open station, the member's check-in there today
    with its event's title, and an event running there now (for a check-in that has none)."""
    running = sa.orm.aliased(StationEvent)
    now = sa.bindparam("at")
    return (
        sa.select(Station.id, Station.name, Checkin.checked_in_at, Checkin.method, Checkin.event_id,
                  StationEvent.title,
                  sa.select(running.id).where(running.station_id == Station.id, running.starts_at <= now,
                                              running.ends_at > now).limit(1).scalar_subquery())
        .outerjoin(Checkin, sa.and_(Checkin.station_id == Station.id, Checkin.member_id == sa.bindparam("member"),
                                    Checkin.day == sa.bindparam("day")))
        .outerjoin(StationEvent, StationEvent.id == Checkin.event_id)
        .where(Station.id == sa.bindparam("id"), Station.active)
    )


_SCAN = _scan_statement()


def scan_lookup(station_id: int, member_id: int | None, member_name: str,
                now: datetime | None = None) -> tuple[StationRef | None, CheckinResult | None]:
    """:func:`open_station` and :func:`seen_today` in one statement, for a kiosk scan: the open
    station (None when closed or unknown) and, for an active member (``member_id``), their
    check-in there today when the scan has nothing to write (None: :func:`check_in` it)."""
    now = now or utcnow()
    row = read_core(_SCAN, {"id": station_id, "member": member_id, "day": local_day(now), "at": now}).first()
    if row is None:
        return None, None
    station = StationRef(row[0], row[1])
    at, method, event_id, title, running = row[2:]
    if member_id is None or at is None or (event_id is None and running is not None):
        return station, None
    return station, CheckinResult(SeenCheckin(at, method, _Named(member_name), _Titled(title) if event_id else None),
                                  False)


def open_station(station_id: int) -> StationRef | None:
    """The station a check-in link names, while it is open (its id and name)."""
    row = read_core(_OPEN_STATION, {"id": station_id}).first()
    return StationRef(row[0], row[1]) if row is not None else None


def seen_today(member_id: int, member_name: str, station_id: int, now: datetime | None = None) -> CheckinResult | None:
    """:func:`repeat_scan` for an active member and an open station named by their ids: the
    member's check-in here today when the scan has nothing to write, read as Core rows (the
    check-in with its event's title, and whether an event is running when it has none) — no ORM
    object, no write lock. None when the scan is for :func:`check_in`."""
    now = now or utcnow()
    conn = db.session.connection()
    row = conn.execute(_SEEN_TODAY, {"member": member_id, "station": station_id, "day": local_day(now)}).first()
    if row is None:
        return None
    at, method, event_id, title = row
    if event_id is None and conn.execute(_RUNNING, {"station": station_id, "at": now}).first() is not None:
        return None
    return CheckinResult(SeenCheckin(at, method, _Named(member_name), _Titled(title) if event_id else None), False)


@functools.cache
def _insert_first(dialect: str) -> sa.Insert:
    """The check-in row, unless the member has one here today (the UNIQUE constraint decides)."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Checkin.__table__)
    return insert.on_conflict_do_nothing(index_elements=["member_id", "station_id", "day"]).returning(Checkin.id)


@dataclass(frozen=True)
class FirstScan:
    """A member's first scan at a station today while no event is running there, decided before
    the write (issue 14): the write is the row and the day's count + 1 — no ORM object, no read
    holding the write lock. Nothing else counts a check-in without an event: no points, no
    training."""

    member_id: int
    member_name: str
    station_id: int
    method: CheckinMethod
    at: datetime

    def write(self) -> CheckinResult:
        """Record it (the caller commits). Two scans at once: the second finds the first's row."""
        conn = db.session.connection()
        day = local_day(self.at)
        inserted = conn.execute(_insert_first(conn.dialect.name), {
            "station_id": self.station_id, "member_id": self.member_id, "day": day, "checked_in_at": self.at,
            "method": self.method, "event_id": None, "recorded_by_id": None}).first()
        if inserted is not None:
            aggregates.add(conn, {"checkin_days": {(self.station_id, day): [1]},
                                  "checkin_member_months": {(self.station_id, aggregates.month_of(day), self.member_id): [1]}})
            stamps.note(db.session, [self.member_id])  # the member's home counts it
            return CheckinResult(SeenCheckin(self.at, self.method, _Named(self.member_name), None), True)
        at, method, event_id, title = conn.execute(
            _SEEN_TODAY, {"member": self.member_id, "station": self.station_id, "day": day}).one()
        return CheckinResult(SeenCheckin(at, method, _Named(self.member_name), _Titled(title) if event_id else None),
                             False)


def first_scan(member_id: int, member_name: str, station_id: int, method: CheckinMethod,
               now: datetime | None = None) -> FirstScan | None:
    """For an active member's scan at an open station that :func:`seen_today` found nothing to
    show for: its write, when no event is running at the station (read now, before the write);
    None when one is — :func:`check_in` attaches the event and awards its points."""
    now = now or utcnow()
    if read_core(_RUNNING, {"station": station_id, "at": now}).first() is not None:
        return None
    return FirstScan(member_id, member_name, station_id, method, now)


def running_event(station_id: int, at: datetime, light: bool = False) -> StationEvent | None:
    """The event running at the station at ``at`` (the latest started, if several overlap);
    ``light``: without its joined station (a check-in reads it holding the write lock)."""
    return db.session.scalar(
        sa.select(StationEvent).options(*([lazyload("*")] if light else []))
        .where(
            StationEvent.station_id == station_id,
            StationEvent.starts_at <= at,
            StationEvent.ends_at > at,
        )
        .order_by(StationEvent.starts_at.desc(), StationEvent.id.desc())
        .limit(1)
    )


def _existing(member_id: int, station_id: int, day: date) -> Checkin | None:
    # Without its four joined relations: this runs holding the write lock (they load on use).
    return db.session.scalar(
        sa.select(Checkin).options(lazyload("*")).where(
            Checkin.member_id == member_id, Checkin.station_id == station_id, Checkin.day == day
        )
    )


def repeat_scan(member: Member, station: Station, now: datetime | None = None) -> CheckinResult | None:
    """The member's check-in here today when a scan has nothing to write — they checked in
    already and no event has started since that the check-in should now count for — read without
    taking the write lock. None when the scan is for :func:`check_in` (a first scan, an event to
    record, or a refusal to raise)."""
    now = now or utcnow()
    if not member.is_active or not station.active:
        return None
    found = db.session.scalar(
        sa.select(Checkin).options(lazyload("*")).where(
            Checkin.member_id == member.id, Checkin.station_id == station.id, Checkin.day == local_day(now)))
    if found is None or (found.event_id is None and running_event(station.id, now) is not None):
        return None
    return CheckinResult(found, False)


def may_check_in(member: Member) -> None:
    """The one check of the member's standing: a stopped member may not check in at all (403)."""
    if not member.is_active:
        raise NotAllowed(_l("您的党员信息已停用，不能签到；如有疑问请联系所在社区。"))


def check_in(
    member: Member,
    station: Station,
    method: CheckinMethod,
    now: datetime | None = None,
    recorded_by: User | None = None,
) -> CheckinResult:
    """Record the member's check-in at the station today, once. A second scan returns the first
    check-in (``created`` False); if an event started since, the first check-in now counts for it.
    Two simultaneous scans: the UNIQUE constraint refuses the second insert, which then reads the
    row the first one wrote. A check-in that counts for an event earns its points here, in the
    same transaction (once, however often it is scanned)."""
    now = now or utcnow()
    may_check_in(member)
    if not station.active:
        raise CheckinError(_l("该驿站已停用。"))
    if method is CheckinMethod.MANUAL and recorded_by is None:
        raise CheckinError(_l("人工补签需要记录操作人。"))
    day = local_day(now)
    event = running_event(station.id, now, light=True)
    found = _existing(member.id, station.id, day)
    if found is None:
        row = Checkin(
            station_id=station.id,
            member_id=member.id,
            day=day,
            checked_in_at=now,
            method=method,
            event_id=event.id if event else None,
            recorded_by_id=recorded_by.id if recorded_by else None,
        )
        try:
            with db.session.begin_nested():
                db.session.add(row)
        except sa.exc.IntegrityError:
            found = _existing(member.id, station.id, day)
            if found is None:  # not the double scan: some other constraint failed
                raise
        else:
            points_sources.for_checkin(row)
            return CheckinResult(row, True)
    if event is not None and found.event_id is None:
        found.event_id = event.id
        db.session.flush()
    points_sources.for_checkin(found)
    return CheckinResult(found, False)


# Events ----------------------------------------------------------------------------------------


def save_event(
    station: Station,
    title: str,
    kind: StationEventKind,
    starts_at: datetime,
    ends_at: datetime,
    by: User | None = None,
    event: StationEvent | None = None,
) -> StationEvent:
    """Create (or change) an event at the station."""
    title = (title or "").strip()
    if not title:
        raise CheckinError(_l("请填写活动名称。"))
    if ends_at <= starts_at:
        raise CheckinError(_l("结束时间必须晚于开始时间。"))
    if ends_at - starts_at > timedelta(days=7):
        raise CheckinError(_l("一次活动最长7天。"))
    if event is None:
        event = StationEvent(station_id=station.id, created_by_id=by.id if by else None)
        db.session.add(event)
    event.station_id = station.id  # an event may move to another station (a training moved)
    event.title, event.kind, event.starts_at, event.ends_at = title, kind, starts_at, ends_at
    db.session.flush()
    return event


def events_between(station_id: int, start: datetime, end: datetime) -> list[StationEvent]:
    """Events overlapping [start, end), in order."""
    return list(
        db.session.scalars(
            sa.select(StationEvent)
            .where(
                StationEvent.station_id == station_id,
                StationEvent.starts_at < end,
                StationEvent.ends_at > start,
            )
            .order_by(StationEvent.starts_at)
        )
    )


def todays_events(station_id: int, now: datetime | None = None) -> list[StationEvent]:
    """The station's events overlapping today (Shanghai), in order."""
    return events_between(station_id, *day_bounds(local_day(now or utcnow())))


def attendance_counts(event_ids: list[int]) -> dict[int, int]:
    """How many checked in for each of the events (one query)."""
    if not event_ids:
        return {}
    rows = db.session.execute(
        sa.select(Checkin.event_id, sa.func.count(Checkin.id))
        .where(Checkin.event_id.in_(event_ids))
        .group_by(Checkin.event_id)
    )
    return {event_id: n for event_id, n in rows}


def active_station(station_id: int) -> Station | None:
    """The station a check-in link names, while it is open."""
    station = db.session.get(Station, station_id)
    return station if station is not None and station.active else None


# Lists -----------------------------------------------------------------------------------------


def todays_checkins(station_id: int, now: datetime | None = None) -> list[Checkin]:
    """Today's check-ins at the station, newest first (member, user, event joined in one query)."""
    day = local_day(now or utcnow())
    return list(
        db.session.scalars(
            sa.select(Checkin)
            .where(Checkin.station_id == station_id, Checkin.day == day)
            .order_by(Checkin.checked_in_at.desc(), Checkin.id.desc())
        ).unique()
    )


def ledger_query(
    station_id: int,
    start: date,
    end: date,
    method: CheckinMethod | None = None,
    event_id: int | None = None,
) -> sa.Select[tuple[Checkin]]:
    """The station's check-ins from ``start`` to ``end`` (local dates, inclusive), oldest first."""
    stmt = sa.select(Checkin).where(
        Checkin.station_id == station_id, Checkin.day >= start, Checkin.day <= end
    )
    if method is not None:
        stmt = stmt.where(Checkin.method == method)
    if event_id is not None:
        stmt = stmt.where(Checkin.event_id == event_id)
    return stmt.order_by(Checkin.checked_in_at, Checkin.id)


def member_history(member_id: int, year: int, month: int) -> list[Checkin]:
    """The member's check-ins in one month, newest first."""
    first, last = month_bounds(year, month)
    return list(
        db.session.scalars(
            sa.select(Checkin)
            .where(Checkin.member_id == member_id, Checkin.day >= first, Checkin.day <= last)
            .order_by(Checkin.checked_in_at.desc())
        ).unique()
    )


def member_months(member_id: int) -> list[tuple[int, int, int]]:
    """(year, month, count) of the months the member checked in, newest first."""
    rows = db.session.execute(
        sa.select(Checkin.day).where(Checkin.member_id == member_id)
    ).scalars()
    counts: dict[tuple[int, int], int] = {}
    for d in rows:
        counts[(d.year, d.month)] = counts.get((d.year, d.month), 0) + 1
    return [(y, m, n) for (y, m), n in sorted(counts.items(), reverse=True)]


def search_members(station: Station, q: str) -> list[Member]:
    """Active members within the station's org node whose name contains ``q``, or whose phone is
    the number typed: all 11 digits, or the last 4 (which the masked number shows anyway). Any
    other run of digits is refused — matching part of a number would let a few searches rebuild
    the hidden middle digits without the audited reveal."""
    q = (q or "").strip()
    if not q:
        raise CheckinError(_l("请输入姓名或手机号。"))
    by_phone = phone_match(User.phone, q)
    if by_phone is not None:
        match = by_phone
    elif any(ch.isdigit() for ch in q):  # digits that are neither a whole number nor its last 4
        raise CheckinError(_l("请输入完整的11位手机号，或手机号后4位。"))
    else:
        match = User.name.contains(q, autoescape=True)
    return list(
        db.session.scalars(
            sa.select(Member)
            .join(User, User.id == Member.user_id)
            .join(OrgNode, OrgNode.id == Member.grid_id)
            .where(
                OrgNode.under(station.org_node.path),
                Member.status == MemberStatus.ACTIVE,
                User.active,
                match,
            )
            .order_by(User.name, Member.id)
            .limit(SEARCH_LIMIT)
        ).unique()
    )
