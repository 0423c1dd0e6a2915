"""Telling people things: the in-app notification centre, and text messages to residents.

``notify()`` adds to a user's notification centre, in the caller's transaction. ``queue_sms()``
puts a text in the session's outbox; the commit hook in ``app/sms.py`` sends what a committed
transaction queued and drops what a rolled-back one did, so no text announces a change that was
not kept.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.clock import utcnow
from app.extensions import db, read_core
from app.models import Notification

OUTBOX = "sms_outbox"


def notify(user_id: int, title: str, body: str = "", url: str = "", kind: str = "") -> Notification:
    """Put a notification in ``user_id``'s centre. The caller commits."""
    note = Notification(user_id=user_id, title=title[:128], body=body, url=url, kind=kind)
    db.session.add(note)
    return note


def queue_sms(phone: str | None, text: str) -> None:
    """Send ``text`` to ``phone`` once the current transaction commits (nothing if it rolls back)."""
    if phone:
        db.session.info.setdefault(OUTBOX, []).append((phone, text))


# --- The notification centre ------------------------------------------------------------------


def inbox(user_id: int) -> sa.Select[tuple[Notification]]:
    """A user's notifications, newest first (the view paginates)."""
    return (sa.select(Notification).where(Notification.user_id == user_id)
            .order_by(Notification.created_at.desc(), Notification.id.desc()))


# Built once: the badge asks on every page view and every minute (issue 14).
_UNREAD = sa.select(sa.func.count(Notification.id)).where(
    Notification.user_id == sa.bindparam("user"), Notification.read_at.is_(None))


def unread_count(user_id: int) -> int:
    """How many of the user's notifications are unread (the badge in the header)."""
    return read_core(_UNREAD, {"user": user_id}).scalar() or 0


def mark_read(note: Notification) -> Notification:
    """Mark one notification read (once: the first reading time is kept)."""
    if note.read_at is None:
        note.read_at = utcnow()
    return note


def mark_all_read(user_id: int) -> None:
    """Mark every unread notification of the user read."""
    db.session.execute(
        sa.update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
