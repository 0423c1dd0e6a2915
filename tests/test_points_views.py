"""The points pages: 我的积分 with figures and rank computed independently here; the admins'
rankings, export, member ledgers with 更正, and the rules per node — every route for every role,
another node's objects (404), bad input (422 in Chinese, nothing saved), fixed query counts."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
import time_machine
from openpyxl import load_workbook

from app.extensions import db
from app.models import (
    AuditEntry,
    CapPeriod,
    Member,
    MemberStatus,
    PointsEntry,
    PointsRule,
    RuleCode,
)
from app.services.points import sources
from tests.factories import (
    make_diary_entry,
    make_member,
    make_personas,
    make_resident,
    make_user,
    user_of,
)
from tests.helpers import login, queries_for

# Wednesday 15 July 2026, 10:00 in Shanghai: "this month" is July, "this year" 2026.
NOW = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)
_ids = itertools.count(1000)


def add(member: Member, points: int, day: date, code: RuleCode = RuleCode.NEED_RESOLVED_IN_SLA,
        source_type: str = "need", source_id: int | None = None) -> PointsEntry:
    entry = PointsEntry(member_id=member.id, points=points, code=code, source_type=source_type,
                        source_id=source_id if source_id is not None else next(_ids), occurred_on=day)
    db.session.add(entry)
    db.session.commit()
    return entry


@pytest.fixture
def now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def client_for(app, user):  # type: ignore[no-untyped-def]
    client = app.test_client()
    if user is not None:
        login(client, user)
    return client


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


# --- 我的积分 -----------------------------------------------------------------------------------


def test_my_points_show_balance_months_sources_and_my_rank_in_my_grid(app, now):
    p = make_personas()
    me = p.member
    head = db.session.get(Member, me.central_household.head_member_id)  # same grid
    a = make_member(p.tree.grid, name="甲党员")
    make_member(p.tree.grid, name="乙党员")  # no points at all: still ranked, last
    neighbour = make_member(p.tree.grid_b, name="丙党员")  # another grid: not in my ranking
    stopped = make_member(p.tree.grid, name="丁党员")
    stopped.status = MemberStatus.INACTIVE
    resident = make_resident(p.tree.grid, me)
    diary = make_diary_entry(me, resident, entry_date=date(2026, 7, 3))
    mine = [(5, date(2026, 7, 3)), (3, date(2026, 5, 10)), (-2, date(2026, 7, 10)), (1, date(2025, 12, 30))]
    add(me, 5, date(2026, 7, 3), RuleCode.DIARY_ENTRY, "diary_entry", diary.id)
    for points, day in mine[1:]:
        add(me, points, day)
    add(head, 4, date(2026, 7, 1))
    add(a, 10, date(2026, 2, 1))
    add(neighbour, 100, date(2026, 7, 2))
    add(stopped, 50, date(2026, 7, 2))
    # Worked out here, not by the code under test.
    balance = sum(pts for pts, _d in mine)
    year = sum(pts for pts, d in mine if d.year == 2026)
    month = sum(pts for pts, d in mine if (d.year, d.month) == (2026, 7))
    grid_year = {"me": year, "head": 4, "a": 10, "b": 0}
    grid_month = {"me": month, "head": 4, "a": 0, "b": 0}
    rank_year = 1 + sum(1 for v in grid_year.values() if v > grid_year["me"])
    rank_month = 1 + sum(1 for v in grid_month.values() if v > grid_month["me"])
    assert (balance, year, month, rank_year, rank_month) == (7, 6, 3, 2, 2)

    page = client_for(app, user_of(me)).get("/points/me")
    html = text_of(page)
    assert page.status_code == 200
    assert f'<dd id="points-balance">{balance}</dd>' in html
    assert f'<dd id="points-year">{year}</dd>' in html and f'<dd id="points-month">{month}</dd>' in html
    assert f"网格内第 {rank_year} 名 / 共 4 人" in html and f"网格内第 {rank_month} 名 / 共 4 人" in html
    assert "2026年7月" in html and "2026年5月" in html and "2025年12月" in html
    assert f'href="/diary/{diary.id}"' in html and "2026-07-03 的民情日记" in html
    assert "丙党员" not in html and "甲党员" not in html  # others' names are not shown
    earlier = text_of(client_for(app, user_of(me)).get("/points/me?month=2025-12"))
    assert "2025-12-30" in earlier and "2026-07-03" not in earlier


# --- who may see what ----------------------------------------------------------------------------


def _roles(p):  # type: ignore[no-untyped-def]
    return {
        "anonymous": None, "nobody": p.nobody, "resident": p.resident, "station_admin": p.station_admin,
        "member": user_of(p.member), "community_admin": p.community_admin,
        "other_community_admin": p.other_community_admin, "district_admin": p.district_admin,
    }


def test_every_route_answers_each_role_as_it_should(app, now):
    p = make_personas()
    entry = add(p.member, 3, date(2026, 7, 1))
    community, other = p.tree.community.id, p.tree.community2.id
    routes = {
        ("GET", "/points/me"): {"member": 200},
        ("GET", "/points/"): {"community_admin": 200, "other_community_admin": 200, "district_admin": 200},
        ("GET", f"/points/?node={community}"): {"community_admin": 200, "other_community_admin": 404,
                                                "district_admin": 200},
        ("GET", "/points/ranking.xlsx"): {"community_admin": 200, "other_community_admin": 200,
                                          "district_admin": 200},
        ("GET", f"/points/ranking.xlsx?node={other}"): {"community_admin": 404, "other_community_admin": 200,
                                                        "district_admin": 200},
        ("GET", f"/points/members/{p.member.id}"): {"community_admin": 200, "other_community_admin": 404,
                                                    "district_admin": 200},
        ("GET", f"/points/entries/{entry.id}/correct"): {"community_admin": 200, "other_community_admin": 404,
                                                         "district_admin": 200},
        ("POST", f"/points/entries/{entry.id}/correct"): {"community_admin": 422, "other_community_admin": 404,
                                                          "district_admin": 422},  # no reason given
        ("GET", "/points/rules"): {"community_admin": 200, "other_community_admin": 200, "district_admin": 200},
        ("GET", f"/points/rules?node={other}"): {"community_admin": 404, "other_community_admin": 200,
                                                 "district_admin": 200},
        ("GET", f"/points/rules/{community}/diary_entry"): {"community_admin": 200, "other_community_admin": 404,
                                                            "district_admin": 200},
        ("POST", f"/points/rules/{community}/diary_entry"): {"community_admin": 422,
                                                             "other_community_admin": 404, "district_admin": 422},
        ("GET", f"/points/rules/{community}/no_such_rule"): {"community_admin": 404, "other_community_admin": 404,
                                                             "district_admin": 404},
        ("POST", f"/points/rules/{community}/diary_entry/inherit"): {
            "community_admin": 422, "other_community_admin": 404, "district_admin": 422},
    }
    for role, user in _roles(p).items():
        client = client_for(app, user)
        for (method, url), allowed in routes.items():
            response = client.open(url, method=method)
            if role == "anonymous":
                assert response.status_code == 302 and "/login" in response.headers["Location"], (role, url)
            else:
                assert response.status_code == allowed.get(role, 403), (role, method, url, response.status_code)
    assert db.session.scalar(sa.select(sa.func.count(PointsEntry.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count(PointsRule.id))) == 0


def test_the_nav_has_my_points_for_members_and_points_for_admins(app, now):
    p = make_personas()
    member_home = text_of(client_for(app, user_of(p.member)).get("/"))
    admin_home = text_of(client_for(app, p.community_admin).get("/"))
    assert 'href="/points/me"' in member_home and "我的积分" in member_home
    assert 'href="/points/"' in admin_home and "/coming/points" not in admin_home
    assert 'href="/points/me"' not in admin_home


# --- a member's ledger, corrections ---------------------------------------------------------------


def test_an_admin_corrects_an_entry_by_a_new_one_with_the_reason_audited(app, now):
    p = make_personas()
    entry = add(p.member, 3, date(2026, 7, 1))
    admin = client_for(app, p.community_admin)
    ledger = text_of(admin.get(f"/points/members/{p.member.id}"))
    assert f'href="/points/entries/{entry.id}/correct"' in ledger and "诉求按时办结" in ledger
    response = admin.post(f"/points/entries/{entry.id}/correct", data={"reason": "该诉求系重复提交"})
    assert response.status_code == 303
    rows = db.session.execute(sa.select(PointsEntry.code, PointsEntry.points, PointsEntry.source_type,
                                        PointsEntry.source_id, PointsEntry.note, PointsEntry.created_by_id)
                              .order_by(PointsEntry.id)).all()
    assert rows[1] == (RuleCode.CORRECTION, -3, "points_entry", entry.id, "该诉求系重复提交", p.community_admin.id)
    audit = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "points.correct"))
    assert audit.user_id == p.community_admin.id and audit.object_id == entry.id
    after = text_of(admin.get(f"/points/members/{p.member.id}"))
    assert f'/points/entries/{entry.id}/correct"' not in after  # nothing left to correct
    assert "更正" in after and "该诉求系重复提交" in after
    again = admin.post(f"/points/entries/{entry.id}/correct", data={"reason": "再次更正"})
    assert again.status_code == 422 and "这条积分已经更正过了" in text_of(again)
    member_view = text_of(client_for(app, user_of(p.member)).get("/points/me"))
    assert "该诉求系重复提交" in member_view


def test_bad_correction_input_gets_a_chinese_message_and_saves_nothing(app, now):
    p = make_personas()
    entry = add(p.member, 3, date(2026, 7, 1))
    correction = sources.correct(entry, p.community_admin, "原因")
    db.session.commit()
    other = add(p.member, 2, date(2026, 7, 2))
    admin = client_for(app, p.community_admin)
    cases = [
        (other.id, {"reason": "   "}, "请填写更正原因"),
        (other.id, {"reason": "长" * 256}, "最多 255 字"),
        (correction.id, {"reason": "更正更正记录"}, "更正记录不能再更正"),
        (other.id, {}, "请填写更正原因"),
    ]
    for entry_id, data, message in cases:
        response = admin.post(f"/points/entries/{entry_id}/correct", data=data)
        assert response.status_code == 422 and message in text_of(response), data
    assert "长" * 256 in text_of(admin.post(f"/points/entries/{other.id}/correct", data={"reason": "长" * 256}))
    assert db.session.scalar(sa.select(sa.func.count(PointsEntry.id))) == 3
    assert admin.get("/points/entries/99999999999/correct").status_code == 404


# --- rankings and export ---------------------------------------------------------------------------


def test_the_ranking_orders_members_ties_share_a_place_and_units_rank_by_points_per_member(app, now):
    p = make_personas()
    b = make_member(p.tree.grid_b, name="第二网格党员")
    c = make_member(p.tree.grid_b, name="第二网格新党员")
    add(p.member, 6, date(2026, 7, 1))
    add(b, 6, date(2026, 7, 2))
    add(c, 2, date(2026, 7, 3))
    add(c, 50, date(2026, 6, 30))  # last month
    admin = client_for(app, p.community_admin)
    html = text_of(admin.get("/points/"))
    rows = [line for line in html.split("<tr>") if "/points/members/" in line]
    ranked = [(r.split("<td>")[1].split("<")[0], "李党员" in r, "第二网格党员" in r) for r in rows]
    assert ranked[0][0] == "1" and ranked[1][0] == "1"  # 6 and 6: both first
    assert "第二网格新党员" in rows[2] and rows[2].split("<td>")[1].startswith("3")
    assert "王户长" in rows[3] and rows[3].split("<td>")[1].startswith("4")  # 0 points, still listed
    # Grids: 第一网格 6 points for 2 members (3.0), 第二网格 8 for 2 (4.0).
    grids = text_of(admin.get("/points/?by=grid")).split('id="ranking-table"')[1]
    assert grids.index("第二网格") < grids.index("第一网格") and "4.0" in grids and "3.0" in grids
    june = text_of(admin.get("/points/?period=m:2026-06"))
    assert "2026年6月" in june
    custom = text_of(admin.get("/points/?period=c&from=2026-06-30&to=2026-07-01"))
    assert "2026-06-30 至 2026-07-01" in custom


def test_the_home_pages_leaders_are_the_top_of_the_ranking_with_points(app, now):
    """lists.leaders (the admin home's 积分榜) reads the members with points, best first; it is
    the head of the full ranking with those at 0 or below left out — ties by id, inactive members
    and other nodes' members out, for a month, a year and days across a month's end."""
    from app.services.points import lists

    p = make_personas()
    others = [make_member(p.tree.grid_b, name=f"党员{i}") for i in range(6)]
    away = make_member(p.tree.grid2, name="别村党员")
    add(p.member, 6, date(2026, 7, 1))
    for m, points in zip(others, [6, 9, -2, 3, 5, 4], strict=True):
        add(m, points, date(2026, 7, 2))
    add(others[4], -5, date(2026, 7, 3))  # 0 in July
    add(others[4], 20, date(2026, 6, 30))  # last month
    add(away, 50, date(2026, 7, 3))
    others[1].status = MemberStatus.INACTIVE
    db.session.commit()
    node = p.tree.community
    for period in [lists.period_of("m:2026-07", None, None, date(2026, 7, 15)),
                   lists.period_of("y:2026", None, None, date(2026, 7, 15)),
                   lists.Period("c", date(2026, 6, 30), date(2026, 7, 2), "")]:
        ranked = list(db.session.scalars(lists.ranking(node, "member", period)))
        rows = lists.ranking_rows(node, "member", period, [m.id for m in ranked])
        expected = [(m.id, rows[m.id].total) for m in ranked if rows[m.id].total > 0]
        for n in (1, 3, 10):
            got = lists.leaders(node, period, n)
            assert [(m.id, total) for m, total in got] == expected[:n], (period, n)
    july = lists.leaders(node, lists.period_of("m:2026-07", None, None, date(2026, 7, 15)), 5)
    assert [m.name for m, _t in july] == ["李党员", "党员0", "党员5", "党员3"]  # 6, 6 (by id), 4, 3


def test_units_rank_by_the_members_of_every_grid_below_them(app, now):
    """Communities and townships sum the members of all their grids (a unit with no member counts
    0 members and 0 points); counted here from the members independently."""
    from app.models import OrgLevel, OrgNode
    from app.services.org import create_node
    from app.services.points import lists

    p = make_personas()
    empty = create_node("空社区", OrgLevel.COMMUNITY, p.tree.township2)  # no grid at all
    create_node("空网格", OrgLevel.GRID, empty)
    far = make_member(p.tree.grid2, name="杨桥党员")
    add(p.member, 6, date(2026, 7, 1))
    add(make_member(p.tree.grid_b, name="第二网格党员"), 3, date(2026, 7, 2))
    add(far, 5, date(2026, 7, 3))
    db.session.commit()
    period = lists.period_of("m:2026-07", None, None, date(2026, 7, 15))
    members = db.session.scalars(sa.select(Member).where(Member.status == MemberStatus.ACTIVE)).all()
    points = dict(db.session.execute(sa.select(PointsEntry.member_id, sa.func.sum(PointsEntry.points))
                                     .group_by(PointsEntry.member_id)).all())
    for group in ("grid", "community", "township"):
        units = db.session.scalars(sa.select(OrgNode).where(OrgNode.level == lists.GROUP_LEVEL[group])).all()
        rows = lists.ranking_rows(p.tree.district, group, period, [u.id for u in units])
        for u in units:
            mine = [m for m in members if db.session.get(OrgNode, m.grid_id).path.startswith(u.path)]
            assert (rows[u.id].members, rows[u.id].total) == (len(mine), sum(points.get(m.id, 0) for m in mine)), (
                group, u.name)
        ranked = [n.id for n in db.session.scalars(lists.ranking(p.tree.district, group, period))]
        assert ranked == sorted(ranked, key=lambda i: (-rows[i].average, db.session.get(OrgNode, i).path))
    assert lists.ranking_rows(p.tree.district, "community", period, [empty.id])[empty.id].members == 0


def test_the_ranking_exports_to_xlsx_with_node_period_and_formulas_escaped(app, now):
    p = make_personas()
    evil = make_member(p.tree.grid, name="=HYPERLINK(1)")
    add(evil, 9, date(2026, 7, 1))
    admin = client_for(app, p.community_admin)
    response = admin.get(f"/points/ranking.xlsx?node={p.tree.community.id}&period=q:2026-3")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert rows[0][0] == "党员积分排名（按党员）"
    assert rows[1][0] == "单位：龙山社区" and rows[1][1] == "期间：2026年第3季度"
    assert rows[2] == ("名次", "姓名", "网格", "积分")
    assert rows[3] == (1, "'=HYPERLINK(1)", "第一网格", 9)
    grids = admin.get("/points/ranking.xlsx?by=grid")
    rows = list(load_workbook(io.BytesIO(grids.data)).active.iter_rows(values_only=True))
    assert rows[2] == ("名次", "网格", "党员人数", "积分合计", "人均积分")
    assert rows[3] == (1, "第一网格", 3, 9, 3)  # numbers, on PostgreSQL too
    audit = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "export")).all()
    assert [a.object_type for a in audit] == ["points_ranking", "points_ranking"]


def test_lists_run_a_fixed_number_of_queries(app, now):
    p = make_personas()
    admin = client_for(app, p.district_admin)
    member = client_for(app, user_of(p.member))
    resident = make_resident(p.tree.grid, p.member)

    def fill(n: int) -> None:
        for i in range(n):
            diary = make_diary_entry(p.member, resident, entry_date=date(2026, 7, 1))
            add(p.member, 1, date(2026, 7, 1), RuleCode.DIARY_ENTRY, "diary_entry", diary.id)
            add(p.member, 2, date(2026, 7, 2), RuleCode.ACTIVITY_VERIFIED, "activity", next(_ids))
            add(make_member(p.tree.grid_b, name=f"党员{i}"), i + 1, date(2026, 7, 3))

    pages = [(member, "/points/me"), (admin, f"/points/members/{p.member.id}"), (admin, "/points/"),
             (admin, "/points/?by=grid"), (admin, "/points/rules")]
    fill(2)
    small = [queries_for(client, url) for client, url in pages]
    fill(8)
    assert [queries_for(client, url) for client, url in pages] == small


# --- rules ----------------------------------------------------------------------------------------


def test_rules_show_where_each_comes_from_and_a_node_may_return_to_the_inherited_rule(app, now):
    p = make_personas()
    district, community = p.tree.district, p.tree.community
    top, local = client_for(app, p.district_admin), client_for(app, p.community_admin)
    assert "系统默认" in text_of(local.get(f"/points/rules?node={community.id}"))
    assert top.post(f"/points/rules/{district.id}/diary_entry", data={
        "points": "2", "cap_period": "week", "cap_points": "6", "starts_on": "2026-07-15"}).status_code == 303
    row = text_of(local.get(f"/points/rules?node={community.id}")).split('id="rule-diary_entry"')[1].split("</tr>")[0]
    assert "沿用宜秀区" in row and "+2" in row and "每周 6" in row
    assert local.post(f"/points/rules/{community.id}/activity_verified.teaching", data={
        "points": "5", "cap_period": "", "cap_points": "", "starts_on": "2026-07-15"}).status_code == 303
    page = text_of(local.get("/points/rules"))
    teaching = page.split('id="rule-activity_verified.teaching"')[1].split("</tr>")[0]
    assert "本级设置" in teaching and "+5" in teaching and "不封顶" in teaching
    # From tomorrow the community follows the district again.
    assert local.post(f"/points/rules/{community.id}/activity_verified.teaching/inherit",
                      data={"inherit-starts_on": "2026-07-16"}).status_code == 303
    assert "沿用上级" in text_of(local.get(f"/points/rules/{community.id}/activity_verified.teaching"))
    with time_machine.travel(datetime(2026, 7, 16, 2, 0, tzinfo=UTC), tick=False):
        later = client_for(app, p.community_admin)
        teaching = text_of(later.get("/points/rules")).split('id="rule-activity_verified.teaching"')[1]
        assert "系统默认" in teaching.split("</tr>")[0] and "+3" in teaching.split("</tr>")[0]
    history = [(v.starts_on, v.points, v.inherits, v.created_by_id) for v in db.session.scalars(
        sa.select(PointsRule).where(PointsRule.org_node_id == community.id).order_by(PointsRule.starts_on))]
    assert history == [(date(2026, 7, 15), 5, False, p.community_admin.id),
                       (date(2026, 7, 16), 0, True, p.community_admin.id)]


@pytest.mark.parametrize(("data", "message"), [
    ({"points": "abc", "starts_on": "2026-07-16"}, "请填写整数"),
    ({"points": "1001", "starts_on": "2026-07-16"}, "分值应在 -1000 到 1000 之间"),
    ({"points": "-1001", "starts_on": "2026-07-16"}, "分值应在 -1000 到 1000 之间"),
    ({"points": "", "starts_on": "2026-07-16"}, "请填写分值"),
    ({"points": "3", "cap_period": "week", "cap_points": "", "starts_on": "2026-07-16"}, "要同时填写"),
    ({"points": "3", "cap_period": "", "cap_points": "9", "starts_on": "2026-07-16"}, "要同时填写"),
    ({"points": "3", "cap_period": "week", "cap_points": "0", "starts_on": "2026-07-16"}, "封顶分值应为 1 到 100000"),
    ({"points": "3", "cap_period": "fortnight", "cap_points": "9", "starts_on": "2026-07-16"}, "请选择封顶周期"),
    ({"points": "3", "starts_on": "2026-07-14"}, "开始日期不能早于今天"),
    ({"points": "3", "starts_on": "昨天"}, "请按“年-月-日”填写日期"),
])
def test_bad_rule_input_gets_a_message_next_to_the_field_and_saves_nothing(app, now, data, message):
    p = make_personas()
    admin = client_for(app, p.community_admin)
    response = admin.post(f"/points/rules/{p.tree.community.id}/diary_entry", data=data)
    html = text_of(response)
    assert response.status_code == 422 and message in html
    assert 'aria-invalid="true"' in html and "请修改下面标红的内容后再提交" in html
    if data["points"] not in ("", "abc"):
        assert f'value="{data["points"]}"' in html  # what was typed is kept
    assert db.session.scalar(sa.select(sa.func.count(PointsRule.id))) == 0


def test_a_version_in_force_today_is_not_replaced_a_future_one_is(app, now):
    p = make_personas()
    admin = client_for(app, p.community_admin)
    url = f"/points/rules/{p.tree.community.id}/diary_entry"
    assert admin.post(url, data={"points": "2", "starts_on": "2026-07-15"}).status_code == 303
    again = admin.post(url, data={"points": "4", "starts_on": "2026-07-15"})
    assert again.status_code == 422 and "请从明天起设置新版本" in text_of(again)
    assert admin.post(url, data={"points": "3", "starts_on": "2026-08-01"}).status_code == 303
    assert admin.post(url, data={"points": "6", "cap_period": "month", "cap_points": "30",
                                 "starts_on": "2026-08-01"}).status_code == 303
    rows = db.session.execute(sa.select(PointsRule.starts_on, PointsRule.points, PointsRule.cap_period)
                              .order_by(PointsRule.starts_on)).all()
    assert rows == [(date(2026, 7, 15), 2, None), (date(2026, 8, 1), 6, CapPeriod.MONTH)]


def test_a_user_without_an_org_node_gets_no_rules_page(app, now):
    make_personas()
    assert client_for(app, make_user(name="访客")).get("/points/rules").status_code == 403


def test_totals_for_a_home_page_count_within_the_scope_and_days(app, now):
    from app.services.points import lists

    p = make_personas()
    add(p.member, 3, date(2026, 7, 1))
    add(p.member, -2, date(2026, 7, 2))
    add(p.other_member, 9, date(2026, 7, 1))
    add(p.member, 4, date(2026, 6, 30))
    assert lists.totals([p.tree.community.path], date(2026, 7, 1), date(2026, 7, 31)) == lists.Totals(2, 1, 1)
    assert lists.totals([p.tree.district.path], date(2026, 6, 1), date(2026, 7, 31)) == lists.Totals(4, 14, 2)
    assert lists.totals([], date(2026, 6, 1), date(2026, 7, 31)) == lists.Totals(0, 0, 0)


def test_the_monthly_ledger_has_a_points_sheet_per_grid(app, now):
    p = make_personas()
    neighbour = make_member(p.tree.grid_b, name="第二网格党员")
    add(p.member, 5, date(2026, 7, 1))
    add(p.member, -2, date(2026, 7, 9))
    add(neighbour, 4, date(2026, 7, 2))
    add(neighbour, 9, date(2026, 6, 30))  # last month: not in July's sheet
    response = client_for(app, p.community_admin).get("/overview/monthly.xlsx?month=2026-07")
    rows = list(load_workbook(io.BytesIO(response.data))["党员积分"].iter_rows(values_only=True))
    assert rows[1][1] == "期间：2026-07-01 至 2026-07-31"
    assert rows[2] == ("村/社区", "网格", "在册党员", "积分合计", "人均积分")
    # 第一网格: the head (0) and 李党员 (5 - 2); 第二网格: 4.
    assert rows[3:] == [("龙山社区", "第一网格", 2, 3, 1.5), ("龙山社区", "第二网格", 1, 4, 4),
                        ("合计", None, 3, 7, 2.3)]
