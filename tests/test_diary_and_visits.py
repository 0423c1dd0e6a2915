"""The public-sentiment diary and regular visits (coverage, overdue first, per-node periods)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import sqlalchemy as sa
import time_machine

from app.extensions import db
from app.models import DiaryEntry, MemberStatus, User, VisitPolicy
from app.services import visits
from tests.factories import (
    login,
    make_activity,
    make_diary_entry,
    make_member,
    make_personas,
    make_resident,
    make_world,
    user_of,
)
from tests.helpers import queries_for

TODAY = datetime(2025, 5, 15, 4, 0, tzinfo=UTC)  # 2025-05-15 12:00 in Shanghai, in Q2


# --- diary -------------------------------------------------------------------------------


def test_a_member_writes_a_diary_entry_about_a_covered_household(client, app):
    w = make_world()
    login(client, user_of(w.member))
    page = client.get("/diary/new", query_string={"resident": w.r2.id}).get_data(as_text=True)
    assert "钱大妈" in page and "孙奶奶" not in page
    response = client.post("/diary/new", data={"resident_id": w.r2.id, "entry_date": "2025-05-01",
                                               "text": "老人反映楼道灯坏了"})
    assert response.status_code == 303
    entry = db.session.scalar(sa.select(DiaryEntry))
    assert entry.member_id == w.member.id and entry.resident_household_id == w.r2.id
    assert "老人反映楼道灯坏了" in client.get("/diary/").get_data(as_text=True)


def test_a_diary_entry_about_someone_elses_household_or_empty_is_refused(client, app):
    w = make_world()
    login(client, user_of(w.member))
    response = client.post("/diary/new", data={"resident_id": w.r_fellow.id,
                                               "entry_date": "2025-05-01", "text": "内容"})
    assert response.status_code == 422
    response = client.post("/diary/new", data={"resident_id": w.r1.id, "entry_date": "2025-05-01",
                                               "text": "  "})
    assert response.status_code == 422 and "请填写日记内容" in response.get_data(as_text=True)
    response = client.post("/diary/new", data={"resident_id": w.r1.id, "entry_date": "2999-01-01",
                                               "text": "未来"})
    assert response.status_code == 422 and "日期不能晚于今天" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DiaryEntry)) == 0


def test_a_diary_entry_is_seen_by_its_author_the_head_and_admins_in_scope(app):
    w = make_world()
    entry = make_diary_entry(w.member, w.r1)
    household_id = w.head.central_household_id
    cases = [(user_of(w.member), 200, 404), (user_of(w.head), 200, 200),
             (w.p.community_admin, 200, 200), (w.p.district_admin, 200, 200),
             (user_of(w.fellow), 404, 404), (user_of(w.other_member), 404, 404),
             (w.p.other_community_admin, 404, 404), (w.p.station_admin, 404, 404),
             (w.p.resident, 404, 404)]
    for user, detail_status, household_status in cases:
        client = app.test_client()
        login(client, user)
        assert client.get(f"/diary/{entry.id}").status_code == detail_status, user.name
        assert client.get(f"/diary/household/{household_id}").status_code == household_status, user.name
    assert app.test_client().get(f"/diary/{entry.id}").status_code == 302


def test_turning_an_entry_into_a_need_files_it_to_the_covering_member_once(client, app):
    from app.models import Need, NeedOrigin, NeedStatus

    w = make_world()
    entry = make_diary_entry(w.member, w.r1)
    other = app.test_client()
    login(other, user_of(w.head))  # sees the entry, is not its author
    assert other.post(f"/diary/{entry.id}/to-need").status_code == 403
    login(client, user_of(w.member))
    assert "转为诉求" in client.get(f"/diary/{entry.id}").get_data(as_text=True)
    assert client.post(f"/diary/{entry.id}/to-need").status_code == 303
    db.session.expire_all()
    need_id = db.session.get(DiaryEntry, entry.id).need_id
    need = db.session.get(Need, need_id)
    assert need.origin is NeedOrigin.MEMBER and need.status is NeedStatus.SUBMITTED
    assert need.resident_household_id == w.r1.id
    assert entry.text in need.text
    page = client.get(f"/diary/{entry.id}").get_data(as_text=True)
    assert f"/needs/{need_id}" in page
    again = client.post(f"/diary/{entry.id}/to-need", follow_redirects=True)
    assert "已经转为诉求" in again.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Need.id))) == 1


# --- visits ------------------------------------------------------------------------------


def _coverage_fixture():  # type: ignore[no-untyped-def]
    """A covers four households: h1 visited by a 走访 on 2 April, h2 by a diary entry on 1 May,
    h3 on 31 March 23:30 (Shanghai: last quarter) plus a non-visit activity in April, h4 at
    00:30 on 1 April Shanghai (which is still 31 March in UTC). B covers three, none visited.
    C covers none."""
    w = make_world()
    a, b = w.member, w.fellow
    c = make_member(w.p.tree.grid, name="何无户", household=w.member.central_household)
    h1, h2 = w.r1, w.r2
    h3 = make_resident(w.p.tree.grid, a, head_name="李三")
    h4 = make_resident(w.p.tree.grid, a, head_name="李四")
    make_resident(w.p.tree.grid, b, head_name="王五")
    make_resident(w.p.tree.grid, b, head_name="王六")
    make_activity(a, kind="visit", residents=[h1], started_at=datetime(2025, 4, 2, 2, tzinfo=UTC))
    make_diary_entry(a, h2, entry_date=date(2025, 5, 1))
    make_activity(a, kind="visit", residents=[h3], started_at=datetime(2025, 3, 31, 15, 30, tzinfo=UTC))
    make_activity(a, kind="errand", residents=[h3], started_at=datetime(2025, 4, 20, 2, tzinfo=UTC))
    make_activity(a, kind="visit", residents=[h4], started_at=datetime(2025, 3, 31, 16, 30, tzinfo=UTC))
    return w, a, b, c, (h1, h2, h3, h4)


def _percent(members, today: date) -> list[tuple[int, int, int | None]]:  # type: ignore[no-untyped-def]
    return [(x.covered, x.visited, x.percent) for x in visits.coverage(members, today)]


def test_visit_coverage_counts_visits_and_diary_entries_in_the_current_quarter(app):
    w, a, b, c, _ = _coverage_fixture()
    assert _percent([a, b, c], date(2025, 5, 15)) == [(4, 3, 75), (3, 0, 0), (0, 0, None)]


def test_the_nearest_nodes_visit_period_applies(app):
    w, a, b, c, _ = _coverage_fixture()
    admin = w.p.community_admin
    visits.set_policy(w.p.tree.community, 1, admin)  # monthly: May only
    db.session.commit()
    assert _percent([a, b], date(2025, 5, 15)) == [(4, 1, 25), (3, 0, 0)]
    visits.set_policy(w.p.tree.grid, 12, admin)  # the grid's own yearly setting wins
    db.session.commit()
    assert _percent([a, b], date(2025, 5, 15)) == [(4, 4, 100), (3, 0, 0)]
    assert _percent([a], date(2026, 1, 2)) == [(4, 0, 0)]


def test_the_household_list_puts_overdue_first_with_the_last_visit(client, app):
    w, a, b, c, (h1, h2, h3, h4) = _coverage_fixture()
    rows = visits.member_households(a, date(2025, 5, 15))
    assert [r.resident.id for r in rows] == [h3.id, h4.id, h1.id, h2.id]
    assert [r.overdue for r in rows] == [True, False, False, False]
    assert rows[0].last_visit == date(2025, 3, 31) and rows[1].last_visit == date(2025, 4, 1)
    with time_machine.travel(TODAY, tick=False):
        login(client, user_of(a))
        page = client.get("/visits/").get_data(as_text=True)
    assert page.index("李三") < page.index("赵大爷")
    assert "上次走访：2025-03-31" in page and "本期自 2025-04-01 起" in page


def test_the_head_and_admins_see_coverage_others_do_not(app):
    w, a, b, c, _ = _coverage_fixture()
    household_id = w.head.central_household_id
    for user, status in [(user_of(w.head), 200), (w.p.community_admin, 200),
                         (user_of(a), 404), (w.p.other_community_admin, 404),
                         (w.p.station_admin, 404)]:
        with time_machine.travel(TODAY, tick=False):
            client = app.test_client()
            login(client, user)
            response = client.get(f"/visits/household/{household_id}")
        assert response.status_code == status, user.name
        if status == 200:
            page = response.get_data(as_text=True)
            assert "75%" in page and "0%" in page
    member = app.test_client()
    login(member, user_of(a))
    assert member.get("/visits/coverage").status_code == 403
    assert member.get("/visits/policy").status_code == 403


def test_the_admin_coverage_lists_as_many_members_as_its_total_says(app):
    """The list's total (from the grid counters) is the number of members it lists, page after
    page: active members in the admin's scope only."""
    w, a, b, c, _ = _coverage_fixture()
    for i in range(35):
        make_member(w.p.tree.grid_b, name=f"新党员{i:02d}")
    make_member(w.p.tree.grid2, name="别村党员")  # another community
    gone = make_member(w.p.tree.grid, name="停用党员")
    gone.status = MemberStatus.INACTIVE
    db.session.commit()
    from app.services import visits as service

    expected = db.session.scalar(sa.select(sa.func.count()).select_from(
        service.members_in_scope(w.p.community_admin).subquery()))
    assert service.members_in_scope_total(w.p.community_admin) == expected
    client = app.test_client()
    login(client, w.p.community_admin)
    listed = []
    for page in (1, 2, 3):
        html = client.get(f"/visits/coverage?page={page}").get_data(as_text=True)
        assert f"共 {expected} 条" in html
        listed += re.findall(r'<tr class="[^"]*"><td>([^<]*)</td>', html)
    assert len(listed) == expected == len(set(listed)) > 30
    assert "停用党员" not in listed and "别村党员" not in listed and "新党员34" in listed


def test_the_admin_coverage_page_runs_a_fixed_number_of_queries(app):
    w, a, b, c, _ = _coverage_fixture()
    client = app.test_client()
    login(client, w.p.community_admin)
    first = queries_for(client, "/visits/coverage")
    for i in range(5):
        m = make_member(w.p.tree.grid_b, name=f"新党员{i}")
        r = make_resident(w.p.tree.grid_b, m, head_name=f"新户{i}")
        make_activity(m, kind="visit", residents=[r])
    assert queries_for(client, "/visits/coverage") == first
    household = app.test_client()
    login(household, user_of(w.head))
    first = queries_for(household, f"/visits/household/{w.head.central_household_id}")
    make_member(w.p.tree.grid, name="再加一人", household=w.member.central_household)
    assert queries_for(household, f"/visits/household/{w.head.central_household_id}") == first


def test_an_admin_sets_the_visit_period_for_their_node_only(client, app):
    p = make_personas()
    login(client, p.community_admin)
    assert "3 个月" in client.get("/visits/policy").get_data(as_text=True)
    assert client.post("/visits/policy", data={"node_id": p.tree.community.id, "months": 2}).status_code == 303
    assert db.session.get(VisitPolicy, p.tree.community.id).months == 2
    assert client.post("/visits/policy", data={"node_id": p.tree.community.id, "months": 5}).status_code == 422
    assert client.post("/visits/policy", data={"node_id": p.tree.community2.id, "months": 1}).status_code == 422
    assert db.session.get(VisitPolicy, p.tree.community2.id) is None


def test_the_database_refuses_a_period_that_does_not_divide_the_year(app):
    import pytest

    p = make_personas()
    db.session.add(VisitPolicy(org_node_id=p.tree.grid.id, months=5))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_member_pages_refuse_other_roles(app):
    p = make_personas()
    for user in (p.resident, p.nobody, p.community_admin, p.station_admin):
        client = app.test_client()
        login(client, user)
        for url in ("/visits/", "/diary/", "/diary/new"):
            assert client.get(url).status_code == 403, (user.name, url)
    client = app.test_client()
    login(client, db.session.get(User, p.member.user_id))
    for url in ("/visits/", "/diary/", "/diary/new"):
        assert client.get(url).status_code == 200
