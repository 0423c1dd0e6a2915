"""Flask extensions, created unbound and initialised in create_app()."""

from __future__ import annotations

from functools import cached_property
from types import SimpleNamespace

import flask_babel
from flask import request
from flask.globals import _cv_app
from flask_babel import Babel, Domain
from flask_compress import Compress
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints so Alembic can alter them on SQLite (batch mode) and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def client_address() -> str:
    """The client's address as the WSGI server saw it (ProxyFix rewrites it when proxies are trusted)."""
    return request.remote_addr or "unknown"


def _get_current_context() -> SimpleNamespace | None:
    """Flask-Babel's per-context namespace (on ``g``), found through Flask's context variable
    instead of three lookups through the ``g`` proxy: every translated string — a form's label,
    an enum's label, a lazily translated message — asks for it (issue 14). Same namespace, same
    answer (None outside an app context)."""
    app_ctx = _cv_app.get(None)
    if app_ctx is None:
        return None
    g = app_ctx.g
    try:
        return g._flask_babel  # type: ignore[no-any-return]
    except AttributeError:
        g._flask_babel = found = SimpleNamespace()
        return found


flask_babel._get_current_context = _get_current_context


class _RequestDomain(Domain):
    """Flask-Babel's message domain, keeping the request's translations for the request: its own
    lookup runs about ten context-local lookups and formats the locale's name for every string
    (some 8 µs, and a page holds a hundred strings). Kept per locale object, so ``force_locale``
    and ``refresh()`` still switch."""

    def get_translations(self):  # type: ignore[no-untyped-def]
        ctx = _get_current_context()
        if ctx is None:
            return super().get_translations()
        kept = getattr(ctx, "dy_translations", None)
        if kept is not None and kept[0] is getattr(ctx, "babel_locale", None) and kept[0] is not None:
            return kept[1]
        translations = super().get_translations()
        ctx.dy_translations = (getattr(ctx, "babel_locale", None), translations)
        return translations


class _Babel(Babel):
    @cached_property
    def domain_instance(self) -> Domain:
        return _RequestDomain(domain=self.domain)


class _Limiter(Limiter):
    """Flask-Limiter, not resolving a view's limits for a request of a method none of them limits
    (issue 14): the login page and the card form limit POSTs only, yet every GET of them resolved
    and evaluated those limits, to find each one exempt. Anything else — a limit on every method,
    meta limits, the middleware's global limits — is checked as before. (It reads the decorators'
    limits from Flask-Limiter's manager, whose ``_decorated_limits`` it keeps per view.)"""

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if not in_middleware and callable_name and not self._meta_limits:
            groups = self.limit_manager._decorated_limits.get(callable_name)
            if groups and all(g.methods for g in groups):
                method = request.method.lower()
                if not any(method in g.methods for g in groups):
                    return
        super()._check_request_limit(callable_name, in_middleware)


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = _Babel()
limiter = _Limiter(key_func=client_address, default_limits=[])
# Responses are compressed when the client accepts it (a reverse proxy may take this over).
compress = Compress()


def read_core(statement, params: dict | None = None):  # type: ignore[no-untyped-def]
    """Run a prebuilt Core statement on the session's connection, in its transaction (issue 14).

    The hot pages build their statements once (module constants with bound parameters) and run
    them here: no ORM execution layer and no autoflush — for reading what is committed (a GET's
    page), not what the session holds unflushed."""
    return db.session.connection().execute(statement, params or {})
