"""Check-ins at stations (驿站扫码签到), the events held there, and the stations' poster tokens."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import LabeledEnum, UTCDateTime, enum_column, utcnow
from app.models.stations import Station

if TYPE_CHECKING:
    from app.models.structure import Member
    from app.models.users import User


class CheckinMethod(LabeledEnum):
    KIOSK = "kiosk"
    POSTER = "poster"
    MANUAL = "manual"
    # The six digits under the kiosk's QR, typed when the phone cannot scan: they rotate with the
    # QR, but can be read out over the phone, so the ledger tells them apart from a scan.
    TYPED = "typed"

    @classmethod
    def labels(cls) -> dict:
        # Poster check-ins prove less (the code never changes): every list says so.
        return {cls.KIOSK: _l("平板扫码"), cls.POSTER: _l("海报扫码"), cls.MANUAL: _l("人工补签"),
                cls.TYPED: _l("输入签到码")}


class StationEventKind(LabeledEnum):
    THEME_DAY = "theme_day"
    TRAINING = "training"
    ACTIVITY = "activity"
    OTHER = "other"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.THEME_DAY: _l("主题党日"),
            cls.TRAINING: _l("培训"),
            cls.ACTIVITY: _l("活动"),
            cls.OTHER: _l("其他"),
        }


class StationEvent(db.Model):
    """A gathering at a station; a check-in while it runs counts as attendance."""

    __tablename__ = "station_events"
    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint("length(title) > 0", name="title_not_empty"),
        sa.Index("ix_station_events_station_starts", "station_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("stations.id"))
    title: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[StationEventKind] = mapped_column(enum_column(StationEventKind, "kind"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    station: Mapped[Station] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<StationEvent {self.id} {self.title}>"


class Checkin(db.Model):
    """One member at one station on one day (Asia/Shanghai date): the UNIQUE constraint keeps two
    simultaneous scans — two workers, two phones — from leaving two rows."""

    __tablename__ = "checkins"
    __table_args__ = (
        sa.UniqueConstraint("member_id", "station_id", "day", name="uq_checkins_member_station_day"),
        sa.CheckConstraint(
            "method <> 'manual' OR recorded_by_id IS NOT NULL", name="manual_has_recorder"
        ),
        sa.Index("ix_checkins_station_day", "station_id", "day"),
        sa.Index("ix_checkins_member_day", "member_id", "day"),
        # The scope-wide check-in list of a district (工作看板): its count over a period and its
        # newest page without reading every check-in (scale 10: 300 ms before, ~40 ms after).
        sa.Index("ix_checkins_day_station", "day", "station_id"),
        sa.Index("ix_checkins_checked_in", "checked_in_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("stations.id"))
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id"))
    day: Mapped[date] = mapped_column(sa.Date)
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    method: Mapped[CheckinMethod] = mapped_column(enum_column(CheckinMethod, "method"))
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("station_events.id"), index=True)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    station: Mapped[Station] = relationship(lazy="joined")
    member: Mapped[Member] = relationship(lazy="joined")
    event: Mapped[StationEvent | None] = relationship(lazy="joined")
    recorded_by: Mapped[User | None] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<Checkin {self.id} m{self.member_id} s{self.station_id} {self.day}>"


class PosterToken(db.Model):
    """The secret behind a station's printed poster QR (/s/<token>). Long-lived; regenerating
    revokes the old one, so a poster that leaked stops working. 128 random bits."""

    __tablename__ = "poster_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("stations.id"), index=True)
    token: Mapped[str] = mapped_column(sa.String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CheckinCodeGuard(db.Model):
    """Wrong check-in codes a member typed lately. After ``CHECKIN_CODE_LOCK_AFTER`` of them within
    an hour, typing codes is locked for the member for ``CHECKIN_CODE_LOCK_MINUTES``: kept in the
    database, so the lock holds across workers whatever the rate limiter's storage."""

    __tablename__ = "checkin_code_guards"
    __table_args__ = (sa.CheckConstraint("failures >= 0", name="failures_not_negative"),)

    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id"), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0, server_default="0")
    last_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
