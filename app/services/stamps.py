"""Home stamps (``app/models/stamps.py``): what tells a kept member home that its data changed.

Every ORM flush that inserts, changes or deletes a row a member's home shows notes whose home it
was — the needs they hold, their check-ins, points, services (recorded or taken part in), training
completions and posts; visits and diary entries about the households they cover; a household
handed to them or away; the household they head; their own member record — and a change to what
every home shows (stations, events, training sessions, visit policies, post types, the tree) notes
the shared stamp. At commit each noted stamp gets a new random value, in the same transaction, in
one statement, in member order (PostgreSQL locks the rows in that order, so two commits never wait
for each other in a circle).

A Core write that the flush does not see calls :func:`note` with the members whose home it changed
(the need filed on a card, a first scan at a kiosk); bulk writes that bypass the ORM (the demo's and
the roster import's inserts, the points recompute) call :func:`bump_shared`, which makes every home
read afresh. ``today`` keeps each member's home
data per process under the two stamps it was read with (:func:`read`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.extensions import read_core
from app.models import (
    Activity,
    CentralHousehold,
    Checkin,
    DiaryEntry,
    HomeStamp,
    Member,
    Need,
    OrgNode,
    PointsEntry,
    PostAssignment,
    PostType,
    ResidentHousehold,
    Station,
    StationEvent,
    TrainingCompletion,
    TrainingSession,
    VisitPolicy,
    activity_members,
    activity_residents,
)
from app.models.stamps import SHARED

_KEY = "stamps.members"

# A row of these names the member whose home shows it (the column's value before and after).
_MEMBER_COLUMNS: dict[type, tuple[str, ...]] = {
    Need: ("owner_member_id",),
    Checkin: ("member_id",),
    PointsEntry: ("member_id",),
    TrainingCompletion: ("member_id",),
    PostAssignment: ("member_id",),
    ResidentHousehold: ("covering_member_id",),
    CentralHousehold: ("head_member_id",),
    Activity: ("author_member_id",),
}
# What every home shows: a change to one of these notes the shared stamp.
_SHARED_MODELS = (Station, StationEvent, TrainingSession, VisitPolicy, PostType, OrgNode)

# An activity's fellows and the covering members of the households it names (a visit), read
# before a flush (what it was) and after (what it is).
_ACTIVITY_MEMBERS = sa.union(
    sa.select(activity_members.c.member_id).where(activity_members.c.activity_id.in_(sa.bindparam("ids",
                                                                                             expanding=True))),
    sa.select(ResidentHousehold.covering_member_id)
    .join(activity_residents, activity_residents.c.resident_household_id == ResidentHousehold.id)
    .where(activity_residents.c.activity_id.in_(sa.bindparam("ids", expanding=True))),
)
_COVERING = sa.select(ResidentHousehold.covering_member_id).where(
    ResidentHousehold.id.in_(sa.bindparam("ids", expanding=True)))
_READ = sa.select(HomeStamp.member_id, HomeStamp.stamp).where(
    HomeStamp.member_id.in_((SHARED, sa.bindparam("member"))))


def _noted(session: Session) -> set[int]:
    found = session.info.get(_KEY)
    if found is None:
        found = session.info[_KEY] = set()
    return found


def note(session: Session, members: Iterable[int]) -> None:
    """Note members whose home a Core write (one the ORM's flush does not see) changed: their
    stamps change when the session commits, as for the flush's."""
    _noted(session).update(members)


def _values(obj: object, name: str) -> Iterable[object]:
    """The attribute's value now and, when changed in this flush, before."""
    history = sa.inspect(obj).attrs[name].history
    return (*history.added, *history.unchanged, *history.deleted)


def _before_flush(session: Session, _context: object, _instances: object) -> None:
    noted = _noted(session)
    activities: list[int] = []
    diaries: set[int] = set()
    dirty = [obj for obj in session.dirty
             if session.is_modified(obj, include_collections=type(obj) is Activity)]  # not a backref's append
    for obj in (*session.new, *dirty, *session.deleted):
        kind = type(obj)
        if isinstance(obj, _SHARED_MODELS):
            noted.add(SHARED)
            continue
        for name in _MEMBER_COLUMNS.get(kind, ()):
            noted.update(v for v in _values(obj, name) if isinstance(v, int))
        if kind is Member and obj.id is not None:  # type: ignore[attr-defined]
            noted.add(obj.id)  # type: ignore[attr-defined]
        elif kind is Activity:
            if obj.id is not None:  # type: ignore[attr-defined]
                activities.append(obj.id)  # type: ignore[attr-defined]
            for name in ("fellows", "residents"):
                for other in _values(obj, name):
                    member = getattr(other, "covering_member_id", getattr(other, "id", None))
                    if isinstance(member, int):
                        noted.add(member)
        elif kind is DiaryEntry:
            diaries.update(v for v in _values(obj, "resident_household_id") if isinstance(v, int))
    if activities:  # as they were: a fellow or a household dropped from the activity
        rows = session.connection().execute(_ACTIVITY_MEMBERS, {"ids": activities})
        noted.update(m for (m,) in rows if m is not None)
    if diaries:
        rows = session.connection().execute(_COVERING, {"ids": sorted(diaries)})
        noted.update(m for (m,) in rows if m is not None)


def _after_flush(session: Session, _context: object) -> None:
    """New members' own ids (known only now)."""
    noted = _noted(session)
    for obj in session.new:
        if type(obj) is Member and obj.id is not None:  # type: ignore[attr-defined]
            noted.add(obj.id)  # type: ignore[attr-defined]


def _before_commit(session: Session) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()  # what is still pending is noted before the stamps change
    noted = session.info.pop(_KEY, None)
    if noted:
        bump(session.connection(), noted)


def _forget(session: Session, previous: object) -> None:
    """The transaction rolled back: nothing it noted was written. (A savepoint's rollback keeps
    the notes: what the transaction wrote before it still commits; a stamp changed for nothing
    only makes a home read again.)"""
    if not getattr(previous, "nested", False):
        session.info.pop(_KEY, None)


def _upsert(conn: sa.Connection) -> sa.Insert:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(HomeStamp.__table__)
    return stmt.on_conflict_do_update(index_elements=["member_id"], set_={"stamp": stmt.excluded.stamp})


def bump(conn: sa.Connection, members: Iterable[int] | set[int]) -> None:
    """New stamps for these members' homes (``SHARED``: every home), in member order."""
    if not members:
        return
    conn.execute(_upsert(conn), [{"member_id": m, "stamp": secrets.randbits(62)} for m in sorted(set(members))])


def bump_shared(conn: sa.Connection) -> None:
    """Every home reads afresh (after a write that bypassed the ORM)."""
    bump(conn, (SHARED,))


def read(member_id: int) -> tuple[int, int] | None:
    """The member's stamp and the shared one (a member without a row reads 0: no write touched
    their home since the stamps began), or None when the shared stamp is missing (keep nothing)."""
    found = dict(read_core(_READ, {"member": member_id}).all())
    shared = found.get(SHARED)
    return None if shared is None else (found.get(member_id, 0), shared)


def install() -> None:
    """Note and change the stamps in every ORM session (called once by ``counters.install``)."""
    if not sa.event.contains(Session, "before_flush", _before_flush):
        sa.event.listen(Session, "before_flush", _before_flush)
        sa.event.listen(Session, "after_flush", _after_flush)
        sa.event.listen(Session, "before_commit", _before_commit)
        sa.event.listen(Session, "after_soft_rollback", _forget)
