"""民情日记: what a member heard about a household they cover."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.structure import Member, ResidentHousehold


class DiaryEntry(db.Model):
    """A short dated note of what a member heard about one of the households they cover.
    ``need_id`` links to the need made from it (no FK yet: the needs area is merged separately)."""

    __tablename__ = "diary_entries"
    __table_args__ = (
        sa.CheckConstraint("length(text) > 0", name="text_not_empty"),
        # Sent twice from the phone's outbox, stored once (see Activity.client_key).
        sa.UniqueConstraint("member_id", "client_key", name="uq_diary_entries_member_client_key"),
        sa.Index("ix_diary_entries_member_date", "member_id", "entry_date"),
        sa.Index("ix_diary_entries_resident_date", "resident_household_id", "entry_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id"))
    resident_household_id: Mapped[int] = mapped_column(sa.ForeignKey("resident_households.id"))
    entry_date: Mapped[date] = mapped_column(sa.Date)
    text: Mapped[str] = mapped_column(sa.String(500))
    need_id: Mapped[int | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    client_key: Mapped[str | None] = mapped_column(sa.String(36))

    member: Mapped[Member] = relationship(lazy="joined")
    resident: Mapped[ResidentHousehold] = relationship(lazy="joined")
