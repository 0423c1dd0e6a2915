"""What demo-data extensions plug into: the :class:`DemoContext` and the :data:`EXTENSIONS` list.

Kept apart from :mod:`app.demo.district` so that an extension module can import it while
``district`` imports the extension (no import cycle). An extension looks like this::

    # app/demo/<area>.py
    from app.demo.context import DemoContext, demo_extension

    @demo_extension
    def generate_checkins(ctx: DemoContext) -> dict[str, int]:
        ids = ctx.reserve_ids("checkins", n)
        ctx.conn.execute(sa.insert(Checkin.__table__), rows)   # explicit ids, bulk
        return {"checkins": n}

and gets one import line in the marked block of ``app/demo/district.py``. Extensions run in that
order, after the district is written, inside the same transaction; scale your counts with
``ctx.scaled(...)``; draw every random choice from ``ctx.rng`` (never ``random``) so the same seed
still gives the same data; date history back from ``ctx.now`` (the real current time, UTC) so
"the last two years" end today. PostgreSQL sequences are reset after all extensions ran.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

INSERT_CHUNK = 5000  # rows per bulk INSERT


def max_id(conn: sa.Connection, table: str) -> int:
    return conn.execute(sa.text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")).scalar_one()


def insert_rows(conn: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    """Bulk-insert ``rows`` (already in memory) into ``table``, ``INSERT_CHUNK`` at a time."""
    for start in range(0, len(rows), INSERT_CHUNK):
        conn.execute(sa.insert(table), rows[start:start + INSERT_CHUNK])


def reset_sequences(conn: sa.Connection, tables: Iterable[str]) -> None:
    """PostgreSQL does not advance a serial's sequence for explicit ids: move each past MAX(id)."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        conn.execute(sa.text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
        ))


class Bulk:
    """Rows for one table, inserted in chunks so that city scale does not hold them all; a link
    table flushes its ``parent`` first (FKs)."""

    def __init__(self, conn: sa.Connection, table: sa.Table, parent: Bulk | None = None) -> None:
        self.conn, self.table, self.parent, self.rows, self.count = conn, table, parent, [], 0

    def add(self, row: dict) -> None:
        self.rows.append(row)
        if len(self.rows) >= INSERT_CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.parent is not None:
            self.parent.flush()
        if self.rows:
            self.conn.execute(sa.insert(self.table), self.rows)
            self.count += len(self.rows)
            self.rows = []


@dataclass
class DemoContext:
    """What an extension needs to add its own demo rows next to the generated district.

    ``rng`` continues the seeded sequence (use it, not ``random``, so the district stays
    deterministic); ``now`` is the real current time in UTC; ``conn`` is the session's connection
    (same transaction). Ids are listed in generation order; the first of each list belongs to the
    demo accounts' branch of the tree.
    """

    rng: random.Random
    scale: float
    now: datetime
    conn: sa.Connection
    district_id: int
    township_ids: list[int]
    community_ids: list[int]
    grid_ids: list[int]
    station_ids: list[int]
    member_ids: list[int]
    household_ids: list[int]
    resident_ids: list[int]
    member_user_ids: dict[int, int]  # member id → user id
    grid_of_member: dict[int, int]
    members_of_household: dict[int, list[int]]  # household id → member ids, head first
    residents_of_member: dict[int, list[int]]  # member id → covered resident household ids
    admin_user_ids: dict[str, int]  # 'district', 'township', 'community', 'station' (demo accounts)
    demo_user_ids: dict[str, int]  # every DEMO_ACCOUNTS key → user id
    parent_of: dict[int, int] = field(default_factory=dict)  # org node id → parent id
    head_of_household: dict[int, int] = field(default_factory=dict)
    household_of_member: dict[int, int] = field(default_factory=dict)  # linked members and heads
    node_admin_user_ids: dict[int, int] = field(default_factory=dict)  # org node → its admin
    station_admin_user_ids: dict[int, int] = field(default_factory=dict)  # station → its admin
    station_node: dict[int, int] = field(default_factory=dict)  # station → org node
    _next: dict[str, int] = field(default_factory=dict, repr=False)

    def reserve_ids(self, table: str, n: int) -> range:
        """``n`` fresh ids for ``table`` (insert them explicitly; sequences are reset at the end)."""
        if table not in self._next:
            self._next[table] = max_id(self.conn, table) + 1
        start = self._next[table]
        self._next[table] = start + n
        return range(start, start + n)

    def next_id(self, table: str) -> int:
        return self.reserve_ids(table, 1)[0]

    def scaled(self, count: float, minimum: int = 1) -> int:
        """``count`` at scale 1, scaled, and never below ``minimum``."""
        return max(minimum, round(count * self.scale))


Extension = Callable[[DemoContext], dict[str, int]]

# Generators of later features, run in order at the end of ``demo.generate``.
EXTENSIONS: list[Extension] = []


def demo_extension(func: Extension) -> Extension:
    """Register ``func`` to run at the end of every demo generation."""
    EXTENSIONS.append(func)
    return func
