"""The logged-in user of a request, loaded with one indexed query (issue 14).

Flask-Login keeps the user's session token in the session cookie; on every request the loader
(``app/web.py``) calls :func:`load`. It runs ONE statement — the user by ``session_token`` (a unique
index) joined with their member record and role assignments (and each role's org node) — and
answers a :class:`Principal`: what nearly every request needs about who is asking (id, name,
roles with their node paths and levels and station ids, member id, grid and status), as plain
values, without building an ORM object.

Why one query per request and not a cache trusted for a while: logout, a password change and a
disabled account give the user a new session token, so the old token finds no row at once, on every
instance; roles may be *added* without a new token (``services.stations.add_station_admin``: ending
someone's sessions is not for any admin to do), and a member record may be stopped. The query reads
all of that afresh, so every change takes effect on the next request, on every worker and
instance. Its rows are the record's version: the per-process cache below (keyed by the token)
keeps the record built from them and reuses it while the rows are the same — a changed role, member
status or name is a different version and builds a new one.

Everything else about the user — ``roles``, ``phone``, ``end_sessions()`` … — is read from the ORM
``User``, loaded on first use (by primary key), so ``current_user`` keeps working wherever a view
or a service expects a ``User``: attributes, relationships (``Model(actor=current_user)``),
comparisons (``note.user == current_user``). ``member``, ``admin_nodes`` and ``admin_stations`` are
ORM objects too, loaded on first use; policy asks the cheap questions (``admin_scopes``,
``admin_station_ids``, ``role_set``) that the record answers without loading anything.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import Member, MemberStatus, OrgLevel, OrgNode, Role, RoleAssignment, Station, User
from app.models.users import NodeScope

# Distinct session tokens remembered per process (a token is ~200 bytes of record): more than the
# sessions one worker sees in a day at district scale; the least recently used go first.
CACHE_SIZE = 4096


@dataclass(frozen=True)
class Record:
    """What the principal query returns about one session, frozen (shared between requests)."""

    id: int
    name: str
    active: bool
    member_id: int | None
    member_status: MemberStatus | None
    grid_id: int | None
    central_household_id: int | None
    is_secretary: bool
    roles: frozenset[Role]  # stored roles (the member role is the member record, see role_set)
    admin_scopes: tuple[NodeScope, ...]
    admin_station_ids: frozenset[int]

    @property
    def is_member(self) -> bool:
        return self.member_id is not None and self.member_status is MemberStatus.ACTIVE


class _Cache:
    """Session token → (the rows it was built from, the record); thread-safe, bounded."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.data: OrderedDict[str, tuple[tuple, Record]] = OrderedDict()

    def get(self, token: str, version: tuple) -> Record | None:
        with self.lock:
            found = self.data.get(token)
            if found is None or found[0] != version:
                return None
            self.data.move_to_end(token)
            return found[1]

    def put(self, token: str, version: tuple, record: Record) -> None:
        with self.lock:
            self.data[token] = (version, record)
            self.data.move_to_end(token)
            while len(self.data) > self.size:
                self.data.popitem(last=False)

    def drop(self, token: str) -> None:
        with self.lock:
            self.data.pop(token, None)


_cache = _Cache(CACHE_SIZE)


def _statement() -> sa.Select:
    return (
        sa.select(User.id, User.name, User.active, Member.id, Member.status, Member.grid_id,
                  Member.central_household_id, Member.is_secretary, RoleAssignment.role, RoleAssignment.org_node_id,
                  OrgNode.path, OrgNode.level, RoleAssignment.station_id)
        .outerjoin(Member, Member.user_id == User.id)
        .outerjoin(RoleAssignment, RoleAssignment.user_id == User.id)
        .outerjoin(OrgNode, OrgNode.id == RoleAssignment.org_node_id)
        .where(User.session_token == sa.bindparam("token"))
        .order_by(RoleAssignment.id)
    )


_SELECT = _statement()


def _build(rows: list[sa.Row]) -> Record:
    first = rows[0]
    roles, scopes, stations = set(), [], set()
    for *_u, role, node_id, path, level, station_id in rows:
        if role is None:
            continue
        roles.add(role)
        if role is Role.ORG_ADMIN and node_id is not None:
            scopes.append(NodeScope(node_id, path, OrgLevel(level)))
        elif role is Role.STATION_ADMIN and station_id is not None:
            stations.add(station_id)
    return Record(id=first[0], name=first[1], active=bool(first[2]), member_id=first[3],
                  member_status=first[4], grid_id=first[5], central_household_id=first[6],
                  is_secretary=bool(first[7]), roles=frozenset(roles), admin_scopes=tuple(scopes), admin_station_ids=frozenset(stations))


def load(token: str) -> Principal | None:
    """The principal of a session token (one indexed query), or None when no user holds it."""
    if not token:
        return None
    # On the session's connection (its transaction), but as Core: no ORM compile step (~50 µs).
    rows = db.session.connection().execute(_SELECT, {"token": token}).all()
    if not rows:
        _cache.drop(token)
        return None
    version = tuple(tuple(r) for r in rows)
    record = _cache.get(token, version)
    if record is None:
        record = _build(rows)
        _cache.put(token, version, record)
    return Principal(token, record)


class Principal:
    """The user of one request: answers from the record, loads the ORM ``User`` when asked for
    anything else (and delegates to it from then on)."""

    # No __dict__ of its own: ``__dict__`` is the ORM user's, as through werkzeug's LocalProxy
    # (SQLAlchemy reads an object's state and dict through them).
    __slots__ = ("_token", "_record", "_loaded")
    # Flask-Login's protocol.
    is_anonymous = False

    def __init__(self, token: str, record: Record) -> None:
        object.__setattr__(self, "_token", token)
        object.__setattr__(self, "_record", record)
        object.__setattr__(self, "_loaded", {})

    # --- answered by the record ----------------------------------------------------------------

    @property
    def record(self) -> Record:
        """The frozen record (what a kept page is keyed by: ``web.render_unchanging``)."""
        return self._record

    @property
    def id(self) -> int:
        return self._record.id

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def is_authenticated(self) -> bool:  # a disabled account is signed out on its next request
        return self._record.active

    @property
    def is_active(self) -> bool:
        return self._record.active

    def get_id(self) -> str:
        # After end_sessions() (a password change logs this device in again) the token is the new one.
        user = self._loaded.get("user")
        return user.session_token if user is not None else self._token

    @property
    def member_id(self) -> int | None:
        """The member record's id (active or not), without loading it."""
        return self._record.member_id

    @property
    def member_standing(self) -> tuple[int | None, bool, bool]:
        """(member id, active, secretary) without loading the member: what policy's cheap
        questions about the member record need (``policy.member_standing``)."""
        record = self._record
        return record.member_id, record.is_member, record.is_secretary

    def has_role(self, role: Role) -> bool:
        if role is Role.MEMBER:
            return self._record.is_member
        return role in self._record.roles

    @property
    def role_set(self) -> set[Role]:
        found = set(self._record.roles)
        if self._record.is_member:
            found.add(Role.MEMBER)
        return found

    @property
    def is_admin(self) -> bool:
        return bool(self._record.roles & {Role.ORG_ADMIN, Role.STATION_ADMIN})

    @property
    def admin_scopes(self) -> tuple[NodeScope, ...]:
        return self._record.admin_scopes

    @property
    def admin_station_ids(self) -> frozenset[int]:
        return self._record.admin_station_ids

    # --- ORM objects, loaded on first use ------------------------------------------------------

    def _once(self, key: str, load: Any) -> Any:
        loaded = self._loaded
        if key not in loaded:
            loaded[key] = load()
        value = loaded[key]
        # After a commit the session expires its objects; a rolled-back or closed session drops
        # them: ask again rather than hand out a detached object.
        if isinstance(value, list):
            stale = any(sa.inspect(v).detached for v in value)
        else:
            stale = value is not None and sa.inspect(value).detached
        if stale:
            loaded[key] = value = load()
        return value

    @property
    def user(self) -> User:
        """The ORM ``User`` (loaded by primary key on first use)."""
        return self._once("user", lambda: db.session.get(User, self._record.id))

    @property
    def member(self) -> Member | None:
        if self._record.member_id is None:
            return None
        return self._once("member", lambda: db.session.get(Member, self._record.member_id))

    @property
    def admin_nodes(self) -> list[OrgNode]:
        ids = [s.id for s in self._record.admin_scopes]
        if not ids:
            return []
        return self._once("nodes", lambda: sorted(
            db.session.scalars(sa.select(OrgNode).where(OrgNode.id.in_(ids))), key=lambda n: ids.index(n.id)))

    @property
    def admin_stations(self) -> list[Station]:
        ids = sorted(self._record.admin_station_ids)
        if not ids:
            return []
        return self._once("stations", lambda: list(
            db.session.scalars(sa.select(Station).where(Station.id.in_(ids)).order_by(Station.id))))

    # --- everything else: the ORM user ---------------------------------------------------------

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance(current_user, User) holds, as it did
        return User

    def __getattr__(self, name: str) -> Any:
        if (name.startswith("__") and name.endswith("__") and name != "__dict__") or name in Principal.__slots__:
            raise AttributeError(name)  # (a slot not set yet: no loop through self.user)
        return getattr(self.user, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.user, name, value)

    def __eq__(self, other: object) -> bool:
        if type(other) is Principal or isinstance(other, User):
            return other.id == self.id  # type: ignore[attr-defined]
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("user", self._record.id))

    def __repr__(self) -> str:
        return f"<Principal {self._record.id}>"
