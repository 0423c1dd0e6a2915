"""Fixtures: a fresh database per test (SQLite by default; PostgreSQL with TEST_DATABASE_URL).

The schema always comes from the migrations: once per session into a template (SQLite: a file that
each test copies; PostgreSQL: the ``test`` database, emptied after each test).

Under pytest-xdist (``-n 2``) each worker is a session of its own: its own template file, and on
PostgreSQL its own database, ``<TEST_DATABASE_URL's database>_<worker>`` (``test_gw0``; with
``_2``… when another run on the same server holds that one), made on first use and kept, like
``test``, for the next run.
"""

from __future__ import annotations

import contextlib
import hashlib
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

# "gw0", "gw1"… in a pytest-xdist worker; "" in a plain run.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
_claim: sa.Connection | None = None  # holds this worker's database while the worker runs


def _worker_database(url: str) -> str:
    """This worker's own database beside ``url``'s: ``test_gw0``, or ``test_gw0_2``… when another
    run (another checkout on the same server) holds that one. Held by an advisory lock on a
    connection kept open while the process lives (the server lets it go when the process ends)."""
    global _claim
    base = sa.engine.make_url(url)
    try:
        conn = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT",
                                poolclass=sa.pool.NullPool).connect()
    except sa.exc.OperationalError:  # no server: the fixtures say so
        return base.set(database=f"{base.database}_{WORKER}").render_as_string(hide_password=False)
    for n in range(1, 100):
        name = f"{base.database}_{WORKER}" + (f"_{n}" if n > 1 else "")
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        if not conn.scalar(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": key}):
            continue
        if conn.scalar(sa.text("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = :name)"),
                       {"name": name}):  # in use all the same (a run that takes no lock)
            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            continue
        _claim = conn
        return base.set(database=name).render_as_string(hide_password=False)
    raise RuntimeError(f"no free test database beside {base.database}")


if WORKER and TEST_DATABASE_URL.startswith("postgresql"):
    TEST_DATABASE_URL = _worker_database(TEST_DATABASE_URL)
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
    """Compile the translation catalogues (the .mo files are build output, not in git). Under
    xdist the controller's session starts before its workers: they find the files done."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    if WORKER:
        return
    for po in (Path(__file__).parent.parent / "app" / "translations").glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as f:
                catalog = read_po(f)
            partial = mo.with_suffix(f".mo.{os.getpid()}")
            with partial.open("wb") as f:
                write_mo(f, catalog)
            partial.replace(mo)  # whole or not at all, for anyone reading it meanwhile


def _create_database(url: str, name: str) -> None:
    """CREATE DATABASE ``name`` on the server of ``url`` unless it is there."""
    admin = sa.create_engine(sa.engine.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}) is None:
                # made meanwhile by another run starting at the same moment: as good
                with contextlib.suppress(sa.exc.ProgrammingError, sa.exc.IntegrityError):
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``--dist loadscope``: each module runs whole on one worker, in the
    order collected) the modules with a test marked slow go first: the short modules are left
    to fill the end, so the workers finish together instead of one waiting for a long module."""
    if not WORKER:
        return
    slow = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow)


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Run the migrations once; return the database URL tests start from."""
    if _is_postgres():
        name = sa.engine.make_url(TEST_DATABASE_URL).database
        if WORKER:  # this worker's own database: made on first use, then kept like ``test``
            _create_database(TEST_DATABASE_URL, name)
        # A new schema rather than a new database: DROP DATABASE makes the server write a
        # checkpoint, which can take long on a busy server.
        engine = sa.create_engine(TEST_DATABASE_URL)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
            # A commit need not wait for the disk here: no test is about PostgreSQL surviving a
            # power cut, and the suite commits thousands of times (read by each new connection).
            conn.execute(sa.text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
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
    """Empty the PostgreSQL database as TRUNCATE … RESTART IDENTITY would, at a fraction of the
    cost: a test leaves rows in a few of the ~70 tables, and TRUNCATE makes new files for every
    table it names (~0.13 s each time, more on a busy machine). Only the tables that have rows are
    emptied, by DELETE, with the foreign-key triggers off for this transaction (the order of the
    DELETEs does not matter then; every table with rows is emptied, so nothing is left dangling);
    only the sequences that were used are reset. Without the superuser right that needs, the
    tables with rows are truncated."""
    with app.app_context(), db.engine.connect() as conn:
        tables = [t.name for t in db.metadata.sorted_tables]
        probe = " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM {t})" for t in tables)
        with conn.begin():
            filled = list(conn.execute(sa.text(probe)).scalars())
            used = list(conn.execute(sa.text(
                "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences"
                " WHERE last_value IS NOT NULL")).scalars())
        if not filled and not used:
            return
        try:
            with conn.begin():
                conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
                for table in filled:
                    conn.execute(sa.text(f"DELETE FROM {table}"))
        except sa.exc.ProgrammingError:  # not a superuser: may not turn the triggers off
            if filled:
                with conn.begin():
                    conn.execute(sa.text(f"TRUNCATE {', '.join(filled)} CASCADE"))
        if used:
            with conn.begin():
                conn.execute(sa.text("SELECT " + ", ".join(f"setval('{s}', 1, false)" for s in used)))


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
