"""Posts for members without office (无职党员设岗定责): each org node keeps a list of posts
(政策宣讲岗, 矛盾调解岗 …) with their duty and the kind of service that counts as the post's
work; a node's members may hold its posts and those of the nodes above it. An admin gives a
member without office one post at a time (giving another ends the first, in the same step) and
ends it; nothing is deleted once used (a post is deactivated instead).

Members without office: active members who head no central household that stands, mentor none,
are not Party-organisation secretaries and do not sit on the village two committees (村两委)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app import policy
from app.clock import day_start, local_today
from app.extensions import db, read_core
from app.models import (
    Activity,
    ActivityKind,
    CentralHousehold,
    HouseholdStatus,
    Member,
    MemberCategory,
    MemberStatus,
    OrgNode,
    PostAssignment,
    PostType,
    Station,
    User,
    VerifyState,
    activity_members,
    utcnow,
)
from app.policy import member_in_scope, node_in_scope, scope_condition
from app.services.errors import NotAllowed, Refused

MAX_NAME = 32
MAX_DUTY = 255
RECENT_WORK = 5

# The district's default list (the demo seeds it at the district root; any node adds its own).
DEFAULT_POSTS: tuple[tuple[str, str, ActivityKind], ...] = (
    ("政策宣讲岗", "向群众宣讲党的政策和惠民政策，送学上门。", ActivityKind.STUDY_VISIT),
    ("矛盾调解岗", "及时发现、化解邻里矛盾纠纷。", ActivityKind.MEDIATION),
    ("环境监督岗", "监督小区和村组环境卫生，带头参与整治。", ActivityKind.OTHER),
    ("关爱帮扶岗", "结对帮扶困难群众，为民办实事。", ActivityKind.ERRAND),
    ("文明实践岗", "参与新时代文明实践活动，倡导文明新风。", ActivityKind.TEACHING),
    ("技术指导岗", "为群众提供种养殖等生产技术指导。", ActivityKind.TECH_GUIDANCE),
)


class PostError(Refused):
    """A post step was refused; ``str()`` is the message for the user."""


def _require(allowed: bool) -> None:
    if not allowed:
        raise NotAllowed(_l("您没有管理这个岗位的权限。"))


# --- who is without office ---------------------------------------------------------------------


def with_office_condition(member_id: sa.ColumnElement[int] = Member.id) -> sa.ColumnElement[bool]:
    """SQL: the member holds an office — heads or mentors a household that stands, is a secretary
    or sits on the two committees."""
    live = CentralHousehold.status != HouseholdStatus.REVOKED
    return sa.or_(
        Member.is_secretary,
        Member.category == MemberCategory.VILLAGE_COMMITTEE,
        member_id.in_(sa.select(CentralHousehold.head_member_id).where(live)),
        member_id.in_(sa.select(CentralHousehold.mentor_id).where(live, CentralHousehold.mentor_id.is_not(None))),
    )


def office_of(member: Member) -> str | None:
    """Why the member is not "without office" (the office they hold), or None."""
    if member.is_secretary:
        return str(_l("党组织书记"))
    if member.category is MemberCategory.VILLAGE_COMMITTEE:
        return str(_l("村两委成员"))
    live = CentralHousehold.status != HouseholdStatus.REVOKED
    if db.session.scalar(sa.select(sa.exists().where(CentralHousehold.head_member_id == member.id, live))):
        return str(_l("中心户户主"))
    if db.session.scalar(sa.select(sa.exists().where(CentralHousehold.mentor_id == member.id, live))):
        return str(_l("帮带书记"))
    return None


# --- the list of posts ---------------------------------------------------------------------------


def visible_posts(user: User) -> sa.Select[tuple[PostType]]:
    """The posts an admin sees: of their nodes and below, and of the nodes above them."""
    ancestors = {i for n in user.admin_nodes for i in n.ancestor_ids}
    return (sa.select(PostType).join(OrgNode, OrgNode.id == PostType.org_node_id)
            .where(sa.or_(scope_condition(user), OrgNode.id.in_(ancestors)))
            .order_by(PostType.active.desc(), sa.func.length(OrgNode.path), OrgNode.path, PostType.name))


def post_list(user: User, limit: int = 500) -> list[PostType]:
    """:func:`visible_posts` as a list (a node keeps a handful; ``limit`` bounds a page)."""
    return list(db.session.scalars(visible_posts(user).limit(limit)).unique())


def posts_for(member: Member) -> list[PostType]:
    """The active posts the member may hold: their grid's and its ancestors', nearest last."""
    return list(db.session.scalars(
        sa.select(PostType).join(OrgNode, OrgNode.id == PostType.org_node_id)
        .where(PostType.org_node_id.in_(member.grid.ancestor_ids), PostType.active)
        .order_by(sa.func.length(OrgNode.path), PostType.name)))


def used_post_ids(post_ids: Sequence[int]) -> set[int]:
    """Which of these posts anyone holds or held (one query)."""
    if not post_ids:
        return set()
    return set(db.session.scalars(sa.select(PostAssignment.post_type_id).where(
        PostAssignment.post_type_id.in_(list(post_ids))).distinct()))


def _clean(name: str, duty: str, kind: str | None) -> tuple[str, str, ActivityKind | None]:
    name, duty = (name or "").strip(), (duty or "").strip()
    if not name:
        raise PostError(_l("请填写岗位名称。"))
    if len(name) > MAX_NAME:
        raise PostError(_l("岗位名称不超过 %(n)d 字。", n=MAX_NAME))
    if len(duty) > MAX_DUTY:
        raise PostError(_l("岗位职责不超过 %(n)d 字。", n=MAX_DUTY))
    if kind and kind not in {k.value for k in ActivityKind}:
        raise PostError(_l("请选择有效的服务类型。"))
    return name, duty, ActivityKind(kind) if kind else None


def _name_taken(node_id: int, name: str, other_than: int | None = None) -> bool:
    stmt = sa.select(PostType.id).where(PostType.org_node_id == node_id, PostType.name == name)
    if other_than is not None:
        stmt = stmt.where(PostType.id != other_than)
    return db.session.scalar(stmt) is not None


def add_post_type(actor: User, node: OrgNode, name: str, duty: str, kind: str | None) -> PostType:
    """A new post at a node the admin holds."""
    _require(node_in_scope(actor, node))
    name, duty, activity_kind = _clean(name, duty, kind)
    if _name_taken(node.id, name):
        raise PostError(_l("%(node)s 已有“%(name)s”。", node=node.name, name=name))
    post = PostType(org_node_id=node.id, name=name, duty=duty, activity_kind=activity_kind)
    try:
        with db.session.begin_nested():  # the same name added twice at once: one wins
            db.session.add(post)
    except sa.exc.IntegrityError:
        raise PostError(_l("%(node)s 已有“%(name)s”。", node=node.name, name=name)) from None
    return post


def edit_post_type(actor: User, post: PostType, name: str, duty: str, kind: str | None) -> PostType:
    """Change a post's name, duty or kind of work (holders keep the duty they were given)."""
    _require(policy.can_manage_post_type(actor, post))
    name, duty, activity_kind = _clean(name, duty, kind)
    if _name_taken(post.org_node_id, name, other_than=post.id):
        raise PostError(_l("%(node)s 已有“%(name)s”。", node=post.org_node.name, name=name))
    post.name, post.duty, post.activity_kind = name, duty, activity_kind
    return post


def set_post_active(actor: User, post: PostType, active: bool) -> PostType:
    """Deactivate a post (no new holders; current holders keep it until ended) or reactivate it."""
    _require(policy.can_manage_post_type(actor, post))
    post.active = active
    return post


def delete_post_type(actor: User, post: PostType) -> None:
    """Delete a post nobody ever held; one that was used can only be deactivated."""
    _require(policy.can_manage_post_type(actor, post))
    if used_post_ids([post.id]):
        raise PostError(_l("已有党员任过“%(name)s”，不能删除，只能停用。", name=post.name))
    db.session.delete(post)


# --- giving and ending posts -------------------------------------------------------------------


def open_post(member: Member) -> PostAssignment | None:
    """The member's current post."""
    return db.session.scalar(sa.select(PostAssignment).where(
        PostAssignment.member_id == member.id, PostAssignment.ended_at.is_(None)))


def assign_post(actor: User, member: Member, post: PostType | None, duty: str) -> PostAssignment:
    """Give a member without office a post with its duty (the post's own when left empty). A
    member holds one post at a time: a current one is ended in the same step."""
    _require(member_in_scope(actor, member))
    if post is None or not post.active:
        raise PostError(_l("请选择一个在用的岗位。"))
    if not policy.post_fits_member(post, member):
        raise PostError(_l("“%(name)s”是%(node)s的岗位，不适用于该党员所在的组织。",
                           name=post.name, node=post.org_node.name))
    if not member.is_active:
        raise PostError(_l("%(name)s 已停用，不能设岗。", name=member.name))
    office = office_of(member)
    if office:
        raise PostError(_l("%(name)s 担任%(office)s，不属于无职党员。", name=member.name, office=office))
    duty = (duty or "").strip() or post.duty
    if len(duty) > MAX_DUTY:
        raise PostError(_l("岗位职责不超过 %(n)d 字。", n=MAX_DUTY))
    now = utcnow()
    current = open_post(member)
    if current is not None:
        if current.post_type_id == post.id and current.duty == duty:
            raise PostError(_l("%(name)s 已在“%(post)s”岗位上。", name=member.name, post=post.name))
        current.ended_at, current.ended_by_id = now, actor.id
    assignment = PostAssignment(member_id=member.id, post_type_id=post.id, duty=duty, assigned_by_id=actor.id,
                                assigned_at=now)
    try:
        with db.session.begin_nested():  # the old post ends before the new one (one open post)
            db.session.flush()
            db.session.add(assignment)
    except sa.exc.IntegrityError:
        raise PostError(_l("%(name)s 的岗位刚被他人调整，请刷新后再试。", name=member.name)) from None
    return assignment


def end_post(actor: User, assignment: PostAssignment) -> PostAssignment:
    """End a member's post (it stays in their history)."""
    _require(member_in_scope(actor, assignment.member))
    if assignment.ended_at is not None:
        raise PostError(_l("这个岗位已经结束。"))
    assignment.ended_at, assignment.ended_by_id = utcnow(), actor.id
    return assignment


def assign_post_by_id(actor: User, member: Member, post_id: int | None, duty: str) -> PostAssignment:
    """:func:`assign_post` with the chosen post's id."""
    return assign_post(actor, member, db.session.get(PostType, post_id) if post_id else None, duty)


# --- the post's work ---------------------------------------------------------------------------


def _work_condition(member_id: int, kind: ActivityKind, since: datetime,
                    until: datetime | None) -> sa.ColumnElement[bool]:
    # A union of two indexed lookups, as activities.mine does: an OR across them makes PostgreSQL
    # scan every activity.
    theirs = sa.union(
        sa.select(Activity.id).where(Activity.author_member_id == member_id),
        sa.select(activity_members.c.activity_id).where(activity_members.c.member_id == member_id),
    )
    conditions = [
        Activity.id.in_(theirs),
        Activity.kind == kind, Activity.started_at >= since, Activity.verify_state != VerifyState.RETURNED,
    ]
    if until is not None:
        conditions.append(Activity.started_at < until)
    return sa.and_(*conditions)


@dataclass
class PostWork:
    """What counts as a post's work: the holder's activities of the post's kind since it began
    (returned ones left out), recorded or joined."""

    this_year: int
    total: int
    recent: list[Activity]


def post_work(assignment: PostAssignment, today: date | None = None) -> PostWork | None:
    """The post's work (None when the post names no kind of service): two queries."""
    kind = assignment.post_type.activity_kind
    if kind is None:
        return None
    year_start = day_start(date((today or local_today()).year, 1, 1))
    where = _work_condition(assignment.member_id, kind, assignment.assigned_at, assignment.ended_at)
    total, this_year = db.session.execute(sa.select(
        sa.func.count(Activity.id), sa.func.count(Activity.id).filter(Activity.started_at >= year_start),
    ).where(where)).one()
    recent = list(db.session.scalars(sa.select(Activity).where(where)
                                     .order_by(Activity.started_at.desc()).limit(RECENT_WORK)).unique())
    return PostWork(this_year, total, recent)


def work_this_year(assignments: Sequence[PostAssignment], today: date | None = None) -> dict[int, int]:
    """For a page of current posts: each one's work this year (two queries whatever the number)."""
    result = {a.id: 0 for a in assignments}
    if not result:
        return result
    year_start = day_start(date((today or local_today()).year, 1, 1))
    base = (sa.select(PostAssignment.id, sa.func.count(Activity.id))
            .join(PostType, PostType.id == PostAssignment.post_type_id)
            .where(PostAssignment.id.in_(list(result)), Activity.kind == PostType.activity_kind,
                   Activity.started_at >= PostAssignment.assigned_at, Activity.started_at >= year_start,
                   Activity.verify_state != VerifyState.RETURNED,
                   sa.or_(PostAssignment.ended_at.is_(None), Activity.started_at < PostAssignment.ended_at))
            .group_by(PostAssignment.id))
    authored = base.join(Activity, Activity.author_member_id == PostAssignment.member_id)
    joined = (base.join(activity_members, activity_members.c.member_id == PostAssignment.member_id)
              .join(Activity, Activity.id == activity_members.c.activity_id))
    for stmt in (authored, joined):
        for assignment_id, n in db.session.execute(stmt):
            result[assignment_id] += n
    return result


@dataclass
class MemberPost:
    """A member's post as their page shows it: the current one with its work, and the past ones."""

    current: PostAssignment | None
    work: PostWork | None
    past: list[PostAssignment]


def member_post(member: Member, today: date | None = None) -> MemberPost:
    """The member's current post with its work, and their past posts."""
    assignments = list(db.session.scalars(sa.select(PostAssignment).where(
        PostAssignment.member_id == member.id).order_by(PostAssignment.assigned_at.desc())).unique())
    current = next((a for a in assignments if a.ended_at is None), None)
    return MemberPost(current, post_work(current, today) if current else None,
                      [a for a in assignments if a.ended_at is not None])


# --- the member's home: the same card from Core rows (issue 14) ---------------------------------


@dataclass(frozen=True)
class PostTypeBrief:
    name: str
    activity_kind: ActivityKind | None


@dataclass(frozen=True)
class PostBrief:
    """A post as the card shows it (the attributes of a ``PostAssignment`` the card reads)."""

    id: int
    duty: str
    assigned_at: datetime
    ended_at: datetime | None
    post_type: PostTypeBrief


@dataclass(frozen=True)
class WorkBrief:
    """An activity in the post's recent work (its day, kind and place)."""

    id: int
    started_at: datetime
    kind: ActivityKind
    place: str


@functools.cache
def _brief_statements() -> tuple[sa.Select, sa.Select, sa.Select]:
    """The card's statements, built once: the member's posts with their types; the current post's
    work counted and its latest activities (the conditions of :func:`post_work`)."""
    posts = (sa.select(PostAssignment.id, PostAssignment.duty, PostAssignment.assigned_at, PostAssignment.ended_at,
                       PostType.name, PostType.activity_kind)
             .join(PostType, PostType.id == PostAssignment.post_type_id)
             .where(PostAssignment.member_id == sa.bindparam("member"))
             .order_by(PostAssignment.assigned_at.desc()))
    where = _work_condition(sa.bindparam("member"), sa.bindparam("kind"), sa.bindparam("since"), None)  # type: ignore[arg-type]
    counts = sa.select(sa.func.count(Activity.id),
                       sa.func.count(Activity.id).filter(Activity.started_at >= sa.bindparam("year_start"))).where(where)
    # An activity's place: its station's name, else its address (``Activity.place``).
    recent = (sa.select(Activity.id, Activity.started_at, Activity.kind,
                        sa.func.coalesce(Station.name, Activity.address))
              .outerjoin(Station, Station.id == Activity.station_id).where(where)
              .order_by(Activity.started_at.desc()).limit(RECENT_WORK))
    return posts, counts, recent


def member_post_brief(member_id: int, today: date | None = None) -> MemberPost:
    """:func:`member_post` for the member's home: the same card, read as Core rows (two or three
    statements, built once) instead of ORM objects with their joined relations."""
    posts, counts, recent = _brief_statements()
    assignments = [PostBrief(i, duty or "", at, ended, PostTypeBrief(name, kind))
                   for i, duty, at, ended, name, kind in read_core(posts, {"member": member_id})]
    current = next((a for a in assignments if a.ended_at is None), None)
    work = None
    if current is not None and current.post_type.activity_kind is not None:
        params = {"member": member_id, "kind": current.post_type.activity_kind, "since": current.assigned_at,
                  "year_start": day_start(date((today or local_today()).year, 1, 1))}
        total, this_year = read_core(counts, params).one()
        work = PostWork(this_year, total, [WorkBrief(*row) for row in read_core(recent, params)])  # type: ignore[arg-type]
    return MemberPost(current, work, [a for a in assignments if a.ended_at is not None])  # type: ignore[arg-type]


# --- the admins' lists -------------------------------------------------------------------------


def holders_query(user: User) -> sa.Select[tuple[PostAssignment]]:
    """Current posts of members in the admin's scope, in tree order then by post."""
    return (sa.select(PostAssignment).join(Member, Member.id == PostAssignment.member_id)
            .join(OrgNode, OrgNode.id == Member.grid_id)
            .where(scope_condition(user), PostAssignment.ended_at.is_(None))
            .order_by(OrgNode.path, PostAssignment.post_type_id, PostAssignment.id))


def unposted_query(user: User) -> sa.Select[tuple[Member]]:
    """Active members without office in the admin's scope who hold no post."""
    posted = sa.select(PostAssignment.member_id).where(PostAssignment.ended_at.is_(None))
    return (sa.select(Member).join(OrgNode, OrgNode.id == Member.grid_id)
            .where(scope_condition(user), Member.status == MemberStatus.ACTIVE, ~with_office_condition(),
                   Member.id.not_in(posted))
            .order_by(OrgNode.path, Member.id))


@dataclass
class PostSummary:
    without_office: int
    posted: int

    @property
    def share(self) -> float | None:
        return 100 * self.posted / self.without_office if self.without_office else None


def post_summary(user: User) -> PostSummary:
    """Members without office in the admin's scope, and how many hold a post (one query)."""
    posted = sa.select(PostAssignment.member_id).where(PostAssignment.ended_at.is_(None))
    total, with_post = db.session.execute(
        sa.select(sa.func.count(Member.id), sa.func.count(Member.id).filter(Member.id.in_(posted)))
        .join(OrgNode, OrgNode.id == Member.grid_id)
        .where(scope_condition(user), Member.status == MemberStatus.ACTIVE, ~with_office_condition())).one()
    return PostSummary(total, with_post)


def admin_nodes_for_posts(user: User) -> list[OrgNode]:
    """The nodes an admin may add posts to: their own admin nodes, top first."""
    return sorted(user.admin_nodes, key=lambda n: (len(n.path), n.path))
