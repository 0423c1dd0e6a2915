"""Telling people things: the in-app notification centre, and text messages to residents.

``notify()`` adds to a user's notification centre, in the caller's transaction. ``queue_sms()``
puts a text in the session's outbox; the commit hook in ``app/sms.py`` sends what a committed
transaction queued and drops what a rolled-back one did, so no text announces a change that was
not kept.
"""

from __future__ import annotations

from app.extensions import db
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
