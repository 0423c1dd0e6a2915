"""Checking in by typing the six digits under a kiosk's QR (签到码) when the phone cannot scan.

The member picks the station from a list (their own first) and types the code the kiosk shows now;
the check-in is the one a scan makes (``checkin.check_in``), with the method ``typed``. Six digits
can be guessed where the QR's 80 bits cannot, so three bounds hold:

- per member, every try: Flask-Limiter, ``CHECKIN_CODE_LIMIT_PER_MEMBER`` (the view);
- per address, wrong tries: Flask-Limiter, ``CHECKIN_CODE_LIMIT_PER_IP`` (the view);
- per member, in the database: ``CHECKIN_CODE_LOCK_AFTER`` wrong codes within an hour lock typing
  for ``CHECKIN_CODE_LOCK_MINUTES`` (here) — whatever storage the limiter has, and across workers.

A wrong try is recorded even though the check-in is refused, so it is not raised as ``Refused``
(the step would roll back): the attempt is returned with its message, and the view commits it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.models import Checkin, CheckinCodeGuard, CheckinMethod, Member, OrgNode, Station, utcnow
from app.services import checkin
from app.services import checkin_tokens as tokens
from app.settings import setting

FAILURE_WINDOW = timedelta(hours=1)  # wrong codes older than this are forgotten
LOCK_AFTER = 5
LOCK_MINUTES = 15


@dataclass
class CodeAttempt:
    """A typed code's outcome: the check-in (as a scan gives it), or the message for the field."""

    result: checkin.CheckinResult | None = None
    error: str | None = None


def stations_for(member: Member) -> list[tuple[Station, bool]]:
    """The stations a member may type a code for, as (station, is it theirs): the active stations
    of their township and those up their chain (a district's). Theirs — the stations of their own
    grid, community, township or district — come first, nearest first; then the others by name."""
    chain = member.grid.ancestor_ids
    township_path = "".join(f"{i}/" for i in chain[:2])
    stations = db.session.scalars(
        sa.select(Station)
        .join(OrgNode, OrgNode.id == Station.org_node_id)
        .where(Station.active, sa.or_(OrgNode.under(township_path), OrgNode.id.in_(chain)))
        .order_by(Station.name, Station.id)
    ).all()
    depth = {node_id: i for i, node_id in enumerate(chain)}

    def order(station: Station) -> tuple[int, int]:
        own = station.org_node_id in depth
        return (0, -depth[station.org_node_id]) if own else (1, 0)

    return [(s, s.org_node_id in depth) for s in sorted(stations, key=order)]


def _guard(member_id: int) -> CheckinCodeGuard | None:
    """The member's guard row, locked for this transaction (PostgreSQL; SQLite's writes are
    serialised by ``BEGIN IMMEDIATE``), so two wrong tries at once both count."""
    return db.session.get(CheckinCodeGuard, member_id, with_for_update=True)


def _new_guard(member_id: int) -> CheckinCodeGuard:
    guard = CheckinCodeGuard(member_id=member_id, failures=0)
    try:
        with db.session.begin_nested():
            db.session.add(guard)
    except sa.exc.IntegrityError:  # another try made it first: count on that one
        found = db.session.get(CheckinCodeGuard, member_id, with_for_update=True, populate_existing=True)
        assert found is not None
        return found
    return guard


def _locked_message(until: datetime, now: datetime) -> str:
    minutes = max(1, math.ceil((until - now).total_seconds() / 60))
    return _("输错次数太多，签到码已暂停使用，请 %(n)d 分钟后再试；也可以扫码，或请驿站管理员补签。", n=minutes)


def _count_failure(member_id: int, guard: CheckinCodeGuard | None, message: str, now: datetime) -> str:
    """Record a wrong code; the message for the field says how many tries are left, or the lock."""
    guard = guard or _new_guard(member_id)
    if guard.last_failed_at is None or now - guard.last_failed_at > FAILURE_WINDOW:
        guard.failures = 0
    guard.failures += 1
    guard.last_failed_at = now
    lock_after = int(setting("CHECKIN_CODE_LOCK_AFTER", LOCK_AFTER))  # type: ignore[call-overload]
    if guard.failures >= lock_after:
        guard.failures = 0
        guard.locked_until = now + timedelta(minutes=int(setting("CHECKIN_CODE_LOCK_MINUTES", LOCK_MINUTES)))  # type: ignore[call-overload]
        return message + _locked_message(guard.locked_until, now)
    return message + _("还可以再试 %(n)d 次。", n=lock_after - guard.failures)


def check_in_by_code(member: Member, station_id: int, code: str, now: datetime | None = None) -> CodeAttempt:
    """Check the member in at the station if ``code`` (normalised) is one the kiosk shows now."""
    now = now or utcnow()
    checkin.may_check_in(member)
    station = checkin.active_station(station_id)
    if station is None:
        raise checkin.CheckinError(_l("请选择驿站。"))
    guard = _guard(member.id)
    if guard is not None and guard.locked_until is not None and guard.locked_until > now:
        return CodeAttempt(error=_locked_message(guard.locked_until, now))
    try:
        tokens.verify_kiosk_code(station.id, code, now.timestamp())
    except tokens.TokenExpired:
        message = _("签到码已过期，请输入签到屏上现在显示的数字。")
    except tokens.TokenInvalid:
        message = _("签到码不对，请核对签到屏二维码下方的 6 位数字。")
    else:
        if guard is not None:
            guard.failures, guard.last_failed_at = 0, None
        return CodeAttempt(result=checkin.check_in(member, station, CheckinMethod.TYPED, now))
    return CodeAttempt(error=_count_failure(member.id, guard, message, now))


def member_checkin(member: Member, checkin_id: int) -> Checkin | None:
    """One of the member's own check-ins (None for anyone else's)."""
    row = db.session.get(Checkin, checkin_id)
    return row if row is not None and row.member_id == member.id else None
