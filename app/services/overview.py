"""The org admin's 工作看板: figures over time for their scope (check-ins per week, services per
month and by kind, 1+10+15 coverage by community), each a fixed number of grouped queries, and the
scope-wide check-in list the weekly figures link to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import aliased, joinedload

from app.clock import day_start, local_naive
from app.extensions import db
from app.models import (
    Activity,
    ActivityKind,
    ActivityMonth,
    Checkin,
    CheckinDay,
    GridStanding,
    Member,
    OrgLevel,
    OrgNode,
    Station,
    User,
)
from app.policy import scope_condition
from app.services import aggregates, ledger
from app.services.needs.rates import month_starts
from app.services.privacy import audit


def _stations_in_scope(user: User) -> sa.Select:
    return sa.select(Station.id).join(OrgNode, OrgNode.id == Station.org_node_id).where(scope_condition(user))


def checkins_query(user: User, start: date, end: date) -> sa.Select[tuple[Checkin]]:
    """Check-ins at the stations in the admin's scope on the days ``start``..``end``, newest first."""
    return (sa.select(Checkin)
            .where(Checkin.station_id.in_(_stations_in_scope(user)), Checkin.day >= start,
                   Checkin.day <= end)
            .options(joinedload(Checkin.member).joinedload(Member.grid))
            .order_by(Checkin.checked_in_at.desc(), Checkin.id.desc()))


def weekly_checkins(user: User, today: date, weeks: int = 12) -> list[tuple[date, int]]:
    """Check-ins per week (Monday to Sunday) at the stations in scope, for the last ``weeks``
    weeks up to this one, oldest first; one query (the maintained check-ins per station and day)."""
    this_monday = today - timedelta(days=today.weekday())
    mondays = [this_monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    bucket = sa.case(*[(CheckinDay.day < mondays[i + 1], i) for i in range(weeks - 1)], else_=weeks - 1)
    counts = dict(db.session.execute(
        sa.select(bucket.label("bucket"), sa.func.sum(CheckinDay.checkins))
        .where(CheckinDay.station_id.in_(_stations_in_scope(user)), CheckinDay.day >= mondays[0],
               CheckinDay.day <= this_monday + timedelta(days=6))
        .group_by(sa.text("bucket"))
    ).all())
    return [(monday, int(counts.get(i) or 0)) for i, monday in enumerate(mondays)]


def _activities_in_scope(user: User) -> sa.ColumnElement[bool]:
    return Activity.grid_id.in_(sa.select(OrgNode.id).where(scope_condition(user)))


def monthly_activities(user: User, today: date, months: int = 6) -> list[tuple[date, int]]:
    """Services recorded in scope per month (Asia/Shanghai), the last ``months`` months; one query
    (the same condition as the activity ledger's period filter, read from the maintained
    activities per grid and month)."""
    firsts = month_starts(today, months)
    counts = dict(db.session.execute(
        sa.select(ActivityMonth.month, sa.func.sum(ActivityMonth.activities))
        .where(ActivityMonth.grid_id.in_(sa.select(OrgNode.id).where(scope_condition(user))),
               ActivityMonth.month >= firsts[0], ActivityMonth.month < firsts[-1])
        .group_by(ActivityMonth.month)
    ).all())
    return [(firsts[i], int(counts.get(firsts[i]) or 0)) for i in range(months)]


def activities_by_kind(user: User, first: date, last: date) -> list[tuple[ActivityKind, int]]:
    """Services recorded in scope on the days ``first``..``last``, per kind (every kind listed):
    whole months from the maintained aggregates, the days at the edges from the activities."""
    counts = aggregates.activities_by_kind(sa.select(OrgNode.id).where(scope_condition(user)), first, last)
    return [(kind, counts.get(kind, 0)) for kind in ActivityKind]


@dataclass
class CommunityCoverage:
    node: OrgNode
    residents: int
    uncovered: int
    members: int
    members_below: int

    @property
    def covered_pct(self) -> float | None:
        return None if not self.residents else 100 * (self.residents - self.uncovered) / self.residents


def coverage_by_community(user: User) -> list[CommunityCoverage]:
    """Resident households covered by a member, per village/community in scope (the maintained
    grid counters summed per community; one query)."""
    grid = aliased(OrgNode)
    community = aliased(OrgNode)
    rows = db.session.execute(
        sa.select(community, sa.func.sum(GridStanding.residents),
                  sa.func.sum(GridStanding.residents_uncovered), sa.func.sum(GridStanding.members),
                  sa.func.sum(GridStanding.members_below))
        .join(grid, grid.id == GridStanding.grid_id)
        .join(community, community.id == grid.parent_id)
        .join(OrgNode, OrgNode.id == grid.id)
        .where(scope_condition(user), community.level == OrgLevel.COMMUNITY)
        .group_by(community.id).order_by(community.path)
    ).all()
    return [CommunityCoverage(node, int(r or 0), int(u or 0), int(m or 0), int(b or 0))
            for node, r, u, m, b in rows]


def export_checkins(user: User, start: date, end: date, ip: str) -> bytes:
    """The scope-wide check-in list as a ledger (.xlsx); audited."""
    headers = [_("日期"), _("时间"), _("姓名"), _("网格"), _("驿站"), _("签到方式")]
    rows = ([c.day, f"{local_naive(c.checked_in_at):%H:%M}", c.member.name, c.member.grid.name,
             c.station.name, c.method.label] for c in db.session.scalars(checkins_query(user, start, end)))
    data = ledger.build_workbook(_("驿站签到台账"), "、".join(n.name for n in user.admin_nodes),
                                 f"{start.isoformat()} 至 {end.isoformat()}", headers, rows)
    audit(user.id, "export", "checkins", detail=f"{start}..{end}", ip=ip)
    return data


def export_monthly(user: User, node: OrgNode, year: int, month: int, ip: str) -> bytes:
    """The node's monthly ledger (every area, one sheet each); audited."""
    from app.services import monthly

    data = monthly.build(node, year, month)
    audit(user.id, "export", "monthly_ledger", node.id, detail=f"{year}-{month:02d}", ip=ip)
    return data


def monthly_training(user: User, today: date, months: int = 6) -> list[tuple[date, int, int]]:
    """Per month (by session start): training sessions in the admin's reach and the members'
    participations in them (attended offline or completed online, the participants maintained
    per session); one grouped query, no session loaded."""
    from app.models import SessionParticipants
    from app.services import training

    firsts = month_starts(today, months)
    starts = [day_start(f) for f in firsts]
    bucket = sa.case(*[(training.TrainingSession.starts_at < starts[i + 1], i) for i in range(months - 1)],
                     else_=months - 1)
    taken = SessionParticipants
    counts = {i: (int(n), int(p or 0)) for i, n, p in db.session.execute(
        training.sessions_for(user, training.SessionFilter(firsts[0], firsts[-1] - timedelta(days=1)))
        .where(training.TrainingSession.cancelled_at.is_(None))
        .outerjoin(taken, taken.session_id == training.TrainingSession.id)
        .with_only_columns(bucket.label("bucket"), sa.func.count(training.TrainingSession.id),
                           sa.func.sum(taken.participants))
        .group_by(sa.text("bucket")).order_by(None))}
    return [(firsts[i], *counts.get(i, (0, 0))) for i in range(months)]
