"""Records several areas share: in-app notifications and stored photos."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, enum_column, utcnow


class Notification(db.Model):
    """A message in a user's notification centre."""

    __tablename__ = "notifications"
    __table_args__ = (sa.Index("ix_notifications_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(sa.String(32), default="", server_default="")
    title: Mapped[str] = mapped_column(sa.String(128))
    body: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    url: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Photo(db.Model):
    """A photo as stored: re-encoded JPEG without EXIF, kept under instance/ by content hash.
    Areas link photos to their records with their own tables and serve them through a checked
    route; there is no public URL for a photo."""

    __tablename__ = "photos"
    __table_args__ = (sa.CheckConstraint("width > 0 AND height > 0", name="has_size"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    width: Mapped[int]
    height: Mapped[int]
    size_bytes: Mapped[int]
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EntryKind(enum.StrEnum):
    CARD = "card"  # a resident household's contact card (联系卡)
    PLAQUE = "plaque"  # a central household's door plaque (挂牌)


class EntryToken(db.Model):
    """The secret in a contact-card or plaque QR code. It lets someone *submit* a need to that
    household, nothing more; 128 random bits, so ids cannot be walked; reissuing revokes it."""

    __tablename__ = "entry_tokens"
    __table_args__ = (
        sa.CheckConstraint(
            "(kind = 'card' AND resident_household_id IS NOT NULL AND central_household_id IS NULL)"
            " OR (kind = 'plaque' AND central_household_id IS NOT NULL AND resident_household_id IS NULL)",
            name="one_target",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(32), unique=True)
    kind: Mapped[EntryKind] = mapped_column(enum_column(EntryKind, "kind"))
    resident_household_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("resident_households.id"), index=True
    )
    central_household_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("central_households.id"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
