"""Stations (驿站) where members gather and check in."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import LabeledEnum, UTCDateTime, enum_column, utcnow
from app.models.org import OrgNode


class StationKind(LabeledEnum):
    PARTY_MASS = "party_mass"
    BRANCH = "branch"
    DELIBERATION = "deliberation"
    CIVILISATION = "civilisation"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.PARTY_MASS: _l("党群驿站"),
            cls.BRANCH: _l("支部驿站"),
            cls.DELIBERATION: _l("居民议事点"),
            cls.CIVILISATION: _l("新时代文明实践站"),
        }


class CheckinMode(LabeledEnum):
    KIOSK = "kiosk"
    POSTER = "poster"

    @classmethod
    def labels(cls) -> dict:
        return {cls.KIOSK: _l("平板轮换二维码"), cls.POSTER: _l("打印海报二维码")}


class Station(db.Model):
    __tablename__ = "stations"
    __table_args__ = (sa.CheckConstraint("length(name) > 0", name="name_not_empty"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[StationKind] = mapped_column(enum_column(StationKind, "kind"))
    org_node_id: Mapped[int] = mapped_column(sa.ForeignKey("org_nodes.id"), index=True)
    address: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")
    checkin_mode: Mapped[CheckinMode] = mapped_column(
        enum_column(CheckinMode, "checkin_mode"), default=CheckinMode.KIOSK
    )
    opening_hours: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    org_node: Mapped[OrgNode] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<Station {self.id} {self.name}>"
