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
