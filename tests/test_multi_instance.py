"""Two gunicorn instances on two loopback ports sharing one PostgreSQL database and one Redis
(issue 12), as production runs behind its proxy: the same check-in scanned at both at once leaves
one row; a login limit reached on one holds on the other; logging out on one ends the session on
the other.

Runs in the PostgreSQL pass of ``.ci/run`` (its own database, ``<test database>_mi``, made and
dropped here; Redis db 14 by default — ``TRUST_REDIS_URL`` — with this test's own key prefix,
whose keys alone are deleted). Without PostgreSQL it is skipped (the SQLite pass); without Redis
it is skipped, or fails under CI=true.
"""

from __future__ import annotations

import os
import secrets
import threading
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import TEST_DATABASE_URL, skip_or_fail

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not TEST_DATABASE_URL.startswith("postgresql"),
                       reason="needs PostgreSQL: runs in the PostgreSQL pass (TEST_DATABASE_URL)"),
]

REDIS_URL = os.environ.get("TRUST_REDIS_URL", "redis://127.0.0.1:6379/14")


def _own_database() -> str:
    url = sa.engine.make_url(TEST_DATABASE_URL)
    name = f"{url.database}_mi"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _drop(url: str) -> None:
    parsed = sa.engine.make_url(url)
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def instances(tmp_path: Path):  # type: ignore[no-untyped-def]
    try:
        import redis

        server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        server.ping()
    except Exception:  # noqa: BLE001 — no Redis here
        skip_or_fail(f"Redis not reachable at {REDIS_URL}")
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.services import checkin_tokens
    from bench.instances import Gunicorn
    from tests.factories import make_member, make_personas

    url = _own_database()
    secret = secrets.token_hex(16)
    prefix = f"mi-{uuid.uuid4().hex[:8]}"
    seed_app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secret, "INSTANCE_PATH": str(tmp_path),
                           "ARGON2_MEMORY_KIB": 8, "ARGON2_TIME_COST": 1, "ARGON2_PARALLELISM": 1})
    with seed_app.app_context():
        upgrade()
        p = make_personas()
        members = [make_member(p.tree.grid, name=f"并发党员{i}") for i in range(6)]
        station_id = p.station.id

        def kiosk() -> str:  # a kiosk's code lives 60–90 s: made right before each scan
            with seed_app.app_context():
                return checkin_tokens.kiosk_token(station_id)

        world = {"station": station_id, "kiosk": kiosk,
                 "members": [m.user.phone for m in members], "member_ids": [m.id for m in members],
                 "admin": p.district_admin.phone}
        db.session.commit()
        db.engine.dispose()
    env = {"DATABASE_URL": url, "SECRET_KEY": secret, "INSTANCE_PATH": str(tmp_path),
           "RATELIMIT_STORAGE_URI": REDIS_URL, "TRUST_LIMITS": "1", "TRUST_LIMIT_PREFIX": prefix}
    a = Gunicorn("bench.crash_serve:application", env, tmp_path / "a.log").start()
    b = Gunicorn("bench.crash_serve:application", env, tmp_path / "b.log").start()
    try:
        yield a, b, world, url
    finally:
        a.stop()
        b.stop()
        for key in server.scan_iter(f"LIMITER/{prefix}/*"):
            server.delete(key)
        for key in server.scan_iter(f"{prefix}/*"):
            server.delete(key)
        _drop(url)


def _login(port: int, phone: str, password: str = "correct-horse-9"):  # type: ignore[no-untyped-def]
    from bench.instances import Client

    client = Client(port)
    status, _h, _b = client.post("/login", {"phone": phone, "password": password})
    return client, status


def test_two_instances_share_check_ins_limits_and_sessions(instances):
    from bench.instances import Client

    a, b, world, url = instances
    # 1. The same member scans the kiosk at both instances at the same moment: one row.
    for phone in world["members"]:
        client, status = _login(a.port, phone)
        assert status == 303
        other = Client(b.port)
        other.cookies.update(client.cookies)  # the same browser, sent to the other instance
        barrier, statuses, code = threading.Barrier(2), [], world["kiosk"]()

        def scan(c: Client, barrier: threading.Barrier, statuses: list[int], code: str) -> None:
            barrier.wait()
            statuses.append(c.get(f"/k/{code}")[0])

        threads = [threading.Thread(target=scan, args=(c, barrier, statuses, code)) for c in (client, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(statuses) in ([200, 200], [200, 303], [303, 303]), statuses
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT member_id, count(*) FROM checkins GROUP BY member_id")).all()
    engine.dispose()
    assert sorted(rows) == [(m, 1) for m in sorted(world["member_ids"])]

    # 2. Five wrong passwords at one instance: the sixth attempt is refused at the other.
    for _ in range(5):
        assert _login(a.port, world["admin"], "wrong-password")[1] == 422
    assert _login(b.port, world["admin"])[1] == 429

    # 3. Logging out at one instance ends the session at the other.
    client, status = _login(a.port, world["members"][0])
    assert status == 303
    elsewhere = Client(b.port)
    elsewhere.cookies.update(client.cookies)
    assert elsewhere.get("/needs/")[0] == 200
    assert client.post("/logout", {})[0] == 303
    status, headers, _body = elsewhere.get("/needs/")
    assert status == 302 and "/login" in headers["Location"]
