"""Managing established central households: duties, type, model flag, mentor, the 1+10+15 links,
and adjustment (按程序调整). Every change leaves a HouseholdEvent; nothing is deleted.

Adjustment: community_review ──approve──▶ township_decision ──revoke / new head / keep──▶ closed
                    └──reject (kept)──▶ closed
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

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
    OrgLevel,
    OrgNode,
    ResidentHousehold,
    User,
    utcnow,
)
from app.services.errors import NotAllowed
from app.services.privacy import audit
from app.services.workflow import WorkflowError, administers, admins_for, tell


def _node_at(grid: OrgNode, level: OrgLevel) -> OrgNode:
    for node_id in grid.ancestor_ids:
        node = db.session.get(OrgNode, node_id)
        if node is not None and node.level is level:
            return node
    return grid


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
    _require(any(n.level is OrgLevel.DISTRICT for n in actor.admin_nodes))
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


# --- duties, type, model flag, mentor -------------------------------------------------------------


def set_profile(actor: User, hh: CentralHousehold, duties: Iterable[Duty], type_id: int | None,
                is_model: bool) -> None:
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
    if is_model and not hh.is_model:
        hh.is_model, hh.model_granted_at, hh.model_granted_by_id = True, utcnow(), actor.id
        _event(hh, HouseholdEventKind.MODEL_GRANTED, actor)
    elif not is_model and hh.is_model:
        # The grant stays readable in the history; the flag and its date are cleared together.
        hh.is_model, hh.model_granted_at, hh.model_granted_by_id = False, None, None
        _event(hh, HouseholdEventKind.MODEL_REMOVED, actor)


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
        _require(administers(actor, mentor.grid))
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
        _require(administers(actor, m.grid))
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
        _require(administers(actor, member.grid))
        if not member.is_active:
            raise WorkflowError(_l("%(name)s 已停用，不能联系群众户。", name=member.name))
    n = 0
    for r in residents:
        _require(administers(actor, r.grid))
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


def adjustment_community_review(actor: User, adj: HouseholdAdjustment, approve: bool, comment: str) -> None:
    hh = adj.household
    if adj.status is not AdjustmentStatus.COMMUNITY_REVIEW:
        raise WorkflowError(_l("这项调整当前不在村党组织审查这一步。"))
    if not policy.can_review_adjustment(actor, hh):
        raise NotAllowed(_l("您没有在这一步审批的权限。"))
    comment = (comment or "").strip()
    if not comment:
        raise WorkflowError(_l("请填写审查意见。"))
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
    if adj.status is not AdjustmentStatus.TOWNSHIP_DECISION:
        raise WorkflowError(_l("这项调整尚未经村党组织审查，或已办结。"))
    if not policy.can_decide_adjustment(actor, hh):
        raise NotAllowed(_l("您没有在这一步审批的权限。"))
    comment = (comment or "").strip()
    if not comment:
        raise WorkflowError(_l("请填写决定意见。"))
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
