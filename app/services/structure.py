"""The 1+10+15 structure: counts and standings, each in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.authz import scope_condition
from app.extensions import db
from app.models import (
    MIN_HOUSEHOLDS_PER_MEMBER,
    MIN_MEMBERS_PER_HOUSEHOLD,
    CentralHousehold,
    HouseholdStatus,
    Member,
    MemberStatus,
    OrgNode,
    ResidentHousehold,
    Station,
    User,
)


def linked_member_counts() -> sa.Subquery:
    """Per central household: active members linked to it, not counting its head."""
    return (
        sa.select(
            Member.central_household_id.label("household_id"),
            sa.func.count(Member.id).label("n"),
        )
        .join(CentralHousehold, CentralHousehold.id == Member.central_household_id)
        .where(Member.status == MemberStatus.ACTIVE, Member.id != CentralHousehold.head_member_id)
        .group_by(Member.central_household_id)
        .subquery("linked_member_counts")
    )


def covered_household_counts() -> sa.Subquery:
    """Per member: resident households they cover."""
    return (
        sa.select(
            ResidentHousehold.covering_member_id.label("member_id"),
            sa.func.count(ResidentHousehold.id).label("n"),
        )
        .where(ResidentHousehold.covering_member_id.is_not(None))
        .group_by(ResidentHousehold.covering_member_id)
        .subquery("covered_household_counts")
    )


@dataclass
class ScopeSummary:
    households: int
    households_below: int
    members: int
    members_below: int
    residents: int
    residents_uncovered: int
    stations: int

    @property
    def coverage_pct(self) -> float | None:
        if not self.residents:
            return None
        return 100 * (self.residents - self.residents_uncovered) / self.residents


def scope_summary(user: User) -> ScopeSummary:
    """1+10+15 standing across the admin's scope."""
    in_scope = scope_condition(user)
    lm = linked_member_counts()
    households = db.session.execute(
        sa.select(
            sa.func.count(CentralHousehold.id),
            sa.func.count(CentralHousehold.id).filter(
                sa.func.coalesce(lm.c.n, 0) < MIN_MEMBERS_PER_HOUSEHOLD
            ),
        )
        .join(OrgNode, OrgNode.id == CentralHousehold.grid_id)
        .outerjoin(lm, lm.c.household_id == CentralHousehold.id)
        .where(in_scope, CentralHousehold.status != HouseholdStatus.REVOKED)
    ).one()
    cc = covered_household_counts()
    members = db.session.execute(
        sa.select(
            sa.func.count(Member.id),
            sa.func.count(Member.id).filter(sa.func.coalesce(cc.c.n, 0) < MIN_HOUSEHOLDS_PER_MEMBER),
        )
        .join(OrgNode, OrgNode.id == Member.grid_id)
        .outerjoin(cc, cc.c.member_id == Member.id)
        .where(in_scope, Member.status == MemberStatus.ACTIVE)
    ).one()
    residents = db.session.execute(
        sa.select(
            sa.func.count(ResidentHousehold.id),
            sa.func.count(ResidentHousehold.id).filter(ResidentHousehold.covering_member_id.is_(None)),
        )
        .join(OrgNode, OrgNode.id == ResidentHousehold.grid_id)
        .where(in_scope)
    ).one()
    stations = db.session.scalar(
        sa.select(sa.func.count(Station.id))
        .join(OrgNode, OrgNode.id == Station.org_node_id)
        .where(in_scope, Station.active)
    )
    return ScopeSummary(
        households=households[0],
        households_below=households[1],
        members=members[0],
        members_below=members[1],
        residents=residents[0],
        residents_uncovered=residents[1],
        stations=stations or 0,
    )


@dataclass
class MemberSummary:
    member: Member
    covered: int
    household: CentralHousehold | None


def member_summary(member: Member | None) -> MemberSummary | None:
    if member is None:
        return None
    covered = db.session.scalar(
        sa.select(sa.func.count(ResidentHousehold.id)).where(
            ResidentHousehold.covering_member_id == member.id
        )
    )
    return MemberSummary(member=member, covered=covered or 0, household=member.central_household)
