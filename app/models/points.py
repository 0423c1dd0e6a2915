"""The points ledger (党员积分制): append-only entries awarded by the events themselves, under
rules an org node sets (inherited down the tree, overridable below, each version from its start
date)."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import LabeledEnum, UTCDateTime, enum_column, utcnow
from app.models.org import OrgNode

if TYPE_CHECKING:
    from app.models.structure import Member
    from app.models.users import User


class RuleCode(LabeledEnum):
    THEME_DAY_CHECKIN = "theme_day_checkin"
    TRAINING_ATTENDED = "training_attended"
    TRAINING_COMPLETED = "training_completed"
    ACTIVITY_VERIFIED = "activity_verified"
    NEED_RESOLVED_IN_SLA = "need_resolved_in_sla"
    RATED_SATISFIED = "rated_satisfied"
    RATED_UNSATISFIED = "rated_unsatisfied"
    DIARY_ENTRY = "diary_entry"
    VISIT_DONE = "visit_done"
    SLA_BREACH = "sla_breach"
    OBJECTION_UPHELD = "objection_upheld"
    CORRECTION = "correction"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.THEME_DAY_CHECKIN: _l("主题党日签到"),
            cls.TRAINING_ATTENDED: _l("参加培训"),
            cls.TRAINING_COMPLETED: _l("完成线上学习"),
            cls.ACTIVITY_VERIFIED: _l("服务经核实"),
            cls.NEED_RESOLVED_IN_SLA: _l("诉求按时办结"),
            cls.RATED_SATISFIED: _l("群众评价满意"),
            cls.RATED_UNSATISFIED: _l("群众评价不满意"),
            cls.DIARY_ENTRY: _l("民情日记"),
            cls.VISIT_DONE: _l("定期走访"),
            cls.SLA_BREACH: _l("诉求超时"),
            cls.OBJECTION_UPHELD: _l("公示异议成立"),
            cls.CORRECTION: _l("更正"),
        }


class CapPeriod(LabeledEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"

    @classmethod
    def labels(cls) -> dict:
        return {cls.DAY: _l("每日"), cls.WEEK: _l("每周"), cls.MONTH: _l("每月"), cls.YEAR: _l("每年")}


class PointsRule(db.Model):
    """One version of a rule at an org node: from ``starts_on`` (Asia/Shanghai) it awards
    ``points`` for each event of ``code`` (and ``activity_kind``, for verified activities; "" for
    every other code), at most ``cap_points`` per member per ``cap_period``. The rule in force
    for a member on a day is the version with the latest ``starts_on`` ≤ that day at the nearest
    node on the member's path; a change is a new version, never an edit of a past one. A version
    that ``inherits`` (no points of its own) hands the rule back to the nodes above from its
    start date: the node "returns to the inherited rule"."""

    __tablename__ = "points_rules"
    __table_args__ = (
        sa.UniqueConstraint(
            "org_node_id", "code", "activity_kind", "starts_on", name="uq_points_rules_version"
        ),
        sa.CheckConstraint("points BETWEEN -1000 AND 1000", name="points_in_range"),
        sa.CheckConstraint(
            "(cap_period IS NULL) = (cap_points IS NULL)", name="cap_has_period"
        ),
        sa.CheckConstraint("cap_points IS NULL OR cap_points > 0", name="cap_positive"),
        sa.CheckConstraint(
            "NOT inherits OR (points = 0 AND cap_period IS NULL)", name="inherits_has_no_values"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_node_id: Mapped[int] = mapped_column(sa.ForeignKey("org_nodes.id"), index=True)
    code: Mapped[RuleCode] = mapped_column(enum_column(RuleCode, "code"))
    activity_kind: Mapped[str] = mapped_column(sa.String(32), default="", server_default="")
    points: Mapped[int]
    cap_period: Mapped[CapPeriod | None] = mapped_column(enum_column(CapPeriod, "cap_period"))
    cap_points: Mapped[int | None]
    starts_on: Mapped[date] = mapped_column(sa.Date)
    inherits: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    org_node: Mapped[OrgNode] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship()


class PointsEntry(db.Model):
    """One line of the ledger. Never updated or deleted (database triggers refuse it); a
    correction is a new entry (code ``correction``) whose source is the entry it reverses. The
    UNIQUE constraint on (code, source, member) makes an event processed twice award once."""

    __tablename__ = "points_entries"
    __table_args__ = (
        sa.UniqueConstraint(
            "code", "source_type", "source_id", "member_id", name="uq_points_entries_once"
        ),
        sa.CheckConstraint("points <> 0", name="points_not_zero"),
        sa.Index("ix_points_entries_member_day", "member_id", "occurred_on"),
        sa.Index("ix_points_entries_day", "occurred_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id"))
    points: Mapped[int]
    code: Mapped[RuleCode] = mapped_column(enum_column(RuleCode, "code"))
    # The verified activity's kind ("" for other codes): per-kind caps count by it.
    activity_kind: Mapped[str] = mapped_column(sa.String(32), default="", server_default="")
    rule_id: Mapped[int | None] = mapped_column(sa.ForeignKey("points_rules.id"))
    source_type: Mapped[str] = mapped_column(sa.String(32))
    source_id: Mapped[int]
    # The Asia/Shanghai day of the event: caps, months and periods count by it.
    occurred_on: Mapped[date] = mapped_column(sa.Date)
    note: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    member: Mapped[Member] = relationship(lazy="joined")
    rule: Mapped[PointsRule | None] = relationship()
    created_by: Mapped[User | None] = relationship()
