"""The demo district's evaluation: last year's outcomes in the first township (one adjustment
opened), last year's campaign closed with dated titles, this year's open with candidates — and
the pages show them."""

from __future__ import annotations

import sqlalchemy as sa

from app.clock import local_today
from app.extensions import db
from app.models import (
    AdjustmentStatus,
    CampaignCandidate,
    CampaignStatus,
    CandidacyDecision,
    CandidacyWay,
    CentralHousehold,
    EvaluationOutcome,
    HouseholdAdjustment,
    HouseholdStatus,
    ModelCampaign,
    ModelTitle,
    OrgNode,
    OutcomeKind,
    User,
)
from app.services.evaluation import Subject, compute
from tests.factories import login
from tests.test_demo import run_demo


def _admin(phone: str) -> User:
    return db.session.scalar(sa.select(User).where(User.phone == phone))


def test_the_demo_has_last_years_outcomes_and_both_campaigns(app, client):
    run_demo(app)
    last_year = local_today().year - 1
    outcomes = list(db.session.scalars(sa.select(EvaluationOutcome)))
    kinds = [o.kind for o in outcomes]
    assert kinds.count(OutcomeKind.EXCELLENT_MEMBER) == 3
    assert kinds.count(OutcomeKind.RESERVE_POOL) >= 5 and kinds.count(OutcomeKind.ADJUST) == 1
    assert {o.year for o in outcomes} == {last_year} and all(o.reason for o in outcomes)
    # The three 优秀党员 are the best three of the township's sheet as it stands (the demo ranks
    # once every figure is written and counted).
    excellent = {o.member_id for o in outcomes if o.kind is OutcomeKind.EXCELLENT_MEMBER}
    township_id = next(o.org_node_id for o in outcomes if o.kind is OutcomeKind.EXCELLENT_MEMBER)
    top = compute(Subject.MEMBERS, db.session.get(OrgNode, township_id), last_year, page=1, per_page=3)
    assert {r.subject_id for r in top.rows} == excellent
    adjust = next(o for o in outcomes if o.kind is OutcomeKind.ADJUST)
    adjustment = db.session.get(HouseholdAdjustment, adjust.adjustment_id)
    assert adjustment.household_id == adjust.household_id
    assert adjustment.status is AdjustmentStatus.COMMUNITY_REVIEW
    assert db.session.get(CentralHousehold, adjust.household_id).status is HouseholdStatus.ADJUSTING

    campaigns = {c.year: c for c in db.session.scalars(sa.select(ModelCampaign))}
    closed, open_ = campaigns[last_year], campaigns[last_year + 1]
    assert closed.status is CampaignStatus.CLOSED and open_.status is CampaignStatus.OPEN
    decided = list(db.session.scalars(sa.select(CampaignCandidate).where(CampaignCandidate.campaign_id == closed.id)))
    assert all(c.decision is not None and c.decision_reason for c in decided)
    awarded = {c.household_id for c in decided if c.decision is CandidacyDecision.AWARDED}
    titles = list(db.session.scalars(sa.select(ModelTitle).where(ModelTitle.campaign_id == closed.id)))
    assert {t.household_id for t in titles} == awarded and awarded and {t.year for t in titles} == {last_year}
    waiting = list(db.session.scalars(sa.select(CampaignCandidate).where(CampaignCandidate.campaign_id == open_.id)))
    assert {c.way for c in waiting} == {CandidacyWay.APPLIED, CandidacyWay.PROPOSED}
    assert all(c.decision is None for c in waiting)

    # The pages show real numbers.
    login(client, _admin("13900000001"), password="dangyuan2024")
    township = closed.org_node
    sheet = client.get(f"/evaluation/{township.id}/{last_year}/members").get_data(as_text=True)
    assert "优秀党员" in sheet and "纳入村级后备人才库" in sheet
    reserve = client.get("/evaluation/reserve").get_data(as_text=True)
    assert f"{last_year}年度 · {township.name}" in reserve
    page = client.get(f"/evaluation/campaigns/{open_.id}").get_data(as_text=True)
    assert "中心户申报" in page and "组织推荐" in page
    # The demo head's household is left free to apply to this year's campaign.
    head = _admin("13900000005")
    head_client = app.test_client()
    login(head_client, head, password="dangyuan2024")
    assert "申报示范中心户" in head_client.get(f"/evaluation/campaigns/{open_.id}").get_data(as_text=True)
