"""The yearly evaluation (评先选优) and the model-household campaign (创建示范中心户).

``figures`` computes a node's figures per member or household (GROUP BYs, a fixed number of
queries); ``sheet`` ranks them by the weighted formula and exports the sheet; ``records`` lists
what is behind each figure; ``outcomes`` records and withdraws outcomes and keeps the 后备人才库;
``campaigns`` runs the campaign; ``titles`` writes the dated 示范 title.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app import policy
from app.extensions import db
from app.models import (
    CampaignStatus,
    CentralHousehold,
    EvaluationOutcome,
    Member,
    ModelCampaign,
    ModelTitle,
    OrgNode,
    OutcomeKind,
    User,
)
from app.services.evaluation.campaigns import CampaignError
from app.services.evaluation.figures import Figures, Subject, training_hours
from app.services.evaluation.outcomes import HOUSEHOLD_KINDS, MEMBER_KINDS, OutcomeError
from app.services.evaluation.sheet import (
    DEFAULT_WEIGHTS,
    EvaluationError,
    Sheet,
    compute,
    valid_year,
    weights_for,
)

__all__ = [
    "DEFAULT_WEIGHTS",
    "HOUSEHOLD_KINDS",
    "MEMBER_KINDS",
    "CampaignError",
    "EvaluationError",
    "Figures",
    "OutcomeError",
    "Sheet",
    "Subject",
    "Summary",
    "compute",
    "summary",
    "training_hours",
    "valid_year",
    "weights_for",
]


@dataclass
class Summary:
    """What a home page could show of the evaluation in the admin's scope."""

    reserve_pool: int
    outcomes: dict[OutcomeKind, int]  # live outcomes of ``year`` by kind
    open_campaigns: int
    model_titles: int  # live 示范 titles of ``year``


def summary(admin: User, year: int) -> Summary:
    """Counts for the admin's scope (five queries)."""
    member_grid = (sa.select(EvaluationOutcome.kind, sa.func.count(EvaluationOutcome.id))
                   .join(Member, Member.id == EvaluationOutcome.member_id)
                   .join(OrgNode, OrgNode.id == Member.grid_id)
                   .where(policy.scope_condition(admin), EvaluationOutcome.withdrawn_at.is_(None)))
    reserve = db.session.scalar(member_grid.with_only_columns(sa.func.count(EvaluationOutcome.id))
                                .where(EvaluationOutcome.kind == OutcomeKind.RESERVE_POOL)) or 0
    household_grid = (sa.select(EvaluationOutcome.kind, sa.func.count(EvaluationOutcome.id))
                      .join(CentralHousehold, CentralHousehold.id == EvaluationOutcome.household_id)
                      .join(OrgNode, OrgNode.id == CentralHousehold.grid_id)
                      .where(policy.scope_condition(admin), EvaluationOutcome.withdrawn_at.is_(None)))
    counts: dict[OutcomeKind, int] = {}
    for stmt in (member_grid, household_grid):
        for kind, n in db.session.execute(stmt.where(EvaluationOutcome.year == year)
                                          .group_by(EvaluationOutcome.kind)):
            counts[kind] = counts.get(kind, 0) + n
    campaigns = db.session.scalar(
        sa.select(sa.func.count(ModelCampaign.id)).join(OrgNode, OrgNode.id == ModelCampaign.org_node_id)
        .where(policy.scope_condition(admin), ModelCampaign.status == CampaignStatus.OPEN)) or 0
    titles = db.session.scalar(
        sa.select(sa.func.count(ModelTitle.id))
        .join(CentralHousehold, CentralHousehold.id == ModelTitle.household_id)
        .join(OrgNode, OrgNode.id == CentralHousehold.grid_id)
        .where(policy.scope_condition(admin), ModelTitle.year == year, ModelTitle.revoked_at.is_(None))) or 0
    return Summary(reserve, counts, campaigns, titles)
