"""The creation workflow through its pages: who may open what, bad input, the public notice."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import time_machine
from sqlalchemy import event

from app.extensions import db
from app.models import AuditEntry, Nomination, NominationStatus, NoticeObjection
from app.services import nominations as svc
from tests.factories import (
    advance_to_notice,
    login,
    make_admin,
    make_member,
    make_nomination,
    make_personas,
)

REASON_FORM = {"category": "employed", "address": "龙山路3号", "reason_political": "党性强",
               "reason_organising": "", "reason_service": "", "reason_prestige": "", "reason_role": "",
               "reason_prosperity": ""}


@pytest.fixture
def p(app):
    personas = make_personas()
    personas.township_admin = make_admin(personas.tree.township, name="镇管理员")  # type: ignore[attr-defined]
    personas.candidate = make_member(personas.tree.grid, name="陈候选", phone="13711112222")  # type: ignore[attr-defined]
    return personas


def _in_township_review(p):  # type: ignore[no-untyped-def]
    nom = make_nomination(p.candidate)
    svc.community_review(p.community_admin, nom, True, "")
    db.session.commit()
    return nom


# --- opening ---------------------------------------------------------------------------------------


def test_member_self_nominates_and_follows_it(client, p):
    login(client, p.candidate.user)
    assert client.get("/nominations/self").status_code == 200
    response = client.post("/nominations/self", data=REASON_FORM)
    assert response.status_code == 303
    nom = db.session.scalars(sa.select(Nomination)).one()
    assert nom.way.value == "self" and nom.candidate_id == p.candidate.id and nom.reason_political == "党性强"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "待村党组织审定" in page and "党性强" in page
    # The member sees the state but cannot act on it.
    assert "community-review" not in page


def test_self_nomination_without_any_reason_is_refused_and_keeps_the_input(client, p):
    login(client, p.candidate.user)
    response = client.post("/nominations/self", data={**REASON_FORM, "reason_political": "  "})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "请至少对照一项标准填写推荐理由" in page and "龙山路3号" in page
    assert db.session.scalar(sa.select(sa.func.count(Nomination.id))) == 0


def test_self_nomination_needs_a_category_and_an_address(client, p):
    login(client, p.candidate.user)
    response = client.post("/nominations/self", data={**REASON_FORM, "category": "", "address": ""})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "请选择人选类别" in page and "请填写中心户住址" in page


def test_admins_cannot_self_nominate_and_members_cannot_open_for_others(client, p):
    login(client, p.community_admin)
    assert client.get("/nominations/self").status_code == 403
    client.post("/logout")
    login(client, p.candidate.user)
    assert client.get("/nominations/new").status_code == 403
    assert client.get("/nominations/").status_code == 403


def test_admin_opens_a_joint_nomination_by_phone(client, p):
    login(client, p.community_admin)
    data = {**REASON_FORM, "way": "joint", "candidate": "137 1111 2222", "nominator_members": "王甲、李乙",
            "nominator_residents": "赵大爷"}
    response = client.post("/nominations/new", data=data)
    assert response.status_code == 303
    nom = db.session.scalars(sa.select(Nomination)).one()
    assert (nom.way.value, nom.nominator_members, nom.opened_by_id) == ("joint", "王甲、李乙", p.community_admin.id)


def test_joint_nomination_without_nominators_is_refused(client, p):
    login(client, p.community_admin)
    response = client.post("/nominations/new", data={**REASON_FORM, "way": "joint", "candidate": "陈候选"})
    assert response.status_code == 422
    assert "联荐须填写联名推荐的党员、群众姓名" in response.get_data(as_text=True)


def test_admin_cannot_nominate_a_member_outside_their_scope(client, p):
    login(client, p.community_admin)
    response = client.post("/nominations/new", data={**REASON_FORM, "way": "organisation",
                                                     "candidate": p.other_member.phone})
    assert response.status_code == 422
    assert "在您管辖范围内没有找到这名在册党员" in response.get_data(as_text=True)


# --- reading ------------------------------------------------------------------------------------


def test_who_may_read_a_nomination(client, p):
    nom = make_nomination(p.candidate)
    url = f"/nominations/{nom.id}"
    assert client.get(url).status_code == 302  # anonymous: to the login page
    for user, code in [(p.community_admin, 200), (p.district_admin, 200), (p.candidate.user, 200),
                       (p.other_community_admin, 404), (p.member.user, 404), (p.other_member.user, 404),
                       (p.station_admin, 404), (p.resident, 404), (p.nobody, 404)]:
        login(client, user)
        assert client.get(url).status_code == code, user.name
        client.post("/logout")
    assert client.get("/nominations/999999").status_code == 302


def test_list_shows_only_the_admins_scope(client, p):
    mine = make_nomination(p.candidate)
    theirs = make_nomination(p.other_member)
    login(client, p.community_admin)
    page = client.get("/nominations/").get_data(as_text=True)
    assert f"/nominations/{mine.id}" in page and f"/nominations/{theirs.id}" not in page


def test_list_page_runs_a_fixed_number_of_queries(client, p):
    login(client, p.district_admin)

    def count() -> int:
        seen: list[str] = []

        def listener(*args):  # type: ignore[no-untyped-def]
            seen.append(args[2])

        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert client.get("/nominations/?status=all").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    make_nomination(p.candidate)
    one = count()
    for i in range(5):
        make_nomination(make_member(p.tree.grid_b, name=f"候选{i}"))
    assert count() == one


# --- steps -----------------------------------------------------------------------------------------


def test_community_review_only_by_admins_of_that_community(client, p):
    nom = make_nomination(p.candidate)
    url = f"/nominations/{nom.id}/community-review"
    assert client.post(url, data={"decision": "approve"}).status_code == 302
    login(client, p.other_community_admin)
    assert client.post(url, data={"decision": "approve"}).status_code == 404
    client.post("/logout")
    login(client, p.candidate.user)
    assert client.post(url, data={"decision": "approve"}).status_code == 403
    client.post("/logout")
    login(client, p.community_admin)
    assert client.post(url, data={"decision": "reject"}).status_code == 422  # no reason given
    assert client.post(url, data={"decision": "approve", "comment": "同意"}).status_code == 303
    assert db.session.get(Nomination, nom.id).status is NominationStatus.TOWNSHIP_REVIEW


def test_township_admin_cannot_skip_the_joint_review(client, p):
    nom = _in_township_review(p)
    login(client, p.township_admin)
    response = client.post(f"/nominations/{nom.id}/township-review", data={"decision": "approve"})
    assert response.status_code == 422
    assert "联审尚未完成：纪检、公安 还未签署意见" in response.get_data(as_text=True)
    assert db.session.get(Nomination, nom.id).status is NominationStatus.TOWNSHIP_REVIEW


def test_township_steps_are_refused_to_the_community_admin(client, p):
    nom = _in_township_review(p)
    dept = svc.pending_departments(nom)[0]
    login(client, p.community_admin)
    assert client.post(f"/nominations/{nom.id}/signoff", data={"department": dept.id, "decision": "no_objection"}).status_code == 403
    assert client.post(f"/nominations/{nom.id}/township-review", data={"decision": "approve"}).status_code == 403


def test_township_admin_records_signoffs_then_approves(client, p):
    nom = _in_township_review(p)
    login(client, p.township_admin)
    page = client.get(f"/nominations/{nom.id}").get_data(as_text=True)
    assert "纪检" in page and "公安" in page
    bad = client.post(f"/nominations/{nom.id}/signoff", data={"department": svc.pending_departments(nom)[0].id,
                                                              "decision": "objection", "note": ""})
    assert bad.status_code == 422 and "有异议时请填写异议内容" in bad.get_data(as_text=True)
    for dept in svc.pending_departments(nom):
        assert client.post(f"/nominations/{nom.id}/signoff",
                           data={"department": dept.id, "decision": "no_objection"}).status_code == 303
    assert client.post(f"/nominations/{nom.id}/township-review", data={"decision": "approve"}).status_code == 303
    assert db.session.get(Nomination, nom.id).status is NominationStatus.NOTICE


def test_establishing_before_the_notice_ends_is_refused_then_allowed_after(client, p):
    nom = make_nomination(p.candidate)
    with time_machine.travel(datetime(2024, 5, 10, 2, 0, tzinfo=UTC), tick=False):
        advance_to_notice(nom, p.community_admin, p.township_admin)
    # Sessions are signed with a timestamp: log in inside each travelled-to moment.
    with time_machine.travel(datetime(2024, 5, 15, 8, 0, tzinfo=UTC), tick=False):
        login(client, p.township_admin)
        response = client.post(f"/nominations/{nom.id}/establish")
        assert response.status_code == 422 and "公示期未满" in response.get_data(as_text=True)
    with time_machine.travel(datetime(2024, 5, 16, 1, 0, tzinfo=UTC)):
        login(client, p.township_admin)
        response = client.post(f"/nominations/{nom.id}/establish")
        assert response.status_code == 303
        assert response.headers["Location"].startswith("/households/")


def test_community_admin_cannot_establish(client, p):
    nom = make_nomination(p.candidate)
    with time_machine.travel(datetime(2024, 5, 10, 2, 0, tzinfo=UTC), tick=False):
        advance_to_notice(nom, p.community_admin, p.township_admin)
    with time_machine.travel(datetime(2024, 5, 20, 1, 0, tzinfo=UTC)):
        login(client, p.community_admin)
        assert client.post(f"/nominations/{nom.id}/establish").status_code == 403


# --- the public notice ----------------------------------------------------------------------------


def test_public_notice_page_shows_name_grid_category_and_end_date_but_no_personal_data(client, p):
    nom = advance_to_notice(make_nomination(p.candidate, address="龙山路99号"), p.community_admin, p.township_admin)
    page = client.get("/nominations/notice").get_data(as_text=True)
    assert "陈候选" in page and "第一网格" in page and "在职党员" in page
    assert nom.notice_last_day.isoformat() in page
    assert p.candidate.phone not in page and "1371" not in page and "龙山路99号" not in page
    assert "党性" not in page and "政治立场" not in page  # no reasons either


def test_anyone_may_object_with_a_valid_phone(client, p):
    nom = advance_to_notice(make_nomination(p.candidate), p.community_admin, p.township_admin)
    prefix = f"o{nom.id}-"
    bad = client.post(f"/nominations/notice/{nom.id}/objection", data={prefix + "phone": "12345", prefix + "text": "x"})
    assert bad.status_code == 422 and "请填写正确的11位手机号码" in bad.get_data(as_text=True)
    empty = client.post(f"/nominations/notice/{nom.id}/objection", data={prefix + "phone": "13912345678", prefix + "text": ""})
    assert empty.status_code == 422 and "请填写异议内容" in empty.get_data(as_text=True)
    ok = client.post(f"/nominations/notice/{nom.id}/objection",
                     data={prefix + "phone": "13912345678", prefix + "text": "不常住本村"})
    assert ok.status_code == 303
    assert db.session.scalars(sa.select(NoticeObjection)).one().contact_phone == "13912345678"
    # The objector's phone is not shown publicly either.
    assert "13912345678" not in client.get("/nominations/notice").get_data(as_text=True)


def test_objecting_to_a_nomination_not_under_notice_is_404(client, p):
    nom = make_nomination(p.candidate)
    assert client.post(f"/nominations/notice/{nom.id}/objection", data={}).status_code == 404


def test_admin_sees_the_objection_masked_and_reveals_the_phone_with_an_audit_entry(client, p):
    nom = advance_to_notice(make_nomination(p.candidate), p.community_admin, p.township_admin)
    objection = svc.lodge_objection(nom, "13912345678", "不常住本村")
    db.session.commit()
    login(client, p.community_admin)
    page = client.get(f"/nominations/{nom.id}").get_data(as_text=True)
    assert "139****5678" in page and "13912345678" not in page
    assert "13912345678" in client.get(f"/nominations/objections/{objection.id}/phone").get_data(as_text=True)
    assert db.session.scalar(sa.select(AuditEntry.action)) == "objection.phone.reveal"
    client.post("/logout")
    login(client, p.other_community_admin)
    assert client.get(f"/nominations/objections/{objection.id}/phone").status_code == 404


def test_admin_resolves_an_objection_through_the_page(client, p):
    nom = advance_to_notice(make_nomination(p.candidate), p.community_admin, p.township_admin)
    objection = svc.lodge_objection(nom, "13912345678", "不常住本村")
    db.session.commit()
    login(client, p.community_admin)
    url = f"/nominations/objections/{objection.id}/resolve"
    prefix = f"r{objection.id}-"
    bad = client.post(url, data={prefix + "outcome": "dismissed", prefix + "resolution": ""})
    assert bad.status_code == 422 and "请填写核实处理情况" in bad.get_data(as_text=True)
    assert client.post(url, data={prefix + "outcome": "dismissed", prefix + "resolution": "已核实"}).status_code == 303
    assert db.session.get(NoticeObjection, objection.id).status.value == "dismissed"


# --- township settings -----------------------------------------------------------------------------


def test_township_settings_belong_to_the_township(client, p):
    url = f"/nominations/townships/{p.tree.township.id}/settings"
    login(client, p.community_admin)
    assert client.get(url).status_code == 404
    client.post("/logout")
    login(client, p.township_admin)
    assert client.get(url).status_code == 200
    assert client.get(f"/nominations/townships/{p.tree.township2.id}/settings").status_code == 404
    bad = client.post(url, data={"s-notice_days": "0"})
    assert bad.status_code == 422 and "公示天数应在 1 到 30 天之间" in bad.get_data(as_text=True)
    assert client.post(url, data={"s-notice_days": "7"}).status_code == 303
    assert svc.notice_days(p.tree.township) == 7
    assert client.post(url, data={"d-name": "信访"}).status_code == 303
    assert [d.name for d in svc.departments(p.tree.township)] == ["纪检", "公安", "信访"]
    dup = client.post(url, data={"d-name": "公安"})
    assert dup.status_code == 422 and "该部门已在联审名单中" in dup.get_data(as_text=True)


def test_nav_shows_the_workflow_to_admins_and_self_nomination_to_members(client, p):
    login(client, p.community_admin)
    page = client.get("/").get_data(as_text=True)
    assert 'href="/nominations/"' in page and 'href="/households/"' in page and "/coming/nominations" not in page
    client.post("/logout")
    login(client, p.candidate.user)
    assert 'href="/nominations/self"' in client.get("/").get_data(as_text=True)
