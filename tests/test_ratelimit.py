"""Failed-login limits per account and per address (Flask-Limiter)."""

from __future__ import annotations

import pytest

from app.extensions import db
from tests.factories import PASSWORD, make_user


@pytest.fixture
def app_config():
    return {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": "memory://",
        "LOGIN_LIMIT_PER_ACCOUNT": "3 per 10 minutes",
        "LOGIN_LIMIT_PER_IP": "6 per 10 minutes",
    }


def test_account_is_locked_after_repeated_failures_even_with_the_right_password(client):
    user = make_user(phone="13912345678")
    for _ in range(3):
        assert client.post("/login", data={"phone": user.phone, "password": "bad"}).status_code == 422
    response = client.post("/login", data={"phone": user.phone, "password": PASSWORD})
    assert response.status_code == 429
    assert "尝试次数过多" in response.get_data(as_text=True)


def test_successful_logins_do_not_count(client):
    user = make_user()
    for _ in range(5):
        assert client.post("/login", data={"phone": user.phone, "password": PASSWORD}).status_code == 303
        client.post("/logout")


def test_one_address_is_limited_across_accounts(client):
    make_user(phone="13912345678")
    for i in range(6):
        client.post("/login", data={"phone": f"1370000000{i}", "password": "bad"})
    assert client.post("/login", data={"phone": "13912345678", "password": PASSWORD}).status_code == 429


def test_limits_are_shared_through_redis_when_configured(tmp_path, _template_db):
    """Two app instances (two workers) count failures together when storage is Redis. The keys
    get this test's own prefix, and only they are deleted: another run (an xdist worker, another
    checkout) may be using the same Redis database."""
    import os
    import uuid

    from tests.conftest import make_app, skip_or_fail

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        import redis

        server = redis.Redis.from_url(url, socket_connect_timeout=1)
        server.ping()
    except Exception:  # noqa: BLE001 — no Redis here
        skip_or_fail(f"Redis not reachable at {url}")
    prefix = f"shared-{uuid.uuid4().hex[:8]}"
    config = {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": url,
        "RATELIMIT_KEY_PREFIX": prefix,
        "LOGIN_LIMIT_PER_ACCOUNT": "2 per 10 minutes",
        "LOGIN_LIMIT_PER_IP": "100 per 10 minutes",
    }
    worker_a = make_app(tmp_path / "a", _template_db, **config)
    worker_b = make_app(tmp_path / "b", _template_db, **config)
    form = {"phone": "13912345678", "password": "bad"}
    try:
        assert worker_a.test_client().post("/login", data=form).status_code == 422
        assert worker_b.test_client().post("/login", data=form).status_code == 422
        assert worker_a.test_client().post("/login", data=form).status_code == 429
    finally:
        for pattern in (f"LIMITER/{prefix}/*", f"{prefix}/*"):
            for key in server.scan_iter(pattern):
                server.delete(key)
        for worker in (worker_a, worker_b):
            with worker.app_context():
                db.engine.dispose()


def _from(app, address: str):  # type: ignore[no-untyped-def]
    """A browser at ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


class TestLockoutIsPerClient:
    """Issue 12 item 6: an account locks for the address guessing at it, and for everyone only at a
    higher bound, which is audited and told to the account's owner."""

    @pytest.fixture
    def app_config(self):
        return {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://",
                "LOGIN_LIMIT_PER_CLIENT_ACCOUNT": "3 per 10 minutes", "LOGIN_LIMIT_PER_ACCOUNT": "6 per hour",
                "LOGIN_LIMIT_PER_IP": "100 per 10 minutes"}

    def test_failures_from_one_address_do_not_keep_the_owner_out(self, app):
        user = make_user(phone="13912345678")
        attacker = _from(app, "203.0.113.9")
        owner = _from(app, "198.51.100.7")
        for _ in range(3):
            assert attacker.post("/login", data={"phone": user.phone, "password": "bad"}).status_code == 422
        assert attacker.post("/login", data={"phone": user.phone, "password": PASSWORD}).status_code == 429
        assert owner.post("/login", data={"phone": user.phone, "password": PASSWORD}).status_code == 303

    def test_the_account_wide_bound_locks_everyone_and_is_audited_and_told(self, app):
        import sqlalchemy as sa

        from app.models import AuditEntry, Notification

        user = make_user(phone="13912345678")
        for i in range(6):  # two tries from each of three addresses
            client = _from(app, f"203.0.113.{i // 2}")
            assert client.post("/login", data={"phone": user.phone, "password": "bad"}).status_code == 422
        owner = _from(app, "198.51.100.7")
        assert owner.post("/login", data={"phone": user.phone, "password": PASSWORD}).status_code == 429
        failed = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "login.failed")).all()
        assert len(failed) == 6 and all(e.object_id == user.id and e.detail == "139****5678" for e in failed)
        assert db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "login.locked")) is not None
        notes = db.session.scalars(sa.select(Notification).where(Notification.user_id == user.id)).all()
        assert [n.kind for n in notes] == ["login-locked"]
