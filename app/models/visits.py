"""Regular visits (定期走访): how often each covered household should be visited."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, utcnow

VISIT_PERIOD_MONTHS = (1, 2, 3, 4, 6, 12)  # each divides the year, so periods align to it
DEFAULT_VISIT_MONTHS = 3


class VisitPolicy(db.Model):
    """How often each covered household should be visited, set on an org node; the nearest
    ancestor's policy applies, and a quarter where none is set."""

    __tablename__ = "visit_policies"
    __table_args__ = (
        sa.CheckConstraint(
            f"months IN ({', '.join(str(m) for m in VISIT_PERIOD_MONTHS)})", name="months_divide_year"
        ),
    )

    org_node_id: Mapped[int] = mapped_column(sa.ForeignKey("org_nodes.id"), primary_key=True)
    months: Mapped[int]
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
