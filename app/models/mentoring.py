"""Mentoring (帮带) of central households by their mentor, and posts for members without office
(无职党员设岗定责)."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.activities import ActivityKind
from app.models.base import LabeledEnum, UTCDateTime, enum_column, utcnow
from app.models.org import OrgNode

if TYPE_CHECKING:
    from app.models.structure import CentralHousehold, Member
    from app.models.users import User


class GuidanceWay(LabeledEnum):
    IN_PERSON = "in_person"
    PHONE = "phone"
    ONLINE = "online"
    MEETING = "meeting"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.IN_PERSON: _l("上门指导"),
            cls.PHONE: _l("电话沟通"),
            cls.ONLINE: _l("线上交流"),
            cls.MEETING: _l("会议座谈"),
        }


class GuidanceContact(db.Model):
    """One guidance contact of a mentor with a central household they mentor."""

    __tablename__ = "guidance_contacts"
    __table_args__ = (
        sa.CheckConstraint("length(discussed) > 0", name="discussed_not_empty"),
        sa.Index("ix_guidance_contacts_household_date", "household_id", "contact_date"),
        sa.Index("ix_guidance_contacts_mentor_date", "mentor_member_id", "contact_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mentor_member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id"))
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("central_households.id"))
    contact_date: Mapped[date] = mapped_column(sa.Date)
    way: Mapped[GuidanceWay] = mapped_column(enum_column(GuidanceWay, "way"))
    discussed: Mapped[str] = mapped_column(sa.String(500))
    follow_up: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    mentor: Mapped[Member] = relationship(lazy="joined")
    household: Mapped[CentralHousehold] = relationship(lazy="joined")


class PostType(db.Model):
    """A post (岗位) an org node offers members without office, e.g. 政策宣讲岗, with its duty.
    A node sees its own and its ancestors' posts; ``activity_kind`` is the kind of service that
    counts as the post's work."""

    __tablename__ = "post_types"
    __table_args__ = (
        sa.CheckConstraint("length(name) > 0", name="name_not_empty"),
        sa.UniqueConstraint("org_node_id", "name", name="uq_post_types_node_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_node_id: Mapped[int] = mapped_column(sa.ForeignKey("org_nodes.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(32))
    duty: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")
    activity_kind: Mapped[ActivityKind | None] = mapped_column(
        enum_column(ActivityKind, "activity_kind")
    )
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    org_node: Mapped[OrgNode] = relationship(lazy="joined")


class PostAssignment(db.Model):
    """A member holding a post, from ``assigned_at`` until ``ended_at``. One open post per member
    at a time (a partial unique index)."""

    __tablename__ = "post_assignments"
    __table_args__ = (
        sa.Index(
            "uq_post_assignments_member_open",
            "member_id",
            unique=True,
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id"), index=True)
    post_type_id: Mapped[int] = mapped_column(sa.ForeignKey("post_types.id"), index=True)
    duty: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")
    assigned_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    member: Mapped[Member] = relationship(lazy="joined")
    post_type: Mapped[PostType] = relationship(lazy="joined")
    assigned_by: Mapped[User] = relationship(foreign_keys=[assigned_by_id])
