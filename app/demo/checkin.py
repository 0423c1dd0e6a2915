"""Demo data for check-in: two years of events and check-ins at the stations already generated.

Reads the stations, members and station admins from the database and bulk-inserts (Core
executemany) at realistic rates:

- a theme Party day (主题党日) at every station every month (a morning in the first ten days), most
  of the station's members attending (each member has their own habit, 50–95 %);
- a training session every quarter, fewer attending;
- everyday visits: most members drop in 0–3 times a month.

A member belongs to the nearest station up their org chain (grid → community → township →
district). Volume follows the district's size, so ``scale`` only tunes the everyday visits.
Everything is decided by ``rng``: the same seed gives the same data.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from app.clock import TZ, local_day
from app.demo.context import insert_rows
from app.models import (
    Checkin,
    CheckinMethod,
    CheckinMode,
    Member,
    MemberStatus,
    OrgNode,
    Role,
    RoleAssignment,
    Station,
    StationEvent,
    StationEventKind,
)

MONTHS = 24


def _at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), TZ).astimezone(UTC)


def _months(now: datetime) -> list[date]:
    """The first day of each of the last MONTHS months, oldest first, ending with this month."""
    today = local_day(now)
    y, m = today.year, today.month
    out = []
    for _ in range(MONTHS):
        out.append(date(y, m, 1))
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


def _days_in_month(first: date) -> int:
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return (nxt - first).days


def generate(conn: sa.Connection, rng: random.Random, now: datetime, scale: float = 1.0) -> dict[str, int]:
    """Insert the events and check-ins; return how many of each."""
    stations = conn.execute(
        sa.select(Station.id, OrgNode.path, Station.checkin_mode)
        .join(OrgNode, OrgNode.id == Station.org_node_id)
        .where(Station.active)
        .order_by(Station.id)
    ).all()
    if not stations:
        return {"station_events": 0, "checkins": 0}
    by_path: dict[str, list[int]] = defaultdict(list)
    mode = {}
    for sid, path, checkin_mode in stations:
        by_path[path].append(sid)
        mode[sid] = CheckinMode(checkin_mode)
    admins: dict[int, list[int]] = defaultdict(list)
    for sid, uid in conn.execute(
        sa.select(RoleAssignment.station_id, RoleAssignment.user_id).where(
            RoleAssignment.role == Role.STATION_ADMIN
        )
    ):
        admins[sid].append(uid)

    # Each member's home station: the nearest one up the org chain.
    members_of: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for mid, path in conn.execute(
        sa.select(Member.id, OrgNode.path)
        .join(OrgNode, OrgNode.id == Member.grid_id)
        .where(Member.status == MemberStatus.ACTIVE)
        .order_by(Member.id)
    ):
        parts = path.strip("/").split("/")
        for depth in range(len(parts), 0, -1):
            candidates = by_path.get("/".join(parts[:depth]) + "/")
            if candidates:
                habit = rng.uniform(0.5, 0.95)  # how reliably this member attends
                members_of[candidates[mid % len(candidates)]].append((mid, habit))
                break

    months = _months(now)
    today = local_day(now)

    # Events first (their ids are needed by the check-ins).
    event_rows: list[dict] = []
    for sid, _, _ in stations:
        for first in months:
            day = first + timedelta(days=rng.randint(0, 9))
            event_rows.append({
                "station_id": sid, "title": f"{first.month}月主题党日", "kind": StationEventKind.THEME_DAY,
                "starts_at": _at(day, 9), "ends_at": _at(day, 11), "created_at": _at(first, 8),
            })
            if first.month % 3 == 0:
                day = first + timedelta(days=rng.randint(14, 24))
                event_rows.append({
                    "station_id": sid, "title": f"{first.month}月党员微党课", "kind": StationEventKind.TRAINING,
                    "starts_at": _at(day, 14, 30), "ends_at": _at(day, 16, 30), "created_at": _at(first, 8),
                })
    ids = conn.execute(
        sa.insert(StationEvent).returning(StationEvent.id, sort_by_parameter_order=True), event_rows
    ).scalars().all()

    def method_for(sid: int) -> tuple[CheckinMethod, int | None]:
        if admins[sid] and rng.random() < 0.05:
            return CheckinMethod.MANUAL, rng.choice(admins[sid])
        if mode[sid] is CheckinMode.POSTER:
            return CheckinMethod.POSTER, None
        # A phone that cannot scan (an old camera, glare on the tablet): the six digits are typed.
        return (CheckinMethod.TYPED if rng.random() < 0.04 else CheckinMethod.KIOSK), None

    rows: list[dict] = []
    taken: set[tuple[int, int, date]] = set()
    event_days: set[tuple[int, date]] = set()
    for event_id, ev in zip(ids, event_rows, strict=True):
        sid, start = ev["station_id"], ev["starts_at"]
        day = local_day(start)
        event_days.add((sid, day))
        rate_factor = 1.0 if ev["kind"] is StationEventKind.THEME_DAY else 0.45
        for mid, habit in members_of[sid]:
            at = start + timedelta(minutes=rng.randint(0, 40), seconds=rng.randint(0, 59))
            if at > now or rng.random() > habit * rate_factor or (mid, sid, day) in taken:
                continue
            taken.add((mid, sid, day))
            method, by = method_for(sid)
            rows.append({"station_id": sid, "member_id": mid, "day": day, "checked_in_at": at,
                         "method": method, "event_id": event_id, "recorded_by_id": by})

    # Everyday visits, on days without an event at that station.
    weights = [55 / max(scale, 0.1), 30, 10, 5]
    for sid, members in members_of.items():
        for first in months:
            n_days = _days_in_month(first)
            for mid, _habit in members:
                for _ in range(rng.choices((0, 1, 2, 3), weights=weights)[0]):
                    day = first + timedelta(days=rng.randrange(n_days))
                    if day > today or (sid, day) in event_days or (mid, sid, day) in taken:
                        continue
                    at = _at(day, 8, 30) + timedelta(minutes=rng.randint(0, 540))
                    if at > now:
                        continue
                    taken.add((mid, sid, day))
                    method, by = method_for(sid)
                    rows.append({"station_id": sid, "member_id": mid, "day": day, "checked_in_at": at,
                                 "method": method, "event_id": None, "recorded_by_id": by})

    insert_rows(conn, Checkin.__table__, rows)
    return {"station_events": len(event_rows), "checkins": len(rows)}
