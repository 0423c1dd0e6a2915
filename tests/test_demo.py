"""The demo district: coherent at a tiny scale, the same for the same seed, with realistic gaps in the
1+10+15 rule and a working account for every role."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from app.demo import district as demo
from app.demo.context import demo_extension
from app.extensions import db
from app.models import (
    CentralHousehold,
    HouseholdType,
    Member,
    OrgLevel,
    OrgNode,
    ResidentHousehold,
    Role,
    Station,
    User,
)
from app.services.structure import scope_summary
from tests.conftest import _is_postgres, _truncate_all, make_app

pytestmark = pytest.mark.slow  # each test builds a demo district (seconds each)

SCALE = "0.05"
MOBILE = re.compile(r"^1[3-9]\d{9}$")


def run_demo(app: Flask, *extra: str):
    result = app.test_cli_runner().invoke(args=["demo-district", "--scale", SCALE, *extra])
    assert result.exit_code == 0, result.output
    return result


def count(model) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def user_by_phone(phone: str) -> User:
    return db.session.scalar(sa.select(User).where(User.phone == phone))


def test_tiny_district_is_coherent_and_proportional(app):
    output = run_demo(app).output
    nodes = Counter(db.session.scalars(sa.select(OrgNode.level)))
    assert nodes[OrgLevel.DISTRICT] == 1 and nodes[OrgLevel.TOWNSHIP] >= 1
    assert nodes[OrgLevel.COMMUNITY] >= 1 and nodes[OrgLevel.GRID] >= 2
    households, members, residents = count(CentralHousehold), count(Member), count(ResidentHousehold)
    assert households == round(demo.BASE_COUNTS["households"] * 0.05)
    assert 11 * households <= members <= 15 * households
    assert 15 * members * 0.9 <= residents <= 20 * members
    assert count(Station) >= 1
    assert f"members: {members}" in output and f"residents: {residents}" in output
    assert set(db.session.scalars(sa.select(HouseholdType.name))) == set(demo.BUILTIN_HOUSEHOLD_TYPES)
    # Paths are the chain of ids from the root.
    by_id = {n.id: n for n in db.session.scalars(sa.select(OrgNode))}
    for node in by_id.values():
        parent = by_id.get(node.parent_id)
        assert node.path == f"{parent.path if parent else ''}{node.id}/"
        if parent:
            assert parent.level.child is node.level


def test_people_live_in_the_grid_of_their_household_and_cover_their_neighbours(app):
    run_demo(app)
    heads_elsewhere = db.session.scalar(
        sa.select(sa.func.count()).select_from(CentralHousehold)
        .join(Member, Member.id == CentralHousehold.head_member_id)
        .where(sa.or_(Member.central_household_id != CentralHousehold.id,
                      Member.grid_id != CentralHousehold.grid_id)))
    assert heads_elsewhere == 0
    members_elsewhere = db.session.scalar(
        sa.select(sa.func.count()).select_from(Member)
        .join(CentralHousehold, CentralHousehold.id == Member.central_household_id)
        .where(Member.grid_id != CentralHousehold.grid_id))
    assert members_elsewhere == 0
    residents_elsewhere = db.session.scalar(
        sa.select(sa.func.count()).select_from(ResidentHousehold)
        .join(Member, Member.id == ResidentHousehold.covering_member_id)
        .where(Member.grid_id != ResidentHousehold.grid_id))
    assert residents_elsewhere == 0
    resident = db.session.scalars(sa.select(ResidentHousehold).order_by(ResidentHousehold.id)).first()
    assert resident.address.endswith(f"{resident.building}栋{resident.unit}单元{resident.room}室")


def test_phones_are_valid_mobiles_and_never_repeat(app):
    run_demo(app)
    user_phones = list(db.session.scalars(sa.select(User.phone)))
    resident_phones = list(db.session.scalars(
        sa.select(ResidentHousehold.phone).where(ResidentHousehold.phone.is_not(None))))
    everyone = user_phones + resident_phones
    assert all(MOBILE.match(p) for p in everyone)
    assert len(set(everyone)) == len(everyone)
    share = len(resident_phones) / count(ResidentHousehold)
    assert 0.6 < share < 0.8
    # Only the demo accounts can log in.
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(
        User.password_hash.is_not(None))) == len(demo.DEMO_ACCOUNTS)


def snapshot() -> list[tuple]:
    users = db.session.execute(sa.select(User.id, User.name, User.phone).order_by(User.id)).all()
    residents = db.session.execute(
        sa.select(ResidentHousehold.id, ResidentHousehold.head_name, ResidentHousehold.phone,
                  ResidentHousehold.address, ResidentHousehold.covering_member_id)
        .order_by(ResidentHousehold.id)).all()
    nodes = db.session.execute(sa.select(OrgNode.id, OrgNode.name).order_by(OrgNode.id)).all()
    return [tuple(r) for r in users + residents + nodes]


def second_app(app: Flask, tmp_path: Path, template: str) -> Flask:
    """A second app on a fresh database (PostgreSQL has one test database: empty it first)."""
    db.session.commit()
    if _is_postgres():
        _truncate_all(app)
    (tmp_path / "b").mkdir()
    return make_app(tmp_path / "b", template)


def test_same_seed_gives_the_same_district(app, tmp_path, _template_db):
    run_demo(app, "--seed", "7")
    first = snapshot()
    other = second_app(app, tmp_path, _template_db)
    with other.app_context():
        run_demo(other, "--seed", "7")
        again = snapshot()
        db.session.remove()
        db.engine.dispose()
    assert again == first


def test_another_seed_gives_other_people(app, tmp_path, _template_db):
    run_demo(app, "--seed", "7")
    first = [n for _, n in db.session.execute(sa.select(User.id, User.name).order_by(User.id))][7:40]
    other = second_app(app, tmp_path, _template_db)
    with other.app_context():
        run_demo(other, "--seed", "8")
        second = [n for _, n in db.session.execute(sa.select(User.id, User.name).order_by(User.id))][7:40]
        db.session.remove()
        db.engine.dispose()
    assert first != second


HOMES = {
    "district": ("13900000001", ["1+10+15 达标情况", "组织架构"]),
    "township": ("13900000002", ["1+10+15 达标情况"]),
    "community": ("13900000003", ["1+10+15 达标情况"]),
    "station": ("13900000004", ["驿站今日", "待核实的服务记录"]),
    "head": ("13900000005", ["今日待办", "我的中心户"]),
    "member": ("13900000006", ["今日待办", "本期待走访"]),
    "resident": ("13900000007", ["反映诉求", "我的诉求"]),
    "mentor": ("13900000008", ["我的联系户", "我的帮带"]),
}


def test_every_demo_account_logs_in_with_the_demo_password_and_sees_its_home(app):
    run_demo(app)
    for key, (phone, expected) in HOMES.items():
        client = app.test_client()
        response = client.post("/login", data={"phone": phone, "password": demo.DEMO_PASSWORD})
        assert response.status_code == 303, key
        page = client.get("/").get_data(as_text=True)
        assert f"您好，{demo.DEMO_ACCOUNTS[key][1]}" in page, key
        for text in expected:
            assert text in page, (key, text)
        if key == "member":
            assert "未达15户" not in page


def test_demo_accounts_hold_their_roles_in_the_first_branch(app):
    run_demo(app)
    district = user_by_phone("13900000001")
    township, community = user_by_phone("13900000002"), user_by_phone("13900000003")
    assert district.admin_nodes[0].level is OrgLevel.DISTRICT
    assert township.admin_nodes[0].level is OrgLevel.TOWNSHIP
    assert community.admin_nodes[0].level is OrgLevel.COMMUNITY
    assert community.admin_nodes[0].parent_id == township.admin_nodes[0].id
    station = user_by_phone("13900000004").admin_stations[0]
    assert station.org_node_id == community.admin_nodes[0].id
    head = user_by_phone("13900000005").member
    household = head.central_household
    assert household.head_member_id == head.id
    assert household.grid.parent_id == community.admin_nodes[0].id
    member = user_by_phone("13900000006").member
    assert member.central_household_id == household.id
    covered = count(sa.select(ResidentHousehold.id).where(
        ResidentHousehold.covering_member_id == member.id).subquery())
    assert covered >= 15
    assert user_by_phone("13900000007").role_set == {Role.RESIDENT}


def test_the_rule_is_mostly_met_with_realistic_gaps(app):
    run_demo(app)
    summary = scope_summary(user_by_phone("13900000001"))
    assert 1 <= summary.households_below <= 0.2 * summary.households
    assert 1 <= summary.members_below <= 0.1 * summary.members
    assert 1 <= summary.residents_uncovered <= 0.02 * summary.residents
    without_household = db.session.scalar(
        sa.select(sa.func.count(Member.id)).where(Member.central_household_id.is_(None)))
    assert without_household >= 1
    secretaries = list(db.session.scalars(sa.select(Member).where(Member.is_secretary)))
    assert len(secretaries) == count(sa.select(OrgNode.id).where(
        OrgNode.level == OrgLevel.COMMUNITY).subquery())
    mentored = db.session.scalar(sa.select(sa.func.count(CentralHousehold.id)).where(
        CentralHousehold.mentor_id.is_not(None)))
    assert mentored >= 2


def test_if_empty_skips_a_second_run(app):
    run_demo(app)
    users = count(User)
    result = run_demo(app, "--if-empty")
    assert "跳过" in result.output
    assert count(User) == users


def test_generation_refuses_a_database_that_has_an_org_tree(app):
    run_demo(app)
    users = count(User)
    result = app.test_cli_runner().invoke(args=["demo-district", "--scale", SCALE])
    assert result.exit_code != 0
    assert "已有组织架构" in result.output
    assert count(User) == users


@pytest.mark.parametrize("scale", ["0", "-1", "nan", "1000"])
def test_generation_refuses_a_scale_out_of_range(app, scale):
    result = app.test_cli_runner().invoke(args=["demo-district", "--scale", scale])
    assert result.exit_code != 0 and "规模" in result.output
    assert count(OrgNode) == 0


def test_rows_added_after_generation_get_fresh_ids(app):
    run_demo(app)
    before = db.session.scalar(sa.select(sa.func.max(User.id)))
    user = User(phone="13700000001", name="新用户")
    db.session.add(user)
    db.session.commit()
    assert user.id == before + 1


def test_extensions_get_the_context_and_add_their_stats(app):
    seen = {}

    @demo_extension
    def extension(ctx: demo.DemoContext) -> dict[str, int]:
        seen["ctx"] = ctx
        seen["next_user"] = ctx.next_id("users")
        return {"members": 1000, "extra_rows": 3}

    try:
        output = run_demo(app).output
    finally:
        demo.EXTENSIONS.remove(extension)
    ctx = seen["ctx"]
    members = count(Member)
    assert f"members: {members + 1000}" in output and "extra_rows: 3" in output
    assert len(ctx.member_ids) == members and len(ctx.resident_ids) == count(ResidentHousehold)
    assert seen["next_user"] == db.session.scalar(sa.select(sa.func.max(User.id))) + 1
    assert set(ctx.admin_user_ids) == {"district", "township", "community", "station"}
    assert set(ctx.demo_user_ids) == set(demo.DEMO_ACCOUNTS)
    household = ctx.household_ids[0]
    assert ctx.members_of_household[household][0] == ctx.head_of_household[household]
    member = ctx.members_of_household[household][1]
    assert ctx.member_user_ids[member] == ctx.demo_user_ids["member"]
    assert len(ctx.residents_of_member[member]) >= 15
    assert ctx.grid_of_member[member] in ctx.grid_ids
    assert ctx.now.tzinfo is not None


@pytest.mark.parametrize("scale", ["0.01", "0.2"])
def test_other_small_scales_still_make_every_demo_account(app, scale):
    result = app.test_cli_runner().invoke(args=["demo-district", "--scale", scale])
    assert result.exit_code == 0, result.output
    for phone, _ in demo.DEMO_ACCOUNTS.values():
        assert user_by_phone(phone) is not None
