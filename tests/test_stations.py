"""Station pages for admins: who may open each route, and managing stations and their admins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry, CheckinMode, Role, RoleAssignment, Station
from tests.factories import (
    PASSWORD,
    login,
    make_event,
    make_personas,
    make_station,
    make_station_admin,
    make_user,
)
from tests.helpers import count_queries

NOW = datetime.now(UTC)


@pytest.fixture
def world(app):
    p = make_personas()
    other_station = make_station(p.tree.community2, name="杨桥党群驿站")
    other_station_admin = make_station_admin(other_station, name="杨桥驿站管理员")
    event = make_event(p.station, NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    return p, other_station_admin, event


# Every station route with the status an allowed user gets (GET) or sees for an empty POST.
STATION_GETS = [
    "/stations/{s}/",
    "/stations/{s}/kiosk",
    "/stations/{s}/kiosk/live",
    "/stations/{s}/kiosk/qr.png",
    "/stations/{s}/kiosk/qr.svg",
    "/stations/{s}/poster",
    "/stations/{s}/manual",
    "/stations/{s}/manual?q=李",
    "/stations/{s}/events",
    "/stations/{s}/events/new",
    "/stations/{s}/events/{e}",
    "/stations/{s}/events/{e}/edit",
    "/stations/{s}/ledger",
    "/stations/{s}/ledger.xlsx",
]
STATION_POSTS = [  # (url, status for an allowed user posting nothing)
    ("/stations/{s}/manual", 422),
    ("/stations/{s}/events/new", 422),
    ("/stations/{s}/events/{e}/edit", 422),
    ("/stations/{s}/poster/regenerate", 303),
]
MANAGE_GETS = ["/stations/{s}/edit"]
MANAGE_POSTS = [("/stations/{s}/edit", 422), ("/stations/{s}/admins", 422),
                ("/stations/{s}/admins/{a}/remove", 303)]

RUNNERS = ["district_admin", "community_admin", "station_admin"]
MANAGERS = ["district_admin", "community_admin"]
OUTSIDERS = ["other_community_admin", "other_station_admin"]  # 404: not theirs to see
NO_ROLE = ["member", "resident", "nobody"]  # 403: not for them at all
ALL = RUNNERS + OUTSIDERS + NO_ROLE


def persona(world, who: str):
    p, other_station_admin, _ = world
    if who == "other_station_admin":
        return other_station_admin
    user = getattr(p, who)
    return user.user if who == "member" else user


def url(world, template: str) -> str:
    p, _, event = world
    return template.format(s=p.station.id, e=event.id, a=p.station_admin.id)


def expected(who: str, allowed: list[str], ok: int, manage: bool = False) -> int:
    if who in allowed:
        return ok
    if who == "station_admin" and manage:
        return 403  # runs the station, may not change it
    if who in OUTSIDERS:
        return 404
    return 403


@pytest.mark.parametrize("who", ALL)
def test_station_routes_answer_each_role(client, world, who):
    login(client, persona(world, who))
    for template in STATION_GETS:
        status = client.get(url(world, template)).status_code
        assert status == expected(who, RUNNERS, 200), (template, who, status)
    for template, ok in STATION_POSTS:
        status = client.post(url(world, template), data={}).status_code
        assert status == expected(who, RUNNERS, ok), (template, who, status)


@pytest.mark.parametrize("who", ALL)
def test_station_management_routes_answer_each_role(client, world, who):
    login(client, persona(world, who))
    for template in MANAGE_GETS:
        status = client.get(url(world, template)).status_code
        assert status == expected(who, MANAGERS, 200, manage=True), (template, who, status)
    for template, ok in MANAGE_POSTS:
        status = client.post(url(world, template), data={}).status_code
        assert status == expected(who, MANAGERS, ok, manage=True), (template, who, status)


@pytest.mark.parametrize("who", ALL)
def test_station_list_and_new_station_answer_each_role(client, world, who):
    login(client, persona(world, who))
    admins = RUNNERS + OUTSIDERS
    assert client.get("/stations/").status_code == (200 if who in admins else 403)
    org_admins = MANAGERS + ["other_community_admin"]
    assert client.get("/stations/new").status_code == (200 if who in org_admins else 403)
    assert client.post("/stations/new", data={}).status_code == (422 if who in org_admins else 403)


def test_anonymous_visitors_are_sent_to_log_in(client, world):
    for template in STATION_GETS + MANAGE_GETS + ["/stations/", "/stations/new"]:
        if template.endswith("/kiosk/live"):
            continue
        response = client.get(url(world, template))
        assert response.status_code == 302 and "/login" in response.headers["Location"], template
    for template, _ in STATION_POSTS + MANAGE_POSTS:
        assert client.post(url(world, template)).status_code == 302


def test_signed_out_kiosk_poll_asks_htmx_to_reload_instead_of_swapping_the_login_page(client, world):
    response = client.get(url(world, "/stations/{s}/kiosk/live"), headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].startswith("/login?next=")


def test_unknown_station_or_event_is_404(client, world):
    p, _, event = world
    login(client, p.district_admin)
    assert client.get("/stations/99999/").status_code == 404
    assert client.get(f"/stations/{p.station.id}/events/99999").status_code == 404
    other = make_station(p.tree.community, name="另一个驿站")
    assert client.get(f"/stations/{other.id}/events/{event.id}").status_code == 404


def test_station_list_shows_only_stations_in_scope(client, world):
    p, other_station_admin, _ = world
    login(client, p.community_admin)
    page = client.get("/stations/").get_data(as_text=True)
    assert "龙山党群驿站" in page and "杨桥党群驿站" not in page
    login(client, other_station_admin)
    page = client.get("/stations/").get_data(as_text=True)
    assert "杨桥党群驿站" in page and "龙山党群驿站" not in page


def test_station_list_runs_a_fixed_number_of_queries(client, world):

    p, _, _ = world
    login(client, p.district_admin)
    with count_queries() as few:
        client.get("/stations/")
    for i in range(15):
        make_station(p.tree.grid, name=f"网格驿站{i}")
    with count_queries() as many:
        client.get("/stations/")
    assert len(many) == len(few)


# Managing ----------------------------------------------------------------------------------------


def test_org_admin_creates_a_station_below_their_node(client, world):
    p, _, _ = world
    login(client, p.community_admin)
    data = {"name": "第一网格议事点", "kind": "deliberation", "org_node_id": p.tree.grid.id,
            "address": "龙山路9号", "checkin_mode": "poster", "opening_hours": "每天 9:00-17:00",
            "active": "y"}
    response = client.post("/stations/new", data=data)
    assert response.status_code == 303
    station = db.session.scalar(sa.select(Station).where(Station.name == "第一网格议事点"))
    assert station.checkin_mode is CheckinMode.POSTER and station.org_node_id == p.tree.grid.id


def test_org_admin_cannot_place_a_station_outside_their_node(client, world):
    p, _, _ = world
    login(client, p.community_admin)
    data = {"name": "越界驿站", "kind": "branch", "org_node_id": p.tree.community2.id, "checkin_mode": "kiosk"}
    response = client.post("/stations/new", data=data)
    assert response.status_code == 422
    assert db.session.scalar(sa.select(Station).where(Station.name == "越界驿站")) is None


def test_station_form_with_bad_input_is_422_in_chinese_and_keeps_what_was_typed(client, world):
    p, _, _ = world
    login(client, p.community_admin)
    response = client.post("/stations/new", data={"name": "", "kind": "branch", "address": "龙山路10号",
                                                  "org_node_id": p.tree.grid.id, "checkin_mode": "kiosk"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "请填写驿站名称" in page and "龙山路10号" in page


def test_org_admin_edits_mode_and_opening_hours(client, world):
    p, _, _ = world
    login(client, p.district_admin)
    form = client.get(f"/stations/{p.station.id}/edit").get_data(as_text=True)
    assert "08:30-17:30" in form
    data = {"name": p.station.name, "kind": "party_mass", "org_node_id": p.tree.community.id,
            "checkin_mode": "poster", "opening_hours": "周一至周六 09:00-18:00", "active": "y"}
    assert client.post(f"/stations/{p.station.id}/edit", data=data).status_code == 303
    db.session.refresh(p.station)
    assert p.station.checkin_mode is CheckinMode.POSTER
    assert p.station.opening_hours == "周一至周六 09:00-18:00"


def test_org_admin_assigns_a_station_admin_by_phone(client, world):
    p, _, _ = world
    helper = make_user(name="新管理员", phone="13955550001")
    old_token = helper.session_token
    login(client, p.community_admin)
    response = client.post(f"/stations/{p.station.id}/admins", data={"phone": "139 5555 0001"})
    assert response.status_code == 303
    db.session.refresh(helper)
    assert any(r.role is Role.STATION_ADMIN and r.station_id == p.station.id for r in helper.roles)
    assert helper.session_token == old_token  # adding a role signs nobody out (roles are read per request)
    assert db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "station.admin_add"))
    # The new admin can open the kiosk.
    login(client, helper)
    assert client.get(f"/stations/{p.station.id}/kiosk").status_code == 200


@pytest.mark.parametrize("phone,message", [("", "请输入手机号"), ("12345", "请输入11位手机号"),
                                           ("13999999999", "没有使用这个手机号的账号")])
def test_assigning_an_admin_with_a_bad_phone_is_422_in_chinese(client, world, phone, message):
    p, _, _ = world
    login(client, p.community_admin)
    response = client.post(f"/stations/{p.station.id}/admins", data={"phone": phone})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_assigning_the_same_admin_twice_is_refused(client, world):
    p, _, _ = world
    login(client, p.community_admin)
    response = client.post(f"/stations/{p.station.id}/admins", data={"phone": p.station_admin.phone})
    assert response.status_code == 422 and "已是本驿站管理员" in response.get_data(as_text=True)


def test_org_admin_removes_a_station_admin_who_then_loses_access(client, world):
    p, _, _ = world
    login(client, p.community_admin)
    assert client.post(f"/stations/{p.station.id}/admins/{p.station_admin.id}/remove").status_code == 303
    assert db.session.scalar(sa.select(RoleAssignment).where(RoleAssignment.user_id == p.station_admin.id)) is None
    assert client.post(f"/stations/{p.station.id}/admins/{p.station_admin.id}/remove").status_code == 404
    response = client.post("/login", data={"phone": p.station_admin.phone, "password": PASSWORD})
    assert response.status_code == 303
    assert client.get(f"/stations/{p.station.id}/kiosk").status_code == 403


def test_nav_shows_stations_to_admins_and_my_check_ins_to_members(client, world):
    p, _, _ = world
    login(client, p.station_admin)
    page = client.get("/").get_data(as_text=True)
    assert 'href="/stations/"' in page and "/me/checkins" not in page
    login(client, p.member.user)
    page = client.get("/").get_data(as_text=True)
    assert 'href="/me/checkins"' in page and 'href="/stations/"' not in page
    assert "/coming/checkin" not in page
