"""This module runs with CSRF protection on, as production does."""

from __future__ import annotations

import re

import pytest

from tests.factories import PASSWORD, make_user


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


def _token(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_login_without_token_is_refused_in_chinese(client):
    user = make_user()
    response = client.post("/login", data={"phone": user.phone, "password": PASSWORD})
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)


def test_login_with_token_works(client):
    user = make_user()
    token = _token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"phone": user.phone, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303


def test_htmx_request_without_token_asks_for_a_refresh(client):
    response = client.post("/login", data={}, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert response.headers["HX-Refresh"] == "true"


def test_htmx_request_with_header_token_passes(client):
    user = make_user()
    page = client.get("/login").get_data(as_text=True)
    header_token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    response = client.post(
        "/login",
        data={"phone": user.phone, "password": PASSWORD},
        headers={"HX-Request": "true", "X-CSRFToken": header_token},
    )
    assert response.status_code == 303
