"""The 1+10+15 structure: Party members, central households and the resident households they cover."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import LabeledEnum, UTCDateTime, enum_column, utcnow
from app.models.org import OrgNode
from app.models.users import User

if TYPE_CHECKING:
    from app.models.evaluation import ModelTitle

# The rule this whole product is about: a central household links ≥ 10 members (not counting its
# head), and each member covers ≥ 15 resident households.
MIN_MEMBERS_PER_HOUSEHOLD = 10
MIN_HOUSEHOLDS_PER_MEMBER = 15
# A mentor (帮带书记) guides 3 to 5 central households.
MENTOR_MIN, MENTOR_MAX = 3, 5


class MemberCategory(LabeledEnum):
    VILLAGE_COMMITTEE = "village_committee"
    GRID_ORG = "grid_org"
    DEPUTY = "deputy"
    EMPLOYED = "employed"
    FIVE_ELDERS = "five_elders"
    OTHER = "other"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.VILLAGE_COMMITTEE: _l("村两委"),
            cls.GRID_ORG: _l("网格党组织"),
            cls.DEPUTY: _l("两代表一委员"),
            cls.EMPLOYED: _l("在职党员"),
            cls.FIVE_ELDERS: _l("五老"),
            cls.OTHER: _l("其他"),
        }


class MemberStatus(LabeledEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"

    @classmethod
    def labels(cls) -> dict:
        return {cls.ACTIVE: _l("在册"), cls.INACTIVE: _l("停用")}


class Member(db.Model):
    """A Party member. Name and phone live on the member's user account."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), unique=True)
    grid_id: Mapped[int] = mapped_column(sa.ForeignKey("org_nodes.id"), index=True)
    category: Mapped[MemberCategory] = mapped_column(enum_column(MemberCategory, "category"))
    status: Mapped[MemberStatus] = mapped_column(
        enum_column(MemberStatus, "status"), default=MemberStatus.ACTIVE
    )
    central_household_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("central_households.id", use_alter=True, name="fk_members_central_household"),
        index=True,
    )
    # Party-organisation secretaries may mentor (帮带) central households.
    is_secretary: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="member", lazy="joined")
    grid: Mapped[OrgNode] = relationship(lazy="joined")
    central_household: Mapped[CentralHousehold | None] = relationship(
        foreign_keys=[central_household_id], back_populates="members"
    )

    def __repr__(self) -> str:
        return f"<Member {self.id} {self.user.name if self.user else ''}>"

    @property
    def is_active(self) -> bool:
        return self.status is MemberStatus.ACTIVE

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def phone(self) -> str:
        return self.user.phone


class HouseholdStatus(LabeledEnum):
    ESTABLISHED = "established"
    ADJUSTING = "adjusting"
    REVOKED = "revoked"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.ESTABLISHED: _l("已创建"),
            cls.ADJUSTING: _l("调整中"),
            cls.REVOKED: _l("已撤销"),
        }


class Duty(LabeledEnum):
    """The seven duties (七员) a central household may take on."""

    POLICY = "policy"
    PARTY_BUILDING = "party_building"
    MEDIATION = "mediation"
    REVITALISATION = "revitalisation"
    CIVIC_MORALITY = "civic_morality"
    SENTIMENT = "sentiment"
    LIAISON = "liaison"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.POLICY: _l("政策宣讲员"),
            cls.PARTY_BUILDING: _l("党建协助员"),
            cls.MEDIATION: _l("矛盾调解员"),
            cls.REVITALISATION: _l("乡村振兴员"),
            cls.CIVIC_MORALITY: _l("民风监督员"),
            cls.SENTIMENT: _l("民情收集员"),
            cls.LIAISON: _l("群众联络员"),
        }


class HouseholdType(db.Model):
    """A central household's type (治理协助型 · 爱心帮扶型 · 文明倡导型, and any an admin adds)."""

    __tablename__ = "household_types"
    __table_args__ = (sa.CheckConstraint("length(name) > 0", name="name_not_empty"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(32), unique=True)
    builtin: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


BUILTIN_HOUSEHOLD_TYPES = ("治理协助型", "爱心帮扶型", "文明倡导型")


class CentralHousehold(db.Model):
    """A Party-member central household (党员中心户). Created by the nomination workflow; never
    deleted — revocation is a status."""

    __tablename__ = "central_households"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    head_member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id"), index=True)
    address: Mapped[str] = mapped_column(sa.String(255))
    grid_id: Mapped[int] = mapped_column(sa.ForeignKey("org_nodes.id"), index=True)
    status: Mapped[HouseholdStatus] = mapped_column(
        enum_column(HouseholdStatus, "status"), default=HouseholdStatus.ESTABLISHED
    )
    type_id: Mapped[int | None] = mapped_column(sa.ForeignKey("household_types.id"))
    mentor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id"), index=True)
    established_on: Mapped[date | None] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    head: Mapped[Member] = relationship(foreign_keys=[head_member_id], lazy="joined")
    mentor: Mapped[Member | None] = relationship(foreign_keys=[mentor_id])
    grid: Mapped[OrgNode] = relationship(lazy="joined")
    type: Mapped[HouseholdType | None] = relationship(lazy="joined")
    members: Mapped[list[Member]] = relationship(
        foreign_keys=[Member.central_household_id], back_populates="central_household", lazy="raise_on_sql"
    )
    duties: Mapped[list[HouseholdDuty]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )
    # Its 示范中心户 titles, one per year (revoked ones too: they stay readable). Lists load them
    # with ``selectinload``; a single household loads them when asked.
    model_titles: Mapped[list[ModelTitle]] = relationship(
        viewonly=True, order_by="ModelTitle.year"
    )

    def __repr__(self) -> str:
        return f"<CentralHousehold {self.id} {self.number}>"

    @property
    def name(self) -> str:
        return self.head.name

    @property
    def duty_set(self) -> set[Duty]:
        return {d.duty for d in self.duties}

    @property
    def model_years(self) -> list[int]:
        """The years it holds the 示范中心户 title (not revoked), oldest first."""
        return [t.year for t in self.model_titles if t.revoked_at is None]

    @property
    def model_year(self) -> int | None:
        """The latest year it holds the 示范中心户 title: what its badge shows."""
        years = self.model_years
        return years[-1] if years else None


class HouseholdDuty(db.Model):
    __tablename__ = "household_duties"

    household_id: Mapped[int] = mapped_column(
        sa.ForeignKey("central_households.id", ondelete="CASCADE"), primary_key=True
    )
    duty: Mapped[Duty] = mapped_column(enum_column(Duty, "duty"), primary_key=True)


class ResidentHousehold(db.Model):
    """A resident household (群众户) covered by one member. Care tags (e.g. 独居老人) are sensitive:
    only the covering chain and admins in scope see them."""

    __tablename__ = "resident_households"
    __table_args__ = (
        sa.CheckConstraint("length(head_name) > 0", name="head_name_not_empty"),
        sa.CheckConstraint(
            "phone IS NULL OR (length(phone) = 11 AND phone LIKE '1%')", name="phone_is_mobile"
        ),
        sa.UniqueConstraint("grid_id", "address", name="uq_resident_households_grid_address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(sa.ForeignKey("org_nodes.id"), index=True)
    # The full address as written on the roster; building/unit/room parsed out for neighbours.
    address: Mapped[str] = mapped_column(sa.String(255))
    building: Mapped[str] = mapped_column(sa.String(16), default="", server_default="")
    unit: Mapped[str] = mapped_column(sa.String(16), default="", server_default="")
    room: Mapped[str] = mapped_column(sa.String(16), default="", server_default="")
    head_name: Mapped[str] = mapped_column(sa.String(32))
    phone: Mapped[str | None] = mapped_column(sa.String(11))
    covering_member_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id"), index=True)
    # Comma-separated tags, e.g. "独居老人,低保户".
    care_tags: Mapped[str] = mapped_column(sa.String(128), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    grid: Mapped[OrgNode] = relationship(lazy="joined")
    covering_member: Mapped[Member | None] = relationship()

    def __repr__(self) -> str:
        return f"<ResidentHousehold {self.id} {self.address}>"

    @property
    def tags(self) -> list[str]:
        return [t for t in self.care_tags.split(",") if t]


# A user's member record, declared here so that models/users.py needs nothing from this module.
User.member = relationship(Member, back_populates="user", lazy="selectin", uselist=False)
