"""Storing a record once per key its author's browser made (the phone's outbox, app/static/js/outbox.js).

A member without signal keeps a record on the phone and the phone sends it when the connection
returns — perhaps twice (a reply lost on the way back, two tabs coming online together). Each record
carries a ``client_key`` (``crypto.randomUUID()``) that the database keeps unique per author, so
the second send finds the first record and answers with it: never a second row, never an error.
Two sends at the same moment both pass the first look-up; the loser's insert breaks the UNIQUE
constraint inside a savepoint, is rolled back alone, and reads the winner's row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa

from app.extensions import db

T = TypeVar("T")


def normalize_key(raw: str | None) -> str | None:
    """The canonical form of a UUID the browser sent (lower case, with dashes), or None when it is
    not one."""
    try:
        return str(uuid.UUID(str(raw).strip()))
    except (ValueError, AttributeError):
        return None


def store_once(model: type[T], author_column: sa.ColumnElement, author_id: int, client_key: str | None,
               create: Callable[[], T]) -> T:
    """``create()`` (which adds and flushes the record) once per (author, key): the author's record
    with ``client_key`` when there is one already. Without a key (older clients, no JavaScript)
    every call creates."""
    if client_key is None:
        return create()

    def existing() -> T | None:
        return db.session.scalar(
            sa.select(model).where(author_column == author_id, model.client_key == client_key)  # type: ignore[attr-defined]
        )

    found = existing()
    if found is not None:
        return found
    try:
        with db.session.begin_nested():
            return create()
    except sa.exc.IntegrityError:
        found = existing()
        if found is None:  # another constraint failed: not the double send
            raise
        return found
