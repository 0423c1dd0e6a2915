"""Demo data for the yearly evaluation (评先选优) and the model-household campaign (创建示范中心户).

In the first township (the demo accounts' branch), from the real sheets of last year as the
services compute them from the history already generated — run by ``demo.generate`` once every
other area's history is written and the counters and aggregates are counted from it, so the
outcomes go to the members the sheet ranks best:

- last year's outcomes, recorded by the township's admin at the end of the year: the three
  best-ranked members 优秀党员, the next five (and the best of the first community) 纳入村级后备人才库,
  two more 推荐为两代表一委员人选; one established household near the bottom 按程序调整, which opens its
  adjustment (waiting for the community's review);
- last year's campaign, closed: six candidates (applied by their heads or proposed by the
  township), three 评为示范 — each with the year's dated 示范 title (``model_titles``, with the
  campaign), three 未评上, each with its reason;
- this year's campaign, open: applied and proposed candidates not decided yet (the demo head's
  household is left out, so that it can apply).

Households already flagged 示范 are not awarded here (their titles come from the flag).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa

from app.clock import TZ, local_day
from app.demo.context import DemoContext, insert_rows
from app.extensions import db
from app.models import (
    AdjustmentStatus,
    AdjustmentStep,
    AdjustmentStepKind,
    CampaignCandidate,
    CampaignStatus,
    CandidacyDecision,
    CandidacyWay,
    CentralHousehold,
    EvaluationOutcome,
    HouseholdAdjustment,
    HouseholdEvent,
    HouseholdEventKind,
    HouseholdStatus,
    ModelCampaign,
    ModelTitle,
    OrgNode,
    OutcomeKind,
)
from app.services.evaluation import Subject, compute

CRITERIA = (
    "1. 联系党员10名以上、每名党员联系群众15户以上，走访全覆盖；\n"
    "2. 群众诉求响应及时，办结率、满意率均在90%以上；\n"
    "3. 全年参加集中学习和“五微”培训不少于12学时；\n"
    "4. 群众评价好，全年无“不满意”评价、无异议成立。"
)
EXCELLENT_REASONS = ("全年服务群众次数居全镇前列，走访全覆盖，群众满意。",
                     "积分排名靠前，带头开展送学上门、为民办事。",
                     "诉求响应快、办结好，群众口碑好。")
RESERVE_REASONS = ("年轻有活力，服务积极主动，可作为村级后备力量培养。",
                   "熟悉社情民意，协调能力强，纳入后备人才库跟踪培养。",
                   "群众基础好，培训学习认真，建议纳入后备人才库。")
DEPUTY_REASONS = ("长期联系群众，反映社情民意准确，推荐为两代表一委员人选。",)
AWARD_REASONS = ("各项指标居前，群众评价好，评为示范中心户。", "帮带成效明显，联系群众覆盖全面。",
                 "诉求办结率、满意率高，评为示范。")
NOT_AWARDED_REASONS = ("走访覆盖率未达标准，明年继续努力。", "年内有“不满意”评价，暂不评为示范。",
                       "培训学时不足，未达评选标准。")
APPLY_STATEMENT = "本户今年联系党员开展服务{n}次，走访联系群众户{v}户，对照评选标准申报示范中心户。"
PROPOSE_STATEMENT = ("服务积极，群众口碑好，镇党委推荐。", "帮带成效明显，推荐参评。", "")


def _at(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime.combine(datetime(year, month, day).date(), time(hour), TZ).astimezone(UTC)


def generate_evaluation(ctx: DemoContext) -> dict[str, int]:
    """Last year's outcomes, last year's closed campaign with its titles, this year's open one."""
    if not ctx.township_ids:
        return {}
    rng, now = ctx.rng, ctx.now
    this_year = local_day(now).year
    last_year = this_year - 1
    township = db.session.get(OrgNode, ctx.township_ids[0])
    assert township is not None
    admin = ctx.node_admin_user_ids.get(township.id) or ctx.admin_user_ids["township"]
    members = compute(Subject.MEMBERS, township, last_year).rows
    households = compute(Subject.HOUSEHOLDS, township, last_year).rows
    # Households the district data already made 示范 (dated titles): the campaign leaves them be.
    flagged = set(ctx.conn.scalars(sa.select(ModelTitle.household_id).where(ModelTitle.revoked_at.is_(None))))
    demo_household = ctx.household_ids[0]
    # Last year is evaluated early in January (or a few hours ago, in the first days of the year).
    january = _at(this_year, 1, 10)
    evaluated_at = january if january < now - timedelta(days=1) else now - timedelta(hours=6)

    outcomes: list[dict] = []

    def outcome(kind: OutcomeKind, reason: str, member_id: int | None = None,
                household_id: int | None = None, adjustment_id: int | None = None) -> None:
        outcomes.append({"id": ctx.next_id("evaluation_outcomes"), "year": last_year, "org_node_id": township.id,
                         "member_id": member_id, "household_id": household_id, "kind": kind, "reason": reason,
                         "adjustment_id": adjustment_id, "recorded_by_id": admin,
                         "recorded_at": evaluated_at + timedelta(minutes=len(outcomes)),
                         "withdrawn_at": None, "withdrawn_by_id": None, "withdraw_reason": ""})

    ranked = [r.subject.id for r in members]
    for member_id in ranked[:3]:
        outcome(OutcomeKind.EXCELLENT_MEMBER, rng.choice(EXCELLENT_REASONS), member_id=member_id)
    reserve = ranked[3:8]
    first_community = next((r.subject.id for r in members
                            if r.subject.grid.parent_id == ctx.community_ids[0] and r.subject.id not in ranked[:3]), None)
    if first_community is not None and first_community not in reserve:
        reserve.append(first_community)
    for member_id in reserve:
        outcome(OutcomeKind.RESERVE_POOL, rng.choice(RESERVE_REASONS), member_id=member_id)
    for member_id in [m for m in ranked[8:] if m not in reserve][:2]:
        outcome(OutcomeKind.RECOMMEND_DEPUTY, rng.choice(DEPUTY_REASONS), member_id=member_id)

    # One established household near the bottom is adjusted: its adjustment waits for review.
    adjusted = next((r.subject for r in reversed(households)
                     if r.subject.status is HouseholdStatus.ESTABLISHED
                     and r.subject.id not in flagged and r.subject.id != demo_household), None)
    adjustments: dict[str, list[dict]] = {"household_adjustments": [], "adjustment_steps": [], "household_events": []}
    if adjusted is not None:
        reason = "年度评定排名靠后，全年走访和诉求办理未达要求，群众反映较多，按程序调整。"
        adj_id = ctx.next_id("household_adjustments")
        adjustments["household_adjustments"].append({
            "id": adj_id, "household_id": adjusted.id, "reason": f"{last_year}年度评定：{reason}",
            "status": AdjustmentStatus.COMMUNITY_REVIEW, "outcome": None, "new_head_id": None,
            "opened_by_id": admin, "created_at": evaluated_at, "closed_at": None})
        adjustments["adjustment_steps"].append({
            "id": ctx.next_id("adjustment_steps"), "adjustment_id": adj_id, "kind": AdjustmentStepKind.OPENED,
            "decision": "", "actor_id": admin, "comment": f"{last_year}年度评定：{reason}", "created_at": evaluated_at})
        adjustments["household_events"].append({
            "id": ctx.next_id("household_events"), "household_id": adjusted.id,
            "kind": HouseholdEventKind.ADJUSTING, "member_id": None, "actor_id": admin,
            "detail": f"{last_year}年度评定：{reason}"[:255], "created_at": evaluated_at})
        ctx.conn.execute(sa.update(CentralHousehold.__table__).where(CentralHousehold.id == adjusted.id)
                         .values(status=HouseholdStatus.ADJUSTING))
        outcome(OutcomeKind.ADJUST, reason, household_id=adjusted.id, adjustment_id=adj_id)

    eligible = [r for r in households if r.subject.id not in flagged and r.subject.id != demo_household
                and (adjusted is None or r.subject.id != adjusted.id)]
    campaigns, candidates, titles = [], [], []

    def candidate(campaign_id: int, row, way: CandidacyWay, at: datetime) -> dict:  # type: ignore[no-untyped-def]
        f = row.figures
        statement = APPLY_STATEMENT.format(n=f.activities_total, v=f.visited) if way is CandidacyWay.APPLIED \
            else rng.choice(PROPOSE_STATEMENT)
        return {"id": ctx.next_id("campaign_candidates"), "campaign_id": campaign_id, "household_id": row.subject.id,
                "way": way, "statement": statement,
                "proposed_by_id": ctx.member_user_ids[row.subject.head_member_id] if way is CandidacyWay.APPLIED
                else admin, "created_at": at, "decision": None, "decision_reason": "", "decided_by_id": None,
                "decided_at": None}

    # Last year's campaign: closed in December, three awarded.
    closed_at = _at(last_year, 12, 20)
    last_id = ctx.next_id("model_campaigns")
    campaigns.append({"id": last_id, "org_node_id": township.id, "year": last_year,
                      "title": f"{last_year}年度创建示范中心户", "criteria": CRITERIA, "status": CampaignStatus.CLOSED,
                      "created_by_id": admin, "created_at": _at(last_year, 3, 1), "closed_at": closed_at,
                      "closed_by_id": admin})
    picked = eligible[:3] + eligible[6:9]
    for i, row in enumerate(picked):
        c = candidate(last_id, row, CandidacyWay.APPLIED if i % 2 == 0 else CandidacyWay.PROPOSED,
                      _at(last_year, 4, 1 + i))
        awarded = i < 3
        c.update(decision=CandidacyDecision.AWARDED if awarded else CandidacyDecision.NOT_AWARDED,
                 decision_reason=rng.choice(AWARD_REASONS if awarded else NOT_AWARDED_REASONS),
                 decided_by_id=admin, decided_at=closed_at - timedelta(days=3 - i % 3))
        candidates.append(c)
        if awarded:
            titles.append({"id": ctx.next_id("model_titles"), "household_id": row.subject.id, "year": last_year,
                           "campaign_id": last_id, "granted_by_id": admin, "granted_at": closed_at,
                           "revoked_at": None, "revoked_by_id": None, "revoke_reason": ""})
            adjustments["household_events"].append({
                "id": ctx.next_id("household_events"), "household_id": row.subject.id,
                "kind": HouseholdEventKind.MODEL_GRANTED, "member_id": None, "actor_id": admin,
                "detail": f"{last_year}年度（{last_year}年度创建示范中心户）", "created_at": closed_at})

    # This year's campaign: open, candidates waiting for the decision.
    opened_at = now - timedelta(days=rng.randint(20, 40))
    this_id = ctx.next_id("model_campaigns")
    campaigns.append({"id": this_id, "org_node_id": township.id, "year": this_year,
                      "title": f"{this_year}年度创建示范中心户", "criteria": CRITERIA, "status": CampaignStatus.OPEN,
                      "created_by_id": admin, "created_at": opened_at, "closed_at": None, "closed_by_id": None})
    for i, row in enumerate(eligible[:7]):
        candidates.append(candidate(this_id, row, CandidacyWay.APPLIED if i < 4 else CandidacyWay.PROPOSED,
                                    opened_at + timedelta(days=1 + i)))

    insert_rows(ctx.conn, HouseholdAdjustment.__table__, adjustments["household_adjustments"])
    insert_rows(ctx.conn, AdjustmentStep.__table__, adjustments["adjustment_steps"])
    insert_rows(ctx.conn, HouseholdEvent.__table__, adjustments["household_events"])
    insert_rows(ctx.conn, EvaluationOutcome.__table__, outcomes)
    insert_rows(ctx.conn, ModelCampaign.__table__, campaigns)
    insert_rows(ctx.conn, CampaignCandidate.__table__, candidates)
    insert_rows(ctx.conn, ModelTitle.__table__, titles)
    return {"evaluation_outcomes": len(outcomes), "model_campaigns": len(campaigns),
            "campaign_candidates": len(candidates), "model_titles": len(titles),
            "household_adjustments": len(adjustments["household_adjustments"])}
