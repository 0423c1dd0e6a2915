"""Maintained counters (``app/models/counters.py``): each flush that inserts, deletes or moves a
resident household, a member or a central household recounts, in the same transaction, exactly
the counters it touched — the members' coverage, the households' linked members, the grids'
1+10+15 standing. A page then sums a few hundred grid rows instead of counting every household.

Why a recount of the touched keys and not ``+1``/``-1``: a recount is right whatever the change
(a member moved between grids, a head replaced, a status flipped), and it costs one indexed count
per touched grid. On PostgreSQL the touched grids are locked first (transaction advisory locks,
in id order), so two transactions touching one grid recount one after the other and the second
sees the first's rows; SQLite has one writer at a time.

Writes that bypass the ORM (the importer's and the demo's bulk inserts) call ``recount_grids`` or
``recount_all`` themselves. ``check`` compares every counter with a recount from the source rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.models import (
    CentralHousehold,
    GridStanding,
    HouseholdLinks,
    HouseholdStatus,
    Member,
    MemberCoverage,
    MemberStatus,
    ResidentHousehold,
)
from app.models.structure import MIN_HOUSEHOLDS_PER_MEMBER, MIN_MEMBERS_PER_HOUSEHOLD

_KEY = "counters.touched"
_LOCK_SPACE = 7301  # pg_advisory_xact_lock(space, grid id)

# The attributes whose change moves a counter, per model.
_TRACKED: dict[type, tuple[str, ...]] = {
    ResidentHousehold: ("grid_id", "covering_member_id"),
    Member: ("grid_id", "status", "central_household_id"),
    CentralHousehold: ("grid_id", "status", "head_member_id"),
}


@dataclass
class Touched:
    grids: set[int] = field(default_factory=set)
    members: set[int] = field(default_factory=set)
    households: set[int] = field(default_factory=set)
    pending: list[object] = field(default_factory=list)

    def add(self, obj: object, values: dict[str, object]) -> None:
        """Record the keys ``obj`` touches with these attribute values (old or new)."""
        kind = obj.model if isinstance(obj, _Row) else type(obj)
        if kind is ResidentHousehold:
            self._put(self.grids, values.get("grid_id"))
            self._put(self.members, values.get("covering_member_id"))
        elif kind is Member:
            self._put(self.grids, values.get("grid_id"))
            self._put(self.members, getattr(obj, "id", None))
            self._put(self.households, values.get("central_household_id"))
        elif kind is CentralHousehold:
            self._put(self.grids, values.get("grid_id"))
            self._put(self.households, getattr(obj, "id", None))

    @staticmethod
    def _put(into: set[int], value: object) -> None:
        if isinstance(value, int):
            into.add(value)

    @property
    def empty(self) -> bool:
        return not (self.grids or self.members or self.households or self.pending)


def _current(obj: object) -> dict[str, object]:
    return {name: getattr(obj, name, None) for name in _TRACKED[type(obj)]}


def _before_flush(session: Session, _context: object, _instances: object) -> None:
    """Note what this flush touches: new rows' keys after the flush; changed and deleted rows'
    old keys now, read from the database (an attribute set on an expired object has no old value
    in its history)."""
    touched: Touched = session.info.setdefault(_KEY, Touched())
    old: dict[type, set[int]] = {}
    for obj in session.new:
        if type(obj) in _TRACKED:
            touched.pending.append(obj)  # ids and foreign keys are known after the flush
    for obj in session.deleted:
        if type(obj) in _TRACKED:
            old.setdefault(type(obj), set()).add(obj.id)  # type: ignore[attr-defined]
    for obj in session.dirty:
        if type(obj) not in _TRACKED:
            continue
        state = sa.inspect(obj)
        if any(state.attrs[name].history.has_changes() for name in _TRACKED[type(obj)]):
            old.setdefault(type(obj), set()).add(obj.id)  # type: ignore[attr-defined]
            touched.pending.append(obj)
    conn = session.connection()
    for model, ids in old.items():
        names = _TRACKED[model]
        columns = [getattr(model, n) for n in names]
        for chunk in _chunks(ids):
            for row in conn.execute(sa.select(model.id, *columns).where(model.id.in_(chunk))):  # type: ignore[attr-defined]
                values = dict(zip(names, row[1:], strict=True))
                touched.add(_Row(model, row[0]), values)


@dataclass(frozen=True)
class _Row:
    """A row's class and id, standing for its object when its old values are recorded."""

    model: type
    id: int


def _after_flush(session: Session, _context: object) -> None:
    touched: Touched | None = session.info.get(_KEY)
    if touched is None or touched.empty:
        return
    for obj in touched.pending:
        touched.add(obj, _current(obj))
    session.info[_KEY] = Touched()
    recount(session.connection(), touched.members, touched.households, touched.grids)


def install() -> None:
    """Maintain the counters in every ORM session (called once by ``create_app``)."""
    if not sa.event.contains(Session, "before_flush", _before_flush):
        sa.event.listen(Session, "before_flush", _before_flush)
        sa.event.listen(Session, "after_flush", _after_flush)
    from app.services import aggregates, stamps  # the per-day/month/year figures, kept the same way

    aggregates.install()
    stamps.install()  # and what tells a kept member home that its data changed


# --- recounting --------------------------------------------------------------------------------


def _upsert(conn: sa.Connection, model: type, key: str, rows: list[dict]) -> None:
    if not rows:
        return
    table = model.__table__  # type: ignore[attr-defined]
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
    others = {c.name: insert.excluded[c.name] for c in table.columns if c.name != key}
    conn.execute(insert.on_conflict_do_update(index_elements=[key], set_=others), rows)


def _chunks(ids: Iterable[int], size: int = 500) -> Iterable[list[int]]:
    ids = sorted(ids)
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def recount(conn: sa.Connection, members: Iterable[int] = (), households: Iterable[int] = (),
            grids: Iterable[int] = ()) -> None:
    """Recount the given members' coverage, households' links and grids' standing (and the
    grids of those members and households)."""
    members, households, grids = set(members), set(households), set(grids)
    for chunk in _chunks(members):
        grids.update(conn.scalars(sa.select(Member.grid_id).where(Member.id.in_(chunk))))
    for chunk in _chunks(households):
        grids.update(conn.scalars(
            sa.select(CentralHousehold.grid_id).where(CentralHousehold.id.in_(chunk))))
    if conn.dialect.name == "postgresql":
        for grid_id in sorted(grids):
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_SPACE, grid_id)))
    for chunk in _chunks(members):
        _recount_members(conn, chunk)
    for chunk in _chunks(households):
        _recount_households(conn, chunk)
    for chunk in _chunks(grids):
        _recount_grids(conn, chunk)


def _recount_members(conn: sa.Connection, ids: list[int]) -> None:
    counted = dict(conn.execute(
        sa.select(ResidentHousehold.covering_member_id, sa.func.count(ResidentHousehold.id))
        .where(ResidentHousehold.covering_member_id.in_(ids))
        .group_by(ResidentHousehold.covering_member_id)
    ).all())
    _upsert(conn, MemberCoverage, "member_id",
            [{"member_id": i, "covered": counted.get(i, 0)} for i in ids])


def _linked_query(ids: list[int]) -> sa.Select:
    return (
        sa.select(Member.central_household_id, sa.func.count(Member.id))
        .join(CentralHousehold, CentralHousehold.id == Member.central_household_id)
        .where(Member.central_household_id.in_(ids), Member.status == MemberStatus.ACTIVE,
               Member.id != CentralHousehold.head_member_id)
        .group_by(Member.central_household_id)
    )


def _recount_households(conn: sa.Connection, ids: list[int]) -> None:
    counted = dict(conn.execute(_linked_query(ids)).all())
    _upsert(conn, HouseholdLinks, "household_id",
            [{"household_id": i, "linked": counted.get(i, 0)} for i in ids])


def _standings(conn: sa.Connection, grid_ids: list[int] | None) -> dict[int, dict[str, int]]:
    """Each grid's standing counted from the source rows and the member/household counters, in
    three grouped queries (``grid_ids`` None: every grid with anything in it)."""

    def where(col: sa.ColumnElement[int]) -> tuple:
        return () if grid_ids is None else (col.in_(grid_ids),)

    queries = {
        ("households", "households_below"): (
            sa.select(CentralHousehold.grid_id, sa.func.count(),
                      sa.func.count().filter(sa.func.coalesce(HouseholdLinks.linked, 0)
                                             < MIN_MEMBERS_PER_HOUSEHOLD))
            .outerjoin(HouseholdLinks, HouseholdLinks.household_id == CentralHousehold.id)
            .where(CentralHousehold.status != HouseholdStatus.REVOKED,
                   *where(CentralHousehold.grid_id))
            .group_by(CentralHousehold.grid_id)),
        ("members", "members_below"): (
            sa.select(Member.grid_id, sa.func.count(),
                      sa.func.count().filter(sa.func.coalesce(MemberCoverage.covered, 0)
                                             < MIN_HOUSEHOLDS_PER_MEMBER))
            .outerjoin(MemberCoverage, MemberCoverage.member_id == Member.id)
            .where(Member.status == MemberStatus.ACTIVE, *where(Member.grid_id))
            .group_by(Member.grid_id)),
        ("residents", "residents_uncovered"): (
            sa.select(ResidentHousehold.grid_id, sa.func.count(),
                      sa.func.count().filter(ResidentHousehold.covering_member_id.is_(None)))
            .where(*where(ResidentHousehold.grid_id))
            .group_by(ResidentHousehold.grid_id)),
    }
    out: dict[int, dict[str, int]] = {}
    if grid_ids is not None:
        out = {g: dict.fromkeys(GridStanding.FIGURES, 0) for g in grid_ids}
    for (total_name, part_name), stmt in queries.items():
        for grid_id, total, part in conn.execute(stmt):
            figures = out.setdefault(grid_id, dict.fromkeys(GridStanding.FIGURES, 0))
            figures[total_name], figures[part_name] = int(total), int(part)
    return out


def _recount_grids(conn: sa.Connection, ids: list[int]) -> None:
    _upsert(conn, GridStanding, "grid_id",
            [{"grid_id": g, **figures} for g, figures in _standings(conn, ids).items()])


def recount_grids(conn: sa.Connection, grid_ids: Iterable[int]) -> None:
    """Recount everything in these grids: the coverage of their members, the links of their
    households, and their standing (after a bulk write that bypassed the ORM)."""
    grid_ids = sorted(set(grid_ids))
    members: set[int] = set()
    households: set[int] = set()
    for chunk in _chunks(grid_ids):
        members.update(conn.scalars(sa.select(Member.id).where(Member.grid_id.in_(chunk))))
        households.update(conn.scalars(
            sa.select(CentralHousehold.id).where(CentralHousehold.grid_id.in_(chunk))))
    recount(conn, members, households, grid_ids)


# --- checking --------------------------------------------------------------------------------


@dataclass
class Difference:
    counter: str  # "member_coverage" | "household_links" | "grid_standings" | an aggregate's name
    key: int | str  # an aggregate's key is its columns joined by "/"
    figure: str
    stored: int
    counted: int


def check(conn: sa.Connection) -> list[Difference]:
    """Every counter compared with a recount from the source rows (the grids' standing
    recounted from the source rows *and* true member/household counts, so a wrong member or
    household counter does not hide a wrong grid), then every aggregate (``aggregates.check``)."""
    from app.services import aggregates

    out: list[Difference] = []
    covered = dict(conn.execute(
        sa.select(ResidentHousehold.covering_member_id, sa.func.count())
        .where(ResidentHousehold.covering_member_id.is_not(None))
        .group_by(ResidentHousehold.covering_member_id)).all())
    stored_cov = dict(conn.execute(sa.select(MemberCoverage.member_id, MemberCoverage.covered)).all())
    for key in sorted(set(covered) | set(stored_cov)):
        if covered.get(key, 0) != stored_cov.get(key, 0):
            out.append(Difference("member_coverage", key, "covered", stored_cov.get(key, 0),
                                  covered.get(key, 0)))
    linked = dict(conn.execute(
        sa.select(Member.central_household_id, sa.func.count())
        .join(CentralHousehold, CentralHousehold.id == Member.central_household_id)
        .where(Member.status == MemberStatus.ACTIVE, Member.id != CentralHousehold.head_member_id)
        .group_by(Member.central_household_id)).all())
    stored_links = dict(conn.execute(sa.select(HouseholdLinks.household_id, HouseholdLinks.linked)).all())
    for key in sorted(set(linked) | set(stored_links)):
        if linked.get(key, 0) != stored_links.get(key, 0):
            out.append(Difference("household_links", key, "linked", stored_links.get(key, 0),
                                  linked.get(key, 0)))
    truth = _true_standings(conn, covered, linked)
    stored = {row.grid_id: {f: getattr(row, f) for f in GridStanding.FIGURES}
              for row in conn.execute(sa.select(GridStanding))}
    zero = dict.fromkeys(GridStanding.FIGURES, 0)
    for grid_id in sorted(set(truth) | set(stored)):
        for name in GridStanding.FIGURES:
            a, b = stored.get(grid_id, zero)[name], truth.get(grid_id, zero)[name]
            if a != b:
                out.append(Difference("grid_standings", grid_id, name, a, b))
    out += [Difference(d.counter, d.key, d.figure, d.stored, d.counted) for d in aggregates.check(conn)]
    return out


def _true_standings(conn: sa.Connection, covered: dict[int, int],
                    linked: dict[int, int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}

    def bump(grid_id: int, name: str, by: int = 1) -> None:
        out.setdefault(grid_id, dict.fromkeys(GridStanding.FIGURES, 0))[name] += by

    for hid, grid_id in conn.execute(sa.select(CentralHousehold.id, CentralHousehold.grid_id)
                                     .where(CentralHousehold.status != HouseholdStatus.REVOKED)):
        bump(grid_id, "households")
        bump(grid_id, "households_below", int(linked.get(hid, 0) < MIN_MEMBERS_PER_HOUSEHOLD))
    for mid, grid_id in conn.execute(sa.select(Member.id, Member.grid_id)
                                     .where(Member.status == MemberStatus.ACTIVE)):
        bump(grid_id, "members")
        bump(grid_id, "members_below", int(covered.get(mid, 0) < MIN_HOUSEHOLDS_PER_MEMBER))
    for grid_id, total, uncovered in conn.execute(
            sa.select(ResidentHousehold.grid_id, sa.func.count(),
                      sa.func.count().filter(ResidentHousehold.covering_member_id.is_(None)))
            .group_by(ResidentHousehold.grid_id)):
        bump(grid_id, "residents", total)
        bump(grid_id, "residents_uncovered", uncovered)
    return out


def recount_all(conn: sa.Connection) -> None:
    """Rebuild every counter and every aggregate (``aggregates.recount_all``) from the source rows."""
    from app.services import aggregates, stamps

    aggregates.recount_all(conn)
    stamps.bump_shared(conn)  # the rows came in bypassing the ORM: every kept home reads again
    conn.execute(sa.delete(MemberCoverage))
    conn.execute(sa.delete(HouseholdLinks))
    conn.execute(sa.delete(GridStanding))
    conn.execute(sa.insert(MemberCoverage).from_select(
        ["member_id", "covered"],
        sa.select(ResidentHousehold.covering_member_id, sa.func.count())
        .where(ResidentHousehold.covering_member_id.is_not(None))
        .group_by(ResidentHousehold.covering_member_id)))
    conn.execute(sa.insert(HouseholdLinks).from_select(
        ["household_id", "linked"],
        sa.select(Member.central_household_id, sa.func.count())
        .join(CentralHousehold, CentralHousehold.id == Member.central_household_id)
        .where(Member.status == MemberStatus.ACTIVE, Member.id != CentralHousehold.head_member_id)
        .group_by(Member.central_household_id)))
    rows = [{"grid_id": g, **figures} for g, figures in _standings(conn, None).items()]
    if rows:
        conn.execute(sa.insert(GridStanding), rows)
