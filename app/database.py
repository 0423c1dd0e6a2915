"""Engine set-up that SQLite needs to be a safe embedded database under concurrent writers.

WAL lets readers run beside a writer; ``synchronous=FULL`` makes a commit durable; foreign keys are
off by default in SQLite and must be switched on per connection. A deferred transaction that later
writes ignores ``busy_timeout`` when another writer holds the lock and fails at once with
"database is locked", so any transaction that may write begins with ``BEGIN IMMEDIATE``: requests
with a writing method, and code wrapped in :func:`writing`.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

_force_immediate: contextvars.ContextVar[bool] = contextvars.ContextVar("force_immediate", default=False)
WRITING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@contextlib.contextmanager
def writing() -> Iterator[None]:
    """Make transactions begun inside this block take the write lock at once (CLI, jobs, tests)."""
    token = _force_immediate.set(True)
    try:
        yield
    finally:
        _force_immediate.reset(token)


def _wants_immediate() -> bool:
    if _force_immediate.get():
        return True
    return has_request_context() and request.method in WRITING_METHODS


def configure_sqlite(engine: Engine, busy_timeout_ms: int = 10_000) -> None:
    """Install the pragmas and the BEGIN handling on a pysqlite engine."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # Take transaction control away from the driver so that we issue BEGIN ourselves.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _wants_immediate() else "BEGIN")
