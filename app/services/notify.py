"""Telling people things: the in-app notification centre, and text messages through a notifier.

``notify()`` adds to a user's notification centre (in the caller's transaction). ``send_sms()``
hands a text to the configured notifier: the logging backend by default; a deployment sets
``SMS_GATEWAY_URL`` to plug in its SMS provider (see ``HttpSmsNotifier`` where it exists).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
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


class HttpSmsNotifier:
    """Hands each text to an SMS gateway: ``POST {url}`` with JSON ``{"phone": ..., "text": ...}``.

    A deployment puts a small adapter for its provider behind this URL. A slow or failing gateway
    must never break the request that caused the text: failures are logged and swallowed."""

    def __init__(self, url: str, timeout: float = 3.0) -> None:
        self.url = url
        self.timeout = timeout

    def send_sms(self, phone: str, text: str) -> None:
        body = json.dumps({"phone": phone, "text": text}, ensure_ascii=False).encode()
        req = urllib.request.Request(
            self.url, data=body, method="POST",
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:  # noqa: S310 — configured URL
                if response.status >= 300:
                    log.warning("SMS gateway answered %s for %s****%s", response.status, phone[:3], phone[-4:])
        except (urllib.error.URLError, OSError, ValueError) as e:
            log.warning("SMS gateway failed for %s****%s: %s", phone[:3], phone[-4:], e)


def get_notifier() -> Notifier:
    """The notifier configured for this app: ``NOTIFIER`` in config wins (tests), then an
    ``HttpSmsNotifier`` when ``SMS_GATEWAY_URL`` is set, else the logging backend."""
    configured = current_app.config.get("NOTIFIER")
    if configured is not None:
        return configured
    url = current_app.config.get("SMS_GATEWAY_URL")
    if url:
        return HttpSmsNotifier(str(url), float(current_app.config.get("SMS_GATEWAY_TIMEOUT", 3.0)))
    return LoggingNotifier()


def send_sms(phone: str, text: str) -> None:
    get_notifier().send_sms(phone, text)
