"""The life of an established central household: adjustment (按程序调整) and a readable history of
every change to it (members linked and unlinked, duties, type, model flag, mentor, head)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import LabeledEnum, UTCDateTime, enum_column, utcnow
from app.models.structure import CentralHousehold, Member
from app.models.users import User


class AdjustmentStatus(LabeledEnum):
    COMMUNITY_REVIEW = "community_review"
    TOWNSHIP_DECISION = "township_decision"
    CLOSED = "closed"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.COMMUNITY_REVIEW: _l("待村党组织审查"),
            cls.TOWNSHIP_DECISION: _l("待乡镇决定"),
            cls.CLOSED: _l("已办结"),
        }


class AdjustmentOutcome(LabeledEnum):
    REVOKED = "revoked"
    NEW_HEAD = "new_head"
    KEPT = "kept"

    @classmethod
    def labels(cls) -> dict:
        return {cls.REVOKED: _l("撤销"), cls.NEW_HEAD: _l("更换户主"), cls.KEPT: _l("保留（不调整）")}


class AdjustmentStepKind(LabeledEnum):
    OPENED = "opened"
    COMMUNITY_REVIEW = "community_review"
    TOWNSHIP_DECISION = "township_decision"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.OPENED: _l("提出调整"),
            cls.COMMUNITY_REVIEW: _l("村党组织审查"),
            cls.TOWNSHIP_DECISION: _l("乡镇（街道）决定"),
        }


class HouseholdAdjustment(db.Model):
    """An adjustment of an established household, opened with a reason by an admin."""

    __tablename__ = "household_adjustments"
    __table_args__ = (
        sa.CheckConstraint("length(reason) > 0", name="reason_not_empty"),
        sa.CheckConstraint("(status = 'closed') = (outcome IS NOT NULL)", name="closed_has_outcome"),
        sa.CheckConstraint("outcome <> 'new_head' OR new_head_id IS NOT NULL", name="new_head_named"),
        sa.Index(
            "uq_household_adjustments_open",
            "household_id",
            unique=True,
            sqlite_where=sa.text("status <> 'closed'"),
            postgresql_where=sa.text("status <> 'closed'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("central_households.id"), index=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[AdjustmentStatus] = mapped_column(
        enum_column(AdjustmentStatus, "status"), default=AdjustmentStatus.COMMUNITY_REVIEW
    )
    outcome: Mapped[AdjustmentOutcome | None] = mapped_column(enum_column(AdjustmentOutcome, "outcome"))
    new_head_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id"))
    opened_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    household: Mapped[CentralHousehold] = relationship()
    new_head: Mapped[Member | None] = relationship()
    opened_by: Mapped[User] = relationship()
    steps: Mapped[list[AdjustmentStep]] = relationship(order_by="AdjustmentStep.id", lazy="selectin")


class AdjustmentStep(db.Model):
    __tablename__ = "adjustment_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    adjustment_id: Mapped[int] = mapped_column(sa.ForeignKey("household_adjustments.id"), index=True)
    kind: Mapped[AdjustmentStepKind] = mapped_column(enum_column(AdjustmentStepKind, "kind"))
    # approved / rejected for the community review; the outcome's value for the township decision.
    decision: Mapped[str] = mapped_column(sa.String(32), default="", server_default="")
    actor_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    comment: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User] = relationship(lazy="joined")


class HouseholdEventKind(LabeledEnum):
    ESTABLISHED = "established"
    MEMBER_LINKED = "member_linked"
    MEMBER_UNLINKED = "member_unlinked"
    DUTIES = "duties"
    TYPE = "type"
    MODEL_GRANTED = "model_granted"
    MODEL_REMOVED = "model_removed"
    MENTOR = "mentor"
    HEAD_CHANGED = "head_changed"
    ADJUSTING = "adjusting"
    KEPT = "kept"
    REVOKED = "revoked"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.ESTABLISHED: _l("创建挂牌"),
            cls.MEMBER_LINKED: _l("联系党员加入"),
            cls.MEMBER_UNLINKED: _l("联系党员移出"),
            cls.DUTIES: _l("职责调整"),
            cls.TYPE: _l("类型调整"),
            cls.MODEL_GRANTED: _l("评为示范中心户"),
            cls.MODEL_REMOVED: _l("取消示范"),
            cls.MENTOR: _l("帮带书记调整"),
            cls.HEAD_CHANGED: _l("更换户主"),
            cls.ADJUSTING: _l("启动按程序调整"),
            cls.KEPT: _l("调整结束，保留"),
            cls.REVOKED: _l("撤销"),
        }


class HouseholdEvent(db.Model):
    """One line of a household's history. Append-only: the household page reads it back."""

    __tablename__ = "household_events"
    __table_args__ = (sa.Index("ix_household_events_household_id_id", "household_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("central_households.id"))
    kind: Mapped[HouseholdEventKind] = mapped_column(enum_column(HouseholdEventKind, "kind"))
    member_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    detail: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    member: Mapped[Member | None] = relationship(lazy="joined")
    actor: Mapped[User | None] = relationship(lazy="joined")
