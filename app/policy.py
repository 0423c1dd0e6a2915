"""Who may see and do what: every access rule of the product, as plain predicates.

A predicate takes the acting user and a domain object and answers yes or no; a ``*_condition``
answers the same question in SQL for a list. Nothing here knows about requests, sessions or HTTP:
services call these to refuse a step, and ``app/authz.py`` builds the views' ``*_or_404`` guards on
top of them (404 for what the user may not see, 403 for what they may see but not change).

Org admins hold a node and everything below it (a prefix of ``OrgNode.path``); station admins hold
their stations; a member acts on what is theirs (and only while their member record is active).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Activity,
    CentralHousehold,
    DiaryEntry,
    HouseholdAdjustment,
    HouseholdStatus,
    Member,
    Need,
    NeedHandler,
    Nomination,
    NoticeObjection,
    Notification,
    OrgLevel,
    OrgNode,
    PostAssignment,
    PostType,
    ResidentHousehold,
    Role,
    Station,
    User,
    activity_members,
    activity_residents,
)

# An author may change an activity for a day after recording it; after that only an admin.
ACTIVITY_EDIT_WINDOW = timedelta(hours=24)


# --- who the user is -------------------------------------------------------------------------


def active_member(user: User) -> Member | None:
    """The user's member record while it is active (a stopped member acts on nothing)."""
    member = user.member
    return member if member is not None and member.is_active else None


def is_org_admin(user: User) -> bool:
    return Role.ORG_ADMIN in user.role_set


def heads(user: User, household: CentralHousehold | None) -> bool:
    """Whether the user is the active head of ``household``."""
    member = active_member(user)
    return member is not None and household is not None and household.head_member_id == member.id


# --- the org tree ----------------------------------------------------------------------------


def admin_paths(user: User) -> list[str]:
    """The org paths the user administers (empty for non-admins)."""
    return [s.path for s in user.admin_scopes]


def node_in_scope(user: User, node: OrgNode | None) -> bool:
    """Whether ``node`` is one of the user's admin nodes or below one."""
    if node is None:
        return False
    return any(node.path.startswith(p) for p in admin_paths(user))


def scope_condition(user: User, path_column: sa.ColumnElement[str] = OrgNode.path) -> sa.ColumnElement[bool]:
    """SQL: ``path_column`` lies under one of the user's admin nodes (false for non-admins)."""
    paths = admin_paths(user)
    if not paths:
        return sa.false()
    return sa.or_(*(path_column.startswith(p, autoescape=True) for p in paths))


def bound_scope(count: int, path_column: sa.ColumnElement[str] = OrgNode.path) -> sa.ColumnElement[bool]:
    """``scope_condition`` for ``count`` admin paths given as bound parameters ``scope_0``… (their
    values from ``scope_params``): for a statement built once per number of paths, not per
    request (issue 14)."""
    if not count:
        return sa.false()
    return sa.or_(*(path_column.like(sa.bindparam(f"scope_{i}", type_=sa.String), escape="/")
                    for i in range(count)))


def scope_params(user: User) -> dict[str, str]:
    """The values of ``bound_scope``'s parameters for ``user``: each path as a LIKE prefix."""
    return {f"scope_{i}": like_escaped(p) + "%" for i, p in enumerate(admin_paths(user))}


def like_escaped(text: str) -> str:
    """``text`` matched literally by LIKE … ESCAPE '/' (as SQLAlchemy's ``autoescape`` does)."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def scope_roots(user: User) -> list[OrgNode]:
    """The user's admin nodes without the ones already below another of them."""
    nodes = sorted(user.admin_nodes, key=lambda n: len(n.path))
    roots: list[OrgNode] = []
    for n in nodes:
        if not any(n.path.startswith(r.path) for r in roots):
            roots.append(n)
    return roots


def node_at(node: OrgNode, level: OrgLevel) -> OrgNode | None:
    """``node`` or its ancestor at ``level``."""
    current: OrgNode | None = node
    while current is not None and current.level is not level:
        current = current.parent
    return current


# --- stations and members --------------------------------------------------------------------


def station_in_scope(user: User, station: Station) -> bool:
    """Station admins hold their station; org admins hold every station at or below their node."""
    if station.id in user.admin_station_ids:
        return True
    return node_in_scope(user, station.org_node)


def can_manage_station(user: User, station: Station) -> bool:
    """Changing a station (details, admins, posters) is for org admins over it, not its own admins."""
    return node_in_scope(user, station.org_node)


def member_in_scope(user: User, member: Member) -> bool:
    return node_in_scope(user, member.grid)


# --- central and resident households ---------------------------------------------------------


def can_view_household(user: User, household: CentralHousehold) -> bool:
    """A central household's own page: admins in scope, its head and its linked members."""
    member = active_member(user)
    if member is not None and (member.central_household_id == household.id
                               or household.head_member_id == member.id):
        return True
    return node_in_scope(user, household.grid)


def can_oversee_household(user: User, household: CentralHousehold) -> bool:
    """The work of a household's members (activities, diary, visits): its head, admins in scope."""
    return heads(user, household) or node_in_scope(user, household.grid)


def can_manage_household(user: User, household: CentralHousehold) -> bool:
    """Admins of the household's grid or above (the community organisation runs its households)."""
    return node_in_scope(user, household.grid)


def can_review_adjustment(user: User, household: CentralHousehold) -> bool:
    """The community's admins (or above) review an adjustment first."""
    return node_in_scope(user, node_at(household.grid, OrgLevel.COMMUNITY) or household.grid)


def can_decide_adjustment(user: User, household: CentralHousehold) -> bool:
    """The township's admins (or above) decide it."""
    return node_in_scope(user, node_at(household.grid, OrgLevel.TOWNSHIP) or household.grid)


def can_print_card(user: User, resident: ResidentHousehold) -> bool:
    """A resident household's contact card: its covering member, admins in scope."""
    member = user.member
    if member is not None and resident.covering_member_id == member.id:
        return True
    return node_in_scope(user, resident.grid)


def can_print_plaque(user: User, household: CentralHousehold) -> bool:
    """A central household's door plaque: its head, admins in scope."""
    member = user.member
    if member is not None and household.head_member_id == member.id:
        return True
    return node_in_scope(user, household.grid)


# --- nominations -----------------------------------------------------------------------------


def can_view_nomination(user: User, nom: Nomination) -> bool:
    """Admins of the candidate's community or above; the candidate; whoever opened it."""
    if node_in_scope(user, nom.community):
        return True
    member = user.member
    return (member is not None and member.id == nom.candidate_id) or user.id == nom.opened_by_id


def can_community_review(user: User, nom: Nomination) -> bool:
    return node_in_scope(user, nom.community)


def can_township_review(user: User, nom: Nomination) -> bool:
    return node_in_scope(user, nom.township)


# --- activities and the diary ----------------------------------------------------------------


def is_activity_author(user: User, activity: Activity) -> bool:
    return user.member is not None and user.member.id == activity.author_member_id


def is_activity_admin(user: User, activity: Activity) -> bool:
    return is_org_admin(user) and node_in_scope(user, activity.grid)


def can_view_activity(user: User, activity: Activity) -> bool:
    """The author, fellow members, the covering members of the households served, the head of the
    author's (or the recorded) central household, the station's admins, org admins in scope."""
    if is_activity_author(user, activity) or is_activity_admin(user, activity):
        return True
    if activity.station_id is not None and activity.station_id in user.admin_station_ids:
        return True
    member = active_member(user)
    if member is None:
        return False
    fellow = sa.select(activity_members.c.activity_id).where(
        activity_members.c.activity_id == activity.id, activity_members.c.member_id == member.id
    )
    covering = (
        sa.select(activity_residents.c.activity_id)
        .join(ResidentHousehold, ResidentHousehold.id == activity_residents.c.resident_household_id)
        .where(activity_residents.c.activity_id == activity.id,
               ResidentHousehold.covering_member_id == member.id)
    )
    household_ids = [i for i in (activity.author.central_household_id, activity.central_household_id) if i]
    head = sa.select(CentralHousehold.id).where(
        CentralHousehold.id.in_(household_ids), CentralHousehold.head_member_id == member.id
    )
    return bool(db.session.scalar(sa.select(sa.or_(sa.exists(fellow), sa.exists(covering),
                                                   sa.exists(head)))))


def can_edit_activity(user: User, activity: Activity, now: datetime) -> bool:
    """The author within 24 hours of recording it; after that only an org admin in scope."""
    if is_activity_admin(user, activity):
        return True
    return is_activity_author(user, activity) and now - activity.created_at <= ACTIVITY_EDIT_WINDOW


def can_verify_activity(user: User, activity: Activity) -> bool:
    return activity.station is not None and station_in_scope(user, activity.station)


def can_view_diary_entry(user: User, entry: DiaryEntry) -> bool:
    """The author, the head of the author's central household, admins in scope of the household."""
    member = active_member(user)
    if member is not None:
        if member.id == entry.member_id:
            return True
        household_id = entry.member.central_household_id
        if household_id is not None and db.session.scalar(
            sa.select(CentralHousehold.head_member_id).where(CentralHousehold.id == household_id)
        ) == member.id:
            return True
    return is_org_admin(user) and node_in_scope(user, entry.resident.grid)


# --- needs -----------------------------------------------------------------------------------


def is_need_handler(user: User, need: Need) -> bool:
    """Whether the user's member record holds or held the need."""
    member = user.member
    if member is None:
        return False
    return db.session.get(NeedHandler, (need.id, member.id)) is not None


def can_view_need(user: User, need: Need) -> bool:
    """Members: needs they hold or held, and — except 矛盾纠纷 — those of their household's members
    when they are its head. Admins: needs in their scope. A hidden need: admins in scope only."""
    if need.hidden_at is not None:
        return node_in_scope(user, need.node)
    member = active_member(user)
    if member is not None:
        if is_need_handler(user, need):
            return True
        ch = member.central_household
        if not need.is_dispute and ch is not None and ch.head_member_id == member.id \
                and need.central_household_id == ch.id:
            return True
    return node_in_scope(user, need.node)


def can_act_on_need(user: User, need: Need) -> bool:
    """The current owner acts: the member who holds it, or an admin over the node that holds it."""
    if need.owner_level.is_member_level:
        member = active_member(user)
        return member is not None and member.id == need.owner_member_id
    return node_in_scope(user, need.owner_node)


def can_administer_need(user: User, need: Need) -> bool:
    """Assigning or hiding: org admins over the need's node."""
    return node_in_scope(user, need.node)


def can_see_need_phone(user: User, need: Need) -> bool:
    """The owner chain sees the resident's number: members who held it, admins over the node that
    holds it now. Everyone else sees it masked."""
    if is_need_handler(user, need):
        return True
    return not need.owner_level.is_member_level and node_in_scope(user, need.owner_node)


# --- creating households: types, adjustments, objections ----------------------------------------


def can_add_household_type(user: User) -> bool:
    """Household types are the district's list: only district admins add to it."""
    return any(s.level is OrgLevel.DISTRICT for s in user.admin_scopes)


def can_view_adjustment(user: User, adjustment: HouseholdAdjustment) -> bool:
    """An adjustment is seen by the admins who manage its household."""
    return can_manage_household(user, adjustment.household)


def can_handle_objection(user: User, objection: NoticeObjection) -> bool:
    """An objection to a notice is checked by the candidate's community's admins (or above)."""
    nom = db.session.get(Nomination, objection.nomination_id)
    return nom is not None and can_community_review(user, nom)


def node_at_level_in_scope(*levels: OrgLevel) -> Callable[[User, OrgNode], bool]:
    """A predicate: the node is at one of ``levels`` and in the user's scope (for pages that take a
    township, community or grid)."""
    return lambda user, node: node.level in levels and node_in_scope(user, node)


# --- structure and notifications ----------------------------------------------------------------


def can_administer_resident(user: User, resident: ResidentHousehold) -> bool:
    """A resident household's record (its page, its full phone number): admins whose scope holds
    its grid. Its covering member reaches it through the contact card, not here."""
    return node_in_scope(user, resident.grid)


def owns_notification(user: User, note: Notification) -> bool:
    """A notification is for the user it was sent to, and no one else."""
    return note.user_id == user.id


# --- audit log -------------------------------------------------------------------------------


def can_read_audit_log(user: User) -> bool:
    """Only an org admin of the district reads (and exports) the audit log: it names who saw whom."""
    return any(s.level is OrgLevel.DISTRICT for s in user.admin_scopes)


# --- residents' rights (PIPL) ---------------------------------------------------------------


def can_use_resident_rights(user: User) -> bool:
    """A logged-in resident may download or erase the data of the needs filed with their phone."""
    return bool(getattr(user, "is_authenticated", False)) and user.has_role(Role.RESIDENT)


def resident_needs_condition(phone: str) -> sa.ColumnElement[bool]:
    """SQL: the needs a resident's proven phone opens (hidden ones too: they are their data)."""
    return Need.contact_phone == phone


# --- training (培训) --------------------------------------------------------------------------

from app.models import TrainingMode, TrainingSession  # noqa: E402 — this section's own models


def session_is_for(member: Member, session: TrainingSession) -> bool:
    """A session is for the active members of its node and below (the member's grid or one of
    the nodes above it)."""
    return member.is_active and session.org_node_id in member.grid.ancestor_ids


def is_session_member(user: User, session: TrainingSession) -> bool:
    """Whether the user is an active member the session is for (they study it, complete it)."""
    member = active_member(user)
    return member is not None and session_is_for(member, session)


def can_plan_training(user: User) -> bool:
    """Org admins, at any level, plan sessions for their node or a node below."""
    return is_org_admin(user)


def can_administer_session(user: User, session: TrainingSession) -> bool:
    """Org admins over the session's node: its attendance, its export, cancelling it."""
    return node_in_scope(user, session.org_node)


def can_view_session_attendance(user: User, session: TrainingSession) -> bool:
    """A session's page (attendance list, export): its admins and, when it is held at a station,
    that station's admins (and org admins over the station)."""
    if can_administer_session(user, session):
        return True
    event = session.station_event
    return event is not None and station_in_scope(user, event.station)


def can_mark_attendance(user: User, session: TrainingSession) -> bool:
    """Late arrivals and early leaves are marked on an offline session by whoever sees its list."""
    return (session.mode is TrainingMode.OFFLINE and session.station_event is not None
            and can_view_session_attendance(user, session))


def can_open_training_material(user: User, session: TrainingSession) -> bool:
    """A session's PDF: the members it is for, and those who see its page."""
    return is_session_member(user, session) or can_view_session_attendance(user, session)


def can_view_training_record(user: User, member: Member) -> bool:
    """A member's training record: the member themself, the head of their central household
    (who oversees its members' work), org admins in scope."""
    own = user.member
    if own is not None and own.id == member.id:
        return True
    return member_in_scope(user, member) or heads(user, member.central_household)


def can_view_household_training(user: User, household: CentralHousehold) -> bool:
    """A central household's training record: its head, admins in scope (as its activities)."""
    return can_oversee_household(user, household)


# --- points (党员积分制) ----------------------------------------------------------------------
# A member sees their own points and their rank in their grid (on 我的积分, by being that member);
# everything else of the ledger — rankings, another member's entries, corrections, the rules — is
# for org admins, within their scope.


def can_view_member_points(user: User, member: Member) -> bool:
    """A member's whole ledger: org admins whose scope holds the member's grid."""
    return is_org_admin(user) and member_in_scope(user, member)


def can_correct_points(user: User, member: Member) -> bool:
    """A 更正 (a reversing entry with its reason): the admins who see the member's ledger."""
    return can_view_member_points(user, member)


def can_set_points_rules(user: User, node: OrgNode) -> bool:
    """A node's rules (a new version, a return to the inherited rule): org admins holding it."""
    return is_org_admin(user) and node_in_scope(user, node)


# --- mentoring (帮带) and posts for members without office (无职党员设岗定责) ------------------


def mentors_household(user: User, household: CentralHousehold) -> bool:
    """Whether the user is the household's mentor now (an active member linked as its mentor)."""
    member = active_member(user)
    return member is not None and household.mentor_id == member.id


def member_standing(user: User) -> tuple[int | None, bool, bool]:
    """(member id, active, secretary) of the user's member record. The request's principal
    answers it without loading the record (issue 14); a ``User`` reads its member."""
    known = getattr(user, "member_standing", None)
    if known is not None:
        return known  # type: ignore[no-any-return]
    member = getattr(user, "member", None)
    if member is None:
        return None, False, False
    return member.id, member.is_active, member.is_secretary


def is_mentor(user: User) -> bool:
    """An active member mentoring a household that stands. Only secretaries are linked as mentors
    (``households.set_mentor``), so other members are answered without a query."""
    member_id, active, secretary = member_standing(user)
    if not (active and secretary):
        return False
    return bool(db.session.scalar(sa.select(sa.exists().where(
        CentralHousehold.mentor_id == member_id, CentralHousehold.status != HouseholdStatus.REVOKED))))


def can_view_guidance(user: User, household: CentralHousehold) -> bool:
    """A household's guidance history: its mentor, its head (to read), admins in scope."""
    return (mentors_household(user, household) or heads(user, household)
            or node_in_scope(user, household.grid))


def can_record_guidance(user: User, household: CentralHousehold) -> bool:
    """Only the household's mentor records guidance, while the household stands."""
    return mentors_household(user, household) and household.status is not HouseholdStatus.REVOKED


def can_manage_post_type(user: User, post: PostType) -> bool:
    """A node's posts are changed by the admins over that node."""
    return node_in_scope(user, post.org_node)


def can_view_post_type(user: User, post: PostType) -> bool:
    """Admins see the posts of their nodes, of the nodes below, and of their ancestors."""
    return can_manage_post_type(user, post) or any(p.startswith(post.org_node.path) for p in admin_paths(user))


def post_fits_member(post: PostType, member: Member) -> bool:
    """A member may hold the posts of their grid and of the nodes above it."""
    return member.grid.path.startswith(post.org_node.path)


def can_view_post_assignment(user: User, assignment: PostAssignment) -> bool:
    """A member's post: the member, admins over the member's grid."""
    member = user.member
    return (member is not None and member.id == assignment.member_id) or member_in_scope(user, assignment.member)


# --- evaluation (评先选优) and the model-household campaign (创建示范中心户) ----------------------

from app.models import EvaluationOutcome, ModelCampaign  # noqa: E402 — this section's own models


def can_evaluate_node(user: User, node: OrgNode) -> bool:
    """A node's evaluation sheets, weights and outcomes: org admins of the node or above."""
    return is_org_admin(user) and node_in_scope(user, node)


def can_evaluate_member(user: User, node: OrgNode, member: Member) -> bool:
    """A member on a node's sheet: the node is the admin's, the member's grid lies under it."""
    return can_evaluate_node(user, node) and node.contains(member.grid)


def can_evaluate_household(user: User, node: OrgNode, household: CentralHousehold) -> bool:
    """A central household on a node's sheet: the node is the admin's, the household under it."""
    return can_evaluate_node(user, node) and node.contains(household.grid)


def can_view_outcome(user: User, outcome: EvaluationOutcome) -> bool:
    """An outcome is seen by the admins of its member's or household's grid (or above)."""
    subject = outcome.member if outcome.member is not None else outcome.household
    return subject is not None and is_org_admin(user) and node_in_scope(user, subject.grid)


def can_withdraw_outcome(user: User, outcome: EvaluationOutcome) -> bool:
    """Withdrawing an outcome is for the admins of the node whose evaluation recorded it (or above):
    a community admin sees a district's outcome for their member but cannot undo it."""
    return is_org_admin(user) and node_in_scope(user, outcome.org_node)


def can_manage_campaign(user: User, campaign: ModelCampaign) -> bool:
    """Proposing, deciding and closing: org admins of the campaign's node or above."""
    return is_org_admin(user) and node_in_scope(user, campaign.org_node)


def can_apply_to_campaign(user: User, campaign: ModelCampaign, household: CentralHousehold | None) -> bool:
    """A household applies through its active head, when it lies under the campaign's node and is
    not revoked."""
    return (household is not None and heads(user, household)
            and household.status is not HouseholdStatus.REVOKED
            and campaign.org_node.contains(household.grid))


def can_view_campaign(user: User, campaign: ModelCampaign) -> bool:
    """A campaign is seen by the admins who run it and by the heads of the households it covers."""
    if can_manage_campaign(user, campaign):
        return True
    member = active_member(user)
    if member is None:
        return False
    household = db.session.scalar(sa.select(CentralHousehold).where(
        CentralHousehold.head_member_id == member.id, CentralHousehold.status != HouseholdStatus.REVOKED))
    return can_apply_to_campaign(user, campaign, household)
