"""Where a need goes: the card's household, the plaque's central household or a community and an
address matched to a household, and moving it to another owner."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from app.extensions import db
from app.models import (
    CentralHousehold,
    HouseholdStatus,
    Member,
    Need,
    NeedStatus,
    OrgLevel,
    OrgNode,
    OwnerLevel,
    ResidentHousehold,
)
from app.services.needs.common import NeedError, owner_label
from app.services.needs.notifications import add_handler

# --- Routing ---------------------------------------------------------------------------------


@dataclass
class Route:
    """Where a new need goes: its owner, who it is attributed to, and where it belongs."""

    level: OwnerLevel
    owner_member: Member | None
    owner_node: OrgNode | None
    member: Member | None
    grid: OrgNode | None
    community: OrgNode
    household: ResidentHousehold | None = None

    @property
    def label(self) -> str:
        return owner_label(self.level, self.owner_member, self.owner_node)



def member_level(member: Member) -> OwnerLevel:
    """A central household's head owns at the head level (escalation skips to the community)."""
    ch = member.central_household
    return OwnerLevel.HEAD if ch is not None and ch.head_member_id == member.id else OwnerLevel.MEMBER


def community_of(node: OrgNode) -> OrgNode | None:
    """The village/community at or above ``node``."""
    current: OrgNode | None = node
    while current is not None and current.level is not OrgLevel.COMMUNITY:
        if current.level in (OrgLevel.TOWNSHIP, OrgLevel.DISTRICT):
            return None
        current = current.parent
    return current


def _member_route(member: Member, community: OrgNode, grid: OrgNode | None,
                  household: ResidentHousehold | None = None) -> Route:
    return Route(member_level(member), member, None, member, grid, community, household)


def _queue_route(community: OrgNode, household: ResidentHousehold | None = None) -> Route:
    grid = household.grid if household else None
    return Route(OwnerLevel.COMMUNITY, None, community, None, grid, community, household)


def route_household(household: ResidentHousehold) -> Route:
    """Contact card: the member covering the household, else the community's dispatch queue."""
    community = community_of(household.grid)
    if community is None:
        raise NeedError(_("该户所在网格不属于任何村/社区，请联系管理员。"))
    member = household.covering_member
    if member is None or not member.is_active:
        return _queue_route(community, household)
    return _member_route(member, community, household.grid, household)


def route_plaque(central: CentralHousehold) -> Route:
    """Door plaque: the central household's head, who may pass it on to one of their members."""
    community = community_of(central.grid)
    if community is None:
        raise NeedError(_("该中心户所在网格不属于任何村/社区，请联系管理员。"))
    head = central.head
    if central.status is HouseholdStatus.REVOKED or not head.is_active:
        return Route(OwnerLevel.COMMUNITY, None, community, None, central.grid, community)
    return Route(OwnerLevel.HEAD, head, None, head, central.grid, community)


_ADDR_DROP = re.compile(r"[\s,，.。、;；:：#\-—_()（）/\\]+")
_BUR = re.compile(r"(\d+)栋(\d+)单元(\d+)")


def normalize_address(raw: str) -> str:
    """Fold the ways people write one address: full-width digits, spaces, punctuation,
    号楼/幢/座 for 栋, a trailing 室/号."""
    s = unicodedata.normalize("NFKC", raw or "").lower()
    s = _ADDR_DROP.sub("", s)
    for alt in ("号楼", "幢", "座"):
        s = s.replace(alt, "栋")
    return s.removesuffix("室").removesuffix("号")


def match_address(community: OrgNode, address: str) -> ResidentHousehold | None:
    """The resident household at ``address`` within ``community``: the same address once
    normalised, else the only household with the same building/unit/room; None when unsure."""
    wanted = normalize_address(address)
    if len(wanted) < 3:
        return None
    households = db.session.scalars(
        sa.select(ResidentHousehold)
        .join(OrgNode, OrgNode.id == ResidentHousehold.grid_id)
        .where(OrgNode.under(community.path))
    ).all()
    exact = [h for h in households if normalize_address(h.address) == wanted]
    if len(exact) == 1:
        return exact[0]
    m = _BUR.search(wanted)
    if m and not exact:
        same = [h for h in households if (h.building, h.unit, h.room) == m.groups()]
        if len(same) == 1:
            return same[0]
    return None


def route_address(community: OrgNode, address: str) -> Route:
    household = match_address(community, address)
    if household is None:
        return _queue_route(community)
    return route_household(household)


def move_owner(need: Need, level: OwnerLevel, member: Member | None, node: OrgNode | None,
               now: datetime) -> None:
    """Hand the need to a new owner (a member, or the admins of a node), who joins its handlers;
    an unaccepted need gets a fresh accept window."""
    need.owner_level = level
    need.owner_member_id = member.id if member else None
    need.owner_member = member
    need.owner_node_id = node.id if node else None
    need.owner_node = node
    if member is not None:
        add_handler(need, member)
    if need.status is NeedStatus.SUBMITTED:
        need.accept_due_at = now + timedelta(hours=need.accept_hours)
