"""Running stations: opening and changing them, their admins, poster codes, manual check-in,
events and the ledger. Each admin action is one function here; the views only parse and render.

Check-in itself (the one-per-day rule, events running at a station) lives in ``checkin``; this
module is what a station's admins do around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app import policy
from app.clock import TZ, local_naive, local_today
from app.extensions import db
from app.models import (
    Checkin,
    CheckinMethod,
    CheckinMode,
    Member,
    MemberStatus,
    OrgNode,
    PosterToken,
    Role,
    RoleAssignment,
    Station,
    StationEvent,
    StationEventKind,
    StationKind,
    User,
)
from app.phones import normalize_phone
from app.services import checkin, ledger
from app.services import checkin_tokens as tokens
from app.services.errors import Refused
from app.services.privacy import audit

RECENT_EVENTS = 100  # events offered in the ledger's filter


class StationError(Refused):
    """A station change the rules refuse; ``str(e)`` is the message for the user."""


# The station itself -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StationData:
    """What the station form says, as plain values."""

    name: str
    kind: str
    org_node_id: int
    address: str | None
    checkin_mode: str
    opening_hours: str | None
    active: bool


def _apply(station: Station, data: StationData) -> Station:
    station.name = data.name.strip()
    station.kind = StationKind(data.kind)
    station.org_node_id = data.org_node_id
    station.address = (data.address or "").strip()
    station.checkin_mode = CheckinMode(data.checkin_mode)
    station.opening_hours = (data.opening_hours or "").strip()
    station.active = data.active
    return station


def create_station(data: StationData) -> Station:
    """Open a station (the form offered only nodes in the admin's scope)."""
    station = _apply(Station(), data)
    db.session.add(station)
    return station


def update_station(station: Station, data: StationData) -> Station:
    """Change a station's name, node, check-in mode, opening hours."""
    return _apply(station, data)


def nodes_for(user: User) -> list[OrgNode]:
    """The org nodes a station may be placed at by ``user``, in tree order."""
    return list(db.session.scalars(
        sa.select(OrgNode).where(policy.scope_condition(user)).order_by(OrgNode.path)
    ))


def stations_for(user: User) -> sa.Select[tuple[Station]]:
    """The stations the user runs or manages, in tree order."""
    own = [s.id for s in user.admin_stations]
    return (
        sa.select(Station)
        .join(OrgNode, OrgNode.id == Station.org_node_id)
        .where(sa.or_(policy.scope_condition(user), Station.id.in_(own)))
        .order_by(OrgNode.path, Station.name)
    )


def todays_counts(stations: list[Station]) -> dict[int, int]:
    """Today's number of check-ins at each of ``stations`` (one query)."""
    ids = [s.id for s in stations]
    if not ids:
        return {}
    return dict(db.session.execute(
        sa.select(Checkin.station_id, sa.func.count(Checkin.id))
        .where(Checkin.station_id.in_(ids), Checkin.day == local_today())
        .group_by(Checkin.station_id)
    ).all())


# Station admins ---------------------------------------------------------------------------------


def station_admins(station: Station) -> list[User]:
    """The station's admins, by name."""
    return list(db.session.scalars(
        sa.select(User)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.role == Role.STATION_ADMIN, RoleAssignment.station_id == station.id)
        .order_by(User.name)
    ))


def add_station_admin(station: Station, phone: str | None, by: User, ip: str = "") -> User:
    """Make the existing account with ``phone`` an admin of the station. Its sessions go on: roles
    are read afresh on every request, and ending them would let any admin sign out anyone whose
    number they know (a community admin signing out the district admin)."""
    number = normalize_phone(phone)
    if number is None:
        raise StationError(_l("请输入11位手机号"))
    user = db.session.scalar(sa.select(User).where(User.phone == number))
    if user is None:
        raise StationError(_l("没有使用这个手机号的账号，请先为其开通账号"))
    if any(r.role is Role.STATION_ADMIN and r.station_id == station.id for r in user.roles):
        raise StationError(_l("此人已是本驿站管理员"))
    user.roles.append(RoleAssignment(role=Role.STATION_ADMIN, station_id=station.id))
    audit(by.id, "station.admin_add", "station", station.id, detail=f"user={user.id}", ip=ip)
    return user


def admin_assignment(station: Station, user_id: int) -> RoleAssignment | None:
    """The station-admin role ``user_id`` holds at the station, if any."""
    return db.session.scalar(
        sa.select(RoleAssignment).where(
            RoleAssignment.user_id == user_id,
            RoleAssignment.role == Role.STATION_ADMIN,
            RoleAssignment.station_id == station.id,
        )
    )


def remove_station_admin(assignment: RoleAssignment, by: User, ip: str = "") -> None:
    """Take the station-admin role away; the person's sessions end."""
    assignment.user.end_sessions()
    db.session.delete(assignment)
    audit(by.id, "station.admin_remove", "station", assignment.station_id,
          detail=f"user={assignment.user_id}", ip=ip)


# Poster codes -----------------------------------------------------------------------------------


def regenerate_poster(station: Station, by: User, ip: str = "") -> PosterToken:
    """Revoke the poster code (a poster that leaked) and issue a new one to print."""
    token = tokens.regenerate_poster_token(station)
    audit(by.id, "station.poster_regenerate", "station", station.id, ip=ip)
    return token


# Manual check-in --------------------------------------------------------------------------------


def member_in_station_scope(station: Station, member_id: int | None) -> Member | None:
    """An on-roll (active) member of the station's org node, or None. Like the search, this only
    finds active members: a stopped one is "not found" (422) here, never check_in's 403."""
    member = db.session.get(Member, member_id) if member_id is not None else None
    if member is None or member.status is not MemberStatus.ACTIVE:
        return None
    return member if member.grid.path.startswith(station.org_node.path) else None


def manual_check_in(station: Station, member_id: int | None, by: User) -> checkin.CheckinResult:
    """Check a member in by hand (a forgotten phone), recording who did it."""
    member = member_in_station_scope(station, member_id)
    if member is None:
        raise checkin.CheckinError(_l("没有找到这名党员（只能为本驿站所属组织的在册党员补签）。"))
    return checkin.check_in(member, station, CheckinMethod.MANUAL, recorded_by=by)


# Events -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventData:
    """What the event form says; times are Shanghai wall-clock times (naive) or aware instants."""

    title: str
    kind: str
    starts_at: datetime
    ends_at: datetime


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=TZ)


def save_event(station: Station, data: EventData, by: User, event: StationEvent | None = None) -> StationEvent:
    """Schedule an event at the station, or change one."""
    return checkin.save_event(
        station, data.title, StationEventKind(data.kind), _aware(data.starts_at), _aware(data.ends_at),
        by=by, event=event,
    )


def event_form_data(event: StationEvent) -> EventData:
    """An event as its form shows it (local wall-clock times)."""
    return EventData(event.title, event.kind.value, local_naive(event.starts_at), local_naive(event.ends_at))


def station_events(station: Station) -> sa.Select[tuple[StationEvent]]:
    """The station's events, newest first."""
    return (
        sa.select(StationEvent)
        .where(StationEvent.station_id == station.id)
        .order_by(StationEvent.starts_at.desc())
    )


def recent_events(station: Station) -> list[StationEvent]:
    """The station's latest events (the ledger's filter offers them)."""
    return list(db.session.scalars(station_events(station).limit(RECENT_EVENTS)))


def event_at(station: Station, event_id: int) -> StationEvent | None:
    """The station's event ``event_id`` (None for another station's)."""
    event = db.session.get(StationEvent, event_id)
    return event if event is not None and event.station_id == station.id else None


def attendance(event: StationEvent) -> list[Checkin]:
    """Who attended the event (checked in while it ran), in order."""
    return list(db.session.scalars(
        sa.select(Checkin).where(Checkin.event_id == event.id).order_by(Checkin.checked_in_at)
    ).unique())


# Ledger -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerFilter:
    """A ledger period (local dates, both included) and optional method and event."""

    start: date
    end: date
    method: CheckinMethod | None = None
    event_id: int | None = None

    def query(self, station: Station) -> sa.Select[tuple[Checkin]]:
        """The station's check-ins in the period, oldest first."""
        return checkin.ledger_query(station.id, self.start, self.end, self.method, self.event_id)


LEDGER_HEADERS = ["日期", "时间", "姓名", "网格", "签到方式", "活动", "补签人"]


def export_ledger(station: Station, period: LedgerFilter, by: User, ip: str = "") -> bytes:
    """The ledger as an .xlsx workbook (Chinese headers, the station and the period); audited."""
    rows = db.session.scalars(period.query(station)).unique()
    content = ledger.build_workbook(
        title=f"{station.name} 签到台账",
        node_name=f"{station.org_node.name} · {station.name}",
        period=f"{period.start:%Y-%m-%d} 至 {period.end:%Y-%m-%d}",
        headers=LEDGER_HEADERS,
        rows=(
            [
                c.day, f"{local_naive(c.checked_in_at):%H:%M}", c.member.name, c.member.grid.name,
                str(c.method.label), c.event.title if c.event else "",
                c.recorded_by.name if c.recorded_by else "",
            ]
            for c in rows
        ),
    )
    audit(by.id, "checkin.ledger_export", "station", station.id,
          detail=f"{period.start}..{period.end} method={period.method or ''} event={period.event_id or ''}",
          ip=ip)
    return content
