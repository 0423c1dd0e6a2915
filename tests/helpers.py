"""Helpers every test module shares: counting queries, logging in."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from flask.testing import FlaskClient

from app.extensions import db
from tests.factories import PASSWORD, login

__all__ = ["PASSWORD", "count_queries", "login", "queries_for"]


@contextlib.contextmanager
def count_queries() -> Iterator[list[str]]:
    """Collect the SQL statements run inside the block (``len()`` is the count)."""
    statements: list[str] = []

    def before(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", before)


def queries_for(client: FlaskClient, url: str, status: int = 200) -> int:
    """How many SQL statements one GET of ``url`` runs (and that it answers ``status``)."""
    with count_queries() as statements:
        response = client.get(url)
    assert response.status_code == status, url
    return len(statements)


def write_concurrently(app, body, sessions: int = 4, rounds: int = 5) -> None:  # type: ignore[no-untyped-def]
    """Run ``body(n, i)`` then commit, ``rounds`` times, in ``sessions`` threads that start at
    once, each in its own app context and session; ends this session's read snapshot so the
    caller sees what they committed. SQLite refusing a concurrent writer skips (PostgreSQL runs
    the test); any other error fails."""
    import threading

    import pytest

    errors: list[BaseException] = []
    barrier = threading.Barrier(sessions)

    def writer(n: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                for i in range(rounds):
                    body(n, i)
                    db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    if errors and "locked" in str(errors[0]):
        pytest.skip("SQLite refused a concurrent writer (busy timeout); PostgreSQL runs this")
    assert errors == []
    db.session.rollback()
