"""The 1+10+15 structure: counts and standings, each in a fixed number of queries."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased, contains_eager, defaultload, joinedload, lazyload, selectinload

from app.extensions import db, read_core
from app.models import (
    MIN_HOUSEHOLDS_PER_MEMBER,
    MIN_MEMBERS_PER_HOUSEHOLD,
    CentralHousehold,
    CheckinMode,
    GridStanding,
    HouseholdLinks,
    HouseholdStatus,
    HouseholdType,
    Member,
    MemberCategory,
    MemberCoverage,
    MemberStatus,
    OrgLevel,
    OrgNode,
    ResidentHousehold,
    Role,
    RoleAssignment,
    Station,
    StationKind,
    User,
)
from app.phones import mask_phone, phone_match
from app.policy import (
    admin_paths,
    bound_scope,
    like_escaped,
    node_in_scope,
    scope_condition,
    scope_params,
    scope_roots,
)
from app.services import posts
from app.services.ledger import build_workbook, today_label
from app.services.model_titles import live_title_condition
from app.services.privacy import audit


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
    """Per member: resident households they cover (the maintained counter, app/services/
    counters.py, not a count of every household: a central household's page at city scale read
    400,000 households for its ten members)."""
    return (
        sa.select(MemberCoverage.member_id.label("member_id"), MemberCoverage.covered.label("n"))
        .subquery("covered_household_counts")
    )


def covered_count(member_id: sa.ColumnElement[int]) -> sa.ScalarSelect[int]:
    """Households one member covers, as a correlated subquery: for a page of members this is one
    index lookup each, where ``covered_household_counts()`` would first count the whole table."""
    return (
        sa.select(sa.func.count(ResidentHousehold.id))
        .where(ResidentHousehold.covering_member_id == member_id)
        .scalar_subquery()
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
    """1+10+15 standing across the admin's scope: the maintained grid counters summed (two
    queries whatever the size of the scope; app/services/counters.py keeps them)."""
    in_scope = scope_condition(user)
    sums = db.session.execute(
        sa.select(*(sa.func.coalesce(sa.func.sum(getattr(GridStanding, f)), 0)
                    for f in GridStanding.FIGURES))
        .join(OrgNode, OrgNode.id == GridStanding.grid_id)
        .where(in_scope)
    ).one()
    stations = db.session.scalar(
        sa.select(sa.func.count(Station.id))
        .join(OrgNode, OrgNode.id == Station.org_node_id)
        .where(in_scope, Station.active)
    )
    return ScopeSummary(**dict(zip(GridStanding.FIGURES, (int(v) for v in sums), strict=True)),
                        stations=stations or 0)


# --- Standings per node: the org-tree page ---------------------------------------------------


@dataclass
class Standing:
    """A node's 1+10+15 standing: everything at or below it."""

    households: int = 0
    households_below: int = 0
    members: int = 0
    members_below: int = 0
    residents: int = 0
    residents_uncovered: int = 0

    @property
    def has_gap(self) -> bool:
        return bool(self.households_below or self.members_below or self.residents_uncovered)


def node_standings(nodes: Sequence[OrgNode]) -> dict[int, Standing]:
    """Standing of each node (and what lies below it), in one query whatever the number: the
    maintained grid counters of every grid whose path the node's path prefixes, summed."""
    result = {n.id: Standing() for n in nodes}
    if not nodes:
        return result
    anc = aliased(OrgNode, name="anc")
    rows = db.session.execute(
        sa.select(anc.id, *(sa.func.sum(getattr(GridStanding, f)) for f in GridStanding.FIGURES))
        .join(OrgNode, OrgNode.id == GridStanding.grid_id)
        .join(anc, sa.and_(anc.id.in_(list(result)), OrgNode.path.startswith(anc.path)))
        .group_by(anc.id)
    )
    for node_id, *figures in rows:
        result[node_id] = Standing(*(int(v or 0) for v in figures))
    return result


def children_of(node: OrgNode) -> list[OrgNode]:
    return list(
        db.session.scalars(sa.select(OrgNode).where(OrgNode.parent_id == node.id).order_by(OrgNode.id))
    )


def child_counts(nodes: Sequence[OrgNode]) -> dict[int, int]:
    """How many children each node has (to know which can be expanded), in one query."""
    ids = [n.id for n in nodes]
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(OrgNode.parent_id, sa.func.count(OrgNode.id))
        .where(OrgNode.parent_id.in_(ids))
        .group_by(OrgNode.parent_id)
    )
    found = dict(rows.all())
    return {i: found.get(i, 0) for i in ids}


def tree(user: User) -> dict[str, object]:
    """The admin's part of the org tree: each root with its standing and how many children."""
    roots = scope_roots(user)
    return {"roots": roots, "standings": node_standings(roots), "child_counts": child_counts(roots)}


def node_view(user: User, node: OrgNode, whole_page: bool = True) -> dict[str, object]:
    """A node with its children and their standings; the whole page adds the node's own standing
    and the breadcrumb of its ancestors the admin may see (an htmx expand needs neither)."""
    children = children_of(node)
    view: dict[str, object] = {
        "node": node,
        "children": children,
        "standings": node_standings([node, *children] if whole_page else children),
        "child_counts": child_counts(children),
    }
    if whole_page:
        ids = node.ancestor_ids[:-1]
        ancestors = db.session.scalars(sa.select(OrgNode).where(OrgNode.id.in_(ids))).all()
        view["breadcrumb"] = sorted((a for a in ancestors if node_in_scope(user, a)), key=lambda a: len(a.path))
    return view


@dataclass(frozen=True)
class NodeOption:
    """A grid or community a list may be filtered on: what the filter's ``<option>`` shows."""

    id: int
    name: str
    level: OrgLevel

    @property
    def is_grid(self) -> bool:
        return self.level is OrgLevel.GRID


@functools.cache
def _grid_options(scopes: int) -> sa.Select:
    return (sa.select(OrgNode.id, OrgNode.name, OrgNode.level)
            .where(bound_scope(scopes), sa.or_(OrgNode.level == OrgLevel.COMMUNITY, OrgNode.level == OrgLevel.GRID))
            .order_by(OrgNode.path))


def grids_in_scope(user: User) -> list[NodeOption]:
    """Grids and communities the admin may filter on, in tree order (a statement built once)."""
    return [NodeOption(*row) for row in read_core(_grid_options(len(admin_paths(user))), scope_params(user))]


# --- Lists: each a select (the view paginates it) plus one query for the page's counts ---------


@dataclass
class ListFilters:
    """What an admin typed and picked above a list; ``node`` is already checked to be in scope."""

    q: str = ""
    node: OrgNode | None = None
    below: bool = False
    category: MemberCategory | None = None
    status: HouseholdStatus | None = None
    type_id: int | None = None
    model: bool = False
    kind: StationKind | None = None
    member_id: int | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str], node: OrgNode | None = None,
                  member_id: int | None = None) -> ListFilters:
        """The filters of a query string; ``node`` and ``member_id`` come already checked."""
        return cls(
            q=args.get("q", "").strip()[:64], node=node, below=args.get("below") == "1",
            category=_enum(MemberCategory, args.get("category")),
            status=_enum(HouseholdStatus, args.get("status")),
            type_id=_int(args.get("type")),
            model=args.get("model") == "1", kind=_enum(StationKind, args.get("kind")),
            member_id=member_id,
        )


def _int(value: str | None) -> int | None:
    """A number typed into a query string; None for nothing or nonsense."""
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _enum(cls: type, value: str | None) -> Any:
    """The member of enum ``cls`` named by ``value``; None for nothing or nonsense."""
    try:
        return cls(value) if value else None
    except ValueError:
        return None


def _grid_filter(user: User, f: ListFilters) -> sa.ColumnElement[bool]:
    cond = scope_condition(user)
    if f.node is not None:
        cond = sa.and_(cond, OrgNode.under(f.node.path))
    return cond


@dataclass(frozen=True)
class MemberRow:
    """A row of the members' list, as its table and ledger show it (issue 14: a page of these,
    read as columns, rather than members with their users and grids as ORM objects)."""

    id: int
    name: str
    phone: str
    grid: str
    category: MemberCategory
    status: MemberStatus
    central_household_id: int | None
    household: str | None  # the name of the central household's head
    covered: int  # resident households the member covers

    @property
    def is_active(self) -> bool:
        return self.status is MemberStatus.ACTIVE


def _members(user: User, f: ListFilters, *columns: Any, users: bool) -> sa.Select:
    """``columns`` of the members list ``f`` picks out, a search in it (built per request: the
    phone rule decides its shape); ``users``: joined to the members' users (which a search joins
    anyway) — a count needs no more than the grids, for the scope."""
    stmt = (sa.select(*columns).select_from(Member).join(OrgNode, OrgNode.id == Member.grid_id)
            .where(_grid_filter(user, f)))
    if users or f.q:
        stmt = stmt.join(User, User.id == Member.user_id)
    if f.q:
        cond = User.name.contains(f.q, autoescape=True)
        by_phone = phone_match(User.phone, f.q)
        if by_phone is not None:
            cond = sa.or_(cond, by_phone)
        stmt = stmt.where(cond)
    if f.category is not None:
        stmt = stmt.where(Member.category == f.category)
    return _below(stmt) if f.below else stmt


def _below(stmt: sa.Select) -> sa.Select:
    """Active members covering fewer than 15 households (the maintained counter, as the standing
    figures use it)."""
    return stmt.outerjoin(MemberCoverage, MemberCoverage.member_id == Member.id).where(
        Member.status == MemberStatus.ACTIVE,
        sa.func.coalesce(MemberCoverage.covered, 0) < MIN_HOUSEHOLDS_PER_MEMBER,
    )


@functools.cache
def _members_bound(scopes: int, node: bool, category: bool, below: bool, count: bool) -> sa.Select:
    """The members list without a search, built once per shape (issue 14): the admin's paths,
    the node's and the category as bound parameters (``_members_params``); the ids by name, or
    their count (``count``: no users joined)."""
    stmt = (sa.select(sa.func.count(Member.id) if count else Member.id).select_from(Member)
            .join(OrgNode, OrgNode.id == Member.grid_id).where(bound_scope(scopes)))
    if node:
        stmt = stmt.where(OrgNode.path.like(sa.bindparam("node", type_=sa.String), escape="/"))
    if category:
        stmt = stmt.where(Member.category == sa.bindparam("category"))
    if below:
        stmt = _below(stmt)
    return stmt if count else stmt.join(User, User.id == Member.user_id).order_by(User.name, Member.id)


def _members_params(user: User, f: ListFilters) -> dict[str, object]:
    params: dict[str, object] = scope_params(user)
    if f.node is not None:
        params["node"] = like_escaped(f.node.path) + "%"
    if f.category is not None:
        params["category"] = f.category
    return params


def _members_select(user: User, f: ListFilters, count: bool) -> sa.Select:
    if f.q:
        return (_members(user, f, sa.func.count(Member.id), users=False) if count
                else _members(user, f, Member.id, users=True).order_by(User.name, Member.id))
    return _members_bound(len(admin_paths(user)), f.node is not None, f.category is not None, f.below, count)


def _head_name(household_id: sa.ColumnElement[int | None]) -> sa.ScalarSelect[str]:
    """The name of the head of central household ``household_id``, as a scalar subquery."""
    head, head_user = aliased(Member), aliased(User)
    return (sa.select(head_user.name).join(head, head.user_id == head_user.id)
            .join(CentralHousehold, CentralHousehold.head_member_id == head.id)
            .where(CentralHousehold.id == household_id).scalar_subquery())


def members_query(user: User, f: ListFilters) -> sa.Select:
    """The members list's ids, by name (``list_params`` gives its parameters): a page of them is
    read in ``member_rows`` (the sort and the offset work on two columns; the details are read
    for the page's fifty alone)."""
    return _members_select(user, f, count=False)


_MEMBER_ROWS = (
    sa.select(Member.id, User.name, User.phone, OrgNode.name, Member.category, Member.status,
              Member.central_household_id, _head_name(Member.central_household_id), covered_count(Member.id))
    .join(User, User.id == Member.user_id).join(OrgNode, OrgNode.id == Member.grid_id)
    .where(Member.id.in_(sa.bindparam("ids", expanding=True)))
)


def member_rows(ids: Sequence[sa.Row]) -> list[MemberRow]:
    """The members of ``ids`` (rows of ``members_query``) as ``MemberRow``, in that order: one
    query."""
    wanted = [row[0] for row in ids]
    if not wanted:
        return []
    found = {r[0]: MemberRow(*r) for r in read_core(_MEMBER_ROWS, {"ids": wanted})}
    return [found[i] for i in wanted if i in found]


def members_total(user: User, f: ListFilters) -> int:
    """The length of the members list ``f`` picks out, counted without its rows' joins."""
    return int(read_core(_members_select(user, f, count=True), list_params(user, "members", f)).scalar() or 0)


def households_query(user: User, f: ListFilters) -> sa.Select[tuple[CentralHousehold]]:
    stmt = (
        sa.select(CentralHousehold)
        .join(CentralHousehold.grid)
        .options(
            contains_eager(CentralHousehold.grid),
            # The head's and the mentor's names are shown, not their grids.
            defaultload(CentralHousehold.head).lazyload(Member.grid),
            joinedload(CentralHousehold.mentor).lazyload(Member.grid),
            lazyload(CentralHousehold.duties),
            selectinload(CentralHousehold.model_titles),
        )
        .where(_grid_filter(user, f))
    )
    if f.q:
        heads = sa.select(Member.id).join(Member.user).where(User.name.contains(f.q, autoescape=True))
        stmt = stmt.where(
            sa.or_(
                CentralHousehold.head_member_id.in_(heads),
                CentralHousehold.number.contains(f.q, autoescape=True),
                CentralHousehold.address.contains(f.q, autoescape=True),
            )
        )
    if f.status is not None:
        stmt = stmt.where(CentralHousehold.status == f.status)
    if f.type_id is not None:
        stmt = stmt.where(CentralHousehold.type_id == f.type_id)
    if f.model:
        stmt = stmt.where(live_title_condition())
    if f.below:  # the maintained counter, as the standing figures use it
        stmt = stmt.outerjoin(HouseholdLinks, HouseholdLinks.household_id == CentralHousehold.id).where(
            CentralHousehold.status != HouseholdStatus.REVOKED,
            sa.func.coalesce(HouseholdLinks.linked, 0) < MIN_MEMBERS_PER_HOUSEHOLD,
        )
    return stmt.order_by(OrgNode.path, CentralHousehold.number, CentralHousehold.id)


def linked_counts(household_ids: Sequence[int]) -> dict[int, int]:
    """Active members linked to each household given, its head not counted (one query)."""
    if not household_ids:
        return {}
    lm = linked_member_counts()
    rows = db.session.execute(
        sa.select(lm.c.household_id, lm.c.n).where(lm.c.household_id.in_(list(household_ids)))
    )
    found = dict(rows.all())
    return {i: found.get(i, 0) for i in household_ids}


def residents_query(user: User, f: ListFilters) -> sa.Select[tuple[ResidentHousehold]]:
    stmt = (
        sa.select(ResidentHousehold)
        .join(ResidentHousehold.grid)
        .options(contains_eager(ResidentHousehold.grid), joinedload(ResidentHousehold.covering_member))
        .where(_grid_filter(user, f))
    )
    if f.q:
        stmt = stmt.where(
            sa.or_(
                ResidentHousehold.address.contains(f.q, autoescape=True),
                ResidentHousehold.head_name.contains(f.q, autoescape=True),
            )
        )
    if f.below:  # "below the rule" for a resident household: nobody covers it
        stmt = stmt.where(ResidentHousehold.covering_member_id.is_(None))
    if f.member_id is not None:
        stmt = stmt.where(ResidentHousehold.covering_member_id == f.member_id)
    return stmt.order_by(OrgNode.path, ResidentHousehold.address, ResidentHousehold.id)


def stations_query(user: User, f: ListFilters) -> sa.Select[tuple[Station]]:
    stmt = (
        sa.select(Station)
        .join(Station.org_node)
        .options(contains_eager(Station.org_node))
        .where(_grid_filter(user, f))
    )
    if f.q:
        stmt = stmt.where(Station.name.contains(f.q, autoescape=True))
    if f.kind is not None:
        stmt = stmt.where(Station.kind == f.kind)
    return stmt.order_by(OrgNode.path, Station.name)


def station_admin_names(station_ids: Sequence[int]) -> dict[int, list[str]]:
    """Names of each station's administrators (one query)."""
    result: dict[int, list[str]] = {i: [] for i in station_ids}
    if not station_ids:
        return result
    rows = db.session.execute(
        sa.select(RoleAssignment.station_id, User.name)
        .join(User, User.id == RoleAssignment.user_id)
        .where(RoleAssignment.role == Role.STATION_ADMIN, RoleAssignment.station_id.in_(list(station_ids)))
        .order_by(User.name)
    )
    for station_id, name in rows:
        result[station_id].append(name)
    return result


# --- The four lists: a page each, and a ledger each -------------------------------------------

PER_PAGE = 50
MAX_EXPORT_ROWS = 50_000


@dataclass(frozen=True)
class ListKind:
    """One list: its title, its query, the counts a page of it needs, its ledger columns."""

    title: object
    query: Callable[[User, ListFilters], sa.Select]
    extras: Callable[[Sequence], dict]
    headers: tuple[str, ...]  # ledger headers: Chinese, as the office files them
    row: Callable[[Any, dict], list]
    # The query selects keys (columns), and this reads the list's rows for them (a page's worth).
    rows: Callable[[Sequence[sa.Row]], list] | None = None


def _member_row(m: MemberRow, x: dict) -> list:
    return [m.name, mask_phone(m.phone), m.grid, m.category.label,
            m.household or "", m.covered, m.status.label]


def _household_row(h: CentralHousehold, x: dict) -> list:
    return [h.number or "", h.name, h.grid.name, h.address, x["linked"][h.id], h.status.label,
            h.type.name if h.type else "", "、".join(str(y) for y in h.model_years),
            h.mentor.name if h.mentor else ""]


def _resident_row(r: ResidentHousehold, x: dict) -> list:
    m = r.covering_member
    return [r.grid.name, r.address, r.head_name, mask_phone(r.phone),
            m.name if m else "未落实", "、".join(r.tags)]


def _station_row(s: Station, x: dict) -> list:
    return [s.name, s.kind.label, s.org_node.name, s.checkin_mode.label,
            "、".join(x["admins"][s.id]), s.address, s.opening_hours]


LISTS: dict[str, ListKind] = {
    "members": ListKind(
        _l("党员"), members_query, lambda items: {},
        ("姓名", "手机号", "网格", "党员类别", "所属中心户", "联系群众户数", "状态"), _member_row, member_rows),
    "households": ListKind(
        _l("中心户"), households_query,
        lambda items: {"linked": linked_counts([h.id for h in items])},
        ("编号", "户长", "网格", "地址", "联系党员数", "状态", "类型", "示范年度", "帮带书记"),
        _household_row),
    "residents": ListKind(
        _l("群众户"), residents_query, lambda items: {},
        ("网格", "地址", "户主", "联系电话", "联系党员", "关爱标签"), _resident_row),
    "stations": ListKind(
        _l("驿站"), stations_query,
        lambda items: {"admins": station_admin_names([s.id for s in items])},
        ("名称", "类型", "所属组织", "签到方式", "管理员", "地址", "开放时间"), _station_row),
}


def known_total(user: User, kind: str, f: ListFilters) -> int | None:
    """The length of list ``kind`` when the maintained grid counters know it (the resident
    households in scope, or those nobody covers, without a search or a member): a district's
    list no longer counts 400,000 households per page; the members counted without the joins
    their rows need. None: the list's own select is counted."""
    if kind == "members":
        return members_total(user, f)
    if kind != "residents" or f.q or f.member_id is not None:
        return None
    figure = GridStanding.residents_uncovered if f.below else GridStanding.residents
    return int(db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(figure), 0))
        .join(OrgNode, OrgNode.id == GridStanding.grid_id).where(_grid_filter(user, f))) or 0)


def list_query(user: User, kind: str, f: ListFilters) -> sa.Select:
    """The select behind list ``kind`` (the view paginates it, with ``list_params``)."""
    return LISTS[kind].query(user, f)


def list_params(user: User, kind: str, f: ListFilters) -> dict[str, object]:
    """The values of the bound parameters of ``list_query``'s select (the members list without a
    search is a statement built once; the others carry their values)."""
    return _members_params(user, f) if kind == "members" and not f.q else {}


def list_view(user: User, kind: str, items: Sequence, with_options: bool = True) -> dict[str, object]:
    """What a page of list ``kind`` shows beside its rows: its title, the counts of those rows and,
    for the whole page, the choices of the filters above it."""
    view: dict[str, object] = {"kind": kind, "title": LISTS[kind].title, **LISTS[kind].extras(items)}
    if with_options:
        view["nodes"] = grids_in_scope(user)
        if kind == "members":
            view["categories"] = MemberCategory.choices()
        elif kind == "households":
            view["statuses"] = HouseholdStatus.choices()
            view["types"] = db.session.scalars(sa.select(HouseholdType).order_by(HouseholdType.id)).all()
        elif kind == "stations":
            view.update(kinds=StationKind.choices(), modes=CheckinMode)
    return view


def export_ledger(user: User, kind: str, f: ListFilters, detail: str = "", ip: str = "") -> tuple[bytes, str]:
    """List ``kind`` as an .xlsx ledger and its file name; the export is audited."""
    spec = LISTS[kind]
    stmt = spec.query(user, f).limit(MAX_EXPORT_ROWS)
    if spec.rows is None:
        items = db.session.scalars(stmt).all()
    else:
        keys = read_core(stmt, list_params(user, kind, f)).all()
        items = [item for start in range(0, len(keys), 5000) for item in spec.rows(keys[start : start + 5000])]
    extras: dict = {}
    for start in range(0, len(items), 5000):  # keep IN lists of a sane length
        for key, part in spec.extras(items[start : start + 5000]).items():
            extras.setdefault(key, {}).update(part)
    node_name = f.node.name if f.node else "、".join(n.name for n in scope_roots(user))
    title = f"{spec.title}台账"
    data = build_workbook(title, node_name, f"截至 {today_label()}", spec.headers,
                          (spec.row(i, extras) for i in items))
    audit(user.id, "export", kind, None, detail=f"{len(items)} rows; {detail}", ip=ip)
    return data, f"{title}-{today_label()}.xlsx"


# --- Detail pages -----------------------------------------------------------------------------


def covered_residents(member: Member, limit: int = 500) -> list[ResidentHousehold]:
    return list(
        db.session.scalars(
            sa.select(ResidentHousehold)
            .where(ResidentHousehold.covering_member_id == member.id)
            .order_by(ResidentHousehold.address)
            .limit(limit)
        )
    )


def linked_members(household: CentralHousehold) -> list[tuple[Member, int]]:
    """The household's members (head first), each with the resident households they cover."""
    cc = covered_household_counts()
    rows = db.session.execute(
        sa.select(Member, sa.func.coalesce(cc.c.n, 0))
        .join(Member.user)
        .outerjoin(cc, cc.c.member_id == Member.id)
        .options(contains_eager(Member.user))
        .where(Member.central_household_id == household.id)
        .order_by((Member.id == household.head_member_id).desc(), User.name)
    )
    return [(m, n) for m, n in rows]


def covering_candidates(grid_id: int, limit: int = 5) -> list[tuple[Member, int]]:
    """Active members of a grid with the fewest households ("地缘相近、居住相邻"): who could take
    on an uncovered household."""
    cc = covered_household_counts()
    n = sa.func.coalesce(cc.c.n, 0)
    rows = db.session.execute(
        sa.select(Member, n)
        .outerjoin(cc, cc.c.member_id == Member.id)
        .where(Member.grid_id == grid_id, Member.status == MemberStatus.ACTIVE)
        .order_by(n, Member.id)
        .limit(limit)
    )
    return [(m, c) for m, c in rows]


def member_view(member: Member) -> dict[str, object]:
    """A member's page: the households they cover, the central household they belong to, their post."""
    return {"member": member, "residents": covered_residents(member), "household": member.central_household,
            "post_view": posts.member_post(member)}


def household_view(household: CentralHousehold) -> dict[str, object]:
    """A central household's page: its members with their counts, and how many count towards 10."""
    linked = linked_members(household)
    linked_count = sum(1 for m, _n in linked if m.id != household.head_member_id and m.is_active)
    return {"household": household, "linked": linked, "linked_count": linked_count}


def resident_view(resident: ResidentHousehold) -> dict[str, object]:
    """A resident household's page; an uncovered one suggests members who could take it on."""
    candidates = [] if resident.covering_member_id else covering_candidates(resident.grid_id)
    return {"resident": resident, "candidates": candidates}


def reveal_phone(user: User, holder: Member | ResidentHousehold, ip: str = "") -> str | None:
    """The full phone number of a member or resident household, for an admin; audited."""
    object_type = "member" if isinstance(holder, Member) else "resident_household"
    audit(user.id, "phone.reveal", object_type, holder.id, ip=ip)
    return holder.phone
