"""Stored photos, shared by the areas that take them (activities, needs)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, utcnow


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
