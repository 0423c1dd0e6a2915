"""Engine set-up that SQLite needs to be a safe embedded database under concurrent writers.

WAL lets readers run beside a writer; ``synchronous=FULL`` makes a commit durable (``SQLITE_SYNCHRONOUS``
may choose NORMAL: see :func:`configure_sqlite`); foreign keys are
off by default in SQLite and must be switched on per connection. A deferred transaction that later
writes ignores ``busy_timeout`` when another writer holds the lock and fails at once with
"database is locked", so any transaction that may write begins with ``BEGIN IMMEDIATE``: requests
with a writing method, and code wrapped in :func:`writing`.
"""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import os
import time
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


_force_deferred: contextvars.ContextVar[bool] = contextvars.ContextVar("force_deferred", default=False)


@contextlib.contextmanager
def reading() -> Iterator[None]:
    """Make transactions begun inside this block plain read transactions, even in a POST: for a
    request that reads (and checks its input) before its one write, which then runs inside
    :func:`writing` (``steps.write_now``). The write lock is not held while it reads."""
    token = _force_deferred.set(True)
    try:
        yield
    finally:
        _force_deferred.reset(token)


def _wants_immediate() -> bool:
    if _force_immediate.get():
        return True
    if _force_deferred.get():
        return False
    return has_request_context() and request.method in WRITING_METHODS


class _WriterTurn:
    """Writers take turns through an advisory lock on a file beside the database (``flock``, one
    open file per connection) before ``BEGIN IMMEDIATE``, and give it back when the transaction
    ends. SQLite alone makes a waiting writer sleep 1, 2, 5, 10, 15, 20, 25, 50, 100 ms between
    tries, so under contention the write lock sits idle between writers; here a waiter tries every
    half millisecond (issue 14). SQLite's own lock still guards every write: a writer that did not
    take a turn (a read transaction that writes, another program) meets ``busy_timeout`` as before,
    and a turn not had within the timeout goes on to ``BEGIN IMMEDIATE`` and its busy wait."""

    POLL_S = 0.0005

    @staticmethod
    def _key(conn: object) -> int:
        # The pool hands SQLAlchemy a proxy of the DBAPI connection; events name the connection itself.
        return id(getattr(conn, "dbapi_connection", None) or conn)

    def __init__(self, path: str, timeout_s: float) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self.files: dict[int, int] = {}  # id(DBAPI connection) → its open lock file
        self.held: set[int] = set()

    def open(self, dbapi_conn: object) -> None:
        self.files[self._key(dbapi_conn)] = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    def close(self, dbapi_conn: object) -> None:
        self.release(dbapi_conn)
        fd = self.files.pop(self._key(dbapi_conn), None)
        if fd is not None:
            os.close(fd)

    def take(self, dbapi_conn: object) -> None:
        key = self._key(dbapi_conn)
        fd = self.files.get(key)
        if fd is None or key in self.held:
            return
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return  # BEGIN IMMEDIATE and SQLite's busy wait decide
                time.sleep(self.POLL_S)
                continue
            self.held.add(key)
            return

    def release(self, dbapi_conn: object) -> None:
        key = self._key(dbapi_conn)
        if key in self.held:
            self.held.discard(key)
            fcntl.flock(self.files[key], fcntl.LOCK_UN)


SYNCHRONOUS = ("FULL", "NORMAL")


def configure_sqlite(engine: Engine, busy_timeout_ms: int = 10_000, synchronous: str = "FULL") -> None:
    """Install the pragmas and the BEGIN handling on a pysqlite engine.

    ``synchronous``: FULL (the default, DESIGN §9) makes every commit wait for the disk (one fsync
    of the WAL: some 5 ms on the benchmark's VM disk, so at most ~200 commits a second however
    many workers); NORMAL, the usual setting with WAL, syncs at checkpoints only — a commit is
    still atomic and survives the application crashing (kill -9), but the last commits before a
    power cut or an OS crash may be rolled back (the database stays consistent). Set by
    ``SQLITE_SYNCHRONOUS``."""
    if synchronous not in SYNCHRONOUS:
        raise ValueError(f"SQLITE_SYNCHRONOUS must be one of {SYNCHRONOUS}, not {synchronous!r}")
    database = engine.url.database
    turn = (_WriterTurn(f"{database}-writers.lock", busy_timeout_ms / 1000)
            if database and database != ":memory:" and not database.startswith("file:") else None)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # Take transaction control away from the driver so that we issue BEGIN ourselves.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.close()
        if turn is not None:
            turn.open(dbapi_conn)

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn = conn.connection.dbapi_connection
        if not _wants_immediate():
            # Straight to the driver: through exec_driver_sql a BEGIN cost ~0.1 ms of SQLAlchemy's
            # execution machinery on every request that reads (issue 14).
            dbapi_conn.execute("BEGIN")
            return
        if turn is not None:
            turn.take(dbapi_conn)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except Exception:
            if turn is not None:
                turn.release(dbapi_conn)
            raise

    if turn is None:
        return
    # The turn ends with the transaction: after the COMMIT or ROLLBACK itself.
    dialect = engine.dialect
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    def _commit(dbapi_conn) -> None:  # type: ignore[no-untyped-def]
        try:
            do_commit(dbapi_conn)
        finally:
            turn.release(dbapi_conn)

    def _rollback(dbapi_conn) -> None:  # type: ignore[no-untyped-def]
        try:
            do_rollback(dbapi_conn)
        finally:
            turn.release(dbapi_conn)

    dialect.do_commit = _commit  # type: ignore[method-assign]
    dialect.do_rollback = _rollback  # type: ignore[method-assign]

    @event.listens_for(engine, "close")
    def _on_close(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        turn.close(dbapi_conn)

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(dbapi_conn, _record, _exc) -> None:  # type: ignore[no-untyped-def]
        turn.release(dbapi_conn)
