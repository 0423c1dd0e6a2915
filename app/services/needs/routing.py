"""Where a need goes: the card's household, the plaque's central household or a community and an
address matched to a household, and moving it to another owner.

A new need's place is decided before its write, as plain values (:class:`Destination`): owner,
attribution, where it belongs, who hears of it and its deadlines (issue 14). A household's route —
every contact card — is read in Core, two statements (the household with its covering member, the
member's central household and the grid's path; then the grid's ancestors with their deadline
rows), plus the community's admins when it goes to the queue."""

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
    EntryKind,
    EntryToken,
    HouseholdStatus,
    Member,
    MemberStatus,
    Need,
    NeedCategory,
    NeedSla,
    NeedStatus,
    OrgLevel,
    OrgNode,
    OwnerLevel,
    ResidentHousehold,
    User,
)
from app.services.needs.common import (
    DEFAULT_ACCEPT_HOURS,
    DEFAULT_RESOLVE_HOURS,
    NeedError,
    owner_label,
)
from app.services.needs.notifications import add_handler
from app.services.org import nearest_admin_ids, nearest_admin_ids_of

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


def _queue_route(community: OrgNode, household: ResidentHousehold | None = None) -> Route:
    grid = household.grid if household else None
    return Route(OwnerLevel.COMMUNITY, None, community, None, grid, community, household)


@dataclass(frozen=True)
class Destination:
    """Where a new need goes, decided before it is written, as plain values: its owner (a member,
    or a node's admins) and how the timeline names them, who is told, who it is attributed to,
    where it belongs, the deadlines in force there, and a household's contact on record."""

    level: OwnerLevel
    owner_member_id: int | None
    owner_node_id: int | None
    label: str
    told: tuple[int, ...]  # user ids: the owning member's, or the nearest admins'
    member_id: int | None
    central_household_id: int | None
    household_id: int | None
    grid_id: int | None
    community_id: int
    township_id: int
    node_id: int  # the grid when known, else the community: scope and deadlines
    hours: tuple[int, int]  # (accept, resolve)
    phone: str | None = None  # the household's, when a card leaves the contact empty
    head_name: str = ""


@dataclass(frozen=True)
class HouseholdTarget:
    """A resident household as its routing needs it (one Core row): its contact on record, its
    grid's path, and the covering member with their central household's head."""

    id: int
    phone: str | None
    head_name: str
    grid_id: int
    grid_path: str
    member_id: int | None
    member_active: bool
    member_user_id: int | None
    member_name: str | None
    central_household_id: int | None
    heads_household: bool

    @property
    def shown_member_name(self) -> str | None:
        """The name the card's page shows: the covering member's, while active."""
        return self.member_name if self.member_active else None


_HOUSEHOLD = (
    sa.select(ResidentHousehold.id, ResidentHousehold.phone, ResidentHousehold.head_name, ResidentHousehold.grid_id,
              OrgNode.path, Member.id, Member.status, Member.user_id, User.name, Member.central_household_id,
              CentralHousehold.head_member_id)
    .join(OrgNode, OrgNode.id == ResidentHousehold.grid_id)
    .outerjoin(Member, Member.id == ResidentHousehold.covering_member_id)
    .outerjoin(User, User.id == Member.user_id)
    .outerjoin(CentralHousehold, CentralHousehold.id == Member.central_household_id)
)
# Built once (issue 14): a card's live code, or a household's id.
_CARD_HOUSEHOLD = _HOUSEHOLD.join(EntryToken, EntryToken.resident_household_id == ResidentHousehold.id).where(
    EntryToken.token == sa.bindparam("token"), EntryToken.kind == EntryKind.CARD, EntryToken.revoked_at.is_(None))
_HOUSEHOLD_BY_ID = _HOUSEHOLD.where(ResidentHousehold.id == sa.bindparam("id"))
# A node's ancestors (itself included) with their deadline rows for one category or for all.
_CHAIN = (
    sa.select(OrgNode.id, OrgNode.level, OrgNode.parent_id, OrgNode.name, NeedSla.category, NeedSla.accept_hours,
              NeedSla.resolve_hours)
    .outerjoin(NeedSla, sa.and_(NeedSla.org_node_id == OrgNode.id,
                                sa.or_(NeedSla.category.is_(None), NeedSla.category == sa.bindparam("category"))))
    .where(OrgNode.id.in_(sa.bindparam("ids", expanding=True)))
)


def _target(row: sa.Row | None) -> HouseholdTarget | None:
    if row is None:
        return None
    hid, phone, head_name, grid_id, path, member_id, status, user_id, name, central_id, head_id = row
    return HouseholdTarget(hid, phone, head_name, grid_id, path, member_id, status is MemberStatus.ACTIVE,
                           user_id, name, central_id, member_id is not None and head_id == member_id)


def card_target(token: str) -> HouseholdTarget | None:
    """The household behind a contact card's live code, as its routing needs it (one query)."""
    if not token or len(token) > 32:
        return None
    return _target(db.session.connection().execute(_CARD_HOUSEHOLD, {"token": token}).first())


def household_target(household_id: int) -> HouseholdTarget | None:
    """:func:`card_target` for a household named by its id."""
    return _target(db.session.connection().execute(_HOUSEHOLD_BY_ID, {"id": household_id}).first())


def route_target(target: HouseholdTarget, category: NeedCategory) -> Destination:
    """Contact card: the member covering the household, else the community's dispatch queue —
    read in Core, before any write."""
    ancestors = [int(p) for p in target.grid_path.strip("/").split("/") if p]
    nodes: dict[int, tuple[OrgLevel, int | None, str]] = {}
    slas: list[tuple[int, bool, int, int]] = []
    for node_id, level, parent_id, name, sla_category, accept, resolve in db.session.connection().execute(
            _CHAIN, {"ids": ancestors, "category": category}):
        nodes[node_id] = (level, parent_id, name)
        if accept is not None:
            slas.append((node_id, sla_category is not None, accept, resolve))
    community = None
    for node_id in reversed(ancestors):  # the village/community at or above the grid
        level = nodes[node_id][0]
        if level is OrgLevel.COMMUNITY:
            community = node_id
            break
        if level in (OrgLevel.TOWNSHIP, OrgLevel.DISTRICT):
            break
    if community is None:
        raise NeedError(_("该户所在网格不属于任何村/社区，请联系管理员。"))
    hours = (DEFAULT_ACCEPT_HOURS, DEFAULT_RESOLVE_HOURS)
    if slas:  # the nearest ancestor with a row; at one node, the category's row beats the rest
        best = max(slas, key=lambda r: (ancestors.index(r[0]), r[1]))
        hours = (best[2], best[3])
    township = nodes[community][1]
    assert township is not None  # a community sits below a township
    place = {"household_id": target.id, "grid_id": target.grid_id, "community_id": community,
             "township_id": township, "node_id": target.grid_id, "hours": hours, "phone": target.phone,
             "head_name": target.head_name}
    if target.member_id is None or not target.member_active:
        chain = ancestors[:ancestors.index(community) + 1]
        return Destination(OwnerLevel.COMMUNITY, None, community, f"{nodes[community][2]}{_('管理员')}",
                           tuple(nearest_admin_ids_of(chain)), None, None, **place)  # type: ignore[arg-type]
    level = OwnerLevel.HEAD if target.heads_household else OwnerLevel.MEMBER
    assert target.member_user_id is not None
    return Destination(level, target.member_id, None, f"{level.label} {target.member_name}",
                       (target.member_user_id,), target.member_id, target.central_household_id,
                       **place)  # type: ignore[arg-type]


def destination(route: Route, category: NeedCategory, central: CentralHousehold | None = None) -> Destination:
    """A plaque's or a community's route (ORM objects) as a :class:`Destination`."""
    from app.services.needs.deadlines import sla_for

    node = route.grid or route.community
    told = ((route.owner_member.user_id,) if route.owner_member is not None
            else tuple(nearest_admin_ids(route.owner_node)) if route.owner_node is not None else ())
    return Destination(
        route.level, route.owner_member.id if route.owner_member else None,
        route.owner_node.id if route.owner_node else None, route.label, told,
        route.member.id if route.member else None,
        route.member.central_household_id if route.member else (central.id if central else None),
        route.household.id if route.household else None, route.grid.id if route.grid else None,
        route.community.id, route.community.parent_id, node.id, sla_for(node, category))  # type: ignore[arg-type]


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


def route_address(community: OrgNode, address: str, category: NeedCategory) -> Destination:
    """The public form: the household at the address, routed as its card would be, else the
    community's dispatch queue."""
    household = match_address(community, address)
    target = household_target(household.id) if household is not None else None
    if target is None:
        return destination(_queue_route(community), category)
    return route_target(target, category)


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
