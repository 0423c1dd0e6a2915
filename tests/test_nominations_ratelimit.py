"""Objections on the public notice page are limited per address."""

from __future__ import annotations

import pytest

from app.extensions import limiter
from tests.factories import (
    advance_to_notice,
    make_admin,
    make_member,
    make_nomination,
    make_personas,
)


@pytest.fixture
def app_config():
    return {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://", "OBJECTION_LIMIT_PER_IP": "2 per hour"}


def test_one_address_may_lodge_only_a_few_objections(app, client):
    limiter.reset()
    p = make_personas()
    township_admin = make_admin(p.tree.township, name="镇管理员")
    nom = advance_to_notice(make_nomination(make_member(p.tree.grid, name="陈候选")), p.community_admin, township_admin)
    data = {f"o{nom.id}-phone": "13912345678", f"o{nom.id}-text": "异议"}
    assert client.post(f"/nominations/notice/{nom.id}/objection", data=data).status_code == 303
    assert client.post(f"/nominations/notice/{nom.id}/objection", data=data).status_code == 303
    assert client.post(f"/nominations/notice/{nom.id}/objection", data=data).status_code == 429
