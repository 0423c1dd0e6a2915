"""Regular visits (定期走访): each covered household should be visited once per period.

A period is a number of months set on an org node (the nearest ancestor's setting applies; a
quarter by default) and aligned to the calendar year, in Asia/Shanghai. A ``走访`` activity that
names the household, or a diary entry about it, counts as a visit. Every function here runs a
fixed number of queries whatever the number of households.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.clock import local_day, period_start
from app.extensions import db, read_core
from app.models import (
    DEFAULT_VISIT_MONTHS,
    VISIT_PERIOD_MONTHS,
    Activity,
    ActivityKind,
    CentralHousehold,
    DiaryEntry,
    GridStanding,
    Member,
    MemberStatus,
    OrgNode,
    ResidentHousehold,
    User,
    VisitPolicy,
    activity_residents,
    utcnow,
)
from app.policy import scope_condition
from app.services.activities import household_member_condition
from app.services.errors import Refused


class PolicyError(Refused):
    """A visit period that is not allowed; ``str()`` is the message for the user."""


def policy_months() -> dict[int, int]:
    """Every node's own setting (a small table: one row per node that set one)."""
    return dict(db.session.execute(sa.select(VisitPolicy.org_node_id, VisitPolicy.months)).all())


def months_for_path(path: str, policies: dict[int, int]) -> int:
    """The setting of the nearest node on ``path`` (deepest first), else the default."""
    for node_id in reversed([int(p) for p in path.strip("/").split("/") if p]):
        if node_id in policies:
            return policies[node_id]
    return DEFAULT_VISIT_MONTHS


def set_policy(node: OrgNode, months: int, user: User) -> VisitPolicy:
    """Set how many months a visit period lasts for ``node`` and below."""
    if months not in VISIT_PERIOD_MONTHS:
        raise PolicyError(str(_l("走访周期只能是 1、2、3、4、6 或 12 个月。")))
    policy = db.session.get(VisitPolicy, node.id)
    if policy is None:
        policy = VisitPolicy(org_node_id=node.id, months=months)
        db.session.add(policy)
    policy.months = months
    policy.updated_by_id = user.id
    policy.updated_at = utcnow()
    return policy


def last_visits(resident_ids: sa.Select) -> dict[int, date]:
    """The last visit date (Asia/Shanghai) of each household selected by ``resident_ids``."""
    by_activity = db.session.execute(
        sa.select(activity_residents.c.resident_household_id, sa.func.max(Activity.started_at))
        .join(Activity, Activity.id == activity_residents.c.activity_id)
        .where(Activity.kind == ActivityKind.VISIT,
               activity_residents.c.resident_household_id.in_(resident_ids))
        .group_by(activity_residents.c.resident_household_id)
    ).all()
    by_diary = db.session.execute(
        sa.select(DiaryEntry.resident_household_id, sa.func.max(DiaryEntry.entry_date))
        .where(DiaryEntry.resident_household_id.in_(resident_ids))
        .group_by(DiaryEntry.resident_household_id)
    ).all()
    last: dict[int, date] = {}
    for rid, when in by_activity:
        last[rid] = local_day(when)
    for rid, day in by_diary:
        if rid not in last or day > last[rid]:
            last[rid] = day
    return last


@dataclass
class HouseholdVisit:
    resident: ResidentHousehold
    last_visit: date | None
    period_start: date
    months: int

    @property
    def overdue(self) -> bool:
        return self.last_visit is None or self.last_visit < self.period_start


def member_households(member: Member, today: date) -> list[HouseholdVisit]:
    """The member's covered households, overdue first (never visited, then the longest ago)."""
    ids = sa.select(ResidentHousehold.id).where(ResidentHousehold.covering_member_id == member.id)
    residents = list(db.session.scalars(
        sa.select(ResidentHousehold).where(ResidentHousehold.covering_member_id == member.id)
        .order_by(ResidentHousehold.address, ResidentHousehold.id)
    ))
    last = last_visits(ids)
    policies = policy_months()
    rows = []
    for r in residents:
        months = months_for_path(r.grid.path, policies)
        rows.append(HouseholdVisit(r, last.get(r.id), period_start(today, months), months))
    rows.sort(key=lambda v: (not v.overdue, v.last_visit or date.min))
    return rows


@dataclass(frozen=True)
class CoveredBrief:
    """A covered household as the member's home lists it (one Core row, no ORM object)."""

    id: int
    address: str
    head_name: str


@functools.cache
def _covered_statement() -> sa.Select:
    """The member's covered households with their grid's path and their last visit by each kind
    of record (a 走访 naming them, a diary entry about them) — :func:`member_households` in one
    statement, built once (issue 14)."""
    by_activity = (sa.select(sa.func.max(Activity.started_at))
                   .join(activity_residents, activity_residents.c.activity_id == Activity.id)
                   .where(Activity.kind == ActivityKind.VISIT,
                          activity_residents.c.resident_household_id == ResidentHousehold.id)
                   .scalar_subquery())
    by_diary = (sa.select(sa.func.max(DiaryEntry.entry_date))
                .where(DiaryEntry.resident_household_id == ResidentHousehold.id).scalar_subquery())
    return (sa.select(ResidentHousehold.id, ResidentHousehold.address, ResidentHousehold.head_name, OrgNode.path,
                      by_activity, by_diary)
            .join(OrgNode, OrgNode.id == ResidentHousehold.grid_id)
            .where(ResidentHousehold.covering_member_id == sa.bindparam("member"))
            .order_by(ResidentHousehold.address, ResidentHousehold.id))


_POLICIES = sa.select(VisitPolicy.org_node_id, VisitPolicy.months)


def member_households_of(member_id: int, today: date) -> list[HouseholdVisit]:
    """:func:`member_households` for the home page: the same households, order and periods, the
    households as :class:`CoveredBrief` rows (two statements, no ORM objects)."""
    policies = dict(read_core(_POLICIES).all())
    rows = []
    for rid, address, head_name, path, visited_at, diary_day in read_core(
            _covered_statement(), {"member": member_id}):
        last = local_day(visited_at) if visited_at is not None else None
        if diary_day is not None and (last is None or diary_day > last):
            last = diary_day
        months = months_for_path(path, policies)
        rows.append(HouseholdVisit(CoveredBrief(rid, address, head_name), last, period_start(today, months),  # type: ignore[arg-type]
                                   months))
    rows.sort(key=lambda v: (not v.overdue, v.last_visit or date.min))
    return rows


def household_members(household: CentralHousehold) -> list[Member]:
    """The household's active members and its head, by name (whose coverage the head follows)."""
    return list(db.session.scalars(
        sa.select(Member).join(User, User.id == Member.user_id)
        .where(household_member_condition(household), Member.status == MemberStatus.ACTIVE)
        .order_by(User.name, Member.id)
    ))


def members_in_scope(user: User) -> sa.Select[tuple[Member]]:
    """The active members in the admin's scope, by org node then name (the coverage list)."""
    return (sa.select(Member).join(OrgNode, OrgNode.id == Member.grid_id)
            .join(User, User.id == Member.user_id)
            .where(scope_condition(user), Member.status == MemberStatus.ACTIVE)
            .order_by(OrgNode.path, User.name, Member.id))


def members_in_scope_total(user: User) -> int:
    """How many members :func:`members_in_scope` lists: the active members the grid counters
    keep, summed over the grids in scope (not a count of every member joined to their names)."""
    return int(db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(GridStanding.members), 0))
        .join(OrgNode, OrgNode.id == GridStanding.grid_id).where(scope_condition(user))) or 0)


@dataclass
class Coverage:
    member: Member
    covered: int
    visited: int

    @property
    def percent(self) -> int | None:
        """Whole percent of covered households visited this period (None when none covered)."""
        if not self.covered:
            return None
        return round(100 * self.visited / self.covered)


def coverage(members: Sequence[Member], today: date) -> list[Coverage]:
    """Each member's visit coverage this period, in the members' order (three queries)."""
    member_ids = [m.id for m in members]
    if not member_ids:
        return []
    residents = db.session.execute(
        sa.select(ResidentHousehold.id, ResidentHousehold.covering_member_id, OrgNode.path)
        .join(OrgNode, OrgNode.id == ResidentHousehold.grid_id)
        .where(ResidentHousehold.covering_member_id.in_(member_ids))
    ).all()
    last = last_visits(
        sa.select(ResidentHousehold.id).where(ResidentHousehold.covering_member_id.in_(member_ids))
    )
    policies = policy_months()
    covered = dict.fromkeys(member_ids, 0)
    visited = dict.fromkeys(member_ids, 0)
    for rid, member_id, path in residents:
        covered[member_id] += 1
        seen = last.get(rid)
        if seen is not None and seen >= period_start(today, months_for_path(path, policies)):
            visited[member_id] += 1
    return [Coverage(m, covered[m.id], visited[m.id]) for m in members]
