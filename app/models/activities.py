"""Recording service: activities (with photos, verification and edit history), the
public-sentiment diary (民情日记) and the regular-visit policy (定期走访)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import LabeledEnum, UTCDateTime, enum_column, utcnow
from app.models.org import OrgNode
from app.models.photos import Photo
from app.models.stations import Station
from app.models.structure import CentralHousehold, Member, ResidentHousehold
from app.models.users import User

MAX_PHOTOS = 6
MAX_DURATION_MINUTES = 24 * 60


class ActivityKind(LabeledEnum):
    STUDY_VISIT = "study_visit"
    TEACHING = "teaching"
    MEDIATION = "mediation"
    TECH_GUIDANCE = "tech_guidance"
    ERRAND = "errand"
    GROUP_STUDY = "group_study"
    VISIT = "visit"
    PARTY_DAY = "party_day"
    OTHER = "other"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.STUDY_VISIT: _l("送学上门"),
            cls.TEACHING: _l("送教到家"),
            cls.MEDIATION: _l("矛盾调解"),
            cls.TECH_GUIDANCE: _l("技术指导"),
            cls.ERRAND: _l("为民办事"),
            cls.GROUP_STUDY: _l("集中学习"),
            cls.VISIT: _l("走访"),
            cls.PARTY_DAY: _l("主题党日"),
            cls.OTHER: _l("其他"),
        }


class VerifyState(LabeledEnum):
    """Only activities held at a station can be verified (by its administrator); the others are
    recorded as ``none``."""

    PENDING = "pending"
    VERIFIED = "verified"
    RETURNED = "returned"
    NONE = "none"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.PENDING: _l("待审核"),
            cls.VERIFIED: _l("已核实"),
            cls.RETURNED: _l("已退回"),
            cls.NONE: _l("非驿站活动"),
        }

    @property
    def badge(self) -> str:
        return {"pending": "badge-warn", "verified": "badge-ok", "returned": "badge-bad"}.get(
            self.value, ""
        )


class Activity(db.Model):
    """One service a member did. ``grid_id`` is the author's grid when it was recorded: admins'
    scope and the ledger's grid filter use it without joining through members."""

    __tablename__ = "activities"
    __table_args__ = (
        sa.CheckConstraint(
            f"duration_minutes > 0 AND duration_minutes <= {MAX_DURATION_MINUTES}",
            name="duration_in_range",
        ),
        sa.CheckConstraint(
            "station_id IS NOT NULL OR length(address) > 0", name="has_place"
        ),
        sa.CheckConstraint(
            "(station_id IS NULL) = (verify_state = 'none')", name="verifiable_iff_at_station"
        ),
        sa.CheckConstraint(
            "verify_state <> 'returned' OR length(return_reason) > 0", name="return_has_reason"
        ),
        # A record the phone's outbox sends twice (no signal, then signal) is stored once. NULL for
        # older rows and posts without JavaScript: NULLs never clash.
        sa.UniqueConstraint("author_member_id", "client_key", name="uq_activities_author_client_key"),
        sa.Index("ix_activities_author_started", "author_member_id", "started_at"),
        sa.Index("ix_activities_grid_started", "grid_id", "started_at"),
        # The ledger of a whole district over a period, newest first: a range of this index, not
        # every activity (measured at city scale, this month's page: 339 ms before, 4 ms after).
        sa.Index("ix_activities_started_grid", "started_at", "grid_id"),
        sa.Index("ix_activities_station_state", "station_id", "verify_state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    author_member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id"))
    # Set when a central-household head records on behalf of the household.
    central_household_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("central_households.id"), index=True
    )
    grid_id: Mapped[int] = mapped_column(sa.ForeignKey("org_nodes.id"))
    kind: Mapped[ActivityKind] = mapped_column(enum_column(ActivityKind, "kind"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int]
    station_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stations.id"))
    address: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")
    note: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    verify_state: Mapped[VerifyState] = mapped_column(
        enum_column(VerifyState, "verify_state"), default=VerifyState.NONE
    )
    verified_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    return_reason: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The key the author's browser made for this record (crypto.randomUUID()), unique per author.
    client_key: Mapped[str | None] = mapped_column(sa.String(36))

    author: Mapped[Member] = relationship(foreign_keys=[author_member_id], lazy="joined")
    central_household: Mapped[CentralHousehold | None] = relationship(lazy="raise_on_sql")
    grid: Mapped[OrgNode] = relationship(lazy="joined")
    station: Mapped[Station | None] = relationship(lazy="joined")
    verified_by: Mapped[User | None] = relationship(foreign_keys=[verified_by_id])
    residents: Mapped[list[ResidentHousehold]] = relationship(
        secondary="activity_residents", lazy="raise_on_sql", order_by="ResidentHousehold.id"
    )
    fellows: Mapped[list[Member]] = relationship(
        secondary="activity_members", lazy="raise_on_sql", order_by="Member.id"
    )
    photos: Mapped[list[Photo]] = relationship(
        secondary="activity_photos", lazy="raise_on_sql", order_by="ActivityPhoto.position",
        viewonly=True,
    )

    def __repr__(self) -> str:
        return f"<Activity {self.id} {self.kind}>"

    @property
    def place(self) -> str:
        return self.station.name if self.station else self.address


activity_residents = sa.Table(
    "activity_residents",
    db.metadata,
    sa.Column("activity_id", sa.ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("resident_household_id", sa.ForeignKey("resident_households.id"), primary_key=True,
              index=True),
)

activity_members = sa.Table(
    "activity_members",
    db.metadata,
    sa.Column("activity_id", sa.ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("member_id", sa.ForeignKey("members.id"), primary_key=True, index=True),
)


class ActivityPhoto(db.Model):
    __tablename__ = "activity_photos"
    __table_args__ = (
        sa.CheckConstraint(f"position >= 0 AND position < {MAX_PHOTOS}", name="position_in_range"),
    )

    activity_id: Mapped[int] = mapped_column(
        sa.ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True
    )
    photo_id: Mapped[int] = mapped_column(sa.ForeignKey("photos.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(default=0)


class ActivityRevision(db.Model):
    """One edit of an activity: who, when, and for each changed field its value before and after
    (``{"field": [before, after]}``). Append-only."""

    __tablename__ = "activity_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(
        sa.ForeignKey("activities.id", ondelete="CASCADE"), index=True
    )
    edited_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    edited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changes: Mapped[dict] = mapped_column(sa.JSON)

    edited_by: Mapped[User] = relationship(lazy="joined")
