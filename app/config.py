"""Configuration: defaults here, then the environment, then the test dict given to create_app()."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path


class ConfigError(RuntimeError):
    """Raised at start-up when production runs without a setting it must have."""


DEFAULTS: dict[str, object] = {
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    # SQLite: FULL waits for the disk on every commit (DESIGN §9); NORMAL (WAL's usual setting)
    # keeps commits atomic and crash-safe for the app but not for a power cut (app/database.py).
    "SQLITE_SYNCHRONOUS": "FULL",
    "MAX_CONTENT_LENGTH": 12 * 1024 * 1024,  # photos ≤ 10 MB + form fields; imports ≤ 5 MB checked apart
    "IMPORT_MAX_BYTES": 5 * 1024 * 1024,
    "BABEL_DEFAULT_LOCALE": "zh_Hans_CN",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
    "LANGUAGES": ["zh_Hans_CN", "en"],
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session, which has its own lifetime
    "WTF_CSRF_HEADERS": ["X-CSRFToken"],
    # Cookies: every flag set on purpose (Flask's 31 days and Flask-Login's 365 are not choices).
    "SESSION_COOKIE_NAME": "dy_session",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
    # The lifetime slides with use; an unchanged session's cookie is signed again (and sent) only
    # when it is older than this (app/sessions.py), not on every response.
    "SESSION_REFRESH_AFTER": timedelta(minutes=5),
    "REMEMBER_COOKIE_NAME": "dy_remember",
    "REMEMBER_COOKIE_DURATION": timedelta(days=14),
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_SECURE": False,
    "REMEMBER_COOKIE_REFRESH_EACH_REQUEST": False,
    # Admins on shared tablets are signed out after this much inactivity.
    "ADMIN_IDLE_TIMEOUT": timedelta(minutes=30),
    # Argon2id (OWASP: m=19 MiB, t=2, p=1).
    "ARGON2_MEMORY_KIB": 19 * 1024,
    "ARGON2_TIME_COST": 2,
    "ARGON2_PARALLELISM": 1,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    "RATELIMIT_STRATEGY": "moving-window",
    "LOGIN_LIMIT_PER_IP": "20 per 10 minutes",
    # An account from one address, and an account from everywhere (the bound above which its owner
    # is told and the attempt is audited).
    "LOGIN_LIMIT_PER_CLIENT_ACCOUNT": "5 per 10 minutes",
    "LOGIN_LIMIT_PER_ACCOUNT": "30 per hour",
    # Typing a kiosk's six-digit check-in code (app/services/checkin_codes.py): every try by one
    # member; wrong tries from one address (a station's Wi-Fi serves many members); and the lock
    # after wrong codes, kept in the database.
    "CHECKIN_CODE_LIMIT_PER_MEMBER": "10 per hour",
    "CHECKIN_CODE_LIMIT_PER_IP": "30 per 10 minutes",
    "CHECKIN_CODE_LOCK_AFTER": 5,
    "CHECKIN_CODE_LOCK_MINUTES": 15,
    # Set when a reverse proxy we trust sets X-Forwarded-For (number of proxies in front).
    "TRUSTED_PROXIES": 0,
    "PRODUCTION": False,
    # Audit log entries older than this are deleted by `flask prune-audit` (never under 183 days).
    "AUDIT_RETENTION_DAYS": 3 * 365,
    # Flask-Compress: pages and generated SVG/JSON. Files streamed from disk (static files, photos)
    # are left alone: its streaming path does not close the file it wraps.
    "COMPRESS_STREAMS": False,
    "COMPRESS_ALGORITHM": ["br", "gzip"],
}

# Environment variables read, and the config key each one sets.
ENV_KEYS = {
    "SECRET_KEY": "SECRET_KEY",
    "DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "RATELIMIT_STORAGE_URI": "RATELIMIT_STORAGE_URI",
    "REDIS_URL": "REDIS_URL",
    "SMS_GATEWAY_URL": "SMS_GATEWAY_URL",
    "PUBLIC_BASE_URL": "PUBLIC_BASE_URL",
    "SQLITE_SYNCHRONOUS": "SQLITE_SYNCHRONOUS",
}


def load(app_root: Path, instance_path: Path, test_config: dict | None) -> dict[str, object]:
    """Build the configuration dict: defaults, then environment, then test_config."""
    cfg: dict[str, object] = dict(DEFAULTS)
    cfg["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance_path / 'dangyuan.sqlite'}"
    cfg["UPLOAD_DIR"] = str(instance_path / "uploads")
    for env, key in ENV_KEYS.items():
        if os.environ.get(env):
            cfg[key] = os.environ[env]
    if os.environ.get("AUDIT_RETENTION_DAYS"):
        cfg["AUDIT_RETENTION_DAYS"] = int(os.environ["AUDIT_RETENTION_DAYS"])
    if os.environ.get("TRUSTED_PROXIES"):
        cfg["TRUSTED_PROXIES"] = int(os.environ["TRUSTED_PROXIES"])
    if os.environ.get("APP_ENV") == "production":
        cfg["PRODUCTION"] = True
    if test_config:
        cfg.update(test_config)

    if cfg["PRODUCTION"]:
        if not cfg.get("SECRET_KEY"):
            raise ConfigError("SECRET_KEY must be set in the environment in production")
        for key in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
            cfg[key] = True
    elif not cfg.get("SECRET_KEY"):
        cfg["SECRET_KEY"] = _dev_secret(instance_path)
    uri = str(cfg["SQLALCHEMY_DATABASE_URI"])
    if uri.startswith("postgresql://"):
        cfg["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + uri.removeprefix("postgresql://")
    if uri.startswith("sqlite") and cfg["SQLALCHEMY_ENGINE_OPTIONS"] is DEFAULTS["SQLALCHEMY_ENGINE_OPTIONS"]:
        # A file on this machine cannot drop a connection: no "SELECT 1" before every request's
        # first statement (a database server may have restarted; PostgreSQL keeps the ping).
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {**DEFAULTS["SQLALCHEMY_ENGINE_OPTIONS"], "pool_pre_ping": False}
    return cfg


def _dev_secret(instance_path: Path) -> str:
    """A random secret kept in instance/ so development sessions survive restarts."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
