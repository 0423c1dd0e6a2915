"""Station forms with CSRF protection on, as production runs: every form carries its token."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Checkin
from tests.factories import PASSWORD, make_personas


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


def _token(page: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


def _login(client, user) -> None:  # type: ignore[no-untyped-def]
    token = _token(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"phone": user.phone, "password": PASSWORD, "csrf_token": token}).status_code == 303


def test_manual_check_in_form_works_with_its_token_and_not_without(client, app):
    p = make_personas()
    _login(client, p.station_admin)
    page = client.get(f"/stations/{p.station.id}/manual?q=李").get_data(as_text=True)
    assert client.post(f"/stations/{p.station.id}/manual", data={"member_id": p.member.id}).status_code == 400
    response = client.post(f"/stations/{p.station.id}/manual",
                           data={"member_id": p.member.id, "csrf_token": _token(page)})
    assert response.status_code == 303
    assert db.session.scalar(sa.select(sa.func.count(Checkin.id))) == 1


def test_event_form_works_with_its_token(client, app):
    p = make_personas()
    _login(client, p.station_admin)
    page = client.get(f"/stations/{p.station.id}/events/new").get_data(as_text=True)
    data = {"title": "主题党日", "kind": "theme_day", "starts_at": "2025-04-05T09:00",
            "ends_at": "2025-04-05T11:00", "csrf_token": _token(page)}
    assert client.post(f"/stations/{p.station.id}/events/new", data=data).status_code == 303
