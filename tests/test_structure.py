"""Structure pages: the org tree, the 1+10+15 lists, details, exports — and who may see them."""

from __future__ import annotations

import re
from io import BytesIO

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from app.extensions import db
from app.models import (
    AuditEntry,
    CentralHousehold,
    Member,
    MemberCategory,
    OrgNode,
    ResidentHousehold,
    User,
)
from app.services.passwords import verify_password
from tests.factories import (
    login,
    make_household,
    make_member,
    make_personas,
    make_resident,
    make_station,
    make_station_admin,
)
from tests.helpers import count_queries

HX = {"HX-Request": "true"}


@pytest.fixture
def p():
    personas = make_personas()
    t = personas.tree
    # Something on the other side of the tree, for the 404s.
    personas.other_household = make_household(t.grid2, head=personas.other_member, number="YQ-001")
    personas.other_resident = make_resident(t.grid2, member=personas.other_member)
    personas.resident_home = make_resident(t.grid, member=personas.member, phone="13700001111",
                                           care_tags="独居老人")
    personas.household = db.session.get(CentralHousehold, personas.member.central_household_id)
    personas.other_station = make_station(t.community2, name="杨桥驿站")
    return personas


def get_routes(p) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        "/structure/",
        f"/structure/nodes/{p.tree.community.id}",
        "/structure/members",
        "/structure/members.xlsx",
        f"/structure/members/{p.member.id}",
        "/structure/households",
        "/structure/households.xlsx",
        f"/structure/households/{p.household.id}",
        "/structure/residents",
        "/structure/residents.xlsx",
        f"/structure/residents/{p.resident_home.id}",
        "/structure/stations",
        "/structure/stations.xlsx",
        "/structure/import",
        "/structure/import/template/members.xlsx",
    ]


def post_routes(p) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        f"/structure/members/{p.member.id}/phone",
        f"/structure/members/{p.member.id}/password",
        f"/structure/residents/{p.resident_home.id}/phone",
        "/structure/import",
        "/structure/import/confirm",
    ]


# --- Who may use the pages --------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login_from_every_route(client, p):
    for url in get_routes(p):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login" in response.headers["Location"]
    for url in post_routes(p):
        response = client.post(url)
        assert response.status_code == 302, url
        assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("who", ["station_admin", "resident", "nobody", "member"])
def test_users_who_are_not_org_admins_are_refused_everywhere(client, p, who):
    user = getattr(p, who)
    login(client, user.user if who == "member" else user)
    for url in get_routes(p):
        assert client.get(url).status_code == 403, url
    for url in post_routes(p):
        assert client.post(url).status_code == 403, url


def test_district_admin_sees_every_page_and_both_communities(client, p):
    login(client, p.district_admin)
    for url in get_routes(p):
        assert client.get(url).status_code == 200, url
    for url in (f"/structure/members/{p.other_member.id}", f"/structure/households/{p.other_household.id}",
                f"/structure/residents/{p.other_resident.id}", f"/structure/nodes/{p.tree.community2.id}"):
        assert client.get(url).status_code == 200, url
    page = client.get("/structure/members").get_data(as_text=True)
    assert "李党员" in page and "周党员" in page


def test_community_admin_sees_own_community_only(client, p):
    login(client, p.community_admin)
    for url in get_routes(p):
        assert client.get(url).status_code == 200, url
    page = client.get("/structure/members").get_data(as_text=True)
    assert "李党员" in page and "周党员" not in page
    assert "杨桥驿站" not in client.get("/structure/stations").get_data(as_text=True)


def test_community_admin_gets_404_for_the_other_communitys_objects_by_id(client, p):
    login(client, p.community_admin)
    for url in (f"/structure/members/{p.other_member.id}", f"/structure/households/{p.other_household.id}",
                f"/structure/residents/{p.other_resident.id}", f"/structure/nodes/{p.tree.community2.id}",
                f"/structure/nodes/{p.tree.district.id}", f"/structure/members?node={p.tree.grid2.id}",
                f"/structure/residents.xlsx?node={p.tree.grid2.id}", "/structure/members/999999"):
        assert client.get(url).status_code == 404, url
    for url in (f"/structure/members/{p.other_member.id}/phone", f"/structure/members/{p.other_member.id}/password",
                f"/structure/residents/{p.other_resident.id}/phone"):
        assert client.post(url).status_code == 404, url
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id)).where(AuditEntry.action == "phone.reveal")) == 0


def test_wrong_method_is_refused(client, p):
    login(client, p.district_admin)
    assert client.get(f"/structure/members/{p.member.id}/phone").status_code == 405
    assert client.post("/structure/members").status_code == 405


# --- The tree ---------------------------------------------------------------------------------


def test_tree_shows_the_admins_root_with_its_standing(client, p):
    login(client, p.community_admin)
    page = client.get("/structure/").get_data(as_text=True)
    assert "龙山社区" in page and "杨桥社区" not in page
    # One household with one member besides none: below 10; the member covers 1 household: below 15.
    assert "联系党员不足10名：1" in page
    assert "联系群众不足15户" in page
    assert 'class="tree-node below"' in page and "未达标" in page
    # Expanding works without JS as a link to the node page.
    assert f'href="/structure/nodes/{p.tree.community.id}"' in page


def test_expanding_a_node_returns_only_its_children_for_htmx(client, p):
    login(client, p.district_admin)
    response = client.get(f"/structure/nodes/{p.tree.district.id}",
                          headers={**HX, "HX-Target": f"node-children-{p.tree.district.id}"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<ul class="tree tree-children" id="node-children-{p.tree.district.id}"')
    assert "大龙山镇" in html and "杨桥镇" in html and "<html" not in html
    assert "HX-Request" in response.headers["Vary"]
    full = client.get(f"/structure/nodes/{p.tree.district.id}").get_data(as_text=True)
    assert "<html" in full and "大龙山镇" in full


def test_node_standing_counts_everything_below_each_child(client, p):
    from app.services.structure import node_standings

    t = p.tree
    for _ in range(15):
        make_resident(t.grid, member=p.member)
    make_resident(t.grid_b)  # uncovered
    s = node_standings([t.township, t.township2, t.grid, t.grid_b])
    assert s[t.township.id].members == 2 and s[t.township.id].members_below == 1  # the head covers none
    assert s[t.grid.id].residents == 16 and s[t.grid.id].residents_uncovered == 0
    assert s[t.grid_b.id].residents == 1 and s[t.grid_b.id].residents_uncovered == 1
    assert s[t.township2.id].households == 1 and s[t.township2.id].residents == 1


# --- Lists ------------------------------------------------------------------------------------


def test_active_search_returns_the_table_fragment_for_htmx_and_the_page_otherwise(client, p):
    login(client, p.community_admin)
    response = client.get("/structure/members?q=李", headers={**HX, "HX-Target": "members-table"})
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="members-table"')
    assert "李党员" in html and "共 1 名党员" in html and "<html" not in html
    assert "HX-Request" in response.headers["Vary"]
    full = client.get("/structure/members?q=李")
    assert "<html" in full.get_data(as_text=True)
    assert "HX-Request" in full.headers["Vary"]
    # The search box asks for the fragment as the user types, and puts the query in the URL.
    assert 'hx-trigger="input changed delay:300ms, search"' in full.get_data(as_text=True)
    assert 'hx-push-url="true"' in full.get_data(as_text=True)


def test_members_are_found_by_phone_digits_and_filtered(client, p):
    login(client, p.district_admin)
    digits = p.other_member.user.phone[-4:]  # the last four (part of a number finds nothing: issue 12)
    html = client.get(f"/structure/members?q={digits}", headers=HX).get_data(as_text=True)
    assert "周党员" in html and "李党员" not in html
    html = client.get(f"/structure/members?node={p.tree.grid2.id}", headers=HX).get_data(as_text=True)
    assert "周党员" in html and "李党员" not in html
    html = client.get("/structure/members?category=five_elders", headers=HX).get_data(as_text=True)
    assert "没有符合条件的党员" in html
    # Phones are masked on the list.
    assert p.other_member.user.phone not in client.get("/structure/members").get_data(as_text=True)


def _member_rows(html: str) -> list[tuple[str, ...]]:
    """The members table's rows: (name, phone, grid, category, central household, covered)."""
    body = html.split('id="members-table"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = [re.sub(r"\s+", " ", re.sub(r"<span class=\"badge[^\"]*\">.*?</span>|<[^>]+>", "", c)).strip()
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        rows.append(tuple(cells))
    return rows


def test_the_members_list_pages_through_everyone_by_name_with_what_each_row_counts(client, p):
    _grow(p, 30)  # 30 成员 in one household, 30 户长 heading one each, each 成员 covering a resident
    db.session.commit()
    login(client, p.community_admin)
    first = client.get("/structure/members", headers=HX).get_data(as_text=True)
    second = client.get("/structure/members?page=2", headers=HX).get_data(as_text=True)
    shown = _member_rows(first) + _member_rows(second)
    assert "没有符合条件的党员" in client.get("/structure/members?page=3", headers=HX).get_data(as_text=True)
    # What the database says, counted here without the list's code.
    members = db.session.scalars(sa.select(Member).join(Member.user).join(Member.grid)
                                 .where(OrgNode.path.startswith(p.tree.community.path))
                                 .order_by(User.name, Member.id)).all()
    expected = []
    for m in members:
        head = db.session.get(CentralHousehold, m.central_household_id) if m.central_household_id else None
        covered = db.session.scalar(sa.select(sa.func.count(ResidentHousehold.id))
                                    .where(ResidentHousehold.covering_member_id == m.id))
        expected.append((m.user.name, f"{m.user.phone[:3]}****{m.user.phone[-4:]}", m.grid.name, m.category.label,
                         head.head.user.name if head and head.head else "—", str(covered)))
    assert f"共 {len(members)} 名党员" in first and len(_member_rows(first)) == 50
    assert shown == expected
    # Each name links to its member, each household to its household.
    assert f'href="/structure/members/{members[0].id}"' in first
    assert f'href="/structure/households/{p.household.id}"' in first + second


@pytest.mark.parametrize("query", ["", "q=党员", "q=李", "category=five_elders", "below=1", "grid2", "q=党员&below=1",
                                   "phone"])
def test_the_members_total_is_the_number_of_members_listed(client, p, query):
    """The total is counted apart from the page (without the members' users unless searching):
    it must count exactly the members the list shows, whatever the filters."""
    from app.models import MemberStatus

    for i in range(4):
        make_member(p.tree.grid if i % 2 else p.tree.grid2, name=f"新党员{i}",
                    category=MemberCategory.FIVE_ELDERS if i < 2 else MemberCategory.EMPLOYED)
    stopped = make_member(p.tree.grid, name="停用党员")
    stopped.status = MemberStatus.INACTIVE
    for _ in range(15):
        make_resident(p.tree.grid, member=p.member)
    db.session.commit()
    query = {"grid2": f"node={p.tree.grid2.id}", "phone": f"q={p.other_member.user.phone[-4:]}"}.get(query, query)
    login(client, p.district_admin)
    html = client.get(f"/structure/members?{query}", headers=HX).get_data(as_text=True)
    listed = len(re.findall(r'<a href="/structure/members/\d+">', html))
    assert f"共 {listed} 名党员" in html, query
    assert listed or "没有符合条件的党员" in html


def test_members_below_15_are_highlighted_with_a_text_badge(client, p):
    for _ in range(15):
        make_resident(p.tree.grid, member=p.member)
    login(client, p.community_admin)
    html = client.get("/structure/members", headers=HX).get_data(as_text=True)
    rows = {name: row for row in re.findall(r"<tr.*?</tr>", html, re.S)
            for name in ("李党员", "王户长") if f">{name}</a>\n" in row}
    assert 'class="below"' in rows["王户长"] and "不足15户" in rows["王户长"]
    assert 'class="below"' not in rows["李党员"] and "不足15户" not in rows["李党员"]
    below = client.get("/structure/members?below=1", headers=HX).get_data(as_text=True)
    assert ">王户长</a>\n" in below and ">李党员</a>\n" not in below


def test_households_below_10_members_are_highlighted(client, p):
    full = make_household(p.tree.grid_b, number="LS-FULL")
    for i in range(10):
        make_member(p.tree.grid_b, name=f"党员{i}", household=full)
    login(client, p.community_admin)
    html = client.get("/structure/households", headers=HX).get_data(as_text=True)
    rows = re.findall(r"<tr.*?</tr>", html, re.S)
    full_row = next(r for r in rows if "LS-FULL" in r)
    thin_row = next(r for r in rows if p.household.number in r)
    assert 'class="below"' not in full_row and "10" in full_row
    assert 'class="below"' in thin_row and "不足10名" in thin_row
    below = client.get("/structure/households?below=1", headers=HX).get_data(as_text=True)
    assert "LS-FULL" not in below and p.household.number in below
    assert "LS-FULL" in client.get("/structure/households?q=FULL", headers=HX).get_data(as_text=True)


def test_uncovered_resident_households_are_flagged_and_care_tags_shown(client, p):
    make_resident(p.tree.grid, head_name="孤老王")
    login(client, p.community_admin)
    html = client.get("/structure/residents", headers=HX).get_data(as_text=True)
    row = next(r for r in re.findall(r"<tr.*?</tr>", html, re.S) if "孤老王" in r)
    assert 'class="below"' in row and "未落实" in row
    assert "独居老人" in html
    only = client.get("/structure/residents?below=1", headers=HX).get_data(as_text=True)
    assert "孤老王" in only and "赵大爷" not in only
    assert "13700001111" not in html


def test_stations_list_names_admins(client, p):
    login(client, p.district_admin)
    html = client.get("/structure/stations", headers=HX).get_data(as_text=True)
    assert "龙山党群驿站" in html and "驿站管理员" in html
    assert "杨桥驿站" in html and "未设管理员" in html


def test_pages_past_the_end_are_empty_not_errors(client, p):
    login(client, p.district_admin)
    assert client.get("/structure/members?page=99").status_code == 200
    assert client.get("/structure/members?page=abc&node=abc&category=nope").status_code == 200


def _grow(p, n: int) -> None:  # type: ignore[no-untyped-def]
    """n more members, households, residents and stations in the community."""
    for i in range(n):
        m = make_member(p.tree.grid, name=f"成员{i:03d}", household=p.household)
        make_resident(p.tree.grid_b, member=m)
        head = make_member(p.tree.grid_b, name=f"户长{i:03d}")
        make_household(p.tree.grid_b, head=head, number=f"N-{n}-{i}")
        s = make_station(p.tree.community, name=f"驿站{i:03d}")
        make_station_admin(s, name=f"站管{i:03d}")


@pytest.mark.parametrize("url", ["/structure/members", "/structure/households", "/structure/residents",
                                 "/structure/stations", "/structure/"])
def test_list_pages_run_the_same_number_of_queries_for_5_or_50_rows(client, p, url):
    login(client, p.community_admin)
    _grow(p, 5)
    db.session.commit()
    with count_queries() as few:
        assert client.get(url).status_code == 200
    _grow(p, 45)
    db.session.commit()
    with count_queries() as many:
        response = client.get(url)
    assert response.status_code == 200
    assert len(many) == len(few), "\n\n".join(many)


def test_tree_node_page_runs_the_same_number_of_queries_for_2_or_8_children(client, p):
    from app.models import OrgLevel
    from app.services.org import create_node

    login(client, p.district_admin)
    url = f"/structure/nodes/{p.tree.community.id}"
    with count_queries() as few:
        client.get(url)
    for i in range(6):
        create_node(f"新网格{i}", OrgLevel.GRID, p.tree.community)
    db.session.commit()
    with count_queries() as many:
        html = client.get(url).get_data(as_text=True)
    assert "新网格5" in html
    assert len(many) == len(few)


# --- Export -----------------------------------------------------------------------------------


def test_export_is_a_ledger_with_chinese_headers_and_escaped_formulas(client, p):
    make_member(p.tree.grid, name="=HYPERLINK(1)")
    login(client, p.community_admin)
    response = client.get("/structure/members.xlsx?q=HYPER")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(BytesIO(response.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "党员台账"
    assert "龙山社区" in rows[1][0] and rows[1][1].startswith("期间：")
    assert rows[2][:3] == ("姓名", "手机号", "网格")
    assert rows[3][0] == "'=HYPERLINK(1)"
    assert len(rows) == 4  # the filter holds for the export
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "export"))
    assert entry.user_id == p.community_admin.id and entry.object_type == "members"


@pytest.mark.parametrize("kind, header", [("households", "编号"), ("residents", "网格"), ("stations", "名称")])
def test_every_list_exports(client, p, kind, header):
    login(client, p.district_admin)
    ws = load_workbook(BytesIO(client.get(f"/structure/{kind}.xlsx").data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[2][0] == header and len(rows) > 3


def test_safe_cell_escapes_every_formula_start():
    from app.services.ledger import safe_cell

    for bad in ("=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1"):
        assert safe_cell(bad) == "'" + bad
    assert safe_cell("张三") == "张三" and safe_cell(-5) == -5 and safe_cell(None) is None


# --- Details, reveal, password ----------------------------------------------------------------


def test_member_detail_shows_households_covered_and_central_household(client, p):
    login(client, p.community_admin)
    html = client.get(f"/structure/members/{p.member.id}").get_data(as_text=True)
    assert p.resident_home.address in html and p.household.number in html
    assert p.member.user.phone not in html and "查看完整号码" in html


def test_revealing_a_phone_is_audited_and_shows_the_number(client, p):
    login(client, p.community_admin)
    url = f"/structure/members/{p.member.id}/phone"
    response = client.post(url, headers={**HX, "HX-Target": f"phone-member-{p.member.id}"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<span id="phone-member-{p.member.id}"')
    assert p.member.user.phone in html
    # Without JS the detail page comes back with the number shown.
    assert p.member.user.phone in client.post(url).get_data(as_text=True)
    resident = client.post(f"/structure/residents/{p.resident_home.id}/phone", headers=HX)
    assert "13700001111" in resident.get_data(as_text=True)
    actions = db.session.execute(sa.select(AuditEntry.object_type, AuditEntry.user_id)
                                 .where(AuditEntry.action == "phone.reveal")).all()
    assert sorted(actions) == [("member", p.community_admin.id)] * 2 + [("resident_household", p.community_admin.id)]


def test_household_detail_lists_linked_members_with_counts_and_standing(client, p):
    login(client, p.community_admin)
    html = client.get(f"/structure/households/{p.household.id}").get_data(as_text=True)
    assert "王户长" in html and "李党员" in html
    assert "1 名（不含户长）" in html and "不足10名" in html


def test_uncovered_resident_detail_suggests_members_of_the_grid(client, p):
    lonely = make_resident(p.tree.grid, head_name="孤老王")
    login(client, p.community_admin)
    html = client.get(f"/structure/residents/{lonely.id}").get_data(as_text=True)
    assert "建议联系党员" in html and "王户长" in html and "已联系 0 户" in html


def test_admin_sets_an_initial_password_shown_once_and_ending_sessions(client, p):
    imported = make_member(p.tree.grid, name="新党员", password=None)
    token_before = imported.user.session_token
    login(client, p.community_admin)
    response = client.post(f"/structure/members/{imported.id}/password", headers={**HX, "HX-Target": "member-password"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    password = re.search(r"<code>([^<]+)</code>", html).group(1)
    assert len(password) == 10
    user = db.session.get(User, imported.user_id)
    assert verify_password(user.password_hash, password)
    assert user.session_token != token_before
    assert db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "password.initial")).object_id == user.id
    assert response.headers["Cache-Control"] == "no-store"
    # The member can now log in with it.
    client.post("/logout")
    login(client, user, password=password)


def test_admin_accounts_cannot_get_a_password_from_the_member_page(client, p):
    admin_member = make_member(p.tree.grid, user=p.district_admin)
    login(client, p.community_admin)
    response = client.post(f"/structure/members/{admin_member.id}/password")
    assert response.status_code == 422
    assert "管理员账号" in response.get_data(as_text=True)
    assert verify_password(db.session.get(User, p.district_admin.id).password_hash, "correct-horse-9")


def test_category_labels_match_the_model(app):
    from app.services.importer import CATEGORY_BY_LABEL

    with app.test_request_context():
        assert {c: str(c.label) for c in MemberCategory} == {v: k for k, v in CATEGORY_BY_LABEL.items()}


def test_resident_list_filters_by_covering_member_in_scope_only(client, p):
    login(client, p.community_admin)
    html = client.get(f"/structure/residents?member={p.member.id}", headers=HX).get_data(as_text=True)
    assert p.resident_home.address in html and "共 1 户群众户" in html
    assert client.get(f"/structure/residents?member={p.other_member.id}").status_code == 404
