"""What the needs pages list and look up: selects the views paginate, short lists, choices.

Nothing here changes data. Scope comes from ``policy.scope_condition`` so every admin list shows
the admin's part of the tree only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import aliased, joinedload

from app import policy
from app.extensions import db, read_core
from app.models import (
    CentralHousehold,
    EventKind,
    HasSummary,
    Member,
    MemberStatus,
    Need,
    NeedBreach,
    NeedCategory,
    NeedEvent,
    NeedHandler,
    NeedOutcome,
    NeedRating,
    NeedSla,
    NeedStatus,
    OrgLevel,
    OrgNode,
    Station,
    User,
    VoiceClip,
)
from app.phones import normalize_phone
from app.policy import scope_condition
from app.services import ledger
from app.services.needs.common import OPEN_STATES
from app.services.needs.deadlines import overdue_condition
from app.services.needs.workflow import normalize_code
from app.services.privacy import audit, mask_phone

# The inbox's tabs (besides "household", the head's view of their members' open needs).
INBOX_STATES = {
    "submitted": (NeedStatus.SUBMITTED,),
    "accepted": (NeedStatus.ACCEPTED,),
    "in_progress": (NeedStatus.IN_PROGRESS,),
    "closed": (NeedStatus.RESOLVED, NeedStatus.RATED),
}
# Enough for a screen; the lists are work queues, not archives.
DISPATCH_LIMIT = 100


# --- Visibility ------------------------------------------------------------------------------


def shown_phone(user: User, need: Need) -> str:
    """The resident's phone as this user may see it (masked outside the owner chain)."""
    return need.contact_phone or "" if policy.can_see_need_phone(user, need) else mask_phone(need.contact_phone)


def member_needs_condition(member: Member) -> sa.ColumnElement[bool]:
    """SQL: needs the member holds or held, plus (head only) the household's non-dispute needs."""
    ch = member.central_household
    return _needs_condition(member.id, ch.id if ch is not None and ch.head_member_id == member.id else None)


def _needs_condition(member_id: int, headed_id: int | None) -> sa.ColumnElement[bool]:
    """:func:`member_needs_condition` from ids: ``headed_id`` is the household the member heads."""
    cond = Need.id.in_(sa.select(NeedHandler.need_id).where(NeedHandler.member_id == member_id))
    if headed_id is not None:
        cond = sa.or_(cond, sa.and_(Need.central_household_id == headed_id, Need.category != NeedCategory.DISPUTE))
    return cond


def timeline(need: Need, public: bool) -> list[NeedEvent]:
    """The need's events in order; ``public``: without internal notes."""
    # The recordings' lengths and types are shown on each line: loaded with the events, not one by one.
    stmt = sa.select(NeedEvent).where(NeedEvent.need_id == need.id).options(joinedload(NeedEvent.voice_clip))
    if public:
        stmt = stmt.where(NeedEvent.internal.is_(False))
    return list(db.session.scalars(stmt.order_by(NeedEvent.at, NeedEvent.id)))


def need_photo_ids(need: Need, public: bool) -> set[int]:
    """The photos of the need and its timeline (``public``: not of internal notes)."""
    ids = {e.photo_id for e in timeline(need, public) if e.photo_id}
    if need.photo_id:
        ids.add(need.photo_id)
    return ids


def need_voice_ids(need: Need, public: bool) -> set[int]:
    """The voice clips of the need and its timeline (``public``: not of internal notes)."""
    ids = {e.voice_clip_id for e in timeline(need, public) if e.voice_clip_id}
    if need.voice_clip_id:
        ids.add(need.voice_clip_id)
    return ids


# --- Residents -------------------------------------------------------------------------------


def need_by_token(token: str) -> Need | None:
    """The need behind a tracking link (never a hidden one)."""
    if not token or len(token) > 32:
        return None
    # Its owner comes in the same query: the tracking page names them.
    return db.session.scalar(sa.select(Need).where(Need.token == token, Need.hidden_at.is_(None))
                             .options(joinedload(Need.owner_member), joinedload(Need.owner_node)))


# --- the tracking page, read as Core rows (issue 14) --------------------------------------------


@dataclass(frozen=True)
class ClipBrief:
    """A voice clip as a player shows it (the ``VoiceClip`` attributes the page reads)."""

    id: int
    mime: str
    duration_ms: int

    @property
    def seconds(self) -> int:
        return max(1, round(self.duration_ms / 1000))


@dataclass(frozen=True)
class _Named:
    name: str


@dataclass(frozen=True)
class TrackedNeed:
    """A need as its tracking page shows it: the attributes of a ``Need`` the page reads, its owner
    and its recording, from one Core row."""

    id: int
    token: str
    code: str
    category: NeedCategory
    status: NeedStatus
    text: str
    submitted_at: datetime
    photo_id: int | None
    outcome: NeedOutcome | None
    outcome_note: str
    referred_to: str
    rating: NeedRating | None
    reopen_count: int
    contact_phone: str | None
    voice_clip: ClipBrief | None
    owner_member: _Named | None
    owner_node: _Named | None


@dataclass(frozen=True)
class EventBrief:
    """A public timeline line (the ``NeedEvent`` attributes the page reads)."""

    kind: EventKind
    at: datetime
    actor_label: str
    text: str
    internal: bool
    to_label: str
    photo_id: int | None
    voice_clip_id: int | None
    voice_clip: ClipBrief | None


def _tracking_statements() -> tuple[sa.Select, sa.Select]:
    owner_user = aliased(User)
    owner_member = aliased(Member)
    owner_node = aliased(OrgNode)
    need = (
        sa.select(Need.id, Need.token, Need.code, Need.category, Need.status, Need.text, Need.submitted_at,
                  Need.photo_id, Need.outcome, Need.outcome_note, Need.referred_to, Need.rating, Need.reopen_count,
                  Need.contact_phone, VoiceClip.id, VoiceClip.mime, VoiceClip.duration_ms, owner_user.name,
                  owner_node.name)
        .outerjoin(VoiceClip, VoiceClip.id == Need.voice_clip_id)
        .outerjoin(owner_member, owner_member.id == Need.owner_member_id)
        .outerjoin(owner_user, owner_user.id == owner_member.user_id)
        .outerjoin(owner_node, owner_node.id == Need.owner_node_id)
        .where(Need.token == sa.bindparam("token"), Need.hidden_at.is_(None))
    )
    events = (
        sa.select(NeedEvent.kind, NeedEvent.at, NeedEvent.actor_label, NeedEvent.text, NeedEvent.internal,
                  NeedEvent.to_label, NeedEvent.photo_id, NeedEvent.voice_clip_id, VoiceClip.mime,
                  VoiceClip.duration_ms)
        .outerjoin(VoiceClip, VoiceClip.id == NeedEvent.voice_clip_id)
        .where(NeedEvent.need_id == sa.bindparam("need"), NeedEvent.internal.is_(False))
        .order_by(NeedEvent.at, NeedEvent.id)
    )
    return need, events


_TRACKED, _PUBLIC_EVENTS = _tracking_statements()


def tracked_by_token(token: str) -> TrackedNeed | None:
    """:func:`need_by_token` for the tracking page: the need (never a hidden one) with its owner's
    name and its recording, one Core row from a statement built once."""
    if not token or len(token) > 32:
        return None
    row = read_core(_TRACKED, {"token": token}).first()
    if row is None:
        return None
    *fields, clip_id, mime, duration, owner_name, node_name = row
    return TrackedNeed(*fields, voice_clip=ClipBrief(clip_id, mime, duration) if clip_id is not None else None,
                       owner_member=_Named(owner_name) if owner_name is not None else None,
                       owner_node=_Named(node_name) if node_name is not None else None)


def public_timeline(need_id: int) -> list[EventBrief]:
    """:func:`timeline` with ``public``: the need's events without internal notes, in order."""
    return [EventBrief(*r[:8], ClipBrief(r[7], r[8], r[9]) if r[7] is not None else None)
            for r in read_core(_PUBLIC_EVENTS, {"need": need_id})]


def tracked_need(code: str, phone: str) -> Need | None:
    """The need with this short code filed with this phone: either alone finds nothing (nor does
    a phone that is not one — never ``IS NULL``, which an erased need's phone is)."""
    number = normalize_phone(phone)
    if number is None:
        return None
    return db.session.scalar(sa.select(Need).where(Need.code == normalize_code(code),
                                                   Need.contact_phone == number,
                                                   Need.hidden_at.is_(None)))


def mine_select(user: User) -> sa.Select:
    """A registered resident's needs: every need filed with their phone, newest first."""
    return (sa.select(Need).where(Need.contact_phone == user.phone, Need.hidden_at.is_(None))
            .order_by(Need.submitted_at.desc()))


def community_choices() -> list[tuple[int, str]]:
    """Every village/community as "township · community", for the public form."""
    parent = aliased(OrgNode)
    rows = db.session.execute(
        sa.select(OrgNode.id, OrgNode.name, parent.name)
        .join(parent, parent.id == OrgNode.parent_id)
        .where(OrgNode.level == OrgLevel.COMMUNITY)
        .order_by(parent.name, OrgNode.name)
    ).all()
    return [(i, f"{p} · {name}") for i, name, p in rows]


def community_by_id(node_id: int | None) -> OrgNode | None:
    """The village/community chosen on the public form; None for anything else."""
    node = db.session.get(OrgNode, node_id) if node_id else None
    return node if node is not None and node.level is OrgLevel.COMMUNITY else None


def poster_station(station_id: int | None) -> Station | None:
    """The station whose poster the resident scanned (``?station=``), if any."""
    return db.session.get(Station, station_id) if station_id else None


# --- Members ---------------------------------------------------------------------------------


def inbox_state(raw: str | None) -> str:
    """The tab asked for, or 待响应 when there is no such tab."""
    return raw if raw is not None and (raw in INBOX_STATES or raw == "household") else "submitted"


def inbox_labels() -> dict[str, str]:
    """The inbox tabs' names."""
    return {"submitted": _("待响应"), "accepted": _("已接单"), "in_progress": _("办理中"),
            "closed": _("已办结"), "household": _("本户党员")}


@dataclass(frozen=True)
class InboxRow(HasSummary):
    """A need as a line of the inbox shows it (one Core row, no ORM object: issue 14)."""

    id: int
    category: NeedCategory
    text: str | None
    status: NeedStatus
    accept_due_at: datetime
    resolve_due_at: datetime | None
    submitted_at: datetime
    reopen_count: int
    owner_member_id: int | None


@dataclass(frozen=True)
class Inbox:
    """One tab of a member's inbox: the select of its rows (``params`` bound), how many needs
    each tab holds, whether the member heads a household (the 本户党员 tab), the tab's length."""

    state: str
    counts: dict[str, int]
    headed_id: int | None
    select: sa.Select
    params: dict[str, object]
    total: int | None

    @property
    def is_head(self) -> bool:
        return self.headed_id is not None


# Built once (issue 14): a member opens the inbox many times a day.
_INBOX_COLUMNS = (Need.id, Need.category, Need.text, Need.status, Need.accept_due_at, Need.resolve_due_at,
                  Need.submitted_at, Need.reopen_count, Need.owner_member_id)
_HELD = sa.and_(Need.owner_member_id == sa.bindparam("member"), Need.hidden_at.is_(None))
_INBOX_COUNTS = sa.select(Need.status, sa.func.count(Need.id)).where(_HELD).group_by(Need.status)
_INBOX_TABS = {state: sa.select(*_INBOX_COLUMNS).where(_HELD, Need.status.in_(states))
               .order_by(Need.status, Need.accept_due_at, Need.id) for state, states in INBOX_STATES.items()}
# The household the member belongs to, when they head it.
_HEADED = (sa.select(CentralHousehold.id).join(Member, Member.central_household_id == CentralHousehold.id)
           .where(Member.id == sa.bindparam("member"), CentralHousehold.head_member_id == sa.bindparam("member")))


def inbox(member_id: int, state: str | None) -> Inbox:
    """The member's inbox at tab ``state`` (待响应 when there is no such tab): the counts per tab
    in one grouped query, the head's household in one indexed lookup; the tab's rows are the
    caller's to page through (its length is the count already made, except 本户党员's)."""
    state = inbox_state(state)
    grouped = dict(read_core(_INBOX_COUNTS, {"member": member_id}).all())
    counts = {k: sum(grouped.get(s, 0) for s in v) for k, v in INBOX_STATES.items()}
    headed_id = read_core(_HEADED, {"member": member_id}).scalar()
    if state == "household" and headed_id is not None:
        cond = sa.and_(_needs_condition(member_id, headed_id), Need.owner_member_id != member_id,
                       Need.hidden_at.is_(None), Need.status.in_(OPEN_STATES))
        select = sa.select(*_INBOX_COLUMNS).where(cond).order_by(Need.status, Need.accept_due_at, Need.id)
        return Inbox(state, counts, headed_id, select, {}, None)
    tab = state if state in _INBOX_TABS else "submitted"
    return Inbox(state, counts, headed_id, _INBOX_TABS[tab], {"member": member_id}, counts[tab])


def breach_count(need: Need) -> int:
    """How many deadlines the need has missed so far."""
    return db.session.scalar(sa.select(sa.func.count(NeedBreach.id)).where(NeedBreach.need_id == need.id)) or 0


def household_member_choices(member: Member | None) -> list[tuple[int, str]]:
    """Whom a head may pass a need to: the household's other active members."""
    if member is None or member.central_household_id is None:
        return []
    rows = db.session.execute(
        sa.select(Member.id, User.name).join(User, User.id == Member.user_id)
        .where(Member.central_household_id == member.central_household_id, Member.id != member.id,
               Member.status == MemberStatus.ACTIVE).order_by(User.name)
    ).all()
    return [(i, n) for i, n in rows]


def assignable_choices(need: Need, admin: User) -> list[tuple[int, str]]:
    """Whom an admin may assign a need to: active members of its community within their scope."""
    rows = db.session.execute(
        sa.select(Member.id, User.name, OrgNode.name).join(User, User.id == Member.user_id)
        .join(OrgNode, OrgNode.id == Member.grid_id)
        .where(OrgNode.under(need.community.path), scope_condition(admin),
               Member.status == MemberStatus.ACTIVE).order_by(OrgNode.name, User.name)
    ).all()
    return [(i, f"{g} · {n}") for i, n, g in rows]


# --- Admins ----------------------------------------------------------------------------------

_LIST_OPTIONS = (joinedload(Need.community), joinedload(Need.owner_member), joinedload(Need.owner_node))


def _queue_select(admin: User) -> sa.Select[tuple[Need]]:
    owner_node = aliased(OrgNode)
    return (sa.select(Need).join(owner_node, owner_node.id == Need.owner_node_id)
            .where(scope_condition(admin, owner_node.path), Need.status.in_(OPEN_STATES),
                   Need.hidden_at.is_(None)))


def _overdue_select(admin: User, now: datetime) -> sa.Select[tuple[Need]]:
    breached = sa.select(NeedBreach.need_id)
    return (sa.select(Need).join(OrgNode, OrgNode.id == Need.node_id)
            .where(scope_condition(admin), Need.hidden_at.is_(None), Need.status.in_(OPEN_STATES),
                   sa.or_(overdue_condition(now), Need.id.in_(breached))))


def _count(stmt: sa.Select) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0


def dispatch_queue(admin: User) -> list[Need]:
    """Open needs held at community or township level (unmatched or escalated) in scope (the
    oldest ``DISPATCH_LIMIT``)."""
    return list(db.session.scalars(
        _queue_select(admin).options(*_LIST_OPTIONS).order_by(Need.submitted_at).limit(DISPATCH_LIMIT)))


def queue_count(admin: User) -> int:
    """How many needs wait in the dispatch queue (all of them, not only those listed)."""
    return _count(_queue_select(admin).with_only_columns(Need.id))


def overdue_needs(admin: User, now: datetime) -> list[Need]:
    """Open needs in scope past a deadline now or ever breached (the oldest ``DISPATCH_LIMIT``)."""
    return list(db.session.scalars(
        _overdue_select(admin, now).options(*_LIST_OPTIONS).order_by(Need.submitted_at)
        .limit(DISPATCH_LIMIT)))


def overdue_count(admin: User, now: datetime) -> int:
    """How many open needs in scope are overdue or were (all of them, not only those listed)."""
    return _count(_overdue_select(admin, now).with_only_columns(Need.id))


def export_dispatch(admin: User, now: datetime, ip: str) -> bytes:
    """The dispatch queue and the overdue list as a two-sheet ledger (.xlsx); audited."""
    headers = [_("编号"), _("类别"), _("内容"), _("村/社区"), _("当前办理"), _("办理层级"), _("状态"),
               _("提交时间"), _("接单期限"), _("办结期限")]

    def rows(found: Iterable[Need]) -> list[list[object]]:
        return [
            [n.code, n.category.label, n.text, n.community.name,
             n.owner_member.name if n.owner_member else (n.owner_node.name if n.owner_node else ""),
             n.owner_level.label, n.status.label, n.submitted_at, n.accept_due_at, n.resolve_due_at]
            for n in found
        ]

    node_name = "、".join(n.name for n in admin.admin_nodes)
    period = _("截至 %(day)s", day=ledger.today_label())
    data = ledger.build_book([
        ledger.Sheet(_("待调度诉求"), node_name, period, headers,
                     rows(db.session.scalars(_queue_select(admin).options(*_LIST_OPTIONS)
                                             .order_by(Need.submitted_at))),
                     _("未办结，由村/社区或乡镇/街道办理")),
        ledger.Sheet(_("超时诉求"), node_name, period, headers,
                     rows(db.session.scalars(_overdue_select(admin, now).options(*_LIST_OPTIONS)
                                             .order_by(Need.submitted_at))),
                     _("未办结，已超时或曾超时")),
    ])
    audit(admin.id, "export", "needs_dispatch", detail=period, ip=ip)
    return data


def sla_nodes(admin: User) -> list[OrgNode]:
    """The nodes an admin may set deadlines for (grids take their community's)."""
    return list(db.session.scalars(
        sa.select(OrgNode).where(scope_condition(admin), OrgNode.level != OrgLevel.GRID).order_by(OrgNode.path)
    ))


def sla_rows(admin: User) -> list[NeedSla]:
    """The deadline settings in the admin's scope, in tree order."""
    return list(db.session.scalars(
        sa.select(NeedSla).join(OrgNode, OrgNode.id == NeedSla.org_node_id)
        .where(scope_condition(admin)).options(joinedload(NeedSla.org_node)).order_by(OrgNode.path)
    ))
