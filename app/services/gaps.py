"""The 1+10+15 gap finder for one grid or community, with a suggested fix for every gap.

Suggestions follow "地缘相近、居住相邻": same grid first, then the same building (a member already
covering households in that building), then whoever has the fewest households; ties go to the
lower id, so the same data always gives the same plan. The plan is built greedily and once, so two
suggestions never hand the same member or resident household to two places:

1. households with fewer than 10 linked members (fewest first) take unlinked members, same grid
   first;
2. members with no central household follow step 1, else join the household of their grid with
   fewest members;
3. uncovered resident households, in address order, each go to the best member of the node;
4. members covering fewer than 15 households are listed with what step 3 gives them.

The whole node is read in four queries; a community holds hundreds of rows, not thousands.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    MIN_HOUSEHOLDS_PER_MEMBER,
    MIN_MEMBERS_PER_HOUSEHOLD,
    CentralHousehold,
    HouseholdStatus,
    Member,
    MemberStatus,
    OrgLevel,
    OrgNode,
    ResidentHousehold,
    User,
)
from app.policy import scope_condition
from app.services import households


@dataclass
class HouseholdGap:
    household: CentralHousehold
    linked: int
    suggested: list[Member]

    @property
    def shortfall(self) -> int:
        return MIN_MEMBERS_PER_HOUSEHOLD - self.linked


@dataclass
class MemberGap:
    member: Member
    covered: int
    suggested: list[ResidentHousehold]

    @property
    def shortfall(self) -> int:
        return MIN_HOUSEHOLDS_PER_MEMBER - self.covered


@dataclass
class UnlinkedMember:
    member: Member
    suggested: CentralHousehold | None


@dataclass
class CoverFix:
    member: Member
    residents: list[ResidentHousehold]


@dataclass
class GapReport:
    node: OrgNode
    households_below: list[HouseholdGap] = field(default_factory=list)
    members_below: list[MemberGap] = field(default_factory=list)
    uncovered: list[CoverFix] = field(default_factory=list)
    uncovered_without_member: list[ResidentHousehold] = field(default_factory=list)
    unlinked_members: list[UnlinkedMember] = field(default_factory=list)

    @property
    def uncovered_count(self) -> int:
        return sum(len(f.residents) for f in self.uncovered) + len(self.uncovered_without_member)

    @property
    def clean(self) -> bool:
        return not (self.households_below or self.members_below or self.uncovered_count or self.unlinked_members)


def _resident_order(r: ResidentHousehold) -> tuple:
    return (r.grid_id, r.building, r.unit, r.room, r.id)


def _best_member(r: ResidentHousehold, in_grid: dict[int, list[int]], grid_of: dict[int, int],
                 covering: dict[tuple[int, str], set[int]], counts: dict[int, int], everyone: list[int]) -> int:
    """The member an uncovered household goes to: the least of every member by (not in its grid,
    not covering its building, households covered, id) — found among the few that can win (its
    grid's members, those covering its building) rather than by comparing every member."""
    place = (r.grid_id, r.building)
    pool = in_grid.get(r.grid_id) or everyone  # same grid first (no one there: anyone)
    near = [m for m in covering.get(place, ()) if grid_of[m] == r.grid_id] if r.grid_id in in_grid \
        else list(covering.get(place, ()))
    return min(near or pool, key=lambda m: (counts[m], m))


def find_gaps(node: OrgNode) -> GapReport:
    under = OrgNode.under(node.path)
    households = list(db.session.scalars(
        sa.select(CentralHousehold).join(OrgNode, OrgNode.id == CentralHousehold.grid_id)
        .where(under, CentralHousehold.status != HouseholdStatus.REVOKED).order_by(CentralHousehold.id)
    ).unique())
    members = list(db.session.scalars(
        sa.select(Member).join(OrgNode, OrgNode.id == Member.grid_id)
        .where(under, Member.status == MemberStatus.ACTIVE).order_by(Member.id)
    ).unique())
    # Members of the node may be linked to a household of another node: count links per household
    # across the whole table, heads excluded.
    hh_ids = [h.id for h in households]
    heads = {h.head_member_id for h in households}
    linked: dict[int, int] = dict.fromkeys(hh_ids, 0)
    if hh_ids:
        rows = db.session.execute(
            sa.select(Member.central_household_id, sa.func.count(Member.id))
            .join(CentralHousehold, CentralHousehold.id == Member.central_household_id)
            .where(Member.central_household_id.in_(hh_ids), Member.status == MemberStatus.ACTIVE,
                   Member.id != CentralHousehold.head_member_id)
            .group_by(Member.central_household_id)
        ).all()
        linked.update({hid: n for hid, n in rows})
    # Counting needs four columns of every household; only the uncovered ones become objects
    # (a community has thousands of households, a handful uncovered).
    # (A community has thousands: plain rows on the session's connection, not the ORM's.)
    resident_rows = db.session.connection().execute(
        sa.select(ResidentHousehold.id, ResidentHousehold.grid_id, ResidentHousehold.building,
                  ResidentHousehold.covering_member_id)
        .join(OrgNode, OrgNode.id == ResidentHousehold.grid_id).where(under)
    ).all()
    covered: dict[int, int] = {m.id: 0 for m in members}
    buildings: dict[int, set[tuple[int, str]]] = {m.id: set() for m in members}
    member_ids = set(covered)
    for row in resident_rows:
        if row.covering_member_id in member_ids:
            covered[row.covering_member_id] += 1
            buildings[row.covering_member_id].add((row.grid_id, row.building))
    uncovered_ids = [row.id for row in resident_rows if row.covering_member_id is None]
    residents = list(db.session.scalars(
        sa.select(ResidentHousehold).where(ResidentHousehold.id.in_(uncovered_ids))
    ).unique()) if uncovered_ids else []
    report = GapReport(node=node)
    established = [h for h in households if h.status is HouseholdStatus.ESTABLISHED]

    # 1. Households below 10 take unlinked members: same grid first, then by id.
    pool = [m for m in members if m.central_household_id is None and m.id not in heads]
    placed: dict[int, CentralHousehold] = {}
    for h in sorted(households, key=lambda h: (linked[h.id], h.id)):
        if linked[h.id] >= MIN_MEMBERS_PER_HOUSEHOLD:
            continue
        take: list[Member] = []
        if h.status is HouseholdStatus.ESTABLISHED:
            ranked = sorted(pool, key=lambda m, h=h: (m.grid_id != h.grid_id, m.id))
            take = ranked[: MIN_MEMBERS_PER_HOUSEHOLD - linked[h.id]]
            for m in take:
                pool.remove(m)
                placed[m.id] = h
        report.households_below.append(HouseholdGap(h, linked[h.id], take))

    # 2. Members with no central household: where step 1 put them, else the household of their
    # grid with fewest members (counting the plan so far).
    planned = {h.id: linked[h.id] + sum(1 for p in placed.values() if p.id == h.id) for h in established}
    for m in members:
        if m.central_household_id is not None or m.id in heads:
            continue
        target = placed.get(m.id)
        if target is None and established:
            target = min(established, key=lambda h, m=m: (h.grid_id != m.grid_id, planned[h.id], h.id))
            planned[target.id] += 1
        report.unlinked_members.append(UnlinkedMember(m, target))

    # 3. Every uncovered household goes to the best member of the node: same grid, then a member
    # already covering its building, then the fewest households. The plan updates as it goes, so
    # neighbours in a building follow one another to the same member.
    uncovered = sorted((r for r in residents if r.covering_member_id is None), key=_resident_order)
    counts = dict(covered)
    groups: dict[int, CoverFix] = {}
    by_id = {m.id: m for m in members}
    grid_of = {m.id: m.grid_id for m in members}
    in_grid: dict[int, list[int]] = {}
    for m in members:
        in_grid.setdefault(m.grid_id, []).append(m.id)
    covering: dict[tuple[int, str], set[int]] = {}  # (grid, building) → the members covering it
    for mid, seen in buildings.items():
        for place in seen:
            covering.setdefault(place, set()).add(mid)
    for r in uncovered:
        if not members:
            report.uncovered_without_member.append(r)
            continue
        best = _best_member(r, in_grid, grid_of, covering, counts, list(by_id))
        counts[best] += 1
        buildings[best].add((r.grid_id, r.building))
        covering.setdefault((r.grid_id, r.building), set()).add(best)
        groups.setdefault(best, CoverFix(by_id[best], [])).residents.append(r)

    # 4. Members below 15, fewest first, with what the plan gives them.
    for m in sorted(members, key=lambda m: (covered[m.id], m.id)):
        if covered[m.id] < MIN_HOUSEHOLDS_PER_MEMBER:
            report.members_below.append(MemberGap(m, covered[m.id], groups[m.id].residents if m.id in groups else []))
    report.uncovered = list(groups.values())
    return report


# --- the page and its fixes ----------------------------------------------------------------------


def nodes_in_scope(user: User) -> list[OrgNode]:
    """The communities and grids the gap finder may look at (at most 500: a select's options)."""
    return list(db.session.scalars(sa.select(OrgNode).where(
        scope_condition(user), OrgNode.level.in_([OrgLevel.COMMUNITY, OrgLevel.GRID])
    ).order_by(OrgNode.path).limit(500)))


def apply_fix(actor: User, target: Member | CentralHousehold, ids: list[int]) -> int:
    """Apply one suggested fix: ``target`` (a member) covers the resident households ``ids``, or
    ``target`` (a household) takes the members ``ids``. Only what is still unplaced moves: the page
    may be stale, and a fix never takes a household from another member nor a member from another
    household. Returns how many moved."""
    if isinstance(target, Member):
        residents = list(db.session.scalars(sa.select(ResidentHousehold).where(
            ResidentHousehold.id.in_(ids), ResidentHousehold.covering_member_id.is_(None))).unique())
        return households.assign_residents(actor, residents, target)
    members = list(db.session.scalars(sa.select(Member).where(
        Member.id.in_(ids), Member.central_household_id.is_(None))).unique())
    return households.link_members(actor, target, members)
