"""The monthly ledger (月度台账) of an org node: one workbook, one sheet per area, as district offices
hand it upward — from the 工作看板 page and from ``flask monthly-ledger --node --month`` (cron).

Each sheet is built by a function of (node, first day, last day) registered in ``SHEETS``; an area
added later (training, points, evaluation) registers its own sheet the same way. The evaluation
outcomes close the book (``CLOSING``), whichever area registered its sheet last."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import aliased

from app.clock import day_start, month_bounds
from app.extensions import db
from app.models import (
    ActivityKind,
    GridStanding,
    OrgLevel,
    OrgNode,
    Station,
)
from app.services import aggregates, ledger
from app.services.needs.rates import rates

SheetBuilder = Callable[[OrgNode, date, date], ledger.Sheet]
SHEETS: list[SheetBuilder] = []


def sheet(builder: SheetBuilder) -> SheetBuilder:
    """Register a sheet of the monthly ledger (in the order they are registered)."""
    SHEETS.append(builder)
    return builder


def _period(first: date, last: date) -> str:
    return f"{first.isoformat()} 至 {last.isoformat()}"


def _under(node: OrgNode, column: sa.ColumnElement[str] = OrgNode.path) -> sa.ColumnElement[bool]:
    return column.startswith(node.path, autoescape=True)


@sheet
def structure_sheet(node: OrgNode, first: date, last: date) -> ledger.Sheet:
    """1+10+15 per grid (the maintained counters, as of the export)."""
    grid = aliased(OrgNode)
    parent = aliased(OrgNode)
    rows = db.session.execute(
        sa.select(parent.name, grid.name, *(getattr(GridStanding, f) for f in GridStanding.FIGURES))
        .join(grid, grid.id == GridStanding.grid_id)
        .join(parent, parent.id == grid.parent_id)
        .where(_under(node, grid.path)).order_by(grid.path)
    ).all()
    body = [list(r) for r in rows]
    totals = [sum(r[i] for r in rows) for i in range(2, 8)]
    body.append([_("合计"), "", *totals])
    return ledger.Sheet(
        _("组织架构与1+10+15"), node.name, _("截至导出日"),
        [_("村/社区"), _("网格"), _("中心户"), _("联系党员不足10名"), _("党员"), _("联系群众不足15户"),
         _("群众户"), _("未落实联系党员")], body)


@sheet
def checkins_sheet(node: OrgNode, first: date, last: date) -> ledger.Sheet:
    """Check-ins per station in the period: person-times (the maintained check-ins per station
    and day) and the members who checked in, each once (the maintained check-ins per station,
    month and member)."""
    stations = sa.select(Station.id).join(OrgNode, OrgNode.id == Station.org_node_id).where(_under(node))
    listed = db.session.execute(
        sa.select(Station.id, OrgNode.name, Station.name).join(OrgNode, OrgNode.id == Station.org_node_id)
        .where(_under(node)).order_by(OrgNode.path, Station.name, Station.id)
    ).all()
    times = aggregates.checkins_by_station(stations, first, last)
    members = aggregates.checkin_members_by_station(stations, first, last)
    body: list[list[object]] = [[unit, name, times.get(sid, 0), members.get(sid, 0)] for sid, unit, name in listed]
    body.append([_("合计"), "", sum(times.get(sid, 0) for sid, _u, _n in listed), ""])
    return ledger.Sheet(_("驿站签到"), node.name, _period(first, last),
                        [_("所属组织"), _("驿站"), _("签到人次"), _("签到党员数")], body)


@sheet
def activities_sheet(node: OrgNode, first: date, last: date) -> ledger.Sheet:
    """Services recorded in the period per grid and kind (the activity ledger's condition), from
    the maintained activities per grid, month and kind (the days at a period's edges, if it does
    not cover whole months, from the activities)."""
    kinds = list(ActivityKind)
    counts = aggregates.activities_by_grid_and_kind(sa.select(OrgNode.id).where(_under(node)), first, last)
    by_grid: dict[int, dict[ActivityKind, int]] = {}
    for (grid_id, kind), n in counts.items():
        by_grid.setdefault(grid_id, {})[kind] = n
    names = dict(db.session.execute(
        sa.select(OrgNode.id, OrgNode.name).where(OrgNode.id.in_(list(by_grid)))).all()) if by_grid else {}
    grids = sorted(by_grid)
    counted = [[*(by_grid[g].get(k, 0) for k in kinds), sum(by_grid[g].values())] for g in grids]
    totals = [sum(r[i] for r in counted) for i in range(len(kinds) + 1)]
    body: list[list[object]] = [[names[g], *r] for g, r in zip(grids, counted, strict=True)]
    body.append([_("合计"), *totals])
    return ledger.Sheet(_("服务活动"), node.name, _period(first, last),
                        [_("网格"), *(k.label for k in kinds), _("合计")], body)


@sheet
def needs_sheet(node: OrgNode, first: date, last: date) -> ledger.Sheet:
    """Needs submitted in the month and their three rates, per village/community."""
    group = "community" if node.level in (OrgLevel.DISTRICT, OrgLevel.TOWNSHIP) else "grid"
    found, total = rates(_under(node), group, day_start(first), day_start(last + timedelta(days=1)))

    def pct(v: float | None) -> str:
        return "—" if v is None else f"{v:.1f}%"

    body = [[r.name, r.submitted, r.accepted_in_time, pct(r.response_rate), r.resolved,
             pct(r.resolution_rate), r.rated, r.satisfied, pct(r.satisfaction_rate)]
            for r in [*found, total]]
    return ledger.Sheet(_("诉求与三率"), node.name, _period(first, last),
                        [_("村/社区") if group == "community" else _("网格"), _("诉求数"), _("按时接单"),
                         _("响应率"), _("已办结"), _("办结率"), _("已评价"), _("满意及基本满意"),
                         _("满意率")], body)


@sheet
def training_sheet(node: OrgNode, first: date, last: date) -> ledger.Sheet:
    """Training sessions of the node and below that started in the month, with who should and
    who did take part (attended offline or completed online)."""
    from app.models import TrainingSession
    from app.services import training

    sessions = list(db.session.scalars(
        sa.select(TrainingSession).join(OrgNode, OrgNode.id == TrainingSession.org_node_id)
        .where(_under(node), TrainingSession.cancelled_at.is_(None),
               TrainingSession.starts_at >= day_start(first),
               TrainingSession.starts_at < day_start(last + timedelta(days=1)))
        .order_by(TrainingSession.starts_at, TrainingSession.id)))
    taken = training.participation_counts(sessions)
    expected = training.expected_counts(sessions)
    body = [[s.starts_at, s.title, s.kind.label, s.mode.label, s.org_node.name,
             round(s.duration_minutes / 60, 2), expected.get(s.id, 0), taken.get(s.id, 0)]
            for s in sessions]
    body.append([_("合计"), "", "", "", "", "", sum(expected.values()), sum(taken.values())])
    return ledger.Sheet(_("培训"), node.name, _period(first, last),
                        [_("开始时间"), _("主题"), _("类型"), _("方式"), _("组织"), _("学时"), _("应参训"),
                         _("实参训")], body)


def build(node: OrgNode, year: int, month: int) -> bytes:
    """The node's ledger for one month: every registered sheet, then the closing ones."""
    first, last = month_bounds(year, month)
    return ledger.build_book([make(node, first, last) for make in [*SHEETS, *CLOSING]])


# --- evaluation outcomes (the book's last sheet) ---------------------------------------------------

CLOSING: list[SheetBuilder] = []


def _user_names(ids: set[int]) -> dict[int, str]:
    from app.models import User

    if not ids:
        return {}
    return dict(db.session.execute(sa.select(User.id, User.name).where(User.id.in_(ids))).all())


def _in_month(column: sa.ColumnElement, first: date, last: date) -> sa.ColumnElement[bool]:
    return sa.and_(column >= day_start(first), column < day_start(last + timedelta(days=1)))


def outcome_rows(node: OrgNode, first: date, last: date) -> list[list[object]]:
    """What the evaluation decided in the month for the members and central households under the
    node: outcomes recorded, outcomes withdrawn, and 创建示范中心户 decisions, by date (three
    queries). Each row: date, matter, evaluation or campaign, subject kind, subject, household
    number, grid, result, state (as of the export), reason, recorded by."""
    from sqlalchemy.orm import joinedload

    from app.clock import local_day
    from app.models import CampaignCandidate, CentralHousehold, EvaluationOutcome, Member

    grid = aliased(OrgNode)
    outcomes = db.session.scalars(
        sa.select(EvaluationOutcome)
        .outerjoin(Member, Member.id == EvaluationOutcome.member_id)
        .outerjoin(CentralHousehold, CentralHousehold.id == EvaluationOutcome.household_id)
        .join(grid, grid.id == sa.func.coalesce(Member.grid_id, CentralHousehold.grid_id))
        .where(_under(node, grid.path), sa.or_(_in_month(EvaluationOutcome.recorded_at, first, last),
                                               _in_month(EvaluationOutcome.withdrawn_at, first, last)))
        .options(joinedload(EvaluationOutcome.member), joinedload(EvaluationOutcome.household))
    ).unique().all()
    decided = db.session.scalars(
        sa.select(CampaignCandidate).join(CentralHousehold, CentralHousehold.id == CampaignCandidate.household_id)
        .join(grid, grid.id == CentralHousehold.grid_id)
        .where(_under(node, grid.path), _in_month(CampaignCandidate.decided_at, first, last))
        .options(joinedload(CampaignCandidate.household))
    ).unique().all()
    names = _user_names({o.recorded_by_id for o in outcomes} | {o.withdrawn_by_id for o in outcomes if o.withdrawn_by_id}
                        | {c.decided_by_id for c in decided if c.decided_by_id})
    start, end = day_start(first), day_start(last + timedelta(days=1))
    rows: list[tuple[tuple, list[object]]] = []
    for o in outcomes:
        subject = o.member if o.member is not None else o.household
        common = [_("%(year)d年度评定（%(node)s）", year=o.year, node=o.org_node.name),
                  _("党员") if o.member is not None else _("中心户"), subject.name,  # type: ignore[union-attr]
                  "" if o.household is None else (o.household.number or ""), subject.grid.name,  # type: ignore[union-attr]
                  o.kind.label]
        if start <= o.recorded_at < end:
            state = (_("已撤回（%(d)s）", d=local_day(o.withdrawn_at).isoformat()) if o.withdrawn_at
                     else _("有效"))
            day = local_day(o.recorded_at)
            rows.append(((day, 0, o.id), [day, _("记录评定结果"), *common, state, o.reason,
                                           names.get(o.recorded_by_id, "")]))
        if o.withdrawn_at is not None and start <= o.withdrawn_at < end:
            day = local_day(o.withdrawn_at)
            rows.append(((day, 1, o.id), [day, _("撤回评定结果"), *common, _("已撤回"), o.withdraw_reason,
                                           names.get(o.withdrawn_by_id or 0, "")]))
    for c in decided:
        day = local_day(c.decided_at)  # type: ignore[arg-type]
        h = c.household
        rows.append(((day, 2, c.id), [day, _("创建示范中心户（%(way)s）", way=c.way.label),
                                       f"{c.campaign.title}（{c.campaign.year}）", _("中心户"), h.name,
                                       h.number or "", h.grid.name, c.decision.label if c.decision else "",
                                       c.campaign.status.label,
                                       c.decision_reason, names.get(c.decided_by_id or 0, "")]))
    return [row for _key, row in sorted(rows, key=lambda r: r[0])]


def evaluation_sheet(node: OrgNode, first: date, last: date) -> ledger.Sheet:
    """The month's evaluation outcomes under the node (see ``outcome_rows``), with a count."""
    body = outcome_rows(node, first, last)
    body.append([_("合计"), _("%(n)d 项", n=len(body))])
    return ledger.Sheet(_("评定结果"), node.name, _period(first, last),
                        [_("日期"), _("事项"), _("评定/创建活动"), _("对象类型"), _("对象"), _("中心户编号"),
                         _("网格"), _("结果"), _("状态"), _("理由"), _("经办人")], body)


CLOSING.append(evaluation_sheet)
