"""Established households: adjustment, profile, mentors, links, the gap finder, plaques."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from app.clock import local_today
from app.extensions import db
from app.models import (
    AdjustmentOutcome,
    CentralHousehold,
    EntryToken,
    HouseholdEvent,
    HouseholdStatus,
    HouseholdType,
    Member,
    ModelTitle,
    OrgLevel,
    ResidentHousehold,
)
from app.services import households as svc
from app.services import model_titles
from app.services.errors import NotAllowed
from app.services.gaps import find_gaps
from app.services.org import create_node
from app.services.workflow import WorkflowError
from tests.factories import (
    login,
    make_admin,
    make_household,
    make_member,
    make_personas,
    make_resident,
    make_tree,
    user_of,
)


@pytest.fixture
def p(app):
    personas = make_personas()
    personas.township_admin = make_admin(personas.tree.township, name="镇管理员")  # type: ignore[attr-defined]
    personas.household = db.session.get(CentralHousehold, personas.member.central_household_id)  # type: ignore[attr-defined]
    return personas


def _events(hh: CentralHousehold) -> list[str]:
    return list(db.session.scalars(sa.select(HouseholdEvent.kind).where(HouseholdEvent.household_id == hh.id)
                                   .order_by(HouseholdEvent.id)))


# --- adjustment ----------------------------------------------------------------------------------


def test_adjustment_to_revocation_keeps_the_history_readable(client, p):
    hh = p.household
    linked = p.member
    login(client, p.community_admin)
    assert client.post(f"/households/{hh.id}/adjustments", data={"reason": ""}).status_code == 422
    assert client.post(f"/households/{hh.id}/adjustments", data={"reason": "长期外出，无法履职"}).status_code == 303
    assert db.session.get(CentralHousehold, hh.id).status is HouseholdStatus.ADJUSTING
    adj = svc.open_adjustment_of(hh)
    # The community admin cannot take the township's decision.
    assert client.post(f"/households/adjustments/{adj.id}/decide",
                       data={"outcome": "revoked", "comment": "x"}).status_code == 422
    assert client.post(f"/households/adjustments/{adj.id}/review",
                       data={"decision": "approve", "comment": "属实"}).status_code == 303
    assert client.post(f"/households/adjustments/{adj.id}/decide",
                       data={"outcome": "revoked", "new_head_id": "0", "comment": "x"}).status_code == 403
    client.post("/logout")
    login(client, p.township_admin)
    assert client.post(f"/households/adjustments/{adj.id}/decide",
                       data={"outcome": "revoked", "new_head_id": "0", "comment": "撤销"}).status_code == 303
    hh = db.session.get(CentralHousehold, hh.id)
    assert hh.status is HouseholdStatus.REVOKED and hh.number  # kept, never deleted
    assert db.session.get(Member, linked.id).central_household_id is None
    assert db.session.scalar(sa.select(EntryToken).where(EntryToken.central_household_id == hh.id,
                                                        EntryToken.revoked_at.is_(None))) is None
    assert _events(hh)[-3:] == ["member_unlinked", "member_unlinked", "revoked"]
    page = client.get(f"/households/{hh.id}").get_data(as_text=True)
    assert "长期外出，无法履职" in page and "已撤销" in page and "李党员" in page and "联系党员移出" in page


def test_adjustment_can_end_with_a_new_head(p):
    hh = p.household
    old_head = hh.head
    adj = svc.open_adjustment(p.community_admin, hh, "户主年事已高")
    svc.adjustment_community_review(p.community_admin, adj, True, "同意")
    with pytest.raises(WorkflowError, match="新的户主"):
        svc.adjustment_decide(p.township_admin, adj, AdjustmentOutcome.NEW_HEAD, "更换", None)
    with pytest.raises(WorkflowError, match="本户联系党员"):
        svc.adjustment_decide(p.township_admin, adj, AdjustmentOutcome.NEW_HEAD, "更换", p.other_member)
    svc.adjustment_decide(p.township_admin, adj, AdjustmentOutcome.NEW_HEAD, "更换户主", p.member)
    db.session.commit()
    assert hh.head_member_id == p.member.id and hh.status is HouseholdStatus.ESTABLISHED
    assert old_head.central_household_id == hh.id  # the old head stays a linked member
    assert _events(hh)[-1] == "head_changed"


def test_adjustment_steps_cannot_be_skipped(p):
    hh = p.household
    adj = svc.open_adjustment(p.community_admin, hh, "群众反映强烈")
    with pytest.raises(WorkflowError):
        svc.adjustment_decide(p.township_admin, adj, AdjustmentOutcome.REVOKED, "撤销")
    with pytest.raises(WorkflowError, match="已创建"):
        svc.open_adjustment(p.community_admin, hh, "again")
    with pytest.raises(NotAllowed):
        svc.adjustment_community_review(p.other_community_admin, adj, True, "x")
    svc.adjustment_community_review(p.community_admin, adj, False, "经核实不需调整")
    db.session.commit()
    assert hh.status is HouseholdStatus.ESTABLISHED and adj.outcome is AdjustmentOutcome.KEPT


# --- duties, type, model flag, mentor ------------------------------------------------------------------


def test_admin_sets_duties_and_type(client, p):
    hh = p.household
    login(client, p.community_admin)
    client.get(f"/households/{hh.id}")
    svc.ensure_builtin_types()
    db.session.commit()
    t = db.session.scalar(sa.select(HouseholdType).where(HouseholdType.name == "爱心帮扶型"))
    response = client.post(f"/households/{hh.id}/profile",
                           data={"duties": ["policy", "mediation"], "type_id": t.id})
    assert response.status_code == 303
    hh = db.session.get(CentralHousehold, hh.id)
    assert {d.value for d in hh.duty_set} == {"policy", "mediation"}
    assert hh.type_id == t.id
    assert _events(hh)[-2:] == ["duties", "type"]
    bad = client.post(f"/households/{hh.id}/profile", data={"duties": ["astronaut"], "type_id": 0})
    assert bad.status_code == 422


# --- the 示范中心户 title, one per year -------------------------------------------------------------


def _titles(hh: CentralHousehold) -> list[ModelTitle]:
    return list(db.session.scalars(sa.select(ModelTitle).where(ModelTitle.household_id == hh.id)
                                   .order_by(ModelTitle.year)))


def test_admin_grants_a_title_for_a_year_and_the_badge_shows_the_latest(client, p):
    hh = p.household
    year = local_today().year
    login(client, p.community_admin)
    page = client.get(f"/households/{hh.id}").get_data(as_text=True)
    assert f'value="{year}"' in page  # this year unless another is given
    assert client.post(f"/households/{hh.id}/titles", data={"year": str(year - 2)}).status_code == 303
    assert client.post(f"/households/{hh.id}/titles", data={"year": str(year)}).status_code == 303
    [older, current] = _titles(hh)
    assert (older.year, current.year) == (year - 2, year)
    assert current.granted_by_id == p.community_admin.id and current.granted_at and current.revoked_at is None
    assert _events(hh)[-2:] == ["model_granted", "model_granted"]
    badge = f"示范中心户 · {year}"
    assert badge in client.get(f"/households/{hh.id}").get_data(as_text=True)
    assert badge in client.get("/households/").get_data(as_text=True)
    assert badge in client.get(f"/structure/households/{hh.id}").get_data(as_text=True)
    listing = client.get("/structure/households?model=1").get_data(as_text=True)
    assert badge in listing and "共 1 户中心户" in listing
    plaque = client.get(f"/households/{hh.id}/plaque").get_data(as_text=True)
    assert re.search(rf'id="plaque-model">示范中心户<span>{year - 2}、{year} 年度</span>', plaque)


@pytest.mark.parametrize(("year", "message"), [
    ("", "请填写年度"), ("abc", "整数"), ("1999", "请填写有效的年度"), ("99999999999", "请填写有效的年度"),
])
def test_a_bad_year_is_refused_and_nothing_granted(client, p, year, message):
    login(client, p.community_admin)
    response = client.post(f"/households/{p.household.id}/titles", data={"year": year})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert _titles(p.household) == []


def test_next_year_cannot_be_granted_yet(client, p):
    login(client, p.community_admin)
    response = client.post(f"/households/{p.household.id}/titles", data={"year": str(local_today().year + 1)})
    assert response.status_code == 422 and "年度须在" in response.get_data(as_text=True)
    assert _titles(p.household) == []


def test_one_title_per_year_and_a_revoked_year_stays_revoked(client, p):
    hh = p.household
    year = local_today().year
    login(client, p.community_admin)
    client.post(f"/households/{hh.id}/titles", data={"year": str(year)})
    again = client.post(f"/households/{hh.id}/titles", data={"year": str(year)})
    assert again.status_code == 422 and f"该户已是 {year} 年度示范中心户" in again.get_data(as_text=True)
    [title] = _titles(hh)
    empty = client.post(f"/households/{hh.id}/titles/{title.id}/revoke", data={"reason": "  "})
    assert empty.status_code == 422 and "请填写撤销理由" in empty.get_data(as_text=True)
    too_long = client.post(f"/households/{hh.id}/titles/{title.id}/revoke", data={"reason": "理" * 256})
    assert too_long.status_code == 422 and "理" * 256 in too_long.get_data(as_text=True)  # kept as typed
    assert client.post(f"/households/{hh.id}/titles/{title.id}/revoke",
                       data={"reason": "群众反映强烈，经核实属实"}).status_code == 303
    db.session.refresh(title)
    assert (title.revoked_by_id, title.revoke_reason) == (p.community_admin.id, "群众反映强烈，经核实属实")
    assert title.revoked_at is not None
    assert _events(hh)[-1] == "model_removed"
    page = client.get(f"/households/{hh.id}").get_data(as_text=True)
    assert "已撤销" in page and "群众反映强烈，经核实属实" in page and f"示范中心户 · {year}" not in page
    regrant = client.post(f"/households/{hh.id}/titles", data={"year": str(year)})
    assert regrant.status_code == 422 and "已撤销，同一年度不能再次授予" in regrant.get_data(as_text=True)
    twice = client.post(f"/households/{hh.id}/titles/{title.id}/revoke", data={"reason": "再撤"})
    assert twice.status_code == 422 and "已经撤销" in twice.get_data(as_text=True)
    assert len(_titles(hh)) == 1  # never deleted


def test_titles_are_for_the_admins_who_manage_the_household(client, p):
    hh = p.household
    title = model_titles.grant_model_title(hh, local_today().year, p.community_admin)
    db.session.commit()
    login(client, p.other_community_admin)
    assert client.post(f"/households/{hh.id}/titles", data={"year": "2024"}).status_code == 404
    assert client.post(f"/households/{hh.id}/titles/{title.id}/revoke", data={"reason": "x"}).status_code == 404
    client.post("/logout")
    login(client, p.district_admin)
    other_hh = make_household(p.tree.grid2, number="Y-9")
    # A title id taken with another household's page is not found.
    assert client.post(f"/households/{other_hh.id}/titles/{title.id}/revoke", data={"reason": "x"}).status_code == 404
    client.post("/logout")
    login(client, user_of(p.member))  # a linked member sees the page, but is no admin
    assert client.post(f"/households/{hh.id}/titles", data={"year": "2024"}).status_code == 403
    with pytest.raises(NotAllowed):
        model_titles.grant_model_title(hh, 2024, p.other_community_admin)
    with pytest.raises(NotAllowed):
        model_titles.revoke_model_title(title, p.other_community_admin, "x")
    db.session.rollback()
    assert [t.year for t in _titles(hh)] == [local_today().year] and _titles(hh)[0].revoked_at is None


def test_a_campaigns_title_names_its_campaign_and_year(p):
    from app.models import ModelCampaign

    year = local_today().year
    campaign = ModelCampaign(org_node_id=p.tree.community.id, year=year, title="创建示范中心户", criteria="服务成效突出",
                             created_by_id=p.community_admin.id)
    db.session.add(campaign)
    db.session.flush()
    with pytest.raises(WorkflowError, match="不是该户所在组织"):
        model_titles.grant_model_title(p.household, year - 1, p.community_admin, campaign)
    title = model_titles.grant_model_title(p.household, year, p.community_admin, campaign)
    db.session.commit()
    assert title.campaign_id == campaign.id
    assert model_titles.is_model_household(p.household, year) and not model_titles.is_model_household(p.household, year - 1)
    model_titles.revoke_model_title(title, p.community_admin, "不再符合条件")
    db.session.commit()
    assert not model_titles.is_model_household(p.household, year)


def test_a_revoked_household_gets_no_title(p):
    p.household.status = HouseholdStatus.REVOKED
    db.session.commit()
    with pytest.raises(WorkflowError, match="已撤销的中心户"):
        model_titles.grant_model_title(p.household, local_today().year, p.community_admin)


def test_the_households_ledger_lists_the_title_years(client, p):
    from openpyxl import load_workbook

    year = local_today().year
    for y in (year - 1, year):
        model_titles.grant_model_title(p.household, y, p.community_admin)
    db.session.commit()
    login(client, p.community_admin)
    rows = list(load_workbook(io.BytesIO(client.get("/structure/households.xlsx").data)).active.iter_rows(values_only=True))
    header = list(rows[2])
    assert "示范年度" in header
    assert rows[3][header.index("示范年度")] == f"{year - 1}、{year}"


@pytest.mark.parametrize(("role", "grant", "revoke"), [
    ("anonymous", 302, 302), ("resident", 403, 403), ("member", 403, 403), ("head", 403, 403),
    ("station_admin", 403, 403), ("community_admin", 303, 303), ("other_community_admin", 404, 404),
    ("township_admin", 303, 303), ("district_admin", 303, 303),
])
def test_title_steps_answer_each_role(client, p, role, grant, revoke):
    hh = p.household
    title = model_titles.grant_model_title(hh, local_today().year, p.community_admin)
    db.session.commit()
    who = {"resident": p.resident, "member": user_of(p.member), "head": user_of(hh.head),
           "station_admin": p.station_admin, "community_admin": p.community_admin,
           "other_community_admin": p.other_community_admin, "township_admin": p.township_admin,
           "district_admin": p.district_admin}.get(role)
    if who is not None:
        login(client, who)
    assert client.post(f"/households/{hh.id}/titles", data={"year": "2024"}).status_code == grant
    assert client.post(f"/households/{hh.id}/titles/{title.id}/revoke", data={"reason": "核实不符"}).status_code == revoke
    years = [(t.year, t.revoked_at is not None) for t in _titles(hh)]
    changed = grant == 303
    assert years == ([(2024, False), (local_today().year, True)] if changed else [(local_today().year, False)])


def test_district_admin_adds_a_household_type_others_cannot(client, p):
    login(client, p.community_admin)
    assert client.post("/households/types", data={"name": "产业带动型"}).status_code == 403
    client.post("/logout")
    login(client, p.district_admin)
    assert client.post("/households/types", data={"name": ""}).status_code == 422
    assert client.post("/households/types", data={"name": "产业带动型"}).status_code == 303
    names = set(db.session.scalars(sa.select(HouseholdType.name)))
    assert names == {"治理协助型", "爱心帮扶型", "文明倡导型", "产业带动型"}
    assert "已有这个类型" in client.post("/households/types", data={"name": "产业带动型"}).get_data(as_text=True)


def test_mentor_must_be_a_secretary_and_the_3_to_5_rule_is_flagged(client, p):
    secretary = make_member(p.tree.grid, name="刘书记")
    secretary.is_secretary = True
    db.session.commit()
    with pytest.raises(WorkflowError, match="书记"):
        svc.set_mentor(p.community_admin, p.household, p.member)
    login(client, p.community_admin)
    assert client.post(f"/households/{p.household.id}/mentor", data={"mentor_id": secretary.id}).status_code == 303
    assert db.session.get(CentralHousehold, p.household.id).mentor_id == secretary.id
    page = client.get("/households/mentors").get_data(as_text=True)
    assert "刘书记" in page and "不足3户" in page
    assert svc.mentor_flag(3) == "ok" and svc.mentor_flag(6) == "above" and svc.mentor_flag(2) == "below"


# --- links ------------------------------------------------------------------------------------------


def test_members_are_linked_one_by_one_and_in_bulk(client, p):
    hh = p.household
    a = make_member(p.tree.grid, name="甲党员", phone="13600000001")
    b = make_member(p.tree.grid_b, name="乙党员")
    c = make_member(p.tree.grid, name="丙党员")
    login(client, p.community_admin)
    assert client.post(f"/households/{hh.id}/members", data={"member": "13600000001"}).status_code == 303
    assert client.post(f"/households/{hh.id}/members", data={"member": "不存在"}).status_code == 422
    assert client.post(f"/households/{hh.id}/members/bulk", data={}).status_code == 422
    assert client.post(f"/households/{hh.id}/members/bulk", data={"member_ids": [b.id, c.id]}).status_code == 303
    assert {m.central_household_id for m in (a, b, c)} == {hh.id}
    assert client.post(f"/households/{hh.id}/members/{a.id}/unlink").status_code == 303
    assert db.session.get(Member, a.id).central_household_id is None
    page = client.get(f"/households/{hh.id}").get_data(as_text=True)
    assert "未达10名" in page


def test_resident_households_are_assigned_in_bulk(client, p):
    r1, r2 = make_resident(p.tree.grid), make_resident(p.tree.grid)
    login(client, p.community_admin)
    url = f"/households/residents?grid={p.tree.grid.id}"
    assert client.get(url).status_code == 200
    assert client.post(url, data={"member_id": p.member.id}).status_code == 422
    assert client.post(url, data={"resident_ids": [r1.id, r2.id], "member_id": p.member.id}).status_code == 303
    assert {db.session.get(ResidentHousehold, r.id).covering_member_id for r in (r1, r2)} == {p.member.id}
    client.post("/logout")
    login(client, p.other_community_admin)
    assert client.get(url).status_code == 404


# --- the gap finder ----------------------------------------------------------------------------------


def test_gap_finder_exact_output_and_a_suggestion_applied(client, app):
    tree = make_tree()
    hh = make_household(tree.grid)  # head 王户长, no linked members
    head = hh.head
    m1 = make_member(tree.grid, name="一号")
    m2 = make_member(tree.grid, name="二号")
    m3 = make_member(tree.grid_b, name="三号")
    make_resident(tree.grid, m1, building="1", room="101")
    r2 = make_resident(tree.grid, None, building="2", room="201")
    r3 = make_resident(tree.grid, None, building="1", room="102")
    r4 = make_resident(tree.grid_b, None, building="5", room="501")
    make_resident(tree.grid2, None)  # another community: not in this report

    report = find_gaps(tree.community)
    assert [(g.household.id, g.linked, [m.name for m in g.suggested]) for g in report.households_below] == [
        (hh.id, 0, ["一号", "二号", "三号"])]
    assert [(u.member.name, u.suggested.id) for u in report.unlinked_members] == [
        ("一号", hh.id), ("二号", hh.id), ("三号", hh.id)]
    # Same grid first, then a member already in the building (一号 covers building 1), then fewest.
    assert [(f.member.name, [r.id for r in f.residents]) for f in report.uncovered] == [
        ("一号", [r3.id]), ("王户长", [r2.id]), ("三号", [r4.id])]
    assert [(g.member.name, g.covered, [r.id for r in g.suggested]) for g in report.members_below] == [
        ("王户长", 0, [r2.id]), ("二号", 0, []), ("三号", 0, [r4.id]), ("一号", 1, [r3.id])]
    assert report.uncovered_count == 3 and not report.clean
    # A grid-level report only sees its grid.
    assert [u.member.name for u in find_gaps(tree.grid_b).unlinked_members] == ["三号"]

    admin = make_admin(tree.community, name="社区管理员")
    login(client, admin)
    page = client.get(f"/households/gaps?node={tree.community.id}").get_data(as_text=True)
    assert "一号（第一网格）、二号（第一网格）、三号（第二网格）" in page
    response = client.post("/households/gaps/apply", data={
        "node": tree.community.id, "kind": "cover", "target": head.id, "ids": [r2.id]})
    assert response.status_code == 303
    assert db.session.get(ResidentHousehold, r2.id).covering_member_id == head.id
    response = client.post("/households/gaps/apply", data={
        "node": tree.community.id, "kind": "link", "target": hh.id, "ids": [m1.id, m2.id, m3.id]})
    assert response.status_code == 303
    report = find_gaps(tree.community)
    assert report.unlinked_members == [] and report.households_below[0].linked == 3
    assert [(f.member.name, [r.id for r in f.residents]) for f in report.uncovered] == [
        ("一号", [r3.id]), ("三号", [r4.id])]


def test_uncovered_households_go_to_the_member_the_rule_names(app):
    """Step 3 on a random community (grids with and without members, members of one grid covering
    another's buildings): each uncovered household goes, in address order, to the least member by
    (not in its grid, not covering its building, households covered so far, id) — the rule,
    computed here by comparing every member."""
    import random

    from app.services.gaps import _resident_order

    rng = random.Random(7)
    tree = make_tree()
    empty = create_node("无人网格", OrgLevel.GRID, tree.community)
    grids = [tree.grid, tree.grid_b, empty]
    members = [make_member(rng.choice(grids[:2]), name=f"党员{i}") for i in range(7)]
    for i in range(60):
        make_resident(rng.choice(grids), rng.choice(members + [None] * 4), building=str(rng.randrange(4)),
                      room=str(1000 + i))
    report = find_gaps(tree.community)
    node_members = [m for m in db.session.scalars(sa.select(Member)) if m.grid_id in {g.id for g in grids}]
    residents = [r for r in db.session.scalars(sa.select(ResidentHousehold)) if r.grid_id in {g.id for g in grids}]
    counts = {m.id: sum(r.covering_member_id == m.id for r in residents) for m in node_members}
    buildings = {m.id: {(r.grid_id, r.building) for r in residents if r.covering_member_id == m.id}
                 for m in node_members}
    expected: dict[int, list[int]] = {}
    for r in sorted((r for r in residents if r.covering_member_id is None), key=_resident_order):
        m = min(node_members, key=lambda m: (m.grid_id != r.grid_id, (r.grid_id, r.building) not in buildings[m.id],
                                            counts[m.id], m.id))
        counts[m.id] += 1
        buildings[m.id].add((r.grid_id, r.building))
        expected.setdefault(m.id, []).append(r.id)
    assert {f.member.id: [r.id for r in f.residents] for f in report.uncovered} == expected
    assert any(r.grid_id == empty.id for f in report.uncovered for r in f.residents)


def test_gap_fix_outside_scope_is_404(client, p):
    r = make_resident(p.tree.grid2)
    login(client, p.community_admin)
    assert client.post("/households/gaps/apply", data={"node": p.tree.community.id, "kind": "cover",
                                                       "target": p.other_member.id, "ids": [r.id]}).status_code == 404
    assert client.get(f"/households/gaps?node={p.tree.community2.id}").status_code == 404


# --- plaques -------------------------------------------------------------------------------------------


def test_plaque_page_and_qr_images_encode_the_plaque_url(client, p):
    import zxingcpp
    from PIL import Image

    hh = p.household
    svc.set_profile(p.community_admin, hh, [svc.Duty.POLICY], None)
    db.session.commit()
    login(client, p.community_admin)
    page = client.get(f"/households/{hh.id}/plaque").get_data(as_text=True)
    token = db.session.scalar(sa.select(EntryToken).where(EntryToken.central_household_id == hh.id))
    assert hh.number in page and "政策宣讲员" in page and "<svg" in page and f"/p/{token.token}" in page
    png = client.get(f"/households/{hh.id}/plaque.png")
    assert png.mimetype == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)))
    assert decoded[0].text.endswith(f"/p/{token.token}")
    svg = client.get(f"/households/{hh.id}/plaque.svg")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data


# --- who may do what ----------------------------------------------------------------------------------


ADMIN_PAGES = ["/households/", "/households/gaps", "/households/residents", "/households/mentors", "/households/types"]


def test_household_pages_are_for_org_admins(client, p):
    for url in ADMIN_PAGES:
        assert client.get(url).status_code == 302, url
    for user in (p.member.user, p.station_admin, p.resident, p.nobody):
        login(client, user)
        for url in ADMIN_PAGES:
            assert client.get(url).status_code == 403, (user.name, url)
        client.post("/logout")
    login(client, p.community_admin)
    for url in ADMIN_PAGES:
        assert client.get(url).status_code == 200, url


def test_a_household_is_read_by_admins_in_scope_and_its_members_only(client, p):
    hh = p.household
    for user, code in [(p.community_admin, 200), (p.district_admin, 200), (p.member.user, 200),
                       (p.other_community_admin, 404), (p.other_member.user, 404), (p.nobody, 404)]:
        login(client, user)
        assert client.get(f"/households/{hh.id}").status_code == code, user.name
        client.post("/logout")
    login(client, p.other_community_admin)
    for url in (f"/households/{hh.id}/plaque", f"/households/{hh.id}/plaque.png"):
        assert client.get(url).status_code == 404
    assert client.post(f"/households/{hh.id}/profile", data={}).status_code == 404
    assert client.post(f"/households/{hh.id}/adjustments", data={"reason": "x"}).status_code == 404
    client.post("/logout")
    login(client, p.member.user)
    assert "household-profile" not in client.get(f"/households/{hh.id}").get_data(as_text=True)
    assert client.post(f"/households/{hh.id}/profile", data={}).status_code == 403


def test_household_list_runs_a_fixed_number_of_queries(client, p):
    login(client, p.district_admin)
    p.household.mentor_id = make_member(p.tree.grid, name="书记").id
    db.session.commit()

    def count() -> int:
        seen: list[str] = []

        def listener(*args):  # type: ignore[no-untyped-def]
            seen.append(args[2])

        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert client.get("/households/").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    one = count()
    for i in range(5):
        hh = make_household(p.tree.grid_b, head=make_member(p.tree.grid_b, name=f"户主{i}"))
        sec = make_member(p.tree.grid_b, name=f"书记{i}")
        hh.mentor_id = sec.id
        db.session.commit()
    assert count() == one
