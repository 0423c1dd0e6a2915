"""Outcomes of the yearly evaluation: recorded per member or central household with a reason, by
whom and when; never edited or deleted — withdrawing one is a recorded step of its own (who, when,
why), after which a new outcome of the same kind may be recorded. "按程序调整" opens the household's
adjustment (the workflow of ``app/services/households.py``) and keeps a link to it. The
后备人才库 is the list of live 纳入村级后备人才库 outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from app import policy
from app.clock import local_day
from app.extensions import db
from app.models import (
    CentralHousehold,
    EvaluationOutcome,
    HouseholdStatus,
    Member,
    OrgNode,
    OutcomeKind,
    User,
    utcnow,
)
from app.services import households, ledger
from app.services.errors import NotAllowed, Refused
from app.services.evaluation.figures import Figures, Subject, figures
from app.services.evaluation.sheet import Row, Sheet, compute, score, valid_year
from app.services.privacy import audit

REASON_MAX = 500
MEMBER_KINDS = (OutcomeKind.EXCELLENT_MEMBER, OutcomeKind.RECOMMEND_DEPUTY, OutcomeKind.RESERVE_POOL)
HOUSEHOLD_KINDS = (OutcomeKind.MODEL_HOUSEHOLD, OutcomeKind.ADJUST)


class OutcomeError(Refused):
    """An outcome the rules refuse; ``str()`` is the message for the user."""


def _reason(text: str, empty: object) -> str:
    text = (text or "").strip()
    if not text:
        raise OutcomeError(empty)
    if len(text) > REASON_MAX:
        raise OutcomeError(_l("理由不能超过 %(n)d 个字。", n=REASON_MAX))
    return text


def _live(year: int, kind: OutcomeKind, member: Member | None, household: CentralHousehold | None
          ) -> EvaluationOutcome | None:
    subject = (EvaluationOutcome.member_id == member.id) if member is not None else \
        (EvaluationOutcome.household_id == household.id)  # type: ignore[union-attr]
    return db.session.scalar(sa.select(EvaluationOutcome).where(
        subject, EvaluationOutcome.year == year, EvaluationOutcome.kind == kind,
        EvaluationOutcome.withdrawn_at.is_(None)))


def _already(name: str, year: int, kind: OutcomeKind) -> OutcomeError:
    return OutcomeError(_l("%(name)s 在 %(year)d 年度已有「%(kind)s」的结果；如需重新评定，请先撤回原结果。",
                           name=name, year=year, kind=kind.label))


def _add(outcome: EvaluationOutcome, name: str) -> EvaluationOutcome:
    """Insert, refusing a second live outcome of the same kind even when two admins race (the
    partial unique index answers the second)."""
    try:
        with db.session.begin_nested():
            db.session.add(outcome)
    except sa.exc.IntegrityError:
        raise _already(name, outcome.year, outcome.kind) from None
    return outcome


def _check(actor: User, node: OrgNode, year: int, kind: OutcomeKind, kinds: tuple[OutcomeKind, ...],
           today: date) -> None:
    if not policy.can_evaluate_node(actor, node):
        raise NotAllowed(_l("您没有在这个组织记录评定结果的权限。"))
    if not valid_year(year, today):
        raise OutcomeError(_l("年度不正确。"))
    if kind not in kinds:
        raise OutcomeError(_l("请选择评定结果。"))


def record_for_member(actor: User, node: OrgNode, year: int, member: Member, kind: OutcomeKind,
                      reason: str, today: date) -> EvaluationOutcome:
    """优秀党员 / 推荐为两代表一委员人选 / 纳入村级后备人才库 for a member under ``node``."""
    _check(actor, node, year, kind, MEMBER_KINDS, today)
    if not policy.can_evaluate_member(actor, node, member):
        raise NotAllowed(_l("该党员不在这个组织。"))
    reason = _reason(reason, _l("请填写评定理由。"))
    if not member.is_active:
        raise OutcomeError(_l("%(name)s 已停用，不能记录评定结果。", name=member.name))
    if _live(year, kind, member, None) is not None:
        raise _already(member.name, year, kind)
    return _add(EvaluationOutcome(year=year, org_node_id=node.id, member_id=member.id, kind=kind,
                                  reason=reason, recorded_by_id=actor.id, recorded_at=utcnow()),
                member.name)


def record_for_household(actor: User, node: OrgNode, year: int, household: CentralHousehold,
                         kind: OutcomeKind, reason: str, today: date) -> EvaluationOutcome:
    """示范中心户 / 按程序调整 for a central household under ``node``; 按程序调整 opens the household's
    adjustment with the same reason (refused, with nothing recorded, when it cannot be opened)."""
    _check(actor, node, year, kind, HOUSEHOLD_KINDS, today)
    if not policy.can_evaluate_household(actor, node, household):
        raise NotAllowed(_l("该中心户不在这个组织。"))
    reason = _reason(reason, _l("请填写评定理由。"))
    if household.status is HouseholdStatus.REVOKED:
        raise OutcomeError(_l("该中心户已撤销，不能记录评定结果。"))
    if _live(year, kind, None, household) is not None:
        raise _already(household.name, year, kind)
    outcome = _add(EvaluationOutcome(year=year, org_node_id=node.id, household_id=household.id,
                                     kind=kind, reason=reason, recorded_by_id=actor.id,
                                     recorded_at=utcnow()), household.name)
    if kind is OutcomeKind.ADJUST:
        adjustment = households.open_adjustment(
            actor, household, _("%(year)d年度评定：%(reason)s", year=year, reason=reason))
        outcome.adjustment_id = adjustment.id
    return outcome


def withdraw(actor: User, outcome: EvaluationOutcome, reason: str) -> EvaluationOutcome:
    """Withdraw an outcome, recording who, when and why (the outcome itself stays as it was). An
    adjustment it opened runs on through its own steps."""
    if not policy.can_withdraw_outcome(actor, outcome):
        raise NotAllowed(_l("只有记录这项结果的组织（或上级）才能撤回。"))
    if outcome.withdrawn_at is not None:
        raise OutcomeError(_l("这项结果已经撤回。"))
    outcome.withdraw_reason = _reason(reason, _l("请填写撤回理由。"))
    outcome.withdrawn_at, outcome.withdrawn_by_id = utcnow(), actor.id
    return outcome


def history(member: Member | None = None, household: CentralHousehold | None = None
            ) -> list[EvaluationOutcome]:
    """Every outcome of the member or household, live and withdrawn, newest first (one query)."""
    subject = (EvaluationOutcome.member_id == member.id) if member is not None else \
        (EvaluationOutcome.household_id == household.id)  # type: ignore[union-attr]
    return list(db.session.scalars(
        sa.select(EvaluationOutcome).where(subject)
        .options(joinedload(EvaluationOutcome.recorded_by), joinedload(EvaluationOutcome.withdrawn_by))
        .order_by(EvaluationOutcome.year.desc(), EvaluationOutcome.id.desc())
    ).unique())


# --- the 后备人才库 ---------------------------------------------------------------------------


def reserve_pool(admin: User) -> sa.Select[tuple[EvaluationOutcome]]:
    """The live 纳入村级后备人才库 outcomes of the members in the admin's scope, newest first."""
    return (
        sa.select(EvaluationOutcome)
        .join(Member, Member.id == EvaluationOutcome.member_id)
        .join(OrgNode, OrgNode.id == Member.grid_id)
        .where(EvaluationOutcome.kind == OutcomeKind.RESERVE_POOL, EvaluationOutcome.withdrawn_at.is_(None),
               policy.scope_condition(admin))
        .options(joinedload(EvaluationOutcome.member), joinedload(EvaluationOutcome.recorded_by))
        .order_by(EvaluationOutcome.recorded_at.desc(), EvaluationOutcome.id.desc())
    )


def export_reserve_pool(admin: User, ip: str) -> bytes:
    """The 后备人才库 as a ledger workbook (.xlsx); the export is audited."""
    rows = list(db.session.scalars(reserve_pool(admin)).unique())
    headers = [_("姓名"), _("网格"), _("党员类别"), _("纳入日期"), _("来源评定"), _("记录人"), _("理由")]
    body = [
        [o.member.name, o.member.grid.name, o.member.category.label, local_day(o.recorded_at),
         _("%(year)d年度 · %(node)s", year=o.year, node=o.org_node.name),
         o.recorded_by.name, o.reason]
        for o in rows if o.member is not None
    ]
    node_name = "、".join(n.name for n in policy.scope_roots(admin))
    data = ledger.build_workbook(_("村级后备人才库"), node_name, _("截至 %(d)s", d=ledger.today_label()),
                                 headers, body)
    audit(admin.id, "export", "reserve_pool", detail=f"{len(body)} rows", ip=ip)
    return data


@dataclass
class SubjectView:
    """A member's or household's page in a node's evaluation: their row of the sheet (figures,
    score, rank), how many are ranked, and every outcome they ever had."""

    sheet: Sheet
    row: Row
    history: list[EvaluationOutcome]


def subject_view(subject: Subject, node: OrgNode, year: int, obj: Member | CentralHousehold) -> SubjectView:
    """The subject's row of the node's sheet (rank, score, figures; the sheet's size and maxima)
    and their outcomes (a fixed number of queries)."""
    sheet = compute(subject, node, year, only=[obj.id])
    row = sheet.row_of(obj.id)
    if row is None:  # a stopped member or a revoked household is not ranked: figures alone
        found = figures(subject, [obj.id], year).get(obj.id) or Figures()  # type: ignore[arg-type]
        row = Row.of(obj, found, score(found, sheet.weights.values, sheet.maxima), 0, [])
    members = subject is Subject.MEMBERS
    return SubjectView(sheet, row, history(member=obj if members else None,  # type: ignore[arg-type]
                                           household=None if members else obj))  # type: ignore[arg-type]
