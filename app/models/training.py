"""Training (提能力育"户"): sessions planned for an org node, offline at a station or online, and
what members did with them. An offline session *is* a station event: a check-in at the station
while it runs is the attendance (one scan, no second one)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import LabeledEnum, UTCDateTime, enum_column, utcnow
from app.models.checkin import StationEvent
from app.models.org import OrgNode

if TYPE_CHECKING:
    from app.models.structure import Member
    from app.models.users import User

REFLECTION_MAX = 500
DOCUMENT_MAX_BYTES = 10 * 1024 * 1024


class TrainingKind(LabeledEnum):
    CONCENTRATED = "concentrated"
    MICRO_TRAINING = "micro_training"
    MICRO_LESSON = "micro_lesson"
    MICRO_SHARING = "micro_sharing"
    MICRO_PRACTICE = "micro_practice"
    MICRO_READING = "micro_reading"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.CONCENTRATED: _l("集中学习"),
            cls.MICRO_TRAINING: _l("微实训"),
            cls.MICRO_LESSON: _l("微党课"),
            cls.MICRO_SHARING: _l("微分享"),
            cls.MICRO_PRACTICE: _l("微实践"),
            cls.MICRO_READING: _l("微朗读"),
        }


class TrainingMode(LabeledEnum):
    OFFLINE = "offline"
    ONLINE = "online"

    @classmethod
    def labels(cls) -> dict:
        return {cls.OFFLINE: _l("线下（驿站）"), cls.ONLINE: _l("线上")}


class AttendanceMarkKind(LabeledEnum):
    LATE = "late"
    LEFT_EARLY = "left_early"

    @classmethod
    def labels(cls) -> dict:
        return {cls.LATE: _l("迟到"), cls.LEFT_EARLY: _l("早退")}


class TrainingDocument(db.Model):
    """An uploaded PDF (≤ 10 MB, checked to be a PDF), kept under instance/ by content hash and
    served only through a checked route."""

    __tablename__ = "training_documents"
    __table_args__ = (
        sa.CheckConstraint(f"size_bytes > 0 AND size_bytes <= {DOCUMENT_MAX_BYTES}", name="size_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    filename: Mapped[str] = mapped_column(sa.String(128))
    size_bytes: Mapped[int]
    pages: Mapped[int | None]
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrainingSession(db.Model):
    """One training session for the members under ``org_node``. Offline: held at a station, as
    the station event ``station_event``; online: a link or a PDF, open from ``starts_at`` to
    ``ends_at``. ``duration_minutes`` is what it counts toward the year's training hours.
    Cancelling an offline session before it starts deletes its station event (so the kiosk no
    longer shows it and no check-in can count for it): a cancelled one may have none."""

    __tablename__ = "training_sessions"
    __table_args__ = (
        sa.CheckConstraint("length(title) > 0", name="title_not_empty"),
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint(
            "duration_minutes > 0 AND duration_minutes <= 1440", name="duration_in_range"
        ),
        sa.CheckConstraint(
            "(mode = 'offline' AND (station_event_id IS NOT NULL OR cancelled_at IS NOT NULL))"
            " OR (mode = 'online' AND station_event_id IS NULL"
            " AND (length(link_url) > 0 OR document_id IS NOT NULL))",
            name="offline_has_event_online_has_material",
        ),
        sa.Index("ix_training_sessions_node_starts", "org_node_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_node_id: Mapped[int] = mapped_column(sa.ForeignKey("org_nodes.id"))
    title: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[TrainingKind] = mapped_column(enum_column(TrainingKind, "kind"))
    mode: Mapped[TrainingMode] = mapped_column(enum_column(TrainingMode, "mode"))
    description: Mapped[str] = mapped_column(sa.String(1000), default="", server_default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int]
    station_event_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("station_events.id"), unique=True
    )
    link_url: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    document_id: Mapped[int | None] = mapped_column(sa.ForeignKey("training_documents.id"))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    org_node: Mapped[OrgNode] = relationship(lazy="joined")
    station_event: Mapped[StationEvent | None] = relationship(lazy="joined")
    document: Mapped[TrainingDocument | None] = relationship()

    def __repr__(self) -> str:
        return f"<TrainingSession {self.id} {self.title}>"


class TrainingCompletion(db.Model):
    """A member's "我已学完" on an online session, with an optional 心得 (≤ 500 字)."""

    __tablename__ = "training_completions"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "member_id", name="uq_training_completions_session_member"),
        sa.Index("ix_training_completions_member", "member_id", "completed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("training_sessions.id"))
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id"))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reflection: Mapped[str] = mapped_column(
        sa.String(REFLECTION_MAX), default="", server_default=""
    )

    session: Mapped[TrainingSession] = relationship(lazy="joined")
    member: Mapped[Member] = relationship(lazy="joined")


class AttendanceMark(db.Model):
    """A station admin's note that a member arrived late or left early at an offline session."""

    __tablename__ = "training_attendance_marks"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "member_id", "kind", name="uq_training_marks_session_member_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("training_sessions.id"), index=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id"))
    kind: Mapped[AttendanceMarkKind] = mapped_column(enum_column(AttendanceMarkKind, "kind"))
    note: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")
    marked_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    marked_by: Mapped[User] = relationship(lazy="joined")
