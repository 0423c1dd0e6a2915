"""GET requests that write: a scan, a first poster token, the audit line of a ledger export.

A POST begins its transaction with SQLite's write lock (``app/database.py``); a GET does not, and a
read transaction that later writes fails at once with "database is locked" when another writer
holds the lock. These requests therefore end their read transaction first and run the write in a
transaction of its own that takes the lock when it begins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from app.database import writing
from app.extensions import db

T = TypeVar("T")


def write_now(action: Callable[[], T]) -> T:
    """Run ``action`` (a service call) in its own write transaction and commit it; roll it back
    and re-raise when it fails."""
    db.session.commit()  # end the read transaction: the write below takes the lock at once
    try:
        with writing():
            result = action()
            db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return result
