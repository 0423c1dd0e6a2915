"""Flask extensions, created unbound and initialised in create_app()."""

from __future__ import annotations

from functools import cached_property

from flask import request
from flask_babel import Babel, Domain, _get_current_context
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


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = _Babel()
limiter = Limiter(key_func=client_address, default_limits=[])
# Responses are compressed when the client accepts it (a reverse proxy may take this over).
compress = Compress()
