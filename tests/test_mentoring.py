"""Mentoring (帮带): a mentor records guidance contacts with their households, 我的帮带 flags the
households not guided this quarter (Asia/Shanghai), each household's history is read by its mentor,
its head and admins in scope, and admins list the mentors of their node with an .xlsx ledger."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine
from openpyxl import load_workbook

from app.clock import local_today
from app.extensions import db
from app.models import (
    AuditEntry,
    CentralHousehold,
    GuidanceContact,
    GuidanceWay,
    HouseholdStatus,
    Member,
    MemberCategory,
    User,
)
from app.nav import items_for
from app.services import mentoring as svc
from tests.factories import (
    Personas,
    login,
    make_admin,
    make_household,
    make_member,
    make_personas,
)
from tests.helpers import count_queries, queries_for


@dataclass
class World:
    p: Personas
    township_admin: User
    mentor: Member
    other_mentor: Member
    head: Member
    hh1: CentralHousehold  # the personas' household (head 王户长, member 李党员), mentored by `mentor`
    hh2: CentralHousehold  # another of `mentor`'s households
    hh_other: CentralHousehold  # in the other branch, mentored by `other_mentor`


def secretary(grid, name: str) -> Member:  # type: ignore[no-untyped-def]
    member = make_member(grid, name=name, category=MemberCategory.VILLAGE_COMMITTEE)
    member.is_secretary = True
    db.session.commit()
    return member


@pytest.fixture
def w(app) -> World:
    p = make_personas()
    tree = p.tree
    mentor = secretary(tree.grid_b, "书记甲")
    other_mentor = secretary(tree.grid2, "书记乙")
    hh1 = db.session.get(CentralHousehold, p.member.central_household_id)
    hh2 = make_household(tree.grid_b, head=make_member(tree.grid_b, name="张户长"), number="T-B01", address="龙山路9号")
    hh_other = make_household(tree.grid2, head=make_member(tree.grid2, name="杨户长"), number="T-Y01")
    hh1.mentor_id = hh2.mentor_id = mentor.id
    hh_other.mentor_id = other_mentor.id
    db.session.commit()
    return World(p, make_admin(tree.township, name="镇管理员"), mentor, other_mentor, hh1.head, hh1, hh2, hh_other)


def user(m: Member) -> User:
    return db.session.get(User, m.user_id)


def contact(mentor: Member, hh: CentralHousehold, day: date, text: str = "指导走访") -> GuidanceContact:
    row = GuidanceContact(mentor_member_id=mentor.id, household_id=hh.id, contact_date=day,
                          way=GuidanceWay.PHONE, discussed=text, created_by_id=mentor.user_id)
    db.session.add(row)
    db.session.commit()
    return row


def text_of(html: str, element_id: str) -> str:
    """The text inside the element with this id (tags dropped, spaces squeezed)."""
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</li>', html, re.S)
    assert match, element_id
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match[1])).strip()


def contacts() -> int:
    return db.session.scalar(sa.select(sa.func.count(GuidanceContact.id)))


FORM = {"contact_date": "", "way": "in_person", "discussed": "指导开展入户走访，梳理群众诉求", "follow_up": "下月回访"}


def form(**overrides: str) -> dict:
    data = dict(FORM, contact_date=local_today().isoformat())
    data.update(overrides)
    return data


# --- recording a contact and the flag -------------------------------------------------------------


def test_mentor_records_a_contact_and_the_household_is_no_longer_flagged(client, w):
    login(client, user(w.mentor))
    page = client.get("/mentoring/").get_data(as_text=True)
    assert "本季度未帮带" in text_of(page, f"mentored-{w.hh1.id}")
    assert "本季度未帮带" in text_of(page, f"mentored-{w.hh2.id}")
    assert "共帮带 2 户，本季度未帮带 2 户" in page

    response = client.post(f"/mentoring/households/{w.hh1.id}/contacts", data=form())
    assert response.status_code == 303 and response.headers["Location"].endswith("/mentoring/")
    saved = db.session.scalar(sa.select(GuidanceContact))
    assert (saved.mentor_member_id, saved.household_id, saved.contact_date, saved.way, saved.discussed,
            saved.follow_up, saved.created_by_id) == (
        w.mentor.id, w.hh1.id, local_today(), GuidanceWay.IN_PERSON, FORM["discussed"], "下月回访", w.mentor.user_id)

    page = client.get("/mentoring/").get_data(as_text=True)
    row = text_of(page, f"mentored-{w.hh1.id}")
    assert "本季度已帮带 1 次" in row and "本季度未帮带" not in row
    assert f"最近一次：{local_today().isoformat()} · 上门指导 · 指导开展入户走访" in row
    assert "本季度未帮带" in text_of(page, f"mentored-{w.hh2.id}")
    history = client.get(f"/mentoring/households/{w.hh1.id}").get_data(as_text=True)
    assert FORM["discussed"] in history and "后续跟进：下月回访" in history and "书记甲" in history


def field_error(page: str, field: str) -> str:
    match = re.search(rf'id="{field}-error">(.*?)</p>', page, re.S)
    return match[1] if match else ""


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"discussed": ""}, "discussed", "请填写帮带内容"),
    ({"discussed": "   "}, "discussed", "请填写帮带内容"),
    ({"discussed": "字" * 501}, "discussed", "不超过500字"),
    ({"follow_up": "字" * 501}, "follow_up", "不超过500字"),
    ({"contact_date": ""}, "contact_date", "请填写帮带日期"),
    ({"contact_date": "2026-13-45"}, "contact_date", "日期"),
    ({"way": "pigeon"}, "way", "选"),
])
def test_bad_input_is_refused_next_to_the_field_and_nothing_is_saved(client, w, overrides, field, message):
    login(client, user(w.mentor))
    response = client.post(f"/mentoring/households/{w.hh1.id}/contacts", data=form(**overrides))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in field_error(page, field)
    typed = overrides.get("discussed", FORM["discussed"])
    if typed.strip():  # what was typed stays in the form
        assert typed[:20] in page
    assert contacts() == 0


def test_a_contact_dated_tomorrow_in_shanghai_is_refused(client, w):
    login(client, user(w.mentor))
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    response = client.post(f"/mentoring/households/{w.hh1.id}/contacts", data=form(contact_date=tomorrow))
    assert response.status_code == 422 and "帮带日期不能晚于今天" in response.get_data(as_text=True)
    assert contacts() == 0


def test_only_the_households_own_mentor_records(client, w):
    login(client, user(w.mentor))
    # Another mentor's household: not theirs to see.
    assert client.post(f"/mentoring/households/{w.hh_other.id}/contacts", data=form()).status_code == 404
    assert client.get(f"/mentoring/households/{w.hh_other.id}").status_code == 404
    assert client.post("/mentoring/households/999999999/contacts", data=form()).status_code == 404
    client.post("/logout")
    # The head and an admin in scope read the history, but do not record.
    for reader in (user(w.head), w.p.community_admin):
        login(client, reader)
        page = client.get(f"/mentoring/households/{w.hh1.id}")
        assert page.status_code == 200 and 'id="record"' not in page.get_data(as_text=True)
        assert client.post(f"/mentoring/households/{w.hh1.id}/contacts", data=form()).status_code == 403
        client.post("/logout")
    assert contacts() == 0


def test_a_revoked_household_takes_no_new_contact(client, w):
    w.hh1.status = HouseholdStatus.REVOKED
    db.session.commit()
    login(client, user(w.mentor))
    assert client.post(f"/mentoring/households/{w.hh1.id}/contacts", data=form()).status_code == 403
    page = client.get("/mentoring/").get_data(as_text=True)
    assert f"mentored-{w.hh1.id}" not in page and f"mentored-{w.hh2.id}" in page
    assert contacts() == 0


# --- the quarter, in Shanghai --------------------------------------------------------------------


@pytest.mark.parametrize(("instant", "flagged"), [
    # 23:59 on 31 March in Shanghai: the first quarter still runs, the contact of that day counts.
    (datetime(2026, 3, 31, 15, 59, tzinfo=UTC), False),
    # 00:01 on 1 April in Shanghai — still 31 March in UTC — a new quarter with no contact yet.
    (datetime(2026, 3, 31, 16, 1, tzinfo=UTC), True),
])
def test_the_flag_follows_the_quarter_in_shanghai(client, w, instant, flagged):
    contact(w.mentor, w.hh1, date(2026, 3, 31))
    contact(w.mentor, w.hh2, date(2026, 1, 1))
    with time_machine.travel(instant, tick=False):
        login(client, user(w.mentor))
        page = client.get("/mentoring/").get_data(as_text=True)
    row = text_of(page, f"mentored-{w.hh1.id}")
    assert ("本季度未帮带" in row) is flagged
    assert ("2026年第2季度" if flagged else "2026年第1季度") in page
    assert "最近一次：2026-03-31" in row
    assert ("本季度未帮带" in text_of(page, f"mentored-{w.hh2.id}")) is flagged


def test_quarter_bounds_and_parsing():
    q = svc.Quarter.of(date(2026, 5, 17))
    assert (q.key, q.first, q.last) == ("2026-Q2", date(2026, 4, 1), date(2026, 6, 30))
    assert svc.Quarter(2026, 4).last == date(2026, 12, 31) and svc.Quarter(2026, 1).previous() == svc.Quarter(2025, 4)
    today = date(2026, 5, 17)
    assert svc.Quarter.parse("2025-Q4", today) == svc.Quarter(2025, 4)
    assert svc.Quarter.parse("2026-3", today) == q  # the future: this quarter
    for junk in ("", None, "2026-Q5", "Q1", "'; drop", "9" * 40):
        assert svc.Quarter.parse(junk, today) == q


# --- lists: fixed number of queries ---------------------------------------------------------------


def test_my_page_and_history_run_a_fixed_number_of_queries(client, w):
    contact(w.mentor, w.hh1, local_today())
    login(client, user(w.mentor))
    few = queries_for(client, "/mentoring/")
    few_history = queries_for(client, f"/mentoring/households/{w.hh1.id}")
    for i in range(4):
        hh = make_household(w.p.tree.grid_b, head=make_member(w.p.tree.grid_b, name=f"户长{i}"), number=f"T-X{i}")
        hh.mentor_id = w.mentor.id
        db.session.commit()
        contact(w.mentor, hh, local_today() - timedelta(days=i))
        contact(w.mentor, w.hh1, local_today() - timedelta(days=i + 1), text=f"第{i}次")
    assert queries_for(client, "/mentoring/") == few
    assert queries_for(client, f"/mentoring/households/{w.hh1.id}") == few_history


def test_the_mentors_list_runs_a_fixed_number_of_queries(client, w):
    login(client, w.p.district_admin)
    few = queries_for(client, "/mentoring/mentors")
    for i in range(3):
        m = secretary(w.p.tree.grid, f"书记{i}")
        hh = make_household(w.p.tree.grid, head=make_member(w.p.tree.grid, name=f"户长{i}"), number=f"T-M{i}")
        hh.mentor_id = m.id
        db.session.commit()
        contact(m, hh, local_today())
    assert queries_for(client, "/mentoring/mentors") == few


# --- the admins' list and its ledger ----------------------------------------------------------------


def test_mentors_list_shows_each_mentors_quarter(client, w):
    today = local_today()
    contact(w.mentor, w.hh1, today)
    contact(w.mentor, w.hh1, today)
    contact(w.other_mentor, w.hh_other, today)
    login(client, w.p.community_admin)
    page = client.get("/mentoring/mentors").get_data(as_text=True)
    assert "书记甲" in page and "书记乙" not in page  # the other branch's mentor is not theirs
    row = re.search(r"书记甲</a></td>(.*?)</tr>", page, re.S)[1]  # type: ignore[index]
    cells = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells == ["第二网格", "2 不足3户", "2", "1 张户长（T-B01）"]
    login(client, w.p.district_admin)
    assert "书记乙" in client.get("/mentoring/mentors").get_data(as_text=True)
    narrowed = client.get(f"/mentoring/mentors?node={w.p.tree.community2.id}").get_data(as_text=True)
    assert "书记乙" in narrowed and "书记甲" not in narrowed
    assert f'<option value="{w.p.tree.community2.id}" selected>杨桥社区</option>' in narrowed
    client.post("/logout")
    login(client, w.p.community_admin)
    assert client.get(f"/mentoring/mentors?node={w.p.tree.community2.id}").status_code == 404


def test_hub_counts_this_quarter(client, w):
    contact(w.mentor, w.hh1, local_today())
    contact(w.mentor, w.hh1, local_today() - timedelta(days=400))  # another year: not counted
    login(client, w.p.community_admin)
    page = client.get("/mentoring/admin").get_data(as_text=True)
    figures = re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", page)
    assert dict(figures[:4]) == {"帮带书记": "1", "帮带中心户": "2", "本季度帮带次数": "1", "本季度未帮带": "1"}


def test_export_is_a_ledger_cell_by_cell_and_formula_safe(client, w):
    evil = secretary(w.p.tree.grid, "=HYPERLINK(\"http://x\")")
    hh3 = make_household(w.p.tree.grid, head=make_member(w.p.tree.grid, name="+户长"), number="T-E01")
    hh3.mentor_id = evil.id
    db.session.commit()
    contact(w.mentor, w.hh1, date(2026, 8, 20))
    contact(w.mentor, w.hh2, date(2026, 6, 30))  # the quarter before
    login(client, w.p.community_admin)
    response = client.get("/mentoring/mentors.xlsx?quarter=2026-Q3")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    rows = [list(r) for r in load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True)]
    assert rows[0][0] == "帮带台账"
    assert rows[1] == ["单位：龙山社区", "期间：2026年第3季度（2026-07-01 至 2026-09-30）",
                       f"导出日期：{local_today().isoformat()}", None, None, None, None]
    assert rows[2] == ["帮带书记", "网格", "帮带户数", "3—5户标准", "本期帮带次数", "本期未帮带户数", "本期未帮带的中心户"]
    assert rows[3:] == [
        ["'=HYPERLINK(\"http://x\")", "第一网格", 1, "不足3户", 0, 1, "'+户长（T-E01）"],
        ["书记甲", "第二网格", 2, "不足3户", 1, 1, "张户长（T-B01）"],
    ]
    audit = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "export"))
    assert audit.user_id == w.p.community_admin.id and audit.object_type == "mentoring" and "2026-Q3" in audit.detail


# --- who may do what ---------------------------------------------------------------------------------

ROLES = ("anonymous", "resident", "member", "mentor", "other_mentor", "head", "station_admin",
         "community_admin", "other_community_admin", "district_admin")


def _as(client, w: World, role: str) -> None:  # type: ignore[no-untyped-def]
    who = {"resident": w.p.resident, "member": user(w.p.member), "mentor": user(w.mentor),
           "other_mentor": user(w.other_mentor), "head": user(w.head), "station_admin": w.p.station_admin,
           "community_admin": w.p.community_admin, "other_community_admin": w.p.other_community_admin,
           "district_admin": w.p.district_admin}.get(role)
    if who is not None:
        login(client, who)


def _expected(table: dict[str, int], role: str) -> int:
    return table.get(role, table["*"])


ANON = 302  # to the login page
GETS = {
    "/mentoring/": {"anonymous": ANON, "mentor": 200, "other_mentor": 200, "*": 403},
    "/mentoring/households/{hh1}": {"anonymous": ANON, "mentor": 200, "head": 200, "community_admin": 200,
                                    "district_admin": 200, "*": 404},
    "/mentoring/admin": {"anonymous": ANON, "community_admin": 200, "other_community_admin": 200,
                         "district_admin": 200, "*": 403},
    "/mentoring/mentors": {"anonymous": ANON, "community_admin": 200, "other_community_admin": 200,
                           "district_admin": 200, "*": 403},
    "/mentoring/mentors.xlsx": {"anonymous": ANON, "community_admin": 200, "other_community_admin": 200,
                                "district_admin": 200, "*": 403},
    "/mentoring/mentors?node={community}": {"anonymous": ANON, "community_admin": 200, "district_admin": 200,
                                            "other_community_admin": 404, "*": 403},
}
POSTS = {
    "/mentoring/households/{hh1}/contacts": {"anonymous": ANON, "mentor": 303, "head": 403, "community_admin": 403,
                                             "district_admin": 403, "*": 404},
}


@pytest.mark.parametrize("role", ROLES)
def test_every_route_answers_each_role(client, w, role):
    _as(client, w, role)
    ids = {"hh1": w.hh1.id, "community": w.p.tree.community.id}
    for url, table in GETS.items():
        response = client.get(url.format(**ids))
        assert response.status_code == _expected(table, role), (url, role)
        if response.status_code == ANON:
            assert "/login" in response.headers["Location"]
    for url, table in POSTS.items():
        before = contacts()
        response = client.post(url.format(**ids), data=form())
        assert response.status_code == _expected(table, role), (url, role)
        assert contacts() == before + (1 if response.status_code == 303 else 0)


def test_only_mentors_see_my_mentoring_in_the_nav(w):
    def entries(u: User) -> set[str]:
        return {i.endpoint for i in items_for(u.role_set, u)}

    assert "mentoring.mine" in entries(user(w.mentor))
    assert "mentoring.mine" not in entries(user(w.p.member)) and "mentoring.mine" not in entries(user(w.head))
    # A secretary who mentors no household yet.
    lone = secretary(w.p.tree.grid, "书记丙")
    assert "mentoring.mine" not in entries(user(lone))
    assert "mentoring.admin" in entries(w.p.community_admin) and "mentoring.admin" not in entries(user(w.mentor))


# --- what the evaluation reads ------------------------------------------------------------------------


def test_guidance_counts_per_household_and_per_mentor_for_a_year(w):
    for day in (date(2025, 12, 31), date(2026, 1, 1), date(2026, 6, 1), date(2026, 12, 31), date(2027, 1, 1)):
        contact(w.mentor, w.hh1, day)
    contact(w.mentor, w.hh2, date(2026, 2, 2))
    contact(w.other_mentor, w.hh_other, date(2025, 5, 5))
    ids = [w.hh1.id, w.hh2.id, w.hh_other.id]
    assert svc.guidance_counts(ids, 2026) == {w.hh1.id: 3, w.hh2.id: 1, w.hh_other.id: 0}
    assert svc.guidance_counts(ids, 2025) == {w.hh1.id: 1, w.hh2.id: 0, w.hh_other.id: 1}
    assert svc.guidance_counts([], 2026) == {}
    assert svc.guidance_given_counts([w.mentor.id, w.other_mentor.id], 2026) == {w.mentor.id: 4, w.other_mentor.id: 0}
    with count_queries() as statements:
        svc.guidance_counts(ids, 2026)
    assert len(statements) == 1


def test_a_mentors_home_lists_the_households_not_guided_this_quarter(client, w):
    contact(w.mentor, w.hh2, local_today())
    login(client, user(w.mentor))
    home = client.get("/").get_data(as_text=True)
    card = home[home.index('id="mentor-today"'):]
    card = card[:card.index("</section>")]
    assert "共帮带 2 户，本季度未帮带 1 户" in card
    assert f"/mentoring/households/{w.hh1.id}#record" in card and f"/mentoring/households/{w.hh2.id}" not in card
    client.post("/logout")
    login(client, user(w.p.member))
    assert 'id="mentor-today"' not in client.get("/").get_data(as_text=True)
