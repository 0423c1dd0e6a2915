"""Residents' needs: routing, the workflow state machine, SLA deadlines, escalation, the three rates.

Every change goes through a function here; an illegal one raises :class:`NeedError`, whose text is
the Chinese message for the user. Functions add to the session and never commit; texts to the
resident are queued and leave only when the caller's transaction commits (``app/sms.py``).

The escalation ladder is member → central-household head → community admins → township admins.
A deadline passes when ``now > due`` (a need accepted at exactly 24 h is on time). Each new owner
gets a fresh window, so a need nobody touches reaches the township after at most
3 × (accept SLA + cron period) when routed to an ordinary member (see ``test_needs_escalation``).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from app import policy
from app.extensions import db
from app.models import (
    TEXT_MAX,
    BreachKind,
    CentralHousehold,
    DiaryEntry,
    EventKind,
    HouseholdStatus,
    Member,
    Need,
    NeedBreach,
    NeedCategory,
    NeedEvent,
    NeedHandler,
    NeedOrigin,
    NeedOutcome,
    NeedRating,
    NeedSla,
    NeedStatus,
    OrgLevel,
    OrgNode,
    OwnerLevel,
    Photo,
    ResidentHousehold,
    User,
    utcnow,
)
from app.phones import normalize_phone
from app.policy import node_in_scope
from app.services import notify
from app.services.errors import Refused
from app.services.org import nearest_admin_ids
from app.services.privacy import mask_phone

DEFAULT_ACCEPT_HOURS = 24
DEFAULT_RESOLVE_HOURS = 7 * 24
# Unambiguous when read aloud or copied from paper: no 0/O, 1/I/L.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
NOTE_MAX = 500
RATING_COMMENT_MAX = 200
DUPLICATE_WINDOW = timedelta(days=1)
OPEN_STATES = (NeedStatus.SUBMITTED, NeedStatus.ACCEPTED, NeedStatus.IN_PROGRESS)
CLOSED_STATES = (NeedStatus.RESOLVED, NeedStatus.RATED)
SYSTEM = "系统"
RESIDENT = "群众"


class NeedError(Refused):
    """A change the workflow does not allow, or bad input; ``str()`` is the user's message."""


# --- SLA -------------------------------------------------------------------------------------


def sla_for(node: OrgNode, category: NeedCategory) -> tuple[int, int]:
    """(accept hours, resolve hours) for a need at ``node``: the nearest ancestor with a row wins;
    at one node, the row for the category beats the row for all categories."""
    ancestors = node.ancestor_ids
    rows = db.session.scalars(
        sa.select(NeedSla).where(
            NeedSla.org_node_id.in_(ancestors),
            sa.or_(NeedSla.category.is_(None), NeedSla.category == category),
        )
    ).all()
    if not rows:
        return DEFAULT_ACCEPT_HOURS, DEFAULT_RESOLVE_HOURS
    best = max(rows, key=lambda r: (ancestors.index(r.org_node_id), r.category is not None))
    return best.accept_hours, best.resolve_hours


def set_sla(node: OrgNode, category: NeedCategory | None, accept_hours: int, resolve_hours: int,
            by: User) -> NeedSla:
    """Create or change the SLA row of ``node`` for ``category`` (None: all categories)."""
    if not 0 < accept_hours <= 720:
        raise NeedError(_("接单时限应在 1 到 720 小时之间。"))
    if not accept_hours <= resolve_hours <= 8760:
        raise NeedError(_("办结时限不能短于接单时限，且不超过 8760 小时。"))
    row = db.session.scalar(
        sa.select(NeedSla).where(
            NeedSla.org_node_id == node.id,
            NeedSla.category.is_(None) if category is None else NeedSla.category == category,
        )
    )
    if row is None:
        row = NeedSla(org_node_id=node.id, category=category, accept_hours=0, resolve_hours=0)
        db.session.add(row)
    row.accept_hours, row.resolve_hours = accept_hours, resolve_hours
    row.updated_by_id, row.updated_at = by.id, utcnow()
    return row


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


def owner_label(level: OwnerLevel, member: Member | None, node: OrgNode | None) -> str:
    if member is not None:
        return f"{level.label} {member.name}"
    return f"{node.name if node else ''}{_('管理员')}"


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


# --- Submission ------------------------------------------------------------------------------


def _new_code() -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if db.session.scalar(sa.select(Need.id).where(Need.code == code)) is None:
            return code


def normalize_code(raw: str) -> str:
    return re.sub(r"[\s\-]", "", (raw or "")).upper()


def clean_text(text: str | None) -> str:
    cleaned = (text or "").strip()
    if not cleaned:
        raise NeedError(_("请写下遇到了什么困难。"))
    if len(cleaned) > TEXT_MAX:
        raise NeedError(_("内容不能超过 %(n)d 字，请精简后再提交。", n=TEXT_MAX))
    return cleaned


def find_duplicate(category: NeedCategory, now: datetime, household_id: int | None = None,
                   phone: str | None = None) -> Need | None:
    """An open need of the same category from the same household (or, without a household, the
    same phone) in the last day — the form warns and asks to confirm; it does not refuse."""
    if household_id is None and not phone:
        return None
    who = Need.resident_household_id == household_id if household_id else Need.contact_phone == phone
    return db.session.scalar(
        sa.select(Need).where(
            who,
            Need.category == category,
            Need.submitted_at > now - DUPLICATE_WINDOW,
            Need.hidden_at.is_(None),
        ).limit(1)
    )


def submit_need(
    category: NeedCategory,
    text: str,
    *,
    origin: NeedOrigin,
    household: ResidentHousehold | None = None,
    central: CentralHousehold | None = None,
    community: OrgNode | None = None,
    address: str = "",
    contact_name: str = "",
    contact_phone: str | None = None,
    consent: bool = False,
    photo: Photo | None = None,
    submitted_by: User | None = None,
    now: datetime | None = None,
) -> Need:
    """File a need and route it. Residents come with a card's household, a plaque's central
    household, or a community and an address; a member files on a resident's behalf with
    ``origin=NeedOrigin.MEMBER`` and the household (the diary's "turn into a need").

    For a known household, a missing contact falls back to the household's registered head name
    and phone, so a card page never has to show them."""
    now = now or utcnow()
    text = clean_text(text)
    phone = None
    if contact_phone:
        phone = normalize_phone(contact_phone)
        if phone is None:
            raise NeedError(_("手机号格式不对，请填写 11 位手机号。"))
    if household is not None:
        phone = phone or household.phone
        contact_name = contact_name or household.head_name
    if origin is not NeedOrigin.MEMBER:
        if phone is None:
            raise NeedError(_("请留下联系电话，方便党员联系您。"))
        if not consent:
            raise NeedError(_("请勾选同意我们为办理本诉求使用您的联系方式。"))
    if household is not None:
        route = route_household(household)
    elif central is not None:
        route = route_plaque(central)
    elif community is not None:
        route = route_address(community, address)
    else:
        raise NeedError(_("请选择所在村/社区。"))

    node = route.grid or route.community
    accept_h, resolve_h = sla_for(node, category)
    need = Need(
        token=secrets.token_urlsafe(16),
        code=_new_code(),
        category=category,
        text=text,
        address=(address or "").strip()[:255],
        photo_id=photo.id if photo else None,
        origin=origin,
        status=NeedStatus.SUBMITTED,
        contact_name=(contact_name or "").strip()[:32],
        contact_phone=phone,
        consent_at=now if consent else None,
        submitted_by_id=submitted_by.id if submitted_by else None,
        resident_household_id=route.household.id if route.household else None,
        grid_id=route.grid.id if route.grid else None,
        community_id=route.community.id,
        township_id=route.community.parent_id,
        node_id=node.id,
        member_id=route.member.id if route.member else None,
        central_household_id=route.member.central_household_id if route.member else (
            central.id if central else None),
        owner_level=route.level,
        owner_member_id=route.owner_member.id if route.owner_member else None,
        owner_node_id=route.owner_node.id if route.owner_node else None,
        accept_hours=accept_h,
        resolve_hours=resolve_h,
        first_accept_due_at=now + timedelta(hours=accept_h),
        accept_due_at=now + timedelta(hours=accept_h),
        resolve_due_at=now + timedelta(hours=resolve_h),
        submitted_at=now,
    )
    db.session.add(need)
    db.session.flush()
    by = submitted_by.name if submitted_by else RESIDENT
    _event(need, EventKind.SUBMITTED, now, actor=submitted_by, label=by,
           text=need.origin.label, photo_id=need.photo_id)
    _event(need, EventKind.ROUTED, now, label=SYSTEM, to_level=route.level, to_label=route.label)
    if route.owner_member is not None:
        _add_handler(need, route.owner_member)
    _notify_owner(need, _("新诉求：%(cat)s", cat=category.label), need.text[:80])
    return need


# --- The state machine -----------------------------------------------------------------------

# action → states it may start from. Anything else raises.
ALLOWED: dict[str, tuple[NeedStatus, ...]] = {
    "accept": (NeedStatus.SUBMITTED,),
    "progress": (NeedStatus.ACCEPTED, NeedStatus.IN_PROGRESS),
    "note": OPEN_STATES + CLOSED_STATES,
    "resolve": (NeedStatus.ACCEPTED, NeedStatus.IN_PROGRESS),
    "rate": (NeedStatus.RESOLVED,),
    "pass_on": OPEN_STATES,
    "assign": OPEN_STATES,
}


def _check(need: Need, action: str) -> None:
    if need.hidden_at is not None:
        raise NeedError(_("该诉求已被屏蔽，不能再操作。"))
    if need.status not in ALLOWED[action]:
        raise NeedError(_("该诉求当前为“%(s)s”，不能进行此操作。", s=need.status.label))


def accept(need: Need, actor: User, now: datetime | None = None) -> None:
    now = now or utcnow()
    _check(need, "accept")
    need.status = NeedStatus.ACCEPTED
    need.accepted_at = now
    _event(need, EventKind.ACCEPTED, now, actor=actor)
    notify.queue_sms(need.contact_phone, _("【党员中心户】您反映的诉求（%(code)s）已由%(who)s接单，我们会尽快办理。",
                       code=need.code, who=actor.name))


def add_progress(need: Need, actor: User, text: str, internal: bool = False,
                 photo: Photo | None = None, now: datetime | None = None) -> None:
    """A progress note (moves 已接单 to 办理中) or, with ``internal``, a note the resident never sees."""
    now = now or utcnow()
    text = (text or "").strip()
    if not text:
        raise NeedError(_("请填写进展情况。"))
    if len(text) > NOTE_MAX:
        raise NeedError(_("内容不能超过 %(n)d 字。", n=NOTE_MAX))
    if internal:
        _check(need, "note")
        _event(need, EventKind.NOTE, now, actor=actor, text=text, internal=True,
               photo_id=photo.id if photo else None)
        return
    _check(need, "progress")
    need.status = NeedStatus.IN_PROGRESS
    _event(need, EventKind.PROGRESS, now, actor=actor, text=text, photo_id=photo.id if photo else None)


def resolve(need: Need, actor: User, outcome: NeedOutcome, note: str, referred_to: str = "",
            photo: Photo | None = None, now: datetime | None = None) -> None:
    """Close the need, saying what happened; every outcome needs a note, a referral its addressee."""
    now = now or utcnow()
    _check(need, "resolve")
    note = (note or "").strip()
    referred_to = (referred_to or "").strip()
    if not note:
        raise NeedError(_("请写明办理结果。"))
    if len(note) > NOTE_MAX:
        raise NeedError(_("办理结果不能超过 %(n)d 字。", n=NOTE_MAX))
    if outcome is NeedOutcome.REFERRED and not referred_to:
        raise NeedError(_("请写明转交给了哪个部门。"))
    need.status = NeedStatus.RESOLVED
    need.outcome = outcome
    need.outcome_note = note
    need.referred_to = referred_to[:64] if outcome is NeedOutcome.REFERRED else ""
    need.resolved_at = now
    text = f"{outcome.label}：{note}"
    if need.referred_to:
        text = f"{outcome.label}（{need.referred_to}）：{note}"
    _event(need, EventKind.RESOLVED, now, actor=actor, text=text, photo_id=photo.id if photo else None)
    notify.queue_sms(need.contact_phone, _("【党员中心户】您反映的诉求（%(code)s）已办结：%(outcome)s。欢迎通过查询链接评价。",
                       code=need.code, outcome=outcome.label))


def rate(need: Need, rating: NeedRating, comment: str = "", now: datetime | None = None) -> None:
    """The resident's rating. 不满意 reopens the need to the same owner and counts the reopening."""
    now = now or utcnow()
    _check(need, "rate")
    comment = (comment or "").strip()
    if len(comment) > RATING_COMMENT_MAX:
        raise NeedError(_("评价内容不能超过 %(n)d 字。", n=RATING_COMMENT_MAX))
    need.rating = rating
    need.rating_comment = comment
    need.rated_at = now
    _event(need, EventKind.RATED, now, label=RESIDENT,
           text=f"{rating.label}{'：' + comment if comment else ''}")
    if rating is NeedRating.UNSATISFIED:
        need.status = NeedStatus.IN_PROGRESS
        need.outcome = None
        need.outcome_note = ""
        need.referred_to = ""
        need.resolved_at = None
        need.reopen_count += 1
        need.resolve_due_at = now + timedelta(hours=need.resolve_hours)
        _event(need, EventKind.REOPENED, now, label=SYSTEM,
               text=_("群众不满意，重新办理（第 %(n)d 次）", n=need.reopen_count))
        _notify_owner(need, _("群众不满意，诉求已退回重办"), need.text[:80])
    else:
        need.status = NeedStatus.RATED


def _move(need: Need, level: OwnerLevel, member: Member | None, node: OrgNode | None,
          now: datetime) -> None:
    need.owner_level = level
    need.owner_member_id = member.id if member else None
    need.owner_member = member
    need.owner_node_id = node.id if node else None
    need.owner_node = node
    if member is not None:
        _add_handler(need, member)
    if need.status is NeedStatus.SUBMITTED:
        need.accept_due_at = now + timedelta(hours=need.accept_hours)


def pass_on(need: Need, head: User, to: Member, now: datetime | None = None) -> None:
    """A central household's head hands a need to one of the household's members."""
    now = now or utcnow()
    _check(need, "pass_on")
    if need.owner_level is not OwnerLevel.HEAD or head.member is None or head.member.id != need.owner_member_id:
        raise NeedError(_("只有持有该诉求的中心户户长可以转交。"))
    household_id = head.member.central_household_id
    if to.central_household_id != household_id or not to.is_active or to.id == head.member.id:
        raise NeedError(_("只能转交给本中心户联系的党员。"))
    level = member_level(to)
    _move(need, level, to, None, now)
    need.member_id = to.id
    need.central_household_id = to.central_household_id
    _event(need, EventKind.PASSED, now, actor=head, to_level=level, to_label=owner_label(level, to, None))
    _notify_owner(need, _("户长转交给您一件诉求：%(cat)s", cat=need.category.label), need.text[:80])


def assign(need: Need, admin: User, to: Member, now: datetime | None = None) -> None:
    """A dispatching admin gives a need (queue or escalated) to a member in their scope."""
    now = now or utcnow()
    _check(need, "assign")
    if not to.is_active or not node_in_scope(admin, to.grid):
        raise NeedError(_("只能指派给您管辖范围内的在册党员。"))
    level = member_level(to)
    _move(need, level, to, None, now)
    need.member_id = to.id
    need.central_household_id = to.central_household_id
    if need.grid_id is None and to.grid.parent_id == need.community_id:
        need.grid_id = to.grid_id
        need.node_id = to.grid_id
    _event(need, EventKind.ASSIGNED, now, actor=admin, to_level=level, to_label=owner_label(level, to, None))
    _notify_owner(need, _("您有一件新指派的诉求：%(cat)s", cat=need.category.label), need.text[:80])


def hide(need: Need, admin: User, reason: str, now: datetime | None = None) -> None:
    """Hide an abusive need: kept with its reason, out of every list, rate and escalation."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise NeedError(_("请写明屏蔽原因。"))
    if need.hidden_at is not None:
        raise NeedError(_("该诉求已被屏蔽。"))
    need.hidden_at, need.hidden_reason, need.hidden_by_id = now, reason[:255], admin.id
    _event(need, EventKind.HIDDEN, now, actor=admin, text=reason[:255], internal=True)


# --- Escalation ------------------------------------------------------------------------------


def next_owner(need: Need) -> tuple[OwnerLevel, Member | None, OrgNode | None] | None:
    """One rung up: member → head (if the member has one) → community → township; None at the top."""
    if need.owner_level is OwnerLevel.MEMBER:
        member = need.owner_member
        ch = member.central_household if member else None
        if ch is not None and ch.status is not HouseholdStatus.REVOKED and ch.head.is_active \
                and ch.head_member_id != member.id:  # type: ignore[union-attr]
            return OwnerLevel.HEAD, ch.head, None
        return OwnerLevel.COMMUNITY, None, need.community
    if need.owner_level is OwnerLevel.HEAD:
        return OwnerLevel.COMMUNITY, None, need.community
    if need.owner_level is OwnerLevel.COMMUNITY:
        return OwnerLevel.TOWNSHIP, None, db.session.get(OrgNode, need.township_id)
    return None


def overdue_condition(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        Need.hidden_at.is_(None),
        sa.or_(
            sa.and_(Need.status == NeedStatus.SUBMITTED, Need.accept_due_at < now),
            sa.and_(Need.status.in_((NeedStatus.ACCEPTED, NeedStatus.IN_PROGRESS)), Need.resolve_due_at < now),
        ),
    )


def escalate_overdue(now: datetime | None = None) -> int:
    """Move every need past its deadline one rung up, record the breach against the rung that let
    it pass, restart the deadline for the new owner and tell the new and the old owner. Running it
    again at the same moment finds nothing: every deadline it touched now lies in the future."""
    now = now or utcnow()
    needs = db.session.scalars(sa.select(Need).where(overdue_condition(now)).order_by(Need.id)).all()
    for need in needs:
        kind = BreachKind.ACCEPT if need.status is NeedStatus.SUBMITTED else BreachKind.RESOLVE
        due = need.accept_due_at if kind is BreachKind.ACCEPT else need.resolve_due_at
        db.session.add(NeedBreach(need_id=need.id, level=need.owner_level, owner_member_id=need.owner_member_id,
                                  owner_node_id=need.owner_node_id, kind=kind, due_at=due, at=now))
        old_users = _owner_user_ids(need)
        old_label = owner_label(need.owner_level, need.owner_member, need.owner_node)
        up = next_owner(need)
        if up is not None and up[2] is None and up[1] is None:
            up = None
        text = _("%(who)s%(kind)s", who=old_label, kind=kind.label)
        if up is not None:
            level, member, node = up
            _move(need, level, member, node, now)
            _event(need, EventKind.ESCALATED, now, label=SYSTEM, text=text, to_level=level,
                   to_label=owner_label(level, member, node))
            _notify_owner(need, _("超时上报的诉求：%(cat)s", cat=need.category.label),
                          _("%(old)s%(kind)s，已上报由您办理。", old=old_label, kind=kind.label))
            for uid in old_users:
                notify.notify(uid, _("诉求已超时上报"), _("%(kind)s，已上报给%(new)s。", kind=kind.label,
                              new=owner_label(level, member, node)), url=f"/needs/{need.id}", kind="need")
        else:
            # Top of the ladder: count the breach, remind the township, give it another window.
            _event(need, EventKind.ESCALATED, now, label=SYSTEM, text=text, internal=True)
            _notify_owner(need, _("诉求仍然超时：%(cat)s", cat=need.category.label), text)
        if kind is BreachKind.ACCEPT:
            need.accept_due_at = now + timedelta(hours=need.accept_hours)
        else:
            need.resolve_due_at = now + timedelta(hours=need.resolve_hours)
    return len(needs)


# --- Visibility ------------------------------------------------------------------------------


def shown_phone(user: User, need: Need) -> str:
    return need.contact_phone or "" if policy.can_see_need_phone(user, need) else mask_phone(need.contact_phone)


def member_needs_condition(member: Member) -> sa.ColumnElement[bool]:
    """SQL: needs the member holds or held, plus (head only) the household's non-dispute needs."""
    cond = Need.id.in_(sa.select(NeedHandler.need_id).where(NeedHandler.member_id == member.id))
    ch = member.central_household
    if ch is not None and ch.head_member_id == member.id:
        cond = sa.or_(cond, sa.and_(Need.central_household_id == ch.id, Need.category != NeedCategory.DISPUTE))
    return cond


def timeline(need: Need, public: bool) -> list[NeedEvent]:
    stmt = sa.select(NeedEvent).where(NeedEvent.need_id == need.id)
    if public:
        stmt = stmt.where(NeedEvent.internal.is_(False))
    return list(db.session.scalars(stmt.order_by(NeedEvent.at, NeedEvent.id)))


def need_photo_ids(need: Need, public: bool) -> set[int]:
    ids = {e.photo_id for e in timeline(need, public) if e.photo_id}
    if need.photo_id:
        ids.add(need.photo_id)
    return ids


# --- Rates -----------------------------------------------------------------------------------

GROUPS = ("member", "household", "grid", "community", "township")


@dataclass
class RateRow:
    key: int | None
    name: str
    submitted: int
    accepted_in_time: int
    resolved: int
    rated: int
    satisfied: int

    @staticmethod
    def _pct(n: int, d: int) -> float | None:
        return None if d == 0 else 100.0 * n / d

    @property
    def response_rate(self) -> float | None:
        return self._pct(self.accepted_in_time, self.submitted)

    @property
    def resolution_rate(self) -> float | None:
        return self._pct(self.resolved, self.submitted)

    @property
    def satisfaction_rate(self) -> float | None:
        return self._pct(self.satisfied, self.rated)


def _group_column(group: str) -> sa.ColumnElement[int | None]:
    return {
        "member": Need.member_id,
        "household": Need.central_household_id,
        "grid": Need.grid_id,
        "community": Need.community_id,
        "township": Need.township_id,
    }[group]


def rates(scope: sa.ColumnElement[bool], group: str, start: datetime, end: datetime) -> tuple[list[RateRow], RateRow]:
    """The three rates of 接诉即办 per ``group`` for needs submitted in [start, end) within
    ``scope`` (a condition on OrgNode joined on the need's node). Hidden needs are left out.

    - response rate = needs accepted no later than their first accept deadline ÷ needs submitted;
    - resolution rate = needs now 已办结 or 已评价 ÷ needs submitted;
    - satisfaction rate = needs rated 满意 or 基本满意 ÷ needs rated (latest rating; a reopened need
      keeps its 不满意 until it is rated again).
    Two queries whatever the number of rows: the counts, then the names."""
    col = _group_column(group)
    counts = (
        sa.func.count(Need.id),
        sa.func.count(Need.id).filter(Need.accepted_at <= Need.first_accept_due_at),
        sa.func.count(Need.id).filter(Need.status.in_(CLOSED_STATES)),
        sa.func.count(Need.id).filter(Need.rating.is_not(None)),
        sa.func.count(Need.id).filter(Need.rating.in_((NeedRating.SATISFIED, NeedRating.BASICALLY))),
    )
    where = (scope, Need.hidden_at.is_(None), Need.submitted_at >= start, Need.submitted_at < end)
    result = db.session.execute(
        sa.select(col, *counts).join(OrgNode, OrgNode.id == Need.node_id).where(*where)
        .group_by(col).order_by(col)
    ).all()
    keys = [r[0] for r in result if r[0] is not None]
    names = _names(group, keys)
    rows = [RateRow(r[0], names.get(r[0], _("（未分派）")) if r[0] is not None else _("（未分派）"), *r[1:])
            for r in result]
    rows.sort(key=lambda r: (r.key is None, r.name))
    total = RateRow(None, _("合计"), *(sum(getattr(r, f) for r in rows) for f in
                                      ("submitted", "accepted_in_time", "resolved", "rated", "satisfied")))
    return rows, total


def _names(group: str, keys: list[int]) -> dict[int, str]:
    if not keys:
        return {}
    if group == "member":
        stmt = sa.select(Member.id, User.name).join(User, User.id == Member.user_id).where(Member.id.in_(keys))
        return dict(db.session.execute(stmt).all())
    if group == "household":
        stmt = (sa.select(CentralHousehold.id, User.name, CentralHousehold.number)
                .join(Member, Member.id == CentralHousehold.head_member_id)
                .join(User, User.id == Member.user_id).where(CentralHousehold.id.in_(keys)))
        return {i: f"{n}（{num or '—'}）" for i, n, num in db.session.execute(stmt)}
    stmt = sa.select(OrgNode.id, OrgNode.name).where(OrgNode.id.in_(keys))
    return dict(db.session.execute(stmt).all())


# --- Notifications and texts -----------------------------------------------------------------


def _event(need: Need, kind: EventKind, at: datetime, *, actor: User | None = None, label: str = "",
           text: str = "", internal: bool = False, photo_id: int | None = None,
           to_level: OwnerLevel | None = None, to_label: str = "") -> NeedEvent:
    event = NeedEvent(need_id=need.id, kind=kind, at=at, actor_id=actor.id if actor else None,
                      actor_label=(label or (actor.name if actor else SYSTEM))[:64], text=text[:500],
                      internal=internal, photo_id=photo_id, to_level=to_level, to_label=to_label[:64])
    db.session.add(event)
    return event


def _add_handler(need: Need, member: Member) -> None:
    if db.session.get(NeedHandler, (need.id, member.id)) is None:
        db.session.add(NeedHandler(need_id=need.id, member_id=member.id))


def _owner_user_ids(need: Need) -> list[int]:
    if need.owner_level.is_member_level:
        member = need.owner_member or db.session.get(Member, need.owner_member_id)
        return [member.user_id] if member else []
    node = need.owner_node or db.session.get(OrgNode, need.owner_node_id)
    return nearest_admin_ids(node) if node else []


def _notify_owner(need: Need, title: str, body: str) -> None:
    for uid in _owner_user_ids(need):
        notify.notify(uid, title, body, url=f"/needs/{need.id}", kind="need")


def submit_from_diary(entry: DiaryEntry, now: datetime | None = None) -> Need:
    """The diary's "turn into a need": the member files what they heard on the resident's behalf,
    routed like a contact-card need (to the member covering the household). The diary entry keeps
    the need's id and the need's first timeline entry names the diary, so the link reads both ways."""
    author = entry.member
    need = submit_need(
        NeedCategory.OTHER,
        _("（民情日记 %(date)s）%(text)s", date=entry.entry_date.isoformat(), text=entry.text),
        origin=NeedOrigin.MEMBER,
        household=entry.resident,
        consent=True,
        submitted_by=author.user,
        now=now,
    )
    entry.need_id = need.id
    return need
