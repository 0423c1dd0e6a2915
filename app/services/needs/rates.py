"""The three rates of 接诉即办 (response, resolution, satisfaction) by group."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import aliased

from app.clock import day_start, days_bounds
from app.extensions import db, read_core
from app.models import (
    CentralHousehold,
    Member,
    Need,
    NeedRating,
    OrgNode,
    User,
)
from app.policy import admin_paths, bound_scope, scope_params
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

    # The rates as the dashboard and the ledger write them: "83.3%", "—" when nothing to divide.

    @property
    def response_label(self) -> str:
        return percent(self.response_rate)

    @property
    def resolution_label(self) -> str:
        return percent(self.resolution_rate)

    @property
    def satisfaction_label(self) -> str:
        return percent(self.satisfaction_rate)


def percent(value: float | None) -> str:
    """A rate as shown: one decimal and a per cent sign, "—" for none."""
    return "—" if value is None else f"{value:.1f}%"


def _group_column(group: str) -> sa.ColumnElement[int | None]:
    return {
        "member": Need.member_id,
        "household": Need.central_household_id,
        "grid": Need.grid_id,
        "community": Need.community_id,
        "township": Need.township_id,
    }[group]


def _counts() -> tuple[sa.ColumnElement[int], ...]:
    """Submitted, accepted in time, resolved, rated, rated 满意 or 基本满意 (see ``rates``). The
    sets as ORs of equalities, not ``IN``: an ``IN`` list is a parameter expanded into the SQL on
    every run, which costs more than the count itself in a statement built once."""
    return (
        sa.func.count(Need.id),
        sa.func.count(Need.id).filter(Need.accepted_at <= Need.first_accept_due_at),
        sa.func.count(Need.id).filter(sa.or_(*(Need.status == s for s in CLOSED_STATES))),
        sa.func.count(Need.id).filter(Need.rating.is_not(None)),
        sa.func.count(Need.id).filter(sa.or_(*(Need.rating == r for r in (NeedRating.SATISFIED, NeedRating.BASICALLY)))),
    )


def _names_of(group: str, key: sa.ColumnElement[int | None]) -> tuple[sa.ScalarSelect, sa.ScalarSelect]:
    """What a group's row is called, as two scalar subqueries on its key (read once per row of
    the grouped result): a member's name; a central household's head and number; a node's name."""
    if group == "member":
        name = sa.select(User.name).join(Member, Member.user_id == User.id).where(Member.id == key)
        return name.scalar_subquery(), sa.null()
    if group == "household":
        head = (sa.select(User.name).join(Member, Member.user_id == User.id)
                .join(CentralHousehold, CentralHousehold.head_member_id == Member.id)
                .where(CentralHousehold.id == key))
        number = sa.select(CentralHousehold.number).where(CentralHousehold.id == key)
        return head.scalar_subquery(), number.scalar_subquery()
    node = aliased(OrgNode)  # not the scope's org_nodes, which the outer select joins
    return sa.select(node.name).where(node.id == key).scalar_subquery(), sa.null()


def _rates_select(scope: sa.ColumnElement[bool], group: str) -> sa.Select:
    """The counts per group and the group's name, for needs submitted in [:start, :end)."""
    col = _group_column(group)
    return (
        sa.select(col, *_names_of(group, col), *_counts()).join(OrgNode, OrgNode.id == Need.node_id)
        .where(scope, Need.hidden_at.is_(None), Need.submitted_at >= sa.bindparam("start"),
               Need.submitted_at < sa.bindparam("end"))
        .group_by(col).order_by(col)
    )


@functools.cache
def _period_statement(scopes: int, group: str) -> sa.Select:
    """``_rates_select`` for an admin of ``scopes`` paths, built once (issue 14)."""
    return _rates_select(bound_scope(scopes), group)


def _rate_rows(group: str, result: Iterable[sa.Row]) -> tuple[list[RateRow], RateRow]:
    unassigned = _("（未分派）")
    rows = []
    for key, name, number, *counts in result:
        if key is None or name is None:
            label = unassigned
        elif group == "household":
            label = f"{name}（{number or '—'}）"
        else:
            label = name
        rows.append(RateRow(key, label, *counts))
    rows.sort(key=lambda r: (r.key is None, r.name))
    total = RateRow(None, _("合计"), *(sum(getattr(r, f) for r in rows) for f in
                                      ("submitted", "accepted_in_time", "resolved", "rated", "satisfied")))
    return rows, total


def rates(scope: sa.ColumnElement[bool], group: str, start: datetime, end: datetime) -> tuple[list[RateRow], RateRow]:
    """The three rates of 接诉即办 per ``group`` for needs submitted in [start, end) within
    ``scope`` (a condition on OrgNode joined on the need's node). Hidden needs are left out.

    - response rate = needs accepted no later than their first accept deadline ÷ needs submitted;
    - resolution rate = needs now 已办结 or 已评价 ÷ needs submitted;
    - satisfaction rate = needs rated 满意 or 基本满意 ÷ needs rated (latest rating; a reopened need
      keeps its 不满意 until it is rated again).
    One query whatever the number of rows: the counts with each group's name."""
    return _rate_rows(group, db.session.execute(_rates_select(scope, group), {"start": start, "end": end}))


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


@functools.cache
def _monthly_statement(scopes: int, months: int) -> sa.CompoundSelect:
    """The counts of each of ``months`` months (bounds ``:m0`` … ``:m<months>``) as one row each:
    a UNION ALL of one select per month, each a range of the submission time's index — no
    bucketing expression per need and no sort of every need by its bucket (issue 14). Built
    once per number of admin paths."""
    scope = bound_scope(scopes)
    return sa.union_all(*(
        sa.select(sa.literal_column(str(i)).label("bucket"), *_counts())
        .join(OrgNode, OrgNode.id == Need.node_id)
        .where(scope, Need.hidden_at.is_(None), Need.submitted_at >= sa.bindparam(f"m{i}"),
               Need.submitted_at < sa.bindparam(f"m{i + 1}"))
        for i in range(months)
    ))


def monthly_rates(admin: User, today: date, months: int = 12) -> list[tuple[date, RateRow]]:
    """The admin's scope's counts and rates per month (Asia/Shanghai months) for the last
    ``months`` months, oldest first; one query (each month's needs counted over its bounds, so
    SQLite and PostgreSQL agree)."""
    firsts = month_starts(today, months)
    params = {f"m{i}": day_start(first) for i, first in enumerate(firsts)} | scope_params(admin)
    statement = _monthly_statement(len(admin_paths(admin)), months)
    by_bucket = {r[0]: tuple(r[1:]) for r in read_core(statement, params)}
    return [(firsts[i], RateRow(None, f"{firsts[i]:%Y-%m}", *by_bucket.get(i, (0, 0, 0, 0, 0))))
            for i in range(months)]


def group_labels() -> dict[str, str]:
    """What the rates may be grouped by, as the dashboard names it."""
    return {"member": _("党员"), "household": _("中心户"), "grid": _("网格"), "community": _("村/社区"),
            "township": _("乡镇/街道")}


def period_rates(admin: User, group: str, start: date, end: date) -> tuple[list[RateRow], RateRow]:
    """The rates for the admin's scope over the days ``start``..``end`` (both included); the
    statement built once per group and number of admin paths."""
    s, e = days_bounds(start, end)
    params = {"start": s, "end": e, **scope_params(admin)}
    return _rate_rows(group, read_core(_period_statement(len(admin_paths(admin)), group), params))


def export_rates(admin: User, group: str, start: date, end: date, ip: str) -> bytes:
    """The same rates as a ledger workbook (.xlsx); the export is audited."""
    rows, total = period_rates(admin, group, start, end)
    headers = [group_labels()[group], _("诉求数"), _("按时接单"), _("响应率"), _("已办结"), _("办结率"),
               _("已评价"), _("满意及基本满意"), _("满意率")]
    body = [
        [r.name, r.submitted, r.accepted_in_time, r.response_label, r.resolved, r.resolution_label,
         r.rated, r.satisfied, r.satisfaction_label]
        for r in [*rows, total]
    ]
    node_name = "、".join(n.name for n in admin.admin_nodes)
    period = _("%(start)s 至 %(end)s", start=start.isoformat(), end=end.isoformat())
    data = ledger.build_workbook(_("接诉即办统计台账"), node_name, period, headers, body)
    audit(admin.id, "export", "needs_rates", detail=f"by={group} {period}", ip=ip)
    return data
