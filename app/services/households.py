"""Managing established central households: duties, type, mentor, the 1+10+15 links,
and adjustment (按程序调整). Every change leaves a HouseholdEvent; nothing is deleted.

Adjustment: community_review ──approve──▶ township_decision ──revoke / new head / keep──▶ closed
                    └──reject (kept)──▶ closed
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased, joinedload, selectinload

from app import policy
from app.extensions import db
from app.models import (
    BUILTIN_HOUSEHOLD_TYPES,
    MENTOR_MAX,
    MENTOR_MIN,
    AdjustmentOutcome,
    AdjustmentStatus,
    AdjustmentStep,
    AdjustmentStepKind,
    CentralHousehold,
    Duty,
    EntryToken,
    HouseholdAdjustment,
    HouseholdDuty,
    HouseholdEvent,
    HouseholdEventKind,
    HouseholdStatus,
    HouseholdType,
    Member,
    MemberStatus,
    Nomination,
    NominationStep,
    OrgLevel,
    OrgNode,
    ResidentHousehold,
    User,
    utcnow,
)
from app.phones import normalize_phone
from app.policy import node_in_scope, scope_condition
from app.services.errors import NotAllowed
from app.services.model_titles import TitleRow, titles_of
from app.services.privacy import audit
from app.services.structure import covered_count, linked_member_counts
from app.services.workflow import WorkflowError, admins_for, tell


def _node_at(grid: OrgNode, level: OrgLevel) -> OrgNode:
    """The grid's community or township (the grid itself when the tree has no such level)."""
    return policy.node_at(grid, level) or grid


def _require(allowed: bool) -> None:
    if not allowed:
        raise NotAllowed(_l("您没有管理这个中心户的权限。"))


def _event(hh: CentralHousehold, kind: HouseholdEventKind, actor: User | None,
           member: Member | None = None, detail: str = "") -> None:
    db.session.add(HouseholdEvent(household_id=hh.id, kind=kind, actor_id=actor.id if actor else None,
                                  member_id=member.id if member else None, detail=detail[:255]))


def _require_live(hh: CentralHousehold) -> None:
    if hh.status is HouseholdStatus.REVOKED:
        raise WorkflowError(_l("该中心户已撤销，不能再修改。"))


# --- types ------------------------------------------------------------------------------------


def ensure_builtin_types() -> None:
    """The three types of the seed exist once any household is managed (call inside a write)."""
    have = set(db.session.scalars(sa.select(HouseholdType.name)))
    for name in BUILTIN_HOUSEHOLD_TYPES:
        if name not in have:
            db.session.add(HouseholdType(name=name, builtin=True))
    db.session.flush()


def types() -> list[HouseholdType]:
    return list(db.session.scalars(sa.select(HouseholdType).order_by(HouseholdType.builtin.desc(), HouseholdType.id)))


def add_type(actor: User, name: str) -> HouseholdType:
    _require(policy.can_add_household_type(actor))
    name = (name or "").strip()
    if not name or len(name) > 32:
        raise WorkflowError(_l("请填写类型名称（不超过32个字）。"))
    ensure_builtin_types()
    if db.session.scalar(sa.select(HouseholdType.id).where(HouseholdType.name == name)):
        raise WorkflowError(_l("已有这个类型。"))
    t = HouseholdType(name=name, builtin=False)
    db.session.add(t)
    db.session.flush()
    return t


# --- duties, type, mentor (the 示范 title: app/services/model_titles.py) ------------------------


def set_profile(actor: User, hh: CentralHousehold, duties: Iterable[Duty], type_id: int | None) -> None:
    _require(policy.can_manage_household(actor, hh))
    _require_live(hh)
    wanted = set(duties)
    if wanted != hh.duty_set:
        hh.duties = [d for d in hh.duties if d.duty in wanted] + [
            HouseholdDuty(household_id=hh.id, duty=d) for d in Duty if d in wanted - hh.duty_set
        ]
        _event(hh, HouseholdEventKind.DUTIES, actor,
               detail="、".join(str(d.label) for d in Duty if d in wanted) or _("无"))
    if type_id != hh.type_id:
        t = db.session.get(HouseholdType, type_id) if type_id else None
        if type_id and t is None:
            raise WorkflowError(_l("请选择有效的类型。"))
        hh.type_id = type_id
        _event(hh, HouseholdEventKind.TYPE, actor, detail=t.name if t else _("无"))


def mentored_counts(mentor_ids: Iterable[int]) -> dict[int, int]:
    ids = list(mentor_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(CentralHousehold.mentor_id, sa.func.count(CentralHousehold.id))
        .where(CentralHousehold.mentor_id.in_(ids), CentralHousehold.status != HouseholdStatus.REVOKED)
        .group_by(CentralHousehold.mentor_id)
    ).all()
    return {mid: n for mid, n in rows}


def mentor_flag(count: int) -> str:
    """'ok' inside 3–5, 'below' or 'above' outside it."""
    if count < MENTOR_MIN:
        return "below"
    if count > MENTOR_MAX:
        return "above"
    return "ok"


def set_mentor(actor: User, hh: CentralHousehold, mentor: Member | None) -> None:
    """Link a Party-organisation secretary as the household's mentor (帮带). Going past five is
    allowed but flagged: the rule is a standard to report against, not a lock."""
    _require(policy.can_manage_household(actor, hh))
    _require_live(hh)
    if mentor is not None:
        if not mentor.is_secretary or not mentor.is_active:
            raise WorkflowError(_l("帮带人须是在册的党组织书记。"))
        _require(node_in_scope(actor, mentor.grid))
    if (mentor.id if mentor else None) == hh.mentor_id:
        return
    hh.mentor_id = mentor.id if mentor else None
    _event(hh, HouseholdEventKind.MENTOR, actor, mentor, detail=mentor.name if mentor else _("取消帮带"))


# --- 1+10+15 links -----------------------------------------------------------------------------


def link_members(actor: User, hh: CentralHousehold, members: Iterable[Member]) -> int:
    """Link members to the household (moving them from another one, which the history records)."""
    _require(policy.can_manage_household(actor, hh))
    _require_live(hh)
    n = 0
    for m in members:
        _require(node_in_scope(actor, m.grid))
        if m.central_household_id == hh.id:
            continue
        if not m.is_active:
            raise WorkflowError(_l("%(name)s 已停用，不能联系。", name=m.name))
        if db.session.scalar(sa.select(CentralHousehold.id).where(
                CentralHousehold.head_member_id == m.id, CentralHousehold.status != HouseholdStatus.REVOKED)):
            raise WorkflowError(_l("%(name)s 是另一中心户的户主。", name=m.name))
        if m.central_household_id:
            old = db.session.get(CentralHousehold, m.central_household_id)
            if old is not None:
                _event(old, HouseholdEventKind.MEMBER_UNLINKED, actor, m, _("转入 %(n)s", n=hh.number or ""))
        m.central_household_id = hh.id
        _event(hh, HouseholdEventKind.MEMBER_LINKED, actor, m)
        n += 1
    return n


def unlink_member(actor: User, hh: CentralHousehold, member: Member) -> None:
    _require(policy.can_manage_household(actor, hh))
    if member.central_household_id != hh.id:
        raise WorkflowError(_l("该党员不在这个中心户。"))
    if member.id == hh.head_member_id:
        raise WorkflowError(_l("户主不能移出，请走按程序调整。"))
    member.central_household_id = None
    _event(hh, HouseholdEventKind.MEMBER_UNLINKED, actor, member)


def assign_residents(actor: User, residents: Iterable[ResidentHousehold], member: Member | None) -> int:
    """Make ``member`` the covering member of each resident household (None: uncover them)."""
    if member is not None:
        _require(node_in_scope(actor, member.grid))
        if not member.is_active:
            raise WorkflowError(_l("%(name)s 已停用，不能联系群众户。", name=member.name))
    n = 0
    for r in residents:
        _require(node_in_scope(actor, r.grid))
        new = member.id if member else None
        if r.covering_member_id != new:
            r.covering_member_id = new
            n += 1
    if n:
        audit(actor.id, "structure.cover", "member", member.id if member else None, detail=f"{n}")
    return n


# --- adjustment (按程序调整) -----------------------------------------------------------------------


def open_adjustment_of(hh: CentralHousehold) -> HouseholdAdjustment | None:
    return db.session.scalar(sa.select(HouseholdAdjustment).where(
        HouseholdAdjustment.household_id == hh.id, HouseholdAdjustment.status != AdjustmentStatus.CLOSED))


def adjustments(hh: CentralHousehold) -> list[HouseholdAdjustment]:
    return list(db.session.scalars(sa.select(HouseholdAdjustment).where(
        HouseholdAdjustment.household_id == hh.id).order_by(HouseholdAdjustment.id)))


def open_adjustment(actor: User, hh: CentralHousehold, reason: str) -> HouseholdAdjustment:
    _require(policy.can_manage_household(actor, hh))
    if hh.status is not HouseholdStatus.ESTABLISHED:
        raise WorkflowError(_l("只有已创建的中心户才能启动调整（当前：%(s)s）。", s=hh.status.label))
    reason = (reason or "").strip()
    if not reason:
        raise WorkflowError(_l("请填写调整理由。"))
    adj = HouseholdAdjustment(household_id=hh.id, reason=reason, opened_by_id=actor.id,
                              status=AdjustmentStatus.COMMUNITY_REVIEW)
    db.session.add(adj)
    db.session.flush()
    db.session.add(AdjustmentStep(adjustment_id=adj.id, kind=AdjustmentStepKind.OPENED, actor_id=actor.id,
                                  comment=reason))
    hh.status = HouseholdStatus.ADJUSTING
    _event(hh, HouseholdEventKind.ADJUSTING, actor, detail=reason)
    tell(admins_for(_node_at(hh.grid, OrgLevel.COMMUNITY)), _("中心户调整待审查"),
         _("%(name)s（%(number)s）已启动按程序调整。", name=hh.name, number=hh.number or ""),
         f"/households/{hh.id}", "adjustment")
    return adj


def _close(adj: HouseholdAdjustment, outcome: AdjustmentOutcome) -> None:
    adj.status = AdjustmentStatus.CLOSED
    adj.outcome = outcome
    adj.closed_at = utcnow()


def _step_comment(adj: HouseholdAdjustment, at: AdjustmentStatus, wrong_step: str, allowed: bool,
                  comment: str, no_comment: str) -> str:
    """What every adjustment step checks, in this order: that the adjustment waits for this step,
    that the actor may take it, and that a comment is given (returned stripped)."""
    if adj.status is not at:
        raise WorkflowError(wrong_step)
    if not allowed:
        raise NotAllowed(_l("您没有在这一步审批的权限。"))
    comment = (comment or "").strip()
    if not comment:
        raise WorkflowError(no_comment)
    return comment


def adjustment_community_review(actor: User, adj: HouseholdAdjustment, approve: bool, comment: str) -> None:
    """The community's review: keep the household (closes the adjustment) or pass it to the township."""
    hh = adj.household
    comment = _step_comment(adj, AdjustmentStatus.COMMUNITY_REVIEW, _l("这项调整当前不在村党组织审查这一步。"),
                            policy.can_review_adjustment(actor, hh), comment, _l("请填写审查意见。"))
    db.session.add(AdjustmentStep(adjustment_id=adj.id, kind=AdjustmentStepKind.COMMUNITY_REVIEW,
                                  decision="approved" if approve else "rejected", actor_id=actor.id,
                                  comment=comment))
    if approve:
        adj.status = AdjustmentStatus.TOWNSHIP_DECISION
        tell(admins_for(_node_at(hh.grid, OrgLevel.TOWNSHIP)), _("中心户调整待乡镇决定"),
             _("%(name)s（%(number)s）的调整已经村党组织审查。", name=hh.name, number=hh.number or ""),
             f"/households/{hh.id}", "adjustment")
    else:
        _close(adj, AdjustmentOutcome.KEPT)
        hh.status = HouseholdStatus.ESTABLISHED
        _event(hh, HouseholdEventKind.KEPT, actor, detail=comment)


def adjustment_decide(actor: User, adj: HouseholdAdjustment, outcome: AdjustmentOutcome, comment: str,
                      new_head: Member | None = None) -> None:
    """The township's decision: revoke, change the head, or keep the household as it is.

    Revoking unlinks the members (they show up in the gap finder to be placed again) and revokes the
    plaque's QR; the household row, its number and every event stay, so the history reads on."""
    hh = adj.household
    comment = _step_comment(adj, AdjustmentStatus.TOWNSHIP_DECISION, _l("这项调整尚未经村党组织审查，或已办结。"),
                            policy.can_decide_adjustment(actor, hh), comment, _l("请填写决定意见。"))
    if outcome is AdjustmentOutcome.NEW_HEAD:
        if new_head is None or not new_head.is_active:
            raise WorkflowError(_l("请选择新的户主（在册党员）。"))
        if new_head.id == hh.head_member_id:
            raise WorkflowError(_l("新户主与原户主相同。"))
        if new_head.central_household_id != hh.id:
            raise WorkflowError(_l("新户主须从本户联系党员中选择。"))
    db.session.add(AdjustmentStep(adjustment_id=adj.id, kind=AdjustmentStepKind.TOWNSHIP_DECISION,
                                  decision=outcome.value, actor_id=actor.id, comment=comment))
    _close(adj, outcome)
    if outcome is AdjustmentOutcome.REVOKED:
        hh.status = HouseholdStatus.REVOKED
        linked = list(db.session.scalars(sa.select(Member).where(Member.central_household_id == hh.id)))
        for m in linked:
            m.central_household_id = None
            _event(hh, HouseholdEventKind.MEMBER_UNLINKED, actor, m, _("中心户撤销"))
        db.session.execute(sa.update(EntryToken).where(
            EntryToken.central_household_id == hh.id, EntryToken.revoked_at.is_(None)).values(revoked_at=utcnow()))
        _event(hh, HouseholdEventKind.REVOKED, actor, detail=comment)
    elif outcome is AdjustmentOutcome.NEW_HEAD:
        assert new_head is not None
        old = hh.head
        adj.new_head_id = new_head.id
        hh.head_member_id = new_head.id
        hh.status = HouseholdStatus.ESTABLISHED
        _event(hh, HouseholdEventKind.HEAD_CHANGED, actor, new_head, _("原户主 %(n)s", n=old.name))
        tell([old.user_id], _("中心户调整已办结"), _("%(number)s：%(outcome)s", number=hh.number or "",
             outcome=outcome.label), f"/households/{hh.id}", "adjustment")
        db.session.flush()
        db.session.expire(hh, ["head"])
    else:
        hh.status = HouseholdStatus.ESTABLISHED
        _event(hh, HouseholdEventKind.KEPT, actor, detail=comment)
    tell([hh.head.user_id], _("中心户调整已办结"),
         _("%(number)s：%(outcome)s", number=hh.number or "", outcome=outcome.label),
         f"/households/{hh.id}", "adjustment")


# --- what the pages read ---------------------------------------------------------------------------


def in_scope(user: User, status: str = "") -> sa.Select[tuple[CentralHousehold]]:
    """The households under the user's admin nodes, optionally of one status (an unknown one: all)."""
    stmt = (sa.select(CentralHousehold).join(OrgNode, OrgNode.id == CentralHousehold.grid_id)
            .options(selectinload(CentralHousehold.model_titles))
            .where(scope_condition(user)).order_by(CentralHousehold.id))
    if status in {s.value for s in HouseholdStatus}:
        stmt = stmt.where(CentralHousehold.status == status)
    return stmt


@dataclass
class ListExtras:
    """What a page of households shows beside each row: linked members and the mentor."""

    counts: dict[int, int]
    mentors: dict[int, Member]


def list_extras(households: list[CentralHousehold]) -> ListExtras:
    """Linked-member counts and mentors for one page of households (two queries, none if empty)."""
    if not households:
        return ListExtras({}, {})
    lm = linked_member_counts()
    counts = dict(db.session.execute(sa.select(lm.c.household_id, lm.c.n).where(
        lm.c.household_id.in_([h.id for h in households]))).all())
    mentor_ids = [h.mentor_id for h in households if h.mentor_id]
    mentors = {m.id: m for m in db.session.scalars(sa.select(Member).where(Member.id.in_(mentor_ids)))}
    return ListExtras(counts, mentors)


def linked(hh: CentralHousehold) -> list[tuple[Member, int]]:
    """The members linked to the household (head included), each with the households they cover."""
    rows = db.session.execute(
        sa.select(Member, covered_count(Member.id))
        .where(Member.central_household_id == hh.id).order_by(Member.id)
    ).unique().all()
    return [(m, n) for m, n in rows]


@dataclass
class Overview:
    """A household's page: its links, its history, its nomination and its adjustments."""

    head_id: int
    linked: list[tuple[Member, int]]
    events: list[HouseholdEvent]
    nomination: Nomination | None
    steps: list[NominationStep]
    adjustments: list[HouseholdAdjustment]
    open_adj: HouseholdAdjustment | None
    titles: list[TitleRow]

    @property
    def linked_count(self) -> int:
        """Active linked members other than the head: what the "≥ 10" rule counts."""
        return sum(1 for m, _n in self.linked if m.id != self.head_id and m.is_active)


def overview(hh: CentralHousehold) -> Overview:
    events = list(db.session.scalars(
        sa.select(HouseholdEvent).where(HouseholdEvent.household_id == hh.id).order_by(HouseholdEvent.id)))
    nomination = db.session.scalar(sa.select(Nomination).where(Nomination.household_id == hh.id))
    steps = list(db.session.scalars(sa.select(NominationStep).where(
        NominationStep.nomination_id == nomination.id).order_by(NominationStep.id))) if nomination else []
    return Overview(head_id=hh.head_member_id, linked=linked(hh), events=events, nomination=nomination,
                    steps=steps, adjustments=adjustments(hh), open_adj=open_adjustment_of(hh),
                    titles=titles_of(hh))


def active_members_in_scope(user: User) -> sa.Select[tuple[Member]]:
    """Active members of the grids under the user's admin nodes."""
    return (sa.select(Member).join(OrgNode, OrgNode.id == Member.grid_id)
            .where(scope_condition(user), Member.status == MemberStatus.ACTIVE))


def secretaries(user: User) -> list[tuple[Member, int]]:
    """The secretaries in the user's scope, each with the households they mentor."""
    found = list(db.session.scalars(active_members_in_scope(user).where(Member.is_secretary)
                                    .order_by(Member.id)).unique())
    counts = mentored_counts(m.id for m in found)
    return [(m, counts.get(m.id, 0)) for m in found]


def find_member(user: User, text: str) -> tuple[Member | None, str | None]:
    """The one active member in the user's scope with this phone number or exact name, or why not."""
    phone = normalize_phone(text)
    cond = User.phone == phone if phone else User.name == text.strip()
    found = list(db.session.scalars(
        active_members_in_scope(user).join(User, User.id == Member.user_id).where(cond).limit(3)).unique())
    if not found:
        return None, _("在您管辖范围内没有找到这名在册党员")
    if len(found) > 1:
        return None, _("有多名同名党员，请改填手机号")
    return found[0], None


def unlinked_near(hh: CentralHousehold) -> list[Member]:
    """Members of the household's community who belong to no household and head none, its own grid
    first (at most 200: the bulk-link form's choices)."""
    community = _node_at(hh.grid, OrgLevel.COMMUNITY)
    heads = sa.select(CentralHousehold.head_member_id).where(CentralHousehold.status != HouseholdStatus.REVOKED)
    return list(db.session.scalars(
        sa.select(Member).join(OrgNode, OrgNode.id == Member.grid_id)
        .where(OrgNode.under(community.path), Member.status == MemberStatus.ACTIVE,
               Member.central_household_id.is_(None), Member.id.not_in(heads))
        .order_by(OrgNode.id != hh.grid_id, Member.id).limit(200)
    ).unique())


def grids_in_scope(user: User) -> list[OrgNode]:
    """The grids under the user's admin nodes, in tree order (at most 500: a select's options)."""
    return list(db.session.scalars(sa.select(OrgNode).where(
        scope_condition(user), OrgNode.level == OrgLevel.GRID).order_by(OrgNode.path).limit(500)))


def coverers_near(grid: OrgNode) -> list[tuple[Member, int]]:
    """Active members of the grid's community who may cover its households, its own grid first,
    each with the households they cover already."""
    community = _node_at(grid, OrgLevel.COMMUNITY)
    rows = db.session.execute(
        sa.select(Member, covered_count(Member.id)).join(OrgNode, OrgNode.id == Member.grid_id)
        .where(OrgNode.under(community.path), Member.status == MemberStatus.ACTIVE)
        .order_by(OrgNode.id != grid.id, Member.id)
    ).unique().all()
    return [(m, n) for m, n in rows]


def residents_of(grid: OrgNode, only_uncovered: bool = False) -> sa.Select[tuple[ResidentHousehold]]:
    """A grid's resident households in address order (only the uncovered ones when asked)."""
    stmt = sa.select(ResidentHousehold).where(ResidentHousehold.grid_id == grid.id)
    if only_uncovered:
        stmt = stmt.where(ResidentHousehold.covering_member_id.is_(None))
    return stmt.order_by(ResidentHousehold.building, ResidentHousehold.unit, ResidentHousehold.room,
                         ResidentHousehold.id)


def covering_members(residents: list[ResidentHousehold]) -> dict[int, Member]:
    """The covering members of a page of resident households, by id."""
    ids = {r.covering_member_id for r in residents if r.covering_member_id}
    if not ids:
        return {}
    return {m.id: m for m in db.session.scalars(sa.select(Member).where(Member.id.in_(ids))).unique()}


# --- steps taken by id (the views hand over what the form posted) ---------------------------------


def set_mentor_by_id(actor: User, hh: CentralHousehold, mentor_id: int | None) -> None:
    """:func:`set_mentor` with the chosen secretary's id (0 or None: no mentor)."""
    set_mentor(actor, hh, db.session.get(Member, mentor_id) if mentor_id else None)


def link_members_by_id(actor: User, hh: CentralHousehold, member_ids: Iterable[int]) -> int:
    """:func:`link_members` with the ticked members' ids."""
    members = list(db.session.scalars(sa.select(Member).where(Member.id.in_(list(member_ids)))).unique())
    return link_members(actor, hh, members)


def adjustment_decide_by_id(actor: User, adj: HouseholdAdjustment, outcome: str, comment: str,
                            new_head_id: int | None) -> None:
    """:func:`adjustment_decide` with the posted outcome and the new head's id."""
    new_head = db.session.get(Member, new_head_id) if new_head_id else None
    adjustment_decide(actor, adj, AdjustmentOutcome(outcome), comment, new_head)


def assign_residents_in(actor: User, grid: OrgNode, resident_ids: Iterable[int], member_id: int | None) -> int:
    """:func:`assign_residents` for the ticked households of one grid (ids from other grids are
    ignored) and the chosen member's id (0 or None: uncover them)."""
    chosen = list(db.session.scalars(sa.select(ResidentHousehold).where(
        ResidentHousehold.id.in_(list(resident_ids)), ResidentHousehold.grid_id == grid.id)).unique())
    member = db.session.get(Member, member_id) if member_id else None
    return assign_residents(actor, chosen, member)


# --- the households ledger (.xlsx) -------------------------------------------------------------

EXPORT_MAX_ROWS = 50_000


def _ledger_row(hh: CentralHousehold, linked: int, community: str | None) -> list[object]:
    from app.models import MIN_MEMBERS_PER_HOUSEHOLD

    live = hh.status is not HouseholdStatus.REVOKED
    return [hh.number or "", hh.name, community or "", hh.grid.name, hh.address, linked,
            linked >= MIN_MEMBERS_PER_HOUSEHOLD if live else "—",
            hh.type.name if hh.type else "", "、".join(str(d.label) for d in Duty if d in hh.duty_set),
            hh.mentor.name if hh.mentor else "", "、".join(str(y) for y in hh.model_years),
            hh.status.label, hh.established_on]


def export_list(user: User, status: str, ip: str) -> bytes:
    """The households list (in the admin's scope, of one status or all) as a ledger workbook
    (.xlsx): the node, the date, the filter, Chinese headers; the linked members counted and the
    community named in the rows' own query. Audited."""
    from app.models import MIN_MEMBERS_PER_HOUSEHOLD
    from app.services import ledger

    lm, community = linked_member_counts(), aliased(OrgNode)
    stmt = (in_scope(user, status).add_columns(sa.func.coalesce(lm.c.n, 0), community.name)
            .outerjoin(lm, lm.c.household_id == CentralHousehold.id)
            .outerjoin(community, community.id == OrgNode.parent_id)
            .options(joinedload(CentralHousehold.mentor)).limit(EXPORT_MAX_ROWS))
    found = db.session.execute(stmt).unique().all()
    headers = [_("编号"), _("户主"), _("村/社区"), _("网格"), _("地址"), _("联系党员"),
               _("不少于%(n)d名", n=MIN_MEMBERS_PER_HOUSEHOLD), _("类型"), _("职责"), _("帮带书记"),
               _("示范年度"), _("状态"), _("建户日期")]
    label = next((s.label for s in HouseholdStatus if s.value == status), _("全部"))
    data = ledger.build_workbook(_("党员中心户台账"), "、".join(n.name for n in policy.scope_roots(user)),
                                 _("截至 %(day)s", day=ledger.today_label()), headers,
                                 [_ledger_row(hh, n, c) for hh, n, c in found], filters=_("状态：%(s)s", s=label))
    audit(user.id, "export", "households", detail=f"status={status or 'all'}; {len(found)} rows", ip=ip)
    return data
