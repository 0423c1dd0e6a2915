"""The model-household campaign (创建示范中心户): one per node and year, with criteria the admin
writes. Central households apply through their head (with a statement) or are proposed by an admin
in scope; the admin decides each candidate (评为示范 / 未评上, with a reason) and closes the
campaign, which gives each awarded household the year's dated 示范 title.

    open ──apply / propose──▶ candidates ──decide each──▶ close (all decided) ──▶ titles
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from app import policy
from app.clock import local_day
from app.extensions import db
from app.models import (
    CampaignCandidate,
    CampaignStatus,
    CandidacyDecision,
    CandidacyWay,
    CentralHousehold,
    HouseholdStatus,
    ModelCampaign,
    ModelTitle,
    OrgNode,
    User,
    utcnow,
)
from app.services import ledger
from app.services.errors import NotAllowed, Refused
from app.services.evaluation.figures import Subject
from app.services.evaluation.sheet import FIRST_YEAR, Row, Sheet, compute
from app.services.evaluation.titles import grant_model_title
from app.services.privacy import audit

TITLE_MAX = 64
CRITERIA_MAX = 2000
STATEMENT_MAX = 500


class CampaignError(Refused):
    """A campaign step the rules refuse; ``str()`` is the message for the user."""


def _text(value: str, limit: int, empty: object | None, too_long: object) -> str:
    value = (value or "").strip()
    if empty is not None and not value:
        raise CampaignError(empty)
    if len(value) > limit:
        raise CampaignError(too_long)
    return value


def _manage(actor: User, campaign: ModelCampaign) -> None:
    if not policy.can_manage_campaign(actor, campaign):
        raise NotAllowed(_l("您没有管理这项创建活动的权限。"))


def _open(campaign: ModelCampaign) -> None:
    if campaign.status is not CampaignStatus.OPEN:
        raise CampaignError(_l("这项创建活动已结束。"))


# --- the campaign ----------------------------------------------------------------------------


def create(actor: User, node: OrgNode, year: int, title: str, criteria: str, today: date) -> ModelCampaign:
    """Open the year's campaign at ``node`` (one per node and year)."""
    if not policy.can_evaluate_node(actor, node):
        raise NotAllowed(_l("您没有在这个组织开展创建活动的权限。"))
    if not FIRST_YEAR <= year <= today.year + 1:
        raise CampaignError(_l("年度须在 %(a)d 到 %(b)d 之间。", a=FIRST_YEAR, b=today.year + 1))
    title = _text(title, TITLE_MAX, _l("请填写活动名称。"), _l("活动名称不能超过 %(n)d 个字。", n=TITLE_MAX))
    criteria = _text(criteria, CRITERIA_MAX, _l("请填写评选标准。"),
                     _l("评选标准不能超过 %(n)d 个字。", n=CRITERIA_MAX))
    duplicate = _l("%(node)s 已有 %(year)d 年度的创建活动。", node=node.name, year=year)
    if db.session.scalar(sa.select(ModelCampaign.id).where(ModelCampaign.org_node_id == node.id,
                                                           ModelCampaign.year == year)):
        raise CampaignError(duplicate)
    campaign = ModelCampaign(org_node_id=node.id, year=year, title=title, criteria=criteria,
                             status=CampaignStatus.OPEN, created_by_id=actor.id, created_at=utcnow())
    try:
        with db.session.begin_nested():
            db.session.add(campaign)
    except sa.exc.IntegrityError:
        raise CampaignError(duplicate) from None
    return campaign


def in_scope(admin: User, year: int | None = None) -> sa.Select[tuple[ModelCampaign]]:
    """The campaigns at or below the admin's nodes (of ``year``, or every year), newest year first."""
    stmt = (sa.select(ModelCampaign).join(OrgNode, OrgNode.id == ModelCampaign.org_node_id)
            .where(policy.scope_condition(admin)))
    if year is not None:
        stmt = stmt.where(ModelCampaign.year == year)
    return stmt.order_by(ModelCampaign.year.desc(), OrgNode.path, ModelCampaign.id)


def years_in_scope(admin: User) -> list[int]:
    """The years the admin's campaigns were held in, newest first (the list's year filter)."""
    return list(db.session.scalars(
        sa.select(ModelCampaign.year).join(OrgNode, OrgNode.id == ModelCampaign.org_node_id)
        .where(policy.scope_condition(admin)).distinct().order_by(ModelCampaign.year.desc())))


EXPORT_MAX_ROWS = 50_000


def export_list(admin: User, year: int | None, ip: str = "") -> bytes:
    """The campaigns list (the same year filter) as a ledger workbook (.xlsx): the admin's nodes,
    the date, the filter, Chinese headers; each campaign with its candidates (how many, awarded,
    not awarded, undecided) counted in one grouped query. Audited."""
    campaigns = list(db.session.scalars(in_scope(admin, year).limit(EXPORT_MAX_ROWS)).unique())
    decided = CampaignCandidate.decision
    tally = {cid: (n, awarded, not_awarded, open_) for cid, n, awarded, not_awarded, open_ in db.session.execute(
        sa.select(CampaignCandidate.campaign_id, sa.func.count(),
                  sa.func.count().filter(decided == CandidacyDecision.AWARDED),
                  sa.func.count().filter(decided == CandidacyDecision.NOT_AWARDED),
                  sa.func.count().filter(decided.is_(None)))
        .where(CampaignCandidate.campaign_id.in_([c.id for c in campaigns]))
        .group_by(CampaignCandidate.campaign_id))} if campaigns else {}
    headers = [str(h) for h in (_l("年度"), _l("活动名称"), _l("组织"), _l("状态"), _l("候选户"), _l("评为示范"),
                                _l("未评上"), _l("待评定"), _l("开展日期"), _l("结束日期"), _l("评选标准"))]
    rows = [[c.year, c.title, c.org_node.name, c.status.label, *tally.get(c.id, (0, 0, 0, 0)),
             local_day(c.created_at), local_day(c.closed_at) if c.closed_at else None, c.criteria]
            for c in campaigns]
    filters = str(_l("年度：%(y)s", y=str(_l("%(y)d年度", y=year)) if year else str(_l("全部年度"))))
    data = ledger.build_workbook(str(_l("创建示范中心户活动台账")),
                                 "、".join(n.name for n in policy.scope_roots(admin)),
                                 str(_l("截至 %(day)s", day=ledger.today_label())), headers, rows, filters)
    audit(admin.id, "export", "model_campaigns", detail=f"year={year or 'all'}; {len(rows)} rows", ip=ip)
    return data


def for_household(household: CentralHousehold) -> list[ModelCampaign]:
    """The campaigns at the household's grid or above, open ones first, then newest (one query)."""
    return list(db.session.scalars(
        sa.select(ModelCampaign).where(ModelCampaign.org_node_id.in_(household.grid.ancestor_ids))
        .order_by(ModelCampaign.status == CampaignStatus.CLOSED, ModelCampaign.year.desc(),
                  ModelCampaign.id.desc())
    ))


def headed_household(user: User) -> CentralHousehold | None:
    """The live central household the user's active member record heads, if any."""
    member = policy.active_member(user)
    if member is None:
        return None
    return db.session.scalar(sa.select(CentralHousehold).where(
        CentralHousehold.head_member_id == member.id, CentralHousehold.status != HouseholdStatus.REVOKED))


# --- candidates ------------------------------------------------------------------------------


def candidacy(campaign: ModelCampaign, household: CentralHousehold) -> CampaignCandidate | None:
    return db.session.scalar(sa.select(CampaignCandidate).where(
        CampaignCandidate.campaign_id == campaign.id, CampaignCandidate.household_id == household.id))


def _add(campaign: ModelCampaign, household: CentralHousehold, way: CandidacyWay, statement: str,
         actor: User) -> CampaignCandidate:
    _open(campaign)
    if household.status is HouseholdStatus.REVOKED:
        raise CampaignError(_l("该中心户已撤销，不能参加创建活动。"))
    if not campaign.org_node.contains(household.grid):
        raise CampaignError(_l("该中心户不在这项创建活动的范围内。"))
    twice = _l("%(name)s中心户已是这项创建活动的候选户。", name=household.name)
    if candidacy(campaign, household) is not None:
        raise CampaignError(twice)
    candidate = CampaignCandidate(campaign_id=campaign.id, household_id=household.id, way=way,
                                  statement=statement, proposed_by_id=actor.id, created_at=utcnow())
    try:
        with db.session.begin_nested():
            db.session.add(candidate)
    except sa.exc.IntegrityError:
        raise CampaignError(twice) from None
    return candidate


def apply(actor: User, campaign: ModelCampaign, household: CentralHousehold | None,
          statement: str) -> CampaignCandidate:
    """The household's head applies, with a statement of what the household has done."""
    if not policy.can_apply_to_campaign(actor, campaign, household):
        raise NotAllowed(_l("只有本活动范围内中心户的户主才能申报。"))
    assert household is not None
    statement = _text(statement, STATEMENT_MAX, _l("请填写申报理由。"),
                      _l("申报理由不能超过 %(n)d 个字。", n=STATEMENT_MAX))
    return _add(campaign, household, CandidacyWay.APPLIED, statement, actor)


def propose(actor: User, campaign: ModelCampaign, household: CentralHousehold, statement: str) -> CampaignCandidate:
    """An admin over the campaign proposes a household under its node (推荐理由 optional)."""
    _manage(actor, campaign)
    statement = _text(statement, STATEMENT_MAX, None, _l("推荐理由不能超过 %(n)d 个字。", n=STATEMENT_MAX))
    return _add(campaign, household, CandidacyWay.PROPOSED, statement, actor)


def decide(actor: User, candidate: CampaignCandidate, decision: CandidacyDecision, reason: str) -> CampaignCandidate:
    """评为示范 or 未评上, with a reason; once per candidate, while the campaign is open."""
    _manage(actor, candidate.campaign)
    _open(candidate.campaign)
    if candidate.decision is not None:
        raise CampaignError(_l("这户已经评定过了。"))
    candidate.decision_reason = _text(reason, STATEMENT_MAX, _l("请填写评定理由。"),
                                      _l("评定理由不能超过 %(n)d 个字。", n=STATEMENT_MAX))
    candidate.decision, candidate.decided_by_id, candidate.decided_at = decision, actor.id, utcnow()
    return candidate


def close(actor: User, campaign: ModelCampaign) -> list[ModelTitle]:
    """Close the campaign once every candidate is decided: each household 评为示范 gets the year's
    示范 title (dated, with this campaign)."""
    _manage(actor, campaign)
    _open(campaign)
    listed = candidates(campaign)
    pending = [c for c in listed if c.decision is None]
    if pending:
        raise CampaignError(_l("还有 %(n)d 户候选户未评定，评定完毕才能结束活动。", n=len(pending)))
    campaign.status, campaign.closed_at, campaign.closed_by_id = CampaignStatus.CLOSED, utcnow(), actor.id
    return [grant_model_title(c.household, campaign.year, actor, campaign)
            for c in listed if c.decision is CandidacyDecision.AWARDED]


def candidates(campaign: ModelCampaign) -> list[CampaignCandidate]:
    """The campaign's candidates in the order they came (one query)."""
    return list(db.session.scalars(
        sa.select(CampaignCandidate).where(CampaignCandidate.campaign_id == campaign.id)
        .options(joinedload(CampaignCandidate.household))
        .order_by(CampaignCandidate.id)
    ).unique())


@dataclass
class Candidate:
    """A candidate with its figures and rank on the households sheet of the campaign's node."""

    candidacy: CampaignCandidate
    row: Row | None


def with_figures(campaign: ModelCampaign) -> tuple[list[Candidate], Sheet]:
    """The candidates, each with its row of the year's households sheet at the campaign's node
    (the same computation as the sheet; a fixed number of queries)."""
    found = candidates(campaign)
    sheet = compute(Subject.HOUSEHOLDS, campaign.org_node, campaign.year, only=[c.household_id for c in found])
    return [Candidate(c, sheet.row_of(c.household_id)) for c in found], sheet


def proposable(campaign: ModelCampaign) -> list[CentralHousehold]:
    """Households under the campaign's node that are not candidates yet (for the propose list)."""
    taken = sa.select(CampaignCandidate.household_id).where(CampaignCandidate.campaign_id == campaign.id)
    return list(db.session.scalars(
        sa.select(CentralHousehold).join(OrgNode, OrgNode.id == CentralHousehold.grid_id)
        .where(OrgNode.under(campaign.org_node.path), CentralHousehold.status != HouseholdStatus.REVOKED,
               CentralHousehold.id.not_in(taken))
        .order_by(OrgNode.path, CentralHousehold.number, CentralHousehold.id)
    ).unique())


def titles(campaign: ModelCampaign) -> dict[int, ModelTitle]:
    """The titles this campaign gave, by household (one query)."""
    return {t.household_id: t for t in db.session.scalars(
        sa.select(ModelTitle).where(ModelTitle.campaign_id == campaign.id))}
