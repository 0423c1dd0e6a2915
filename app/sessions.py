"""The session cookie, checked once per distinct cookie and signed again only when it is due (issue 14).

Flask's cookie session verifies the cookie's HMAC and decodes its tagged JSON on every request,
and — for a permanent session with ``SESSION_REFRESH_EACH_REQUEST`` — signs it again and sends a
new ``Set-Cookie`` on every response, so that the session's lifetime slides with use. A logged-in
member's session cookie is the same on request after request, so here:

- a cookie once verified is kept (per process, the least recently used dropped first) with what it
  holds and when it was signed; the same cookie again is answered from there, its age checked
  against the session's lifetime as the signature check would. Only sessions of plain values are
  kept (ids, flags, the CSRF token): one holding a list (messages waiting to be shown) is read
  afresh, since a view may change such a value in place;
- an unchanged permanent session is signed again only when its cookie is older than
  ``SESSION_REFRESH_AFTER`` (five minutes): the lifetime still slides with use, give or take those
  minutes, and other responses carry no ``Set-Cookie``. A changed session is written at once.

What the session says is unchanged: the signature is still checked (once), an expired cookie is
still refused, logout still ends the session on the server (``app/principal.py``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import timedelta

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

CACHE_SIZE = 4096
_PLAIN = (str, int, float, bool, type(None))


class _Session(SecureCookieSession):
    signed_at: float | None = None  # when its cookie was signed (None: no cookie, or a new one)


class CookieSessions(SecureCookieSessionInterface):
    session_class = _Session

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, tuple[dict, float]] = OrderedDict()
        self._serializer: tuple[object, URLSafeTimedSerializer] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:  # type: ignore[override]
        # Built once per secret key (Flask builds one, and derives its key, per request).
        if not app.secret_key:
            return None
        found = self._serializer
        if found is None or found[0] != app.secret_key:
            serializer = super().get_signing_serializer(app)
            assert serializer is not None
            self._serializer = found = (app.secret_key, serializer)
        return found[1]

    def open_session(self, app: Flask, request: Request) -> _Session | None:  # type: ignore[override]
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = app.permanent_session_lifetime.total_seconds()
        with self._lock:
            kept = self._kept.get(value)
            if kept is not None:
                self._kept.move_to_end(value)
        if kept is not None:
            data, signed_at = kept
            if time.time() - signed_at > max_age:
                with self._lock:
                    self._kept.pop(value, None)
                return self.session_class()
        else:
            try:
                data, stamp = serializer.loads(value, max_age=int(max_age), return_timestamp=True)
            except BadSignature:
                return self.session_class()
            signed_at = stamp.timestamp()
            if isinstance(data, dict) and all(isinstance(v, _PLAIN) for v in data.values()):
                with self._lock:
                    self._kept[value] = (data, signed_at)
                    while len(self._kept) > CACHE_SIZE:
                        self._kept.popitem(last=False)
        session = self.session_class(data)  # a copy: the kept dict is never changed
        session.signed_at = signed_at
        return session

    def should_set_cookie(self, app: Flask, session: SecureCookieSession) -> bool:  # type: ignore[override]
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        signed_at = getattr(session, "signed_at", None)
        every: timedelta = app.config.get("SESSION_REFRESH_AFTER", timedelta(minutes=5))
        return signed_at is None or time.time() - signed_at >= every.total_seconds()


def init_app(app: Flask) -> None:
    app.session_interface = CookieSessions()
