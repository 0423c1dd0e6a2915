"""Fixtures: a fresh database per test (SQLite by default; PostgreSQL with TEST_DATABASE_URL).

The schema always comes from the migrations: once per session into a template (SQLite: a file that
each test copies; PostgreSQL: the ``test`` database, truncated after each test).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask, has_app_context
from flask.testing import FlaskClient, FlaskCliRunner

from app import create_app
from app.extensions import db, limiter

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key",
    "WTF_CSRF_ENABLED": False,
    "RATELIMIT_ENABLED": False,
    # Argon2id with the lowest cost it allows: the suite hashes hundreds of passwords.
    "ARGON2_MEMORY_KIB": 8,
    "ARGON2_TIME_COST": 1,
    "ARGON2_PARALLELISM": 1,
    # One folder of built static files for the whole run (building compresses: ~1 s the first time).
    "ASSETS_DIR": tempfile.mkdtemp(prefix="dy-assets-"),
}


def skip_or_fail(reason: str) -> None:
    """On a user's machine a missing service skips; in CI it fails, so nothing is silently skipped."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must run this)", pytrace=False)
    pytest.skip(reason)


def _is_postgres() -> bool:
    return TEST_DATABASE_URL.startswith("postgresql")


def _migrate(app: Flask) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        db.engine.dispose()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the translation catalogues (the .mo files are build output, not in git)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in (Path(__file__).parent.parent / "app" / "translations").glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as f:
                catalog = read_po(f)
            with mo.open("wb") as f:
                write_mo(f, catalog)


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Run the migrations once; return the database URL tests start from."""
    if _is_postgres():
        engine = sa.create_engine(TEST_DATABASE_URL)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
        _migrate(create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": TEST_DATABASE_URL,
                             "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance"))}))
        return TEST_DATABASE_URL
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    _migrate(create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
                         "INSTANCE_PATH": str(path.parent)}))
    # Fold the WAL into the main file so that copying the file copies the whole schema.
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return str(path)


def _truncate_all(app: Flask) -> None:
    with app.app_context():
        tables = [t.name for t in db.metadata.sorted_tables]
        with db.engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


class FreshContextClient(FlaskClient):
    """Each request gets its own app context, as in production: the test's own context (and its
    database session) stays apart, and nothing cached in ``g`` leaks from one request to the next.
    The test's session commits first: that ends its read snapshot (SQLite would refuse to upgrade a
    stale one to a write) and expires what it holds, so objects are re-read after the request."""

    def open(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if has_app_context():
            db.session.commit()
        with self.application.app_context():
            return super().open(*args, **kwargs)


def make_app(tmp_path: Path, template: str, **overrides: object) -> Flask:
    """An app on a fresh copy of the template database."""
    if _is_postgres():
        uri = template
    else:
        tmp_path.mkdir(parents=True, exist_ok=True)
        target = tmp_path / "test.sqlite"
        shutil.copyfile(template, target)
        uri = f"sqlite:///{target}"
    config = {**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": uri, "INSTANCE_PATH": str(tmp_path / "instance")}
    config.update(overrides)
    app = create_app(config)
    app.test_client_class = FreshContextClient
    return app


@pytest.fixture
def app_config() -> dict:
    """Override in a module to change the app's configuration for its tests."""
    return {}


@pytest.fixture(scope="session")
def _shared_app(tmp_path_factory: pytest.TempPathFactory, _template_db: str) -> Iterator[tuple]:
    """One app for the whole session: building an app registers ~500 URL rules, which costs more
    than most tests. Each test still gets a fresh database (a new copy of the template file, or
    a truncated PostgreSQL database) and the configuration as it was at the start."""
    base = tmp_path_factory.mktemp("shared")
    app = make_app(base, _template_db)
    yield app, base / "test.sqlite", dict(app.config)
    with app.app_context():
        db.engine.dispose()


def _fresh_sqlite(app: Flask, target: Path, template: str) -> None:
    with app.app_context():
        db.engine.dispose()
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, target)


@pytest.fixture
def app(tmp_path: Path, _template_db: str, app_config: dict, _shared_app: tuple) -> Iterator[Flask]:
    if app_config:  # a module that needs another configuration gets its own app
        app = make_app(tmp_path, _template_db, **app_config)
        own = True
    else:
        app, target, snapshot = _shared_app
        app.config.clear()
        app.config.update(snapshot)
        app.config["UPLOAD_DIR"] = str(tmp_path / "instance" / "uploads")
        if not _is_postgres():
            _fresh_sqlite(app, target, _template_db)
        own = False
    # The limiter is one object for every app: one that a module's app switched on stays on (with
    # its counts) for the shared app after it. Each test starts with its own app's setting, and
    # with no counts.
    limiter.enabled = bool(app.config.get("RATELIMIT_ENABLED", True))
    if limiter.enabled and limiter._storage is not None:  # None until an app enabled it
        limiter.reset()
    ctx = app.app_context()
    ctx.push()
    try:
        yield app
    finally:
        db.session.remove()
        ctx.pop()
        if _is_postgres():
            _truncate_all(app)
        if own:
            with app.app_context():
                db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()
