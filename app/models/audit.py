"""Audit log: who revealed, exported or changed what (PIPL asks for it; kept ≥ 6 months)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, utcnow


class AuditEntry(db.Model):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(64))
    object_type: Mapped[str] = mapped_column(sa.String(32), default="", server_default="")
    object_id: Mapped[int | None]
    detail: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    ip: Mapped[str] = mapped_column(sa.String(45), default="", server_default="")
