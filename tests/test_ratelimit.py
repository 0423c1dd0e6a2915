"""Failed-login limits per account and per address (Flask-Limiter)."""

from __future__ import annotations

import pytest

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
