"""Text messages leave after the commit that caused them, through the configured notifier.

Services queue texts with ``services.notify.queue_sms()``; :func:`init_app` registers session hooks
that send the queue after a commit and drop it after a rollback. ``NOTIFIER`` in the config wins
(tests), then an :class:`HttpSmsNotifier` when ``SMS_GATEWAY_URL`` is set, else the log.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Protocol

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session, SessionTransaction

from app.services.notify import OUTBOX

log = logging.getLogger(__name__)


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


def _send_outbox(session: Session) -> None:
    outbox = session.info.pop(OUTBOX, [])
    if not outbox or not has_app_context():
        return
    notifier = get_notifier()
    for phone, text in outbox:
        notifier.send_sms(phone, text)


def _drop_outbox(session: Session, previous: SessionTransaction) -> None:
    if not previous.nested:  # a savepoint rolled back leaves the outer transaction's texts
        session.info.pop(OUTBOX, None)


def init_app(app: Flask) -> None:
    if not sa.event.contains(Session, "after_commit", _send_outbox):
        sa.event.listen(Session, "after_commit", _send_outbox)
        sa.event.listen(Session, "after_soft_rollback", _drop_outbox)
