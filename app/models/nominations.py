"""Nominations of central households (严标准建户): the recorded path from a nomination to a
household — 村党组织审定 → 乡镇审核 + 联审 → 村级公示 → 创建."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import LabeledEnum, UTCDateTime, enum_column, utcnow
from app.models.org import OrgNode
from app.models.structure import CentralHousehold, Member, MemberCategory
from app.models.users import User

# The six criteria of the seed, as (column, label): one reason text per criterion.
CRITERIA: tuple[tuple[str, object], ...] = (
    ("reason_political", _l("政治素质")),
    ("reason_organising", _l("组织带动")),
    ("reason_service", _l("服务能力")),
    ("reason_prestige", _l("群众威望")),
    ("reason_role", _l("作用发挥")),
    ("reason_prosperity", _l("带富能力")),
)
DEFAULT_NOTICE_DAYS = 5
DEFAULT_DEPARTMENTS = ("纪检", "公安")


class NominationWay(LabeledEnum):
    SELF = "self"
    JOINT = "joint"
    ORGANISATION = "organisation"

    @classmethod
    def labels(cls) -> dict:
        return {cls.SELF: _l("个人自荐"), cls.JOINT: _l("党员群众联荐"), cls.ORGANISATION: _l("组织推荐")}


class NominationStatus(LabeledEnum):
    COMMUNITY_REVIEW = "community_review"
    TOWNSHIP_REVIEW = "township_review"
    NOTICE = "notice"
    ESTABLISHED = "established"
    REJECTED = "rejected"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.COMMUNITY_REVIEW: _l("待村党组织审定"),
            cls.TOWNSHIP_REVIEW: _l("待乡镇审核联审"),
            cls.NOTICE: _l("村级公示"),
            cls.ESTABLISHED: _l("已创建"),
            cls.REJECTED: _l("未通过"),
        }

    @classmethod
    def open_values(cls) -> tuple[str, ...]:
        return (cls.COMMUNITY_REVIEW.value, cls.TOWNSHIP_REVIEW.value, cls.NOTICE.value)


class StepKind(LabeledEnum):
    OPENED = "opened"
    COMMUNITY_REVIEW = "community_review"
    JOINT_REVIEW = "joint_review"
    TOWNSHIP_REVIEW = "township_review"
    OBJECTION_LODGED = "objection_lodged"
    OBJECTION_RESOLVED = "objection_resolved"
    ESTABLISHED = "established"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.OPENED: _l("提名"),
            cls.COMMUNITY_REVIEW: _l("村党组织审定"),
            cls.JOINT_REVIEW: _l("部门联审"),
            cls.TOWNSHIP_REVIEW: _l("乡镇（街道）审核"),
            cls.OBJECTION_LODGED: _l("公示异议"),
            cls.OBJECTION_RESOLVED: _l("异议处理"),
            cls.ESTABLISHED: _l("创建"),
        }


class Decision(LabeledEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    NO_OBJECTION = "no_objection"
    OBJECTION = "objection"
    UPHELD = "upheld"
    DISMISSED = "dismissed"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.APPROVED: _l("同意"),
            cls.REJECTED: _l("不同意"),
            cls.NO_OBJECTION: _l("无异议"),
            cls.OBJECTION: _l("有异议"),
            cls.UPHELD: _l("异议成立"),
            cls.DISMISSED: _l("异议不成立"),
        }


class ObjectionStatus(LabeledEnum):
    OPEN = "open"
    UPHELD = "upheld"
    DISMISSED = "dismissed"

    @classmethod
    def labels(cls) -> dict:
        return {cls.OPEN: _l("待处理"), cls.UPHELD: _l("异议成立"), cls.DISMISSED: _l("异议不成立")}


class Nomination(db.Model):
    """One nomination of a Party member as a central-household head. Never deleted: a rejected
    nomination keeps its reason; an established one points at its household."""

    __tablename__ = "nominations"
    __table_args__ = (
        sa.CheckConstraint(
            "length(reason_political) + length(reason_organising) + length(reason_service)"
            " + length(reason_prestige) + length(reason_role) + length(reason_prosperity) > 0",
            name="has_a_reason",
        ),
        sa.CheckConstraint(
            "way <> 'joint' OR length(nominator_members) + length(nominator_residents) > 0",
            name="joint_has_nominators",
        ),
        sa.CheckConstraint("status <> 'notice' OR notice_last_day IS NOT NULL", name="notice_has_end"),
        sa.CheckConstraint(
            "status <> 'established' OR household_id IS NOT NULL", name="established_has_household"
        ),
        sa.CheckConstraint("length(address) > 0", name="address_not_empty"),
        # At most one open nomination per candidate.
        sa.Index(
            "uq_nominations_open_candidate",
            "candidate_id",
            unique=True,
            sqlite_where=sa.text("status IN ('community_review', 'township_review', 'notice')"),
            postgresql_where=sa.text("status IN ('community_review', 'township_review', 'notice')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    way: Mapped[NominationWay] = mapped_column(enum_column(NominationWay, "way"))
    candidate_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id"), index=True)
    category: Mapped[MemberCategory] = mapped_column(enum_column(MemberCategory, "category"))
    # The candidate's place when nominated: scope checks and the notice page use these.
    grid_id: Mapped[int] = mapped_column(sa.ForeignKey("org_nodes.id"), index=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("org_nodes.id"), index=True)
    township_id: Mapped[int] = mapped_column(sa.ForeignKey("org_nodes.id"), index=True)
    address: Mapped[str] = mapped_column(sa.String(255))
    reason_political: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    reason_organising: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    reason_service: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    reason_prestige: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    reason_role: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    reason_prosperity: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    # 联荐: the names of the nominating members and residents, as written on the form.
    nominator_members: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    nominator_residents: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    opened_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    status: Mapped[NominationStatus] = mapped_column(
        enum_column(NominationStatus, "status"), default=NominationStatus.COMMUNITY_REVIEW, index=True
    )
    notice_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last day (Asia/Shanghai) of the public notice; it has ended once that day is over.
    notice_last_day: Mapped[date | None] = mapped_column(sa.Date)
    household_id: Mapped[int | None] = mapped_column(sa.ForeignKey("central_households.id"))
    rejection_reason: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    candidate: Mapped[Member] = relationship(lazy="joined")
    grid: Mapped[OrgNode] = relationship(foreign_keys=[grid_id], lazy="joined")
    community: Mapped[OrgNode] = relationship(foreign_keys=[community_id], lazy="joined")
    township: Mapped[OrgNode] = relationship(foreign_keys=[township_id], lazy="joined")
    opened_by: Mapped[User] = relationship(foreign_keys=[opened_by_id])
    household: Mapped[CentralHousehold | None] = relationship()
    steps: Mapped[list[NominationStep]] = relationship(
        order_by="NominationStep.id", lazy="raise_on_sql", back_populates="nomination"
    )

    def __repr__(self) -> str:
        return f"<Nomination {self.id} {self.status}>"

    @property
    def is_open(self) -> bool:
        return self.status.value in NominationStatus.open_values()

    @property
    def reasons(self) -> list[tuple[object, str]]:
        """(criterion label, reason) for the criteria given a reason."""
        return [(label, getattr(self, col)) for col, label in CRITERIA if getattr(self, col)]


class NominationStep(db.Model):
    """One recorded step: who, when, what was decided, and why."""

    __tablename__ = "nomination_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    nomination_id: Mapped[int] = mapped_column(sa.ForeignKey("nominations.id"), index=True)
    kind: Mapped[StepKind] = mapped_column(enum_column(StepKind, "kind"))
    decision: Mapped[Decision | None] = mapped_column(enum_column(Decision, "decision"))
    # None only for an objection lodged by the public.
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("joint_review_departments.id"))
    objection_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notice_objections.id"))
    comment: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    nomination: Mapped[Nomination] = relationship(back_populates="steps")
    actor: Mapped[User | None] = relationship(lazy="joined")
    department: Mapped[JointReviewDepartment | None] = relationship(lazy="joined")


class JointReviewDepartment(db.Model):
    """A department that signs off in a township's joint review (联审): 纪检 and 公安 by default,
    plus any the township adds."""

    __tablename__ = "joint_review_departments"
    __table_args__ = (
        sa.UniqueConstraint("township_id", "name", name="uq_joint_review_departments_township_name"),
        sa.CheckConstraint("length(name) > 0", name="name_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    township_id: Mapped[int] = mapped_column(sa.ForeignKey("org_nodes.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JointReviewSignoff(db.Model):
    """A department's sign-off, recorded by a township admin on the department's behalf."""

    __tablename__ = "joint_review_signoffs"
    __table_args__ = (
        sa.UniqueConstraint("nomination_id", "department_id", name="uq_joint_review_signoffs_once"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    nomination_id: Mapped[int] = mapped_column(sa.ForeignKey("nominations.id"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("joint_review_departments.id"))
    decision: Mapped[Decision] = mapped_column(enum_column(Decision, "decision"))
    note: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    department: Mapped[JointReviewDepartment] = relationship(lazy="joined")


class TownshipSetting(db.Model):
    """Per-township settings of the creation workflow."""

    __tablename__ = "township_settings"
    __table_args__ = (sa.CheckConstraint("notice_days BETWEEN 1 AND 30", name="notice_days_range"),)

    township_id: Mapped[int] = mapped_column(sa.ForeignKey("org_nodes.id"), primary_key=True)
    notice_days: Mapped[int] = mapped_column(default=DEFAULT_NOTICE_DAYS, server_default="5")
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NoticeObjection(db.Model):
    """An objection lodged on the public notice page. The contact phone is personal data: shown
    masked to admins, revealed on request with an audit entry, never on a public page."""

    __tablename__ = "notice_objections"
    __table_args__ = (
        sa.CheckConstraint("length(contact_phone) = 11 AND contact_phone LIKE '1%'", name="phone_is_mobile"),
        sa.CheckConstraint("length(text) > 0", name="text_not_empty"),
        sa.CheckConstraint(
            "(status = 'open') = (resolved_at IS NULL)", name="resolved_has_time"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    nomination_id: Mapped[int] = mapped_column(sa.ForeignKey("nominations.id"), index=True)
    contact_phone: Mapped[str] = mapped_column(sa.String(11))
    text: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[ObjectionStatus] = mapped_column(
        enum_column(ObjectionStatus, "status"), default=ObjectionStatus.OPEN
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str] = mapped_column(sa.Text, default="", server_default="")

    resolved_by: Mapped[User | None] = relationship()
