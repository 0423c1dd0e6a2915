"""Telling people things: the in-app notification centre, and text messages through a notifier.

``notify()`` adds to a user's notification centre (in the caller's transaction). ``send_sms()``
hands a text to the configured notifier: the logging backend by default; a deployment sets
``SMS_GATEWAY_URL`` to plug in its SMS provider (see ``HttpSmsNotifier`` where it exists).
"""

from __future__ import annotations

import logging
from typing import Protocol

from flask import current_app

from app.extensions import db
from app.models import Notification

log = logging.getLogger(__name__)


def notify(user_id: int, title: str, body: str = "", url: str = "", kind: str = "") -> Notification:
    """Put a notification in ``user_id``'s centre. The caller commits."""
    note = Notification(user_id=user_id, title=title[:128], body=body, url=url, kind=kind)
    db.session.add(note)
    return note


class Notifier(Protocol):
    def send_sms(self, phone: str, text: str) -> None: ...


class LoggingNotifier:
    """Writes the message to the log instead of sending it (development, tests, no provider)."""

    def send_sms(self, phone: str, text: str) -> None:
        log.info("SMS to %s****%s: %s", phone[:3], phone[-4:], text)


def get_notifier() -> Notifier:
    """The notifier configured for this app (``NOTIFIER`` in config wins, for tests)."""
    configured = current_app.config.get("NOTIFIER")
    if configured is not None:
        return configured
    return LoggingNotifier()


def send_sms(phone: str, text: str) -> None:
    get_notifier().send_sms(phone, text)
