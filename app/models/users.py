"""Accounts and the roles they hold."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import LabeledEnum, UTCDateTime, enum_column, utcnow
from app.phones import mask_phone

if TYPE_CHECKING:
    from app.models.org import OrgNode
    from app.models.stations import Station


class Role(LabeledEnum):
    RESIDENT = "resident"
    MEMBER = "member"
    STATION_ADMIN = "station_admin"
    ORG_ADMIN = "org_admin"

    @classmethod
    def labels(cls) -> dict:
        return {
            cls.RESIDENT: _l("群众"),
            cls.MEMBER: _l("党员"),
            cls.STATION_ADMIN: _l("驿站管理员"),
            cls.ORG_ADMIN: _l("组织管理员"),
        }


class NodeScope(NamedTuple):
    """An org admin's node as the access rules need it (``policy.admin_paths`` …): no ORM object."""

    id: int
    path: str
    level: object  # OrgLevel (models/org.py imports this module)


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(db.Model):
    """Someone who logs in with a mainland mobile number.

    ``session_token`` is what Flask-Login keeps in the session and the remember cookie (its
    "alternative token" pattern). Logging out, changing the password, disabling the account or
    changing its roles issues a new one, so every cookie issued before stops working at once.
    """

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint("length(phone) = 11 AND phone LIKE '1%'", name="phone_is_mobile"),
        sa.CheckConstraint("length(name) > 0", name="name_not_empty"),
        # Lists are sorted by name; on PostgreSQL the id rides along, so a search by part of a name
        # walks the index alone in name order (no row fetched per name it passes over).
        sa.Index("ix_users_name", "name", postgresql_include=["id"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(sa.String(11), unique=True)
    name: Mapped[str] = mapped_column(sa.String(32))  # lists are sorted by name (ix_users_name)
    # NULL until a password is set: such an account cannot log in.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    session_token: Mapped[str] = mapped_column(sa.String(64), unique=True, default=new_session_token)
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Loaded when asked for: the logged-in user's roles come with the principal (app/principal.py),
    # and a user loaded beside something else (a member's account) seldom needs them.
    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="user", lazy="select", cascade="all, delete-orphan"
    )
    # ``member`` (the user's member record, if any) is declared with Member in models/structure.py,
    # so that accounts stay below the 1+10+15 structure.

    def __repr__(self) -> str:
        return f"<User {self.id} {self.phone}>"

    # The user protocol Flask-Login expects, written out so that models import no web library.
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:  # a disabled account is signed out on its next request
        return self.active

    def get_id(self) -> str:
        return self.session_token

    @property
    def is_active(self) -> bool:
        return self.active

    def end_sessions(self) -> None:
        """Invalidate every session and remember cookie issued so far."""
        self.session_token = new_session_token()

    # Roles
    def has_role(self, role: Role) -> bool:
        if role is Role.MEMBER:
            return self.member is not None and self.member.is_active
        return any(r.role is role for r in self.roles)

    @property
    def role_set(self) -> set[Role]:
        found = {r.role for r in self.roles}
        if self.has_role(Role.MEMBER):
            found.add(Role.MEMBER)
        return found

    @property
    def admin_nodes(self) -> list[OrgNode]:
        return [r.org_node for r in self.roles if r.role is Role.ORG_ADMIN and r.org_node]

    @property
    def admin_stations(self) -> list[Station]:
        return [r.station for r in self.roles if r.role is Role.STATION_ADMIN and r.station]

    @property
    def admin_scopes(self) -> tuple[NodeScope, ...]:
        """The org admin's nodes as (id, path, level): what the access rules read."""
        return tuple(NodeScope(n.id, n.path, n.level) for n in self.admin_nodes)

    @property
    def admin_station_ids(self) -> frozenset[int]:
        return frozenset(r.station_id for r in self.roles if r.role is Role.STATION_ADMIN and r.station_id)

    @property
    def member_id(self) -> int | None:
        return self.member.id if self.member is not None else None

    @property
    def is_admin(self) -> bool:
        return any(r.role in (Role.ORG_ADMIN, Role.STATION_ADMIN) for r in self.roles)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)


class RoleAssignment(db.Model):
    """A role held by a user. Org admins are scoped to a node and everything below it; station
    admins to one station. The member role is not stored here: it is having an active member
    record. Resident is stored for residents who registered to follow their needs."""

    __tablename__ = "role_assignments"
    __table_args__ = (
        sa.CheckConstraint(
            "(role = 'org_admin') = (org_node_id IS NOT NULL)", name="org_admin_has_node"
        ),
        sa.CheckConstraint(
            "(role = 'station_admin') = (station_id IS NOT NULL)", name="station_admin_has_station"
        ),
        sa.CheckConstraint("role <> 'member'", name="member_role_is_the_member_record"),
        sa.UniqueConstraint("user_id", "role", "org_node_id", "station_id", name="uq_role_assignment"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    org_node_id: Mapped[int | None] = mapped_column(sa.ForeignKey("org_nodes.id"), index=True)
    station_id: Mapped[int | None] = mapped_column(sa.ForeignKey("stations.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="roles")
    org_node: Mapped[OrgNode | None] = relationship(lazy="joined")
    station: Mapped[Station | None] = relationship(lazy="joined")
