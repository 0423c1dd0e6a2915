"""Request-wide behaviour: locale, the login loader, idle timeout, security headers, template globals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    has_request_context,
    request,
    session,
)
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user
from werkzeug.routing import IntegerConverter, Map

from app.extensions import db, login_manager
from app.forms_choices import MAX_ID
from app.htmx import is_partial
from app.models import User
from app.phones import mask_phone

LOCALE_COOKIE = "dy_lang"
DISPLAY_COOKIE = "dy_display"
SUPPORTED = {"zh_Hans_CN", "en"}

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",  # a voice message is played back before it is sent
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "manifest-src 'self'",
        "worker-src 'self'",
    ]
)


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None (no open redirect).

    Browsers drop tabs and newlines inside a URL, so ``/\t/evil.example`` would arrive as
    ``//evil.example``: any control character refuses the target, as do a scheme, a host and a
    backslash (which some browsers read as a slash).
    """
    if not target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target) or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def select_locale() -> str:
    """The language chosen with the switch (a cookie), else simplified Chinese."""
    chosen = request.cookies.get(LOCALE_COOKIE) if has_request_context() else None
    return chosen if chosen in SUPPORTED else current_app.config["BABEL_DEFAULT_LOCALE"]


@login_manager.user_loader
def load_user(token: str) -> User | None:
    """Look the user up by the session token, which changes at logout (see User.session_token)."""
    return db.session.scalar(sa.select(User).where(User.session_token == token))


login_manager.login_view = "auth.login"
login_manager.login_message = _l("请先登录。")
login_manager.login_message_category = "info"
# "basic" marks the session non-fresh when the client changes; mobile networks change IP often,
# so "strong" would log members out on the way to a station.
login_manager.session_protection = "basic"
login_manager.refresh_view = "auth.login"
login_manager.needs_refresh_message = _l("为了安全，请重新输入密码。")


def _enforce_admin_idle_timeout() -> None:
    """Sign admins out after a spell of inactivity: kiosks and office tablets are shared."""
    if request.endpoint == "static":  # a file needs no user: do not load one
        return
    if not current_user.is_authenticated or not current_user.is_admin:
        return
    now = datetime.now(UTC)
    last = session.get("seen")
    limit: timedelta = current_app.config["ADMIN_IDLE_TIMEOUT"]
    if last is not None and now - datetime.fromtimestamp(last, UTC) > limit:
        # A new session token ends this session on the server, so neither the cookie nor a
        # remember cookie brings the admin back without a password.
        current_user.end_sessions()
        db.session.commit()
        logout_user()
        session.clear()
        session["_remember"] = "clear"  # logout_user's request to drop the remember cookie
        flash(_l("长时间未操作，已自动退出，请重新登录。"), "info")
        return
    session["seen"] = now.timestamp()


def _security_headers(response: Response) -> Response:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("X-Frame-Options", "DENY")
    # The microphone: this site's own pages only (a resident records a voice message).
    h.setdefault("Permissions-Policy", "geolocation=(), microphone=(self)")
    if response.mimetype == "text/html":
        response.vary.add("HX-Request")
        # Personal pages must not linger in caches on shared devices — nor a resident's tracking
        # page or card form, which hold a need's text and status without any login.
        if current_user.is_authenticated or "Cache-Control" not in h:
            h["Cache-Control"] = "no-store"
    return response


class IdConverter(IntegerConverter):
    """``<int:…>`` in a URL: an id the database can hold (PostgreSQL's integer), else no match
    (404) — a huge number must not reach the database and fail there."""

    def __init__(self, map: Map, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)  # type: ignore[arg-type]


def _refuse_nul_bytes() -> None:
    """No text a person types holds a NUL byte; PostgreSQL cannot store one. Refuse it whole."""
    if "\x00" in request.path or any(
        "\x00" in value for values in request.values.listvalues() for value in values
    ):
        abort(400)


def local_time(value: datetime | None, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """Format a UTC datetime in the user's time zone (Asia/Shanghai)."""
    if value is None:
        return ""
    return format_datetime(value, fmt)


def first_invalid() -> bool:
    """True the first time a page renders a refused field (it gets ``autofocus``), then False."""
    if g.get("_first_invalid_seen"):
        return False
    g._first_invalid_seen = True
    return True


def init_app(app: Flask) -> None:
    """Install the hooks; called before any blueprint adds its routes (the id converter)."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(_refuse_nul_bytes)
    app.before_request(_enforce_admin_idle_timeout)
    app.after_request(_security_headers)
    app.jinja_env.filters["mask_phone"] = mask_phone
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.globals["first_invalid"] = first_invalid

    @app.context_processor
    def _globals() -> dict:
        from app import nav

        roles = current_user.role_set if current_user.is_authenticated else set()
        items = nav.items_for(roles, current_user if current_user.is_authenticated else None)
        return {
            "nav_items": items,
            "nav_bar_size": nav.bar_size(len(items)),
            "is_partial": is_partial,
            "current_locale": select_locale(),
            "large_type": request.cookies.get(DISPLAY_COOKIE) == "large",
        }
