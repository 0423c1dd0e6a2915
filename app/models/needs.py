"""Residents' needs (急难愁盼 · 诉求直达): the need, its timeline, its SLA and the breaches.

A need is *owned* at one level of the chain — a member, a central-household head, the community's
admins, the township's admins — and *attributed* to the member it was routed to (``member_id``),
which is who the dashboards rate. Escalation moves the owner, never the attribution.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import LabeledEnum, UTCDateTime, enum_column, utcnow
from app.models.org import OrgNode
from app.models.photos import Photo
from app.models.structure import Member, ResidentHousehold
from app.models.voice import VoiceClip

TEXT_MAX = 500
VOICE_ONLY = _l("（语音留言）")


class HasSummary:
    """``summary``: a need's text, or "（语音留言）" for a need left by voice alone (lists,
    notifications) — for the model and for the rows the hot pages read (``text`` is theirs)."""

    @property
    def summary(self) -> str:
        return self.text or str(VOICE_ONLY)  # type: ignore[attr-defined]


class NeedCategory(LabeledEnum):
    POLICY = "policy"
    DISPUTE = "dispute"
    HARDSHIP = "hardship"
    EMPLOYMENT = "employment"
    ENVIRONMENT = "environment"
    REPAIR = "repair"
    HEALTH = "health"
    OTHER = "other"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.POLICY: _l("政策咨询"),
            cls.DISPUTE: _l("矛盾纠纷"),
            cls.HARDSHIP: _l("生活困难"),
            cls.EMPLOYMENT: _l("就业创业"),
            cls.ENVIRONMENT: _l("环境卫生"),
            cls.REPAIR: _l("设施维修"),
            cls.HEALTH: _l("医疗养老"),
            cls.OTHER: _l("其他"),
        }


class NeedStatus(LabeledEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    RATED = "rated"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.SUBMITTED: _l("待响应"),
            cls.ACCEPTED: _l("已接单"),
            cls.IN_PROGRESS: _l("办理中"),
            cls.RESOLVED: _l("已办结"),
            cls.RATED: _l("已评价"),
        }

    @property
    def is_open(self) -> bool:
        return self in (NeedStatus.SUBMITTED, NeedStatus.ACCEPTED, NeedStatus.IN_PROGRESS)


class NeedOutcome(LabeledEnum):
    SOLVED = "solved"
    REFERRED = "referred"
    UNSOLVABLE = "unsolvable"
    OUT_OF_SCOPE = "out_of_scope"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.SOLVED: _l("已解决"),
            cls.REFERRED: _l("已转交有关部门"),
            cls.UNSOLVABLE: _l("无法解决"),
            cls.OUT_OF_SCOPE: _l("不属于职责范围"),
        }


class NeedRating(LabeledEnum):
    SATISFIED = "satisfied"
    BASICALLY = "basically"
    UNSATISFIED = "unsatisfied"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.SATISFIED: _l("满意"),
            cls.BASICALLY: _l("基本满意"),
            cls.UNSATISFIED: _l("不满意"),
        }


class NeedOrigin(LabeledEnum):
    CARD = "card"
    PLAQUE = "plaque"
    POSTER = "poster"
    PUBLIC = "public"
    MEMBER = "member"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.CARD: _l("联系卡扫码"),
            cls.PLAQUE: _l("中心户挂牌扫码"),
            cls.POSTER: _l("驿站海报扫码"),
            cls.PUBLIC: _l("网上反映"),
            cls.MEMBER: _l("党员代为反映"),
        }


class OwnerLevel(LabeledEnum):
    """The rungs of the escalation ladder, bottom to top."""

    MEMBER = "member"
    HEAD = "head"
    COMMUNITY = "community"
    TOWNSHIP = "township"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.MEMBER: _l("联系党员"),
            cls.HEAD: _l("中心户户长"),
            cls.COMMUNITY: _l("村/社区"),
            cls.TOWNSHIP: _l("乡镇/街道"),
        }

    @property
    def is_member_level(self) -> bool:
        return self in (OwnerLevel.MEMBER, OwnerLevel.HEAD)


class EventKind(LabeledEnum):
    SUBMITTED = "submitted"
    ROUTED = "routed"
    ASSIGNED = "assigned"
    PASSED = "passed"
    ESCALATED = "escalated"
    ACCEPTED = "accepted"
    PROGRESS = "progress"
    NOTE = "note"
    RESOLVED = "resolved"
    RATED = "rated"
    REOPENED = "reopened"
    HIDDEN = "hidden"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.SUBMITTED: _l("提交诉求"),
            cls.ROUTED: _l("分派"),
            cls.ASSIGNED: _l("调度指派"),
            cls.PASSED: _l("户长转交"),
            cls.ESCALATED: _l("超时上报"),
            cls.ACCEPTED: _l("接单"),
            cls.PROGRESS: _l("办理进展"),
            cls.NOTE: _l("内部备注"),
            cls.RESOLVED: _l("办结"),
            cls.RATED: _l("评价"),
            cls.REOPENED: _l("重新办理"),
            cls.HIDDEN: _l("屏蔽"),
        }


class BreachKind(LabeledEnum):
    ACCEPT = "accept"
    RESOLVE = "resolve"

    @classmethod
    def labels(cls) -> dict:
        return {cls.ACCEPT: _l("超时未接单"), cls.RESOLVE: _l("超时未办结")}


# A need still to be done (services/needs/common.py's OPEN_STATES); the open needs not hidden, as
# SQL, are the predicate of the partial index the dispatch lists read through.
OPEN_NEED_STATES = (NeedStatus.SUBMITTED, NeedStatus.ACCEPTED, NeedStatus.IN_PROGRESS)
OPEN_NEEDS = f"status IN ({', '.join(repr(s.value) for s in OPEN_NEED_STATES)}) AND hidden_at IS NULL"


class Need(HasSummary, db.Model):
    __tablename__ = "needs"
    __table_args__ = (
        # Filled in words or by voice: the text may be empty only when there is a recording.
        sa.CheckConstraint("length(text) <= 500 AND (length(text) > 0 OR voice_clip_id IS NOT NULL)",
                           name="text_length"),
        sa.CheckConstraint(
            "contact_phone IS NULL OR (length(contact_phone) = 11 AND contact_phone LIKE '1%')",
            name="phone_is_mobile",
        ),
        sa.CheckConstraint(
            "(owner_level IN ('member', 'head') AND owner_member_id IS NOT NULL AND owner_node_id IS NULL)"
            " OR (owner_level IN ('community', 'township') AND owner_node_id IS NOT NULL"
            " AND owner_member_id IS NULL)",
            name="one_owner",
        ),
        sa.CheckConstraint(
            "(status IN ('resolved', 'rated')) = (outcome IS NOT NULL AND resolved_at IS NOT NULL)",
            name="closed_has_outcome",
        ),
        sa.CheckConstraint("status <> 'rated' OR rating IS NOT NULL", name="rated_has_rating"),
        sa.CheckConstraint("reopen_count >= 0", name="reopen_count_positive"),
        sa.CheckConstraint("(hidden_at IS NULL) = (hidden_reason IS NULL)", name="hidden_has_reason"),
        sa.Index("ix_needs_owner_member_status", "owner_member_id", "status"),
        sa.Index("ix_needs_status_accept_due", "status", "accept_due_at"),
        sa.Index("ix_needs_contact_phone", "contact_phone"),
        sa.Index("ix_needs_household_category", "resident_household_id", "category", "submitted_at"),
        # The rates (services/needs/rates.py): a period's needs by submission time, with every
        # column the counts and groups read, so they are counted from the index alone (issue 14).
        sa.Index("ix_needs_rates", "submitted_at", "hidden_at", "node_id", "status", "rating", "accepted_at",
                 "first_accept_due_at", "community_id", "township_id", "grid_id", "member_id",
                 "central_household_id"),
        # The open needs, oldest first (the dispatch queue and the overdue list): a few hundred
        # among every need ever submitted (scale 10: 30,000 read per list before, ~60 ms).
        sa.Index("ix_needs_open_submitted", "submitted_at",
                 postgresql_where=sa.text(OPEN_NEEDS), sqlite_where=sa.text(OPEN_NEEDS)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The tracking link's secret (128 bits) and the short code read aloud on the phone.
    token: Mapped[str] = mapped_column(sa.String(32), unique=True)
    code: Mapped[str] = mapped_column(sa.String(8), unique=True)
    category: Mapped[NeedCategory] = mapped_column(enum_column(NeedCategory, "category"))
    text: Mapped[str] = mapped_column(sa.String(TEXT_MAX))
    address: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")
    photo_id: Mapped[int | None] = mapped_column(sa.ForeignKey("photos.id"))
    voice_clip_id: Mapped[int | None] = mapped_column(sa.ForeignKey("voice_clips.id"))
    origin: Mapped[NeedOrigin] = mapped_column(enum_column(NeedOrigin, "origin"))
    status: Mapped[NeedStatus] = mapped_column(
        enum_column(NeedStatus, "status"), default=NeedStatus.SUBMITTED, index=True
    )
    contact_name: Mapped[str] = mapped_column(sa.String(32), default="", server_default="")
    contact_phone: Mapped[str | None] = mapped_column(sa.String(11))
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    # Where it belongs (scope, dashboards): grid when known, always the community and township.
    resident_household_id: Mapped[int | None] = mapped_column(sa.ForeignKey("resident_households.id"))
    grid_id: Mapped[int | None] = mapped_column(sa.ForeignKey("org_nodes.id"), index=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("org_nodes.id"), index=True)
    township_id: Mapped[int] = mapped_column(sa.ForeignKey("org_nodes.id"), index=True)
    # The most specific of grid/community: what admin scope and SLA lookup use.
    node_id: Mapped[int] = mapped_column(sa.ForeignKey("org_nodes.id"), index=True)

    # Attribution: the member it was routed to and that member's central household.
    member_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id"), index=True)
    central_household_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("central_households.id"), index=True
    )

    # Current owner on the escalation ladder.
    owner_level: Mapped[OwnerLevel] = mapped_column(enum_column(OwnerLevel, "owner_level"))
    owner_member_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id"))
    owner_node_id: Mapped[int | None] = mapped_column(sa.ForeignKey("org_nodes.id"), index=True)

    # SLA: the hours in force at submission; the first accept deadline (for the response rate)
    # never moves; the running deadlines restart for each new owner.
    accept_hours: Mapped[int]
    resolve_hours: Mapped[int]
    first_accept_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accept_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolve_due_at: Mapped[datetime] = mapped_column(UTCDateTime)

    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # ix_needs_rates leads with it
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[NeedOutcome | None] = mapped_column(enum_column(NeedOutcome, "outcome"))
    outcome_note: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    referred_to: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    rating: Mapped[NeedRating | None] = mapped_column(enum_column(NeedRating, "rating"))
    rating_comment: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopen_count: Mapped[int] = mapped_column(default=0, server_default="0")

    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_reason: Mapped[str | None] = mapped_column(sa.String(255))
    hidden_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    member: Mapped[Member | None] = relationship(foreign_keys=[member_id])
    owner_member: Mapped[Member | None] = relationship(foreign_keys=[owner_member_id])
    owner_node: Mapped[OrgNode | None] = relationship(foreign_keys=[owner_node_id])
    node: Mapped[OrgNode] = relationship(foreign_keys=[node_id])
    community: Mapped[OrgNode] = relationship(foreign_keys=[community_id])
    resident_household: Mapped[ResidentHousehold | None] = relationship()
    photo: Mapped[Photo | None] = relationship()
    voice_clip: Mapped[VoiceClip | None] = relationship()

    def __repr__(self) -> str:
        return f"<Need {self.id} {self.code} {self.status}>"

    @property
    def is_dispute(self) -> bool:
        return self.category is NeedCategory.DISPUTE


class NeedEvent(db.Model):
    """One line of a need's timeline: who did what, when. Internal notes stay off the resident's
    view; ``from_*``/``to_*`` record every routing, assignment and escalation."""

    __tablename__ = "need_events"
    __table_args__ = (sa.Index("ix_need_events_need_at", "need_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"))
    kind: Mapped[EventKind] = mapped_column(enum_column(EventKind, "kind"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # Shown as who did it: a name, or "系统" / "群众" for the system and the resident.
    actor_label: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    text: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    internal: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    photo_id: Mapped[int | None] = mapped_column(sa.ForeignKey("photos.id"))
    voice_clip_id: Mapped[int | None] = mapped_column(sa.ForeignKey("voice_clips.id"))
    to_level: Mapped[OwnerLevel | None] = mapped_column(enum_column(OwnerLevel, "to_level"))
    to_label: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")

    photo: Mapped[Photo | None] = relationship()
    voice_clip: Mapped[VoiceClip | None] = relationship()


class NeedHandler(db.Model):
    """Every member who has owned a need (its routing chain): they keep seeing it after it moves
    on, they see the resident's phone, and a 矛盾纠纷 need is visible to them and to no other member."""

    __tablename__ = "need_handlers"

    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id"), primary_key=True, index=True)


class NeedSla(db.Model):
    """Deadlines for one org node (and everything below it), for one category or for all
    (``category`` NULL). The nearest ancestor with a row wins; at one node a row for the category
    beats the row for all. Without any row: 24 h to accept, 7 days to resolve."""

    __tablename__ = "need_slas"
    __table_args__ = (
        sa.UniqueConstraint("org_node_id", "category", name="uq_need_slas_node_category"),
        sa.CheckConstraint("accept_hours > 0 AND accept_hours <= 720", name="accept_hours_range"),
        sa.CheckConstraint("resolve_hours >= accept_hours AND resolve_hours <= 8760", name="resolve_hours_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_node_id: Mapped[int] = mapped_column(sa.ForeignKey("org_nodes.id"), index=True)
    category: Mapped[NeedCategory | None] = mapped_column(enum_column(NeedCategory, "category"))
    accept_hours: Mapped[int]
    resolve_hours: Mapped[int]
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    org_node: Mapped[OrgNode] = relationship()


class NeedBreach(db.Model):
    """An SLA breach, counted against the level (and owner) that let it pass."""

    __tablename__ = "need_breaches"
    __table_args__ = (
        sa.CheckConstraint(
            "(owner_member_id IS NULL) <> (owner_node_id IS NULL)", name="one_owner"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    level: Mapped[OwnerLevel] = mapped_column(enum_column(OwnerLevel, "level"))
    owner_member_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id"), index=True)
    owner_node_id: Mapped[int | None] = mapped_column(sa.ForeignKey("org_nodes.id"), index=True)
    kind: Mapped[BreachKind] = mapped_column(enum_column(BreachKind, "kind"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


__all__ = [
    "BreachKind",
    "EventKind",
    "Need",
    "NeedBreach",
    "NeedCategory",
    "NeedEvent",
    "NeedHandler",
    "NeedOrigin",
    "NeedOutcome",
    "NeedRating",
    "NeedSla",
    "NeedStatus",
    "OwnerLevel",
    "TEXT_MAX",
    "VOICE_ONLY",
]


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
