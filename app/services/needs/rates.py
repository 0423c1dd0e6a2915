"""The three rates of 接诉即办 (response, resolution, satisfaction) by group."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from app.clock import day_start, days_bounds
from app.extensions import db
from app.models import (
    CentralHousehold,
    Member,
    Need,
    NeedRating,
    OrgNode,
    User,
)
from app.policy import scope_condition
from app.services import ledger
from app.services.needs.common import CLOSED_STATES
from app.services.privacy import audit

# --- Rates -----------------------------------------------------------------------------------

GROUPS = ("member", "household", "grid", "community", "township")


@dataclass
class RateRow:
    key: int | None
    name: str
    submitted: int
    accepted_in_time: int
    resolved: int
    rated: int
    satisfied: int

    @staticmethod
    def _pct(n: int, d: int) -> float | None:
        return None if d == 0 else 100.0 * n / d

    @property
    def response_rate(self) -> float | None:
        return self._pct(self.accepted_in_time, self.submitted)

    @property
    def resolution_rate(self) -> float | None:
        return self._pct(self.resolved, self.submitted)

    @property
    def satisfaction_rate(self) -> float | None:
        return self._pct(self.satisfied, self.rated)


def _group_column(group: str) -> sa.ColumnElement[int | None]:
    return {
        "member": Need.member_id,
        "household": Need.central_household_id,
        "grid": Need.grid_id,
        "community": Need.community_id,
        "township": Need.township_id,
    }[group]


def rates(scope: sa.ColumnElement[bool], group: str, start: datetime, end: datetime) -> tuple[list[RateRow], RateRow]:
    """The three rates of 接诉即办 per ``group`` for needs submitted in [start, end) within
    ``scope`` (a condition on OrgNode joined on the need's node). Hidden needs are left out.

    - response rate = needs accepted no later than their first accept deadline ÷ needs submitted;
    - resolution rate = needs now 已办结 or 已评价 ÷ needs submitted;
    - satisfaction rate = needs rated 满意 or 基本满意 ÷ needs rated (latest rating; a reopened need
      keeps its 不满意 until it is rated again).
    Two queries whatever the number of rows: the counts, then the names."""
    col = _group_column(group)
    counts = (
        sa.func.count(Need.id),
        sa.func.count(Need.id).filter(Need.accepted_at <= Need.first_accept_due_at),
        sa.func.count(Need.id).filter(Need.status.in_(CLOSED_STATES)),
        sa.func.count(Need.id).filter(Need.rating.is_not(None)),
        sa.func.count(Need.id).filter(Need.rating.in_((NeedRating.SATISFIED, NeedRating.BASICALLY))),
    )
    where = (scope, Need.hidden_at.is_(None), Need.submitted_at >= start, Need.submitted_at < end)
    result = db.session.execute(
        sa.select(col, *counts).join(OrgNode, OrgNode.id == Need.node_id).where(*where)
        .group_by(col).order_by(col)
    ).all()
    keys = [r[0] for r in result if r[0] is not None]
    names = _names(group, keys)
    rows = [RateRow(r[0], names.get(r[0], _("（未分派）")) if r[0] is not None else _("（未分派）"), *r[1:])
            for r in result]
    rows.sort(key=lambda r: (r.key is None, r.name))
    total = RateRow(None, _("合计"), *(sum(getattr(r, f) for r in rows) for f in
                                      ("submitted", "accepted_in_time", "resolved", "rated", "satisfied")))
    return rows, total


def month_starts(today: date, months: int) -> list[date]:
    """The first days of the last ``months`` months up to today's, and of the month after."""
    firsts = []
    y, m = today.year, today.month
    for _i in range(months + 1):
        firsts.append(date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    firsts.reverse()
    nxt = (today.year + (today.month == 12), today.month % 12 + 1)
    return [*firsts[1:], date(nxt[0], nxt[1], 1)]


def monthly_rates(admin: User, today: date, months: int = 12) -> list[tuple[date, RateRow]]:
    """The admin's scope's counts and rates per month (Asia/Shanghai months) for the last
    ``months`` months, oldest first; one query (each need bucketed by a CASE over the months'
    bounds, so SQLite and PostgreSQL agree)."""
    firsts = month_starts(today, months)
    bounds = [day_start(d) for d in firsts]
    bucket = sa.case(*[(Need.submitted_at < bounds[i + 1], i) for i in range(months)])
    result = db.session.execute(
        sa.select(bucket.label("bucket"),
                  sa.func.count(Need.id),
                  sa.func.count(Need.id).filter(Need.accepted_at <= Need.first_accept_due_at),
                  sa.func.count(Need.id).filter(Need.status.in_(CLOSED_STATES)),
                  sa.func.count(Need.id).filter(Need.rating.is_not(None)),
                  sa.func.count(Need.id).filter(
                      Need.rating.in_((NeedRating.SATISFIED, NeedRating.BASICALLY))))
        .join(OrgNode, OrgNode.id == Need.node_id)
        .where(scope_condition(admin), Need.hidden_at.is_(None),
               Need.submitted_at >= bounds[0], Need.submitted_at < bounds[-1])
        .group_by(sa.text("bucket"))
    ).all()
    by_bucket = {r[0]: r[1:] for r in result}
    return [(firsts[i], RateRow(None, f"{firsts[i]:%Y-%m}", *by_bucket.get(i, (0, 0, 0, 0, 0))))
            for i in range(months)]


def _names(group: str, keys: list[int]) -> dict[int, str]:
    if not keys:
        return {}
    if group == "member":
        stmt = sa.select(Member.id, User.name).join(User, User.id == Member.user_id).where(Member.id.in_(keys))
        return dict(db.session.execute(stmt).all())
    if group == "household":
        stmt = (sa.select(CentralHousehold.id, User.name, CentralHousehold.number)
                .join(Member, Member.id == CentralHousehold.head_member_id)
                .join(User, User.id == Member.user_id).where(CentralHousehold.id.in_(keys)))
        return {i: f"{n}（{num or '—'}）" for i, n, num in db.session.execute(stmt)}
    stmt = sa.select(OrgNode.id, OrgNode.name).where(OrgNode.id.in_(keys))
    return dict(db.session.execute(stmt).all())


def group_labels() -> dict[str, str]:
    """What the rates may be grouped by, as the dashboard names it."""
    return {"member": _("党员"), "household": _("中心户"), "grid": _("网格"), "community": _("村/社区"),
            "township": _("乡镇/街道")}


def period_rates(admin: User, group: str, start: date, end: date) -> tuple[list[RateRow], RateRow]:
    """The rates for the admin's scope over the days ``start``..``end`` (both included)."""
    s, e = days_bounds(start, end)
    return rates(scope_condition(admin), group, s, e)


def export_rates(admin: User, group: str, start: date, end: date, ip: str) -> bytes:
    """The same rates as a ledger workbook (.xlsx); the export is audited."""
    rows, total = period_rates(admin, group, start, end)

    def pct(v: float | None) -> str:
        return "—" if v is None else f"{v:.1f}%"

    headers = [group_labels()[group], _("诉求数"), _("按时接单"), _("响应率"), _("已办结"), _("办结率"),
               _("已评价"), _("满意及基本满意"), _("满意率")]
    body = [
        [r.name, r.submitted, r.accepted_in_time, pct(r.response_rate), r.resolved, pct(r.resolution_rate),
         r.rated, r.satisfied, pct(r.satisfaction_rate)]
        for r in [*rows, total]
    ]
    node_name = "、".join(n.name for n in admin.admin_nodes)
    period = _("%(start)s 至 %(end)s", start=start.isoformat(), end=end.isoformat())
    data = ledger.build_workbook(_("接诉即办统计台账"), node_name, period, headers, body)
    audit(admin.id, "export", "needs_rates", detail=f"by={group} {period}", ip=ip)
    return data
