"""The nomination state machine (严标准建户).

    community_review ──approve──▶ township_review ──approve (all 联审 无异议)──▶ notice ──establish──▶ established
          │                         │  ▲ sign-off 无异议 (stays)                 │  ▲ objection dismissed
          └─reject─▶ rejected ◀─────┴──┴ reject / a sign-off 有异议               └──┴ objection upheld ─▶ rejected

Each function checks the state, the actor's role at the right node and the inputs, records a step
(who, when, decision, comment), tells whoever must act next, and leaves the commit to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app import policy
from app.clock import local_today
from app.extensions import db
from app.models import (
    CRITERIA,
    CentralHousehold,
    Decision,
    HouseholdEvent,
    HouseholdEventKind,
    HouseholdStatus,
    JointReviewDepartment,
    JointReviewSignoff,
    Member,
    MemberCategory,
    Nomination,
    NominationStatus,
    NominationStep,
    NominationWay,
    NoticeObjection,
    ObjectionStatus,
    OrgLevel,
    OrgNode,
    StepKind,
    TownshipSetting,
    User,
    utcnow,
)
from app.models.nominations import DEFAULT_DEPARTMENTS, DEFAULT_NOTICE_DAYS
from app.phones import normalize_phone
from app.policy import node_in_scope, scope_condition
from app.services import entry_tokens, ledger
from app.services.errors import NotAllowed
from app.services.points import sources as points_sources
from app.services.privacy import audit
from app.services.workflow import WorkflowError, admins_for, tell
from app.settings import setting

# The categories a candidate is drawn from (the seed's five groups).
CANDIDATE_CATEGORIES = (
    MemberCategory.VILLAGE_COMMITTEE,
    MemberCategory.GRID_ORG,
    MemberCategory.DEPUTY,
    MemberCategory.EMPLOYED,
    MemberCategory.FIVE_ELDERS,
)
MAX_REASON = 1000
MAX_OBJECTION = 1000


def url_for_nomination(nom: Nomination) -> str:
    # A plain path: services run outside requests too (CLI, tests), where url_for cannot build.
    return f"/nominations/{nom.id}"


# --- where a nomination sits --------------------------------------------------------------------


def _ancestor(grid: OrgNode, level: OrgLevel) -> OrgNode:
    node = policy.node_at(grid, level)
    if node is not None:
        return node
    raise WorkflowError(_l("该党员的网格不在某个村/社区和乡镇之下，无法提名。"))


def _require(allowed: bool) -> None:
    if not allowed:
        raise NotAllowed(_l("您没有在这一步审批的权限。"))


def _require_status(nom: Nomination, *statuses: NominationStatus) -> None:
    if nom.status not in statuses:
        raise WorkflowError(
            _l("这条提名当前处于“%(status)s”，不能进行这一步。", status=nom.status.label)
        )


def _step(nom: Nomination, kind: StepKind, actor: User | None, decision: Decision | None = None,
          comment: str = "", **kw: object) -> NominationStep:
    step = NominationStep(nomination_id=nom.id, kind=kind, decision=decision,
                          actor_id=actor.id if actor else None, comment=comment, **kw)
    db.session.add(step)
    return step


def _reject(nom: Nomination, reason: str) -> None:
    nom.status = NominationStatus.REJECTED
    nom.rejection_reason = reason
    nom.closed_at = utcnow()
    tell(
        [nom.candidate.user_id, nom.opened_by_id],
        _("中心户提名未通过"),
        _("%(name)s 的中心户提名未通过：%(reason)s", name=nom.candidate.name, reason=reason),
        url_for_nomination(nom),
        "nomination",
    )


# --- lists ----------------------------------------------------------------------------------------


def in_scope(user: User, status: str = "open") -> sa.Select[tuple[Nomination]]:
    """Nominations of the communities under the user's admin nodes, newest first: the open ones,
    those of one status, or (any other value) all."""
    stmt = (sa.select(Nomination).join(OrgNode, OrgNode.id == Nomination.community_id)
            .where(scope_condition(user)).order_by(Nomination.id.desc()))
    if status == "open":
        return stmt.where(Nomination.status.in_(NominationStatus.open_values()))
    if status in {s.value for s in NominationStatus}:
        return stmt.where(Nomination.status == status)
    return stmt


def status_filter_label(status: str) -> str:
    """The list's status filter in words, as a ledger writes it."""
    if status == "open":
        return _("办理中")
    if status in {s.value for s in NominationStatus}:
        return NominationStatus(status).label
    return _("全部")


def export_list(user: User, status: str, ip: str) -> bytes:
    """The nominations list (one status filter) as a ledger workbook (.xlsx); audited."""
    headers = [_("候选人"), _("村/社区"), _("网格"), _("提名方式"), _("类别"), _("状态"), _("公示截止"),
               _("提名日期"), _("办结日期")]
    rows = [
        [n.candidate.name, n.community.name, n.grid.name, n.way.label, n.category.label,
         n.status.label, n.notice_last_day, n.created_at, n.closed_at]
        for n in db.session.scalars(in_scope(user, status))
    ]
    node_name = "、".join(n.name for n in user.admin_nodes)
    period = _("截至 %(day)s", day=ledger.today_label())
    data = ledger.build_workbook(_("中心户建户提名台账"), node_name, period, headers, rows,
                                 filters=_("状态：%(s)s", s=status_filter_label(status)))
    audit(user.id, "export", "nominations", detail=f"status={status}", ip=ip)
    return data


def of_candidate(member: Member) -> list[Nomination]:
    """Every nomination of ``member``, newest first (their own page follows them)."""
    return list(db.session.scalars(
        sa.select(Nomination).where(Nomination.candidate_id == member.id).order_by(Nomination.id.desc())))


def steps(nom: Nomination) -> list[NominationStep]:
    """The nomination's recorded steps, in order."""
    return list(db.session.scalars(
        sa.select(NominationStep).where(NominationStep.nomination_id == nom.id).order_by(NominationStep.id)))


# --- settings per township ----------------------------------------------------------------------


def notice_days(township: OrgNode) -> int:
    setting = db.session.get(TownshipSetting, township.id)
    return setting.notice_days if setting else DEFAULT_NOTICE_DAYS


def set_notice_days(actor: User, township: OrgNode, days: int) -> None:
    _require(township.level is OrgLevel.TOWNSHIP and node_in_scope(actor, township))
    if not 1 <= days <= 30:
        raise WorkflowError(_l("公示天数应在 1 到 30 天之间。"))
    setting = db.session.get(TownshipSetting, township.id)
    if setting is None:
        setting = TownshipSetting(township_id=township.id)
        db.session.add(setting)
    setting.notice_days = days
    setting.updated_by_id = actor.id
    setting.updated_at = utcnow()


def departments(township: OrgNode) -> list[JointReviewDepartment]:
    """The township's joint-review departments (纪检 and 公安 until the township adds others)."""
    found = list(db.session.scalars(
        sa.select(JointReviewDepartment)
        .where(JointReviewDepartment.township_id == township.id)
        .order_by(JointReviewDepartment.id)
    ))
    return found or [JointReviewDepartment(id=0, township_id=township.id, name=n) for n in DEFAULT_DEPARTMENTS]


def ensure_departments(township: OrgNode) -> list[JointReviewDepartment]:
    """Store the default departments the first time a township needs them (inside a write)."""
    found = list(db.session.scalars(
        sa.select(JointReviewDepartment)
        .where(JointReviewDepartment.township_id == township.id)
        .order_by(JointReviewDepartment.id)
    ))
    if not found:
        found = [JointReviewDepartment(township_id=township.id, name=n) for n in DEFAULT_DEPARTMENTS]
        db.session.add_all(found)
        db.session.flush()
    return found


def add_department(actor: User, township: OrgNode, name: str) -> JointReviewDepartment:
    _require(township.level is OrgLevel.TOWNSHIP and node_in_scope(actor, township))
    name = (name or "").strip()
    if not name or len(name) > 32:
        raise WorkflowError(_l("请填写部门名称（不超过32个字）。"))
    existing = ensure_departments(township)
    if any(d.name == name for d in existing):
        raise WorkflowError(_l("该部门已在联审名单中。"))
    dept = JointReviewDepartment(township_id=township.id, name=name)
    db.session.add(dept)
    db.session.flush()
    return dept


# --- opening -------------------------------------------------------------------------------------


@dataclass
class NominationInput:
    way: NominationWay
    candidate: Member
    category: MemberCategory
    address: str
    reasons: dict[str, str]
    nominator_members: str = ""
    nominator_residents: str = ""


def open_nomination(actor: User, data: NominationInput) -> Nomination:
    """Open a nomination: 自荐 by the member; 联荐 or 组织推荐 by an admin of the candidate's grid."""
    candidate = data.candidate
    if data.way is NominationWay.SELF:
        _require(actor.member is not None and actor.member.id == candidate.id)
    else:
        _require(node_in_scope(actor, candidate.grid))
    if not candidate.is_active:
        raise WorkflowError(_l("该党员已停用，不能提名。"))
    if data.category not in CANDIDATE_CATEGORIES:
        raise WorkflowError(_l("请选择人选类别。"))
    reasons = {col: (data.reasons.get(col) or "").strip() for col, _label in CRITERIA}
    if not any(reasons.values()):
        raise WorkflowError(_l("请至少对照一项标准填写推荐理由。"))
    if any(len(v) > MAX_REASON for v in reasons.values()):
        raise WorkflowError(_l("每项理由不超过 %(n)d 字。", n=MAX_REASON))
    address = (data.address or "").strip()
    if not address:
        raise WorkflowError(_l("请填写中心户住址。"))
    members_names = (data.nominator_members or "").strip()
    residents_names = (data.nominator_residents or "").strip()
    if data.way is NominationWay.JOINT and not (members_names or residents_names):
        raise WorkflowError(_l("联荐须填写联名推荐的党员、群众姓名。"))
    if data.way is not NominationWay.JOINT:
        members_names = residents_names = ""
    if heads_household(candidate):
        raise WorkflowError(_l("该党员已是党员中心户户主。"))
    if open_nomination_of(candidate) is not None:
        raise WorkflowError(_l("该党员已有一条正在办理的提名。"))
    community = _ancestor(candidate.grid, OrgLevel.COMMUNITY)
    township = _ancestor(candidate.grid, OrgLevel.TOWNSHIP)
    nom = Nomination(
        way=data.way, candidate_id=candidate.id, category=data.category, grid_id=candidate.grid_id,
        community_id=community.id, township_id=township.id, address=address[:255],
        nominator_members=members_names, nominator_residents=residents_names,
        opened_by_id=actor.id, status=NominationStatus.COMMUNITY_REVIEW, **reasons,
    )
    db.session.add(nom)
    db.session.flush()
    _step(nom, StepKind.OPENED, actor, comment=data.way.label)
    tell(admins_for(community), _("新的中心户提名待审定"),
         _("%(name)s（%(way)s）待村党组织审定。", name=candidate.name, way=data.way.label),
         url_for_nomination(nom), "nomination")
    return nom


def heads_household(member: Member) -> bool:
    return db.session.scalar(
        sa.select(sa.func.count(CentralHousehold.id)).where(
            CentralHousehold.head_member_id == member.id,
            CentralHousehold.status != HouseholdStatus.REVOKED,
        )
    ) > 0


def open_nomination_of(member: Member) -> Nomination | None:
    return db.session.scalar(
        sa.select(Nomination).where(
            Nomination.candidate_id == member.id,
            Nomination.status.in_(NominationStatus.open_values()),
        )
    )


# --- 村党组织审定 ---------------------------------------------------------------------------------


def community_review(actor: User, nom: Nomination, approve: bool, comment: str) -> None:
    _require_status(nom, NominationStatus.COMMUNITY_REVIEW)
    _require(policy.can_community_review(actor, nom))
    comment = (comment or "").strip()
    if not approve and not comment:
        raise WorkflowError(_l("不同意时请填写理由。"))
    _step(nom, StepKind.COMMUNITY_REVIEW, actor, Decision.APPROVED if approve else Decision.REJECTED, comment)
    if not approve:
        _reject(nom, _("村党组织审定未通过：%(c)s", c=comment))
        return
    nom.status = NominationStatus.TOWNSHIP_REVIEW
    ensure_departments(nom.township)
    tell(admins_for(nom.township), _("中心户提名待乡镇审核联审"),
         _("%(name)s 已通过村党组织审定，请组织联审并审核。", name=nom.candidate.name),
         url_for_nomination(nom), "nomination")


# --- 乡镇审核 + 联审 ------------------------------------------------------------------------------


def signoffs(nom: Nomination) -> list[JointReviewSignoff]:
    return list(db.session.scalars(
        sa.select(JointReviewSignoff).where(JointReviewSignoff.nomination_id == nom.id)
        .order_by(JointReviewSignoff.id)
    ))


def pending_departments(nom: Nomination) -> list[JointReviewDepartment]:
    signed = {s.department_id for s in signoffs(nom)}
    return [d for d in departments(nom.township) if d.id not in signed]


def record_signoff(actor: User, nom: Nomination, department_id: int, no_objection: bool,
                   note: str) -> None:
    """A township admin records a department's sign-off on its behalf. 有异议 ends the nomination."""
    _require_status(nom, NominationStatus.TOWNSHIP_REVIEW)
    _require(policy.can_township_review(actor, nom))
    dept = db.session.get(JointReviewDepartment, department_id)
    if dept is None or dept.township_id != nom.township_id:
        raise WorkflowError(_l("该部门不在本乡镇的联审名单中。"))
    if any(s.department_id == dept.id for s in signoffs(nom)):
        raise WorkflowError(_l("%(dept)s 已经签署过意见。", dept=dept.name))
    note = (note or "").strip()
    if not no_objection and not note:
        raise WorkflowError(_l("有异议时请填写异议内容。"))
    decision = Decision.NO_OBJECTION if no_objection else Decision.OBJECTION
    db.session.add(JointReviewSignoff(nomination_id=nom.id, department_id=dept.id, decision=decision,
                                      note=note, recorded_by_id=actor.id))
    _step(nom, StepKind.JOINT_REVIEW, actor, decision, note, department_id=dept.id)
    if not no_objection:
        _reject(nom, _("%(dept)s联审有异议：%(note)s", dept=dept.name, note=note))


def township_review(actor: User, nom: Nomination, approve: bool, comment: str,
                    now: datetime | None = None) -> None:
    """Approve (only once every department said 无异议) — the public notice starts — or reject."""
    _require_status(nom, NominationStatus.TOWNSHIP_REVIEW)
    _require(policy.can_township_review(actor, nom))
    comment = (comment or "").strip()
    if not approve and not comment:
        raise WorkflowError(_l("不同意时请填写理由。"))
    if approve:
        missing = pending_departments(nom)
        if missing:
            raise WorkflowError(_l("联审尚未完成：%(depts)s 还未签署意见。",
                                   depts="、".join(d.name for d in missing)))
    _step(nom, StepKind.TOWNSHIP_REVIEW, actor, Decision.APPROVED if approve else Decision.REJECTED, comment)
    if not approve:
        _reject(nom, _("乡镇（街道）审核未通过：%(c)s", c=comment))
        return
    now = now or utcnow()
    last_day = notice_last_day(local_today(now), notice_days(nom.township))  # reads before writing
    nom.status = NominationStatus.NOTICE
    nom.notice_started_at = now
    nom.notice_last_day = last_day
    tell([nom.candidate.user_id], _("中心户提名进入公示"),
         _("您的中心户提名已进入村级公示，公示至 %(day)s。", day=nom.notice_last_day.isoformat()),
         url_for_nomination(nom), "nomination")


def notice_last_day(posted_on: date, days: int) -> date:
    """The notice runs ``days`` full days from the day after it is posted: posted on the 10th for
    5 days, it runs the 11th to the 15th and may be ended from the 16th."""
    return posted_on + timedelta(days=days)


# --- 村级公示 --------------------------------------------------------------------------------------


def notice_running(nom: Nomination, today: date | None = None) -> bool:
    return (nom.status is NominationStatus.NOTICE and nom.notice_last_day is not None
            and (today or local_today()) <= nom.notice_last_day)


def notice_over(nom: Nomination, today: date | None = None) -> bool:
    return (nom.status is NominationStatus.NOTICE and nom.notice_last_day is not None
            and (today or local_today()) > nom.notice_last_day)


def objections(nom: Nomination) -> list[NoticeObjection]:
    return list(db.session.scalars(
        sa.select(NoticeObjection).where(NoticeObjection.nomination_id == nom.id).order_by(NoticeObjection.id)
    ))


def open_objections(nom: Nomination) -> list[NoticeObjection]:
    return [o for o in objections(nom) if o.status is ObjectionStatus.OPEN]


def public_notices(today: date | None = None) -> sa.Select[tuple[Nomination]]:
    """Nominations under notice today, for the public page."""
    return (
        sa.select(Nomination)
        .where(Nomination.status == NominationStatus.NOTICE, Nomination.notice_last_day >= (today or local_today()))
        .order_by(Nomination.community_id, Nomination.id)
    )


def on_notice(today: date | None = None) -> list[Nomination]:
    """The nominations of :func:`public_notices`, loaded."""
    return list(db.session.scalars(public_notices(today)).unique())


def lodge_objection(nom: Nomination, phone: str, text: str, today: date | None = None) -> NoticeObjection:
    """Anyone may object while the notice runs; the objection holds the notice until resolved."""
    if not notice_running(nom, today):
        raise WorkflowError(_l("该人选不在公示期内，不能再提出异议。"))
    number = normalize_phone(phone)
    if number is None:
        raise WorkflowError(_l("请填写正确的11位手机号码，便于核实。"))
    text = (text or "").strip()
    if not text:
        raise WorkflowError(_l("请填写异议内容。"))
    if len(text) > MAX_OBJECTION:
        raise WorkflowError(_l("异议内容不超过 %(n)d 字。", n=MAX_OBJECTION))
    objection = NoticeObjection(nomination_id=nom.id, contact_phone=number, text=text)
    db.session.add(objection)
    db.session.flush()
    _step(nom, StepKind.OBJECTION_LODGED, None, objection_id=objection.id)
    tell(admins_for(nom.community), _("公示收到异议"),
         _("%(name)s 的公示收到一条异议，请核实处理。", name=nom.candidate.name),
         url_for_nomination(nom), "nomination")
    return objection


def resolve_objection(actor: User, objection: NoticeObjection, upheld: bool, resolution: str) -> None:
    """Record the outcome: 成立 rejects the nomination; 不成立 lets the notice continue."""
    nom = db.session.get(Nomination, objection.nomination_id)
    assert nom is not None
    _require(policy.can_community_review(actor, nom))
    if objection.status is not ObjectionStatus.OPEN:
        raise WorkflowError(_l("这条异议已经处理过了。"))
    _require_status(nom, NominationStatus.NOTICE)
    resolution = (resolution or "").strip()
    if not resolution:
        raise WorkflowError(_l("请填写核实处理情况。"))
    objection.status = ObjectionStatus.UPHELD if upheld else ObjectionStatus.DISMISSED
    objection.resolution = resolution
    objection.resolved_by_id = actor.id
    objection.resolved_at = utcnow()
    _step(nom, StepKind.OBJECTION_RESOLVED, actor, Decision.UPHELD if upheld else Decision.DISMISSED,
          resolution, objection_id=objection.id)
    points_sources.for_objection(objection, actor)
    if upheld:
        _reject(nom, _("公示异议经核实成立：%(r)s", r=resolution))
    elif notice_over(nom) and not open_objections(nom):
        tell(admins_for(nom.township), _("中心户公示期满"),
             _("%(name)s 公示期满且异议已处理，可以创建。", name=nom.candidate.name),
             url_for_nomination(nom), "nomination")


# --- 创建 -----------------------------------------------------------------------------------------


def next_number(year: int) -> str:
    """YX-2024-001: the district prefix, the year, and the next sequence number of that year."""
    prefix = f"{setting('HOUSEHOLD_NUMBER_PREFIX', 'YX')}-{year}-"
    taken = db.session.scalars(
        sa.select(CentralHousehold.number).where(CentralHousehold.number.startswith(prefix, autoescape=True))
    )
    seqs = [int(n[len(prefix):]) for n in taken if n and n[len(prefix):].isdigit()]
    return f"{prefix}{(max(seqs) + 1 if seqs else 1):03d}"


def can_establish(nom: Nomination, today: date | None = None) -> bool:
    return notice_over(nom, today) and not open_objections(nom)


def establish(actor: User, nom: Nomination, now: datetime | None = None) -> CentralHousehold:
    """Create the household once the notice has ended with no open objection: number, head link,
    plaque token."""
    _require_status(nom, NominationStatus.NOTICE)
    _require(policy.can_township_review(actor, nom))
    now = now or utcnow()
    today = local_today(now)
    if not notice_over(nom, today):
        raise WorkflowError(_l("公示期未满（至 %(day)s），不能创建。", day=nom.notice_last_day.isoformat()))
    if open_objections(nom):
        raise WorkflowError(_l("公示还有未处理的异议，处理后才能创建。"))
    head = nom.candidate
    from app.services.households import ensure_builtin_types

    ensure_builtin_types()
    if heads_household(head):
        raise WorkflowError(_l("该党员已是党员中心户户主。"))
    household = CentralHousehold(
        number=next_number(today.year), head_member_id=head.id, address=nom.address,
        grid_id=nom.grid_id, status=HouseholdStatus.ESTABLISHED, established_on=today,
    )
    db.session.add(household)
    db.session.flush()
    if head.central_household_id and head.central_household_id != household.id:
        db.session.add(HouseholdEvent(household_id=head.central_household_id, kind=HouseholdEventKind.MEMBER_UNLINKED,
                                      member_id=head.id, actor_id=actor.id, detail=_("本人创建为中心户户主")))
    head.central_household_id = household.id
    db.session.add(HouseholdEvent(household_id=household.id, kind=HouseholdEventKind.ESTABLISHED,
                                  member_id=head.id, actor_id=actor.id,
                                  detail=_("提名 #%(id)d 公示期满，创建挂牌", id=nom.id)))
    entry_tokens.current_token(household)
    nom.status = NominationStatus.ESTABLISHED
    nom.household_id = household.id
    nom.closed_at = now
    _step(nom, StepKind.ESTABLISHED, actor, Decision.APPROVED, household.number or "")
    tell([head.user_id], _("您已被确定为党员中心户"),
         _("编号 %(number)s，挂牌二维码已生成。", number=household.number),
         f"/households/{household.id}", "nomination")
    return household


def next_actors_label(nom: Nomination) -> object:
    """What the nomination is waiting for, in words, for lists."""
    if nom.status is NominationStatus.NOTICE:
        return _l("公示中") if notice_running(nom) else _l("公示期满，待创建")
    return nom.status.label
