"""Stored voice messages (语音留言), shared by the areas that take them (needs and their steps)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, utcnow

# A minute, and a little for the encoder's last frame: the recorder stops itself at 60 s.
VOICE_MAX_MS = 61_000


class VoiceClip(db.Model):
    """A voice recording as uploaded (checked by its content, never re-encoded), kept under
    instance/ by content hash and served only through a checked route, like a photo."""

    __tablename__ = "voice_clips"
    __table_args__ = (
        sa.CheckConstraint(f"duration_ms > 0 AND duration_ms <= {VOICE_MAX_MS}", name="duration_range"),
        sa.CheckConstraint("size_bytes > 0", name="has_size"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    mime: Mapped[str] = mapped_column(sa.String(32))
    duration_ms: Mapped[int]
    size_bytes: Mapped[int]
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def seconds(self) -> int:
        """The length in whole seconds, as the page shows it (at least 1)."""
        return max(1, round(self.duration_ms / 1000))
