"""The yearly evaluation (评先选优) and the model-household campaign (创建示范中心户): weights per
node, outcomes recorded per person or household (withdrawn only by a new recorded step), and the
dated 示范 title."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import LabeledEnum, UTCDateTime, enum_column, utcnow
from app.models.org import OrgNode

if TYPE_CHECKING:
    from app.models.structure import CentralHousehold, Member
    from app.models.users import User


class EvaluationFactor(LabeledEnum):
    POINTS = "points"
    ACTIVITIES = "activities"
    VISIT_COVERAGE = "visit_coverage"
    NEEDS_RATES = "needs_rates"
    TRAINING_HOURS = "training_hours"
    MENTORING = "mentoring"
    COMPLAINTS = "complaints"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.POINTS: _l("积分"),
            cls.ACTIVITIES: _l("服务次数"),
            cls.VISIT_COVERAGE: _l("走访覆盖率"),
            cls.NEEDS_RATES: _l("诉求三率"),
            cls.TRAINING_HOURS: _l("培训学时"),
            cls.MENTORING: _l("接受帮带"),
            cls.COMPLAINTS: _l("投诉（不满意、异议成立）"),
        }


class EvaluationWeight(db.Model):
    """The weight of one factor in a node's ranking formula (the nearest node's weights apply)."""

    __tablename__ = "evaluation_weights"
    __table_args__ = (sa.CheckConstraint("weight BETWEEN -100 AND 100", name="weight_in_range"),)

    org_node_id: Mapped[int] = mapped_column(sa.ForeignKey("org_nodes.id"), primary_key=True)
    factor: Mapped[EvaluationFactor] = mapped_column(
        enum_column(EvaluationFactor, "factor"), primary_key=True
    )
    weight: Mapped[int]
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutcomeKind(LabeledEnum):
    EXCELLENT_MEMBER = "excellent_member"
    MODEL_HOUSEHOLD = "model_household"
    RECOMMEND_DEPUTY = "recommend_deputy"
    RESERVE_POOL = "reserve_pool"
    ADJUST = "adjust"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.EXCELLENT_MEMBER: _l("优秀党员"),
            cls.MODEL_HOUSEHOLD: _l("示范中心户"),
            cls.RECOMMEND_DEPUTY: _l("推荐为两代表一委员人选"),
            cls.RESERVE_POOL: _l("纳入村级后备人才库"),
            cls.ADJUST: _l("按程序调整"),
        }


class EvaluationOutcome(db.Model):
    """An outcome of a year's evaluation at a node, for one member or one central household.
    Never edited: withdrawing it records who, when and why. The 后备人才库 is the list of
    reserve-pool outcomes not withdrawn."""

    __tablename__ = "evaluation_outcomes"
    __table_args__ = (
        sa.CheckConstraint(
            "(member_id IS NULL) <> (household_id IS NULL)", name="one_subject"
        ),
        sa.CheckConstraint("length(reason) > 0", name="reason_not_empty"),
        sa.CheckConstraint(
            "(withdrawn_at IS NULL) = (withdrawn_by_id IS NULL)", name="withdrawn_has_actor"
        ),
        sa.Index(
            "uq_evaluation_outcomes_member_live",
            "year", "kind", "member_id",
            unique=True,
            sqlite_where=sa.text("withdrawn_at IS NULL AND member_id IS NOT NULL"),
            postgresql_where=sa.text("withdrawn_at IS NULL AND member_id IS NOT NULL"),
        ),
        sa.Index(
            "uq_evaluation_outcomes_household_live",
            "year", "kind", "household_id",
            unique=True,
            sqlite_where=sa.text("withdrawn_at IS NULL AND household_id IS NOT NULL"),
            postgresql_where=sa.text("withdrawn_at IS NULL AND household_id IS NOT NULL"),
        ),
        sa.Index("ix_evaluation_outcomes_node_year", "org_node_id", "year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int]
    org_node_id: Mapped[int] = mapped_column(sa.ForeignKey("org_nodes.id"))
    member_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("central_households.id"), index=True
    )
    kind: Mapped[OutcomeKind] = mapped_column(enum_column(OutcomeKind, "kind"))
    reason: Mapped[str] = mapped_column(sa.String(500))
    adjustment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("household_adjustments.id"))
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    withdraw_reason: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")

    org_node: Mapped[OrgNode] = relationship(lazy="joined")
    member: Mapped[Member | None] = relationship()
    household: Mapped[CentralHousehold | None] = relationship()
    recorded_by: Mapped[User] = relationship(foreign_keys=[recorded_by_id])
    withdrawn_by: Mapped[User | None] = relationship(foreign_keys=[withdrawn_by_id])


class CampaignStatus(LabeledEnum):
    OPEN = "open"
    CLOSED = "closed"

    @classmethod
    def labels(cls) -> dict:
        return {cls.OPEN: _l("进行中"), cls.CLOSED: _l("已结束")}


class ModelCampaign(db.Model):
    """A year's campaign to create model central households (创建示范中心户) at a node."""

    __tablename__ = "model_campaigns"
    __table_args__ = (
        sa.UniqueConstraint("org_node_id", "year", name="uq_model_campaigns_node_year"),
        sa.CheckConstraint("length(title) > 0", name="title_not_empty"),
        sa.CheckConstraint("length(criteria) > 0", name="criteria_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_node_id: Mapped[int] = mapped_column(sa.ForeignKey("org_nodes.id"))
    year: Mapped[int]
    title: Mapped[str] = mapped_column(sa.String(64))
    criteria: Mapped[str] = mapped_column(sa.String(2000))
    status: Mapped[CampaignStatus] = mapped_column(
        enum_column(CampaignStatus, "status"), default=CampaignStatus.OPEN
    )
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    org_node: Mapped[OrgNode] = relationship(lazy="joined")


class CandidacyWay(LabeledEnum):
    APPLIED = "applied"
    PROPOSED = "proposed"

    @classmethod
    def labels(cls) -> dict:
        return {cls.APPLIED: _l("中心户申报"), cls.PROPOSED: _l("组织推荐")}


class CandidacyDecision(LabeledEnum):
    AWARDED = "awarded"
    NOT_AWARDED = "not_awarded"

    @classmethod
    def labels(cls) -> dict:
        return {cls.AWARDED: _l("评为示范"), cls.NOT_AWARDED: _l("未评上")}


class CampaignCandidate(db.Model):
    """A central household in a campaign: applied by its head or proposed by an admin."""

    __tablename__ = "campaign_candidates"
    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "household_id", name="uq_campaign_candidates_once"),
        sa.CheckConstraint(
            "(decision IS NULL) = (decided_at IS NULL)", name="decision_has_time"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("model_campaigns.id"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("central_households.id"), index=True)
    way: Mapped[CandidacyWay] = mapped_column(enum_column(CandidacyWay, "way"))
    statement: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    proposed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decision: Mapped[CandidacyDecision | None] = mapped_column(
        enum_column(CandidacyDecision, "decision")
    )
    decision_reason: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    campaign: Mapped[ModelCampaign] = relationship(lazy="joined")
    household: Mapped[CentralHousehold] = relationship()


class ModelTitle(db.Model):
    """A central household's 示范中心户 title for a year (the dated record that replaces the old
    flag); revoking it records who, when and why."""

    __tablename__ = "model_titles"
    __table_args__ = (
        sa.UniqueConstraint("household_id", "year", name="uq_model_titles_household_year"),
        sa.CheckConstraint(
            "(revoked_at IS NULL) = (revoked_by_id IS NULL)", name="revoked_has_actor"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("central_households.id"), index=True)
    year: Mapped[int]
    campaign_id: Mapped[int | None] = mapped_column(sa.ForeignKey("model_campaigns.id"))
    granted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    revoke_reason: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")

    household: Mapped[CentralHousehold] = relationship()
