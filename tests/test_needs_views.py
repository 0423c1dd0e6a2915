"""The needs pages: who may open what, masking, bad input, tracking, cards and QR codes."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from PIL import Image

from app.extensions import db
from app.models import EntryKind, Need, NeedCategory, NeedOutcome, NeedStatus, Notification
from app.services import entry_tokens, needs
from tests.factories import login, make_need, make_need_world, make_resident_user

GOOD = {"category": "repair", "text": "楼道灯坏了", "consent": "y"}


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(out, format="JPEG")
    return out.getvalue()


def _card(w) -> str:  # type: ignore[no-untyped-def]
    token = entry_tokens.current_token(w.household).token
    db.session.commit()
    return token


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Need.id)))


# --- public entry points ---

def test_card_page_shows_the_members_name_and_nothing_about_the_household(client):
    w = make_need_world()
    page = client.get(f"/c/{_card(w)}").get_data(as_text=True)
    assert "李党员" in page
    assert "赵大爷" not in page and "13911112222" not in page and "501" not in page
    assert w.member.phone not in page


def test_forged_or_revoked_card_token_is_refused_and_saves_nothing(client):
    w = make_need_world()
    token = _card(w)
    r = client.post("/c/AAAAAAAAAAAAAAAAAAAAAA", data=GOOD)
    assert r.status_code == 404 and "二维码无效" in r.get_data(as_text=True)
    entry_tokens.reissue(w.household)
    db.session.commit()
    assert client.post(f"/c/{token}", data=GOOD).status_code == 404
    # A plaque token does not work as a card token.
    plaque = entry_tokens.current_token(w.head.central_household).token
    db.session.commit()
    assert client.get(f"/c/{plaque}").status_code == 404
    assert _count() == 0


def test_card_submission_with_a_photo_gives_a_tracking_code(client):
    w = make_need_world()
    data = {**GOOD, "photo": (io.BytesIO(_jpeg()), "a.jpg")}
    r = client.post(f"/c/{_card(w)}", data=data, content_type="multipart/form-data")
    assert r.status_code == 303
    need = db.session.scalar(sa.select(Need))
    assert need.photo_id is not None and need.contact_name == "赵大爷"
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert need.code in page and "已提交" in page
    photo = client.get(f"/t/{need.token}/photo/{need.photo_id}")
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    photo.close()


@pytest.mark.parametrize("data, message", [
    ({**GOOD, "text": ""}, "请写下遇到了什么困难"),
    ({**GOOD, "text": "长" * 10_000}, "不能超过 500 字"),
    ({**GOOD, "contact_phone": "12345"}, "手机号格式不对"),
    ({k: v for k, v in GOOD.items() if k != "consent"}, "请勾选同意"),
    ({k: v for k, v in GOOD.items() if k != "category"}, "请选择一类"),
])
def test_bad_input_on_the_card_form_says_why_keeps_values_and_saves_nothing(client, data, message):
    w = make_need_world()
    data = {**data, "contact_name": "赵老"}
    r = client.post(f"/c/{_card(w)}", data=data)
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and message in page
    assert "赵老" in page
    assert _count() == 0


def test_a_non_image_photo_is_refused(client):
    w = make_need_world()
    data = {**GOOD, "photo": (io.BytesIO(b"MZ not an image"), "photo.jpg")}
    r = client.post(f"/c/{_card(w)}", data=data, content_type="multipart/form-data")
    assert r.status_code == 422 and "无法识别这个文件" in r.get_data(as_text=True)
    assert "楼道灯坏了" in r.get_data(as_text=True)
    assert _count() == 0


def test_same_household_same_category_within_a_day_warns_then_accepts_on_confirmation(client):
    w = make_need_world()
    token = _card(w)
    assert client.post(f"/c/{token}", data=GOOD).status_code == 303
    r = client.post(f"/c/{token}", data=GOOD)
    assert r.status_code == 422 and "已经反映过同一类" in r.get_data(as_text=True)
    assert _count() == 1
    assert client.post(f"/c/{token}", data={**GOOD, "confirm_duplicate": "1"}).status_code == 303
    assert _count() == 2


def test_plaque_page_goes_to_the_head(client):
    w = make_need_world()
    token = entry_tokens.current_token(w.head.central_household).token
    db.session.commit()
    assert "王户长" in client.get(f"/p/{token}").get_data(as_text=True)
    r = client.post(f"/p/{token}", data={**GOOD, "contact_phone": "13700001111"})
    assert r.status_code == 303
    assert db.session.scalar(sa.select(Need)).owner_member_id == w.head.id


def test_public_form_matches_the_address_or_queues(client):
    w = make_need_world()
    assert "网上反映诉求" in client.get("/").get_data(as_text=True)
    base = {**GOOD, "community": str(w.p.tree.community.id), "contact_phone": "13700001111"}
    assert client.post("/needs/new", data={**base, "address": "3栋2单元501"}).status_code == 303
    assert client.post("/needs/new", data={**base, "address": "不存在", "category": "policy"}).status_code == 303
    matched, queued = db.session.scalars(sa.select(Need).order_by(Need.id)).all()
    assert matched.owner_member_id == w.member.id
    assert queued.owner_node_id == w.p.tree.community.id


def test_public_form_without_a_community_says_so(client):
    make_need_world()
    r = client.post("/needs/new", data={**GOOD, "community": "0", "address": "1栋", "contact_phone": "13700001111"})
    assert r.status_code == 422 and "请选择所在村/社区" in r.get_data(as_text=True)
    assert _count() == 0


def test_station_poster_preselects_the_community_and_marks_the_origin(client):
    w = make_need_world()
    page = client.get(f"/needs/new?station={w.p.station.id}").get_data(as_text=True)
    assert f'<option selected value="{w.p.tree.community.id}">' in page
    data = {**GOOD, "community": str(w.p.tree.community.id), "address": "x", "contact_phone": "13700001111"}
    assert client.post(f"/needs/new?station={w.p.station.id}", data=data).status_code == 303
    assert db.session.scalar(sa.select(Need)).origin.value == "poster"


# --- tracking ---

def test_tracking_link_shows_only_that_need_without_internal_notes(client):
    w = make_need_world()
    need = make_need(w.household)
    other = make_need(w.household, category=NeedCategory.POLICY, text="另一件事", phone="13911113333")
    needs.accept(need, w.member.user)
    needs.add_progress(need, w.member.user, "内部：此户常投诉", internal=True)
    db.session.commit()
    page = client.get(f"/t/{need.token}").get_data(as_text=True)
    assert "楼道灯坏了" in page and "另一件事" not in page and other.code not in page
    assert "此户常投诉" not in page
    assert "139****2222" in page and "13911112222" not in page
    assert client.get("/t/not-a-token").status_code == 404


def test_tracking_code_needs_the_right_phone(client):
    w = make_need_world()
    need = make_need(w.household)
    wrong = client.post("/track", data={"code": need.code, "phone": "13700009999"})
    assert wrong.status_code == 422 and "没有找到" in wrong.get_data(as_text=True)
    assert need.text not in wrong.get_data(as_text=True)
    right = client.post("/track", data={"code": need.code.lower(), "phone": "139 1111 2222"})
    assert right.status_code == 303 and right.headers["Location"].endswith(f"/t/{need.token}")


def test_rating_through_the_link_and_unsatisfied_reopens(client):
    w = make_need_world()
    need = make_need(w.household)
    assert client.post(f"/t/{need.token}/rate", data={"rating": "satisfied"}).status_code == 422
    needs.accept(need, w.member.user)
    needs.resolve(need, w.member.user, NeedOutcome.SOLVED, "好了")
    db.session.commit()
    assert client.post(f"/t/{need.token}/rate", data={"rating": "bogus"}).status_code == 422
    assert client.post(f"/t/{need.token}/rate", data={"rating": "unsatisfied", "comment": "没修好"}).status_code == 303
    db.session.refresh(need)
    assert need.status is NeedStatus.IN_PROGRESS and need.reopen_count == 1


def test_resident_registers_with_a_tracking_code_and_sees_their_needs(client):
    w = make_need_world()
    need = make_need(w.household, phone="13955556666")
    make_need(w.household, phone="13911112222", category=NeedCategory.POLICY, text="别人的事")
    data = {"phone": "13955556666", "code": "WRONGCOD", "name": "赵大爷", "password": "long-enough-1",
            "confirm": "long-enough-1"}
    assert client.post("/register", data=data).status_code == 422
    assert client.post("/register", data={**data, "code": need.code}).status_code == 303
    page = client.get("/needs/mine").get_data(as_text=True)
    assert "楼道灯坏了" in page and "别人的事" not in page


# --- members and admins ---

def test_member_cannot_open_a_need_routed_to_another_member(client):
    w = make_need_world()
    need = make_need(w.household)
    for user in (w.fellow.user, w.p.other_member.user, w.p.other_community_admin, w.p.station_admin,
                 w.p.resident, w.p.nobody):
        login(client, user)
        assert client.get(f"/needs/{need.id}").status_code == 404, user.name
        assert client.post(f"/needs/{need.id}/accept").status_code in (403, 404), user.name
        client.post("/logout")
    assert db.session.get(Need, need.id).status is NeedStatus.SUBMITTED


def test_anonymous_users_are_sent_to_login(client):
    w = make_need_world()
    need = make_need(w.household)
    for url in ("/needs/", f"/needs/{need.id}", "/needs/dispatch", "/needs/dashboard", "/needs/sla",
                "/needs/cards", "/notifications/", "/needs/mine"):
        assert client.get(url).status_code == 302, url
    assert client.post(f"/needs/{need.id}/accept").status_code == 302


@pytest.mark.parametrize("url", ["/needs/dispatch", "/needs/dashboard", "/needs/sla"])
def test_admin_pages_refuse_members_and_residents(client, url):
    w = make_need_world()
    for user in (w.member.user, w.p.resident, w.p.station_admin):
        login(client, user)
        assert client.get(url).status_code == 403
        client.post("/logout")
    login(client, w.p.community_admin)
    assert client.get(url).status_code == 200


def test_member_pages_refuse_admins_without_a_member_record(client):
    w = make_need_world()
    login(client, w.p.community_admin)
    assert client.get("/needs/").status_code == 403
    assert client.get("/needs/cards").status_code == 403
    assert client.get("/needs/mine").status_code == 403


def test_admin_in_scope_sees_masked_phone_the_owner_sees_it_whole(client):
    w = make_need_world()
    need = make_need(w.household)
    login(client, w.member.user)
    assert "13911112222" in client.get(f"/needs/{need.id}").get_data(as_text=True)
    client.post("/logout")
    login(client, w.p.community_admin)
    page = client.get(f"/needs/{need.id}").get_data(as_text=True)
    assert "139****2222" in page and "13911112222" not in page
    for url in ("/needs/dispatch", "/needs/dashboard?by=member"):
        assert "13911112222" not in client.get(url).get_data(as_text=True)
    # Once it is held at the community, the community's admins are the owner chain.
    needs.assign(need, w.p.community_admin, w.fellow)
    need.owner_level, need.owner_member_id, need.owner_node_id = needs.OwnerLevel.COMMUNITY, None, w.p.tree.community.id
    db.session.commit()
    assert "13911112222" in client.get(f"/needs/{need.id}").get_data(as_text=True)


def test_member_accepts_in_one_tap_with_htmx_and_gets_the_row(client):
    w = make_need_world()
    need = make_need(w.household)
    login(client, w.member.user)
    r = client.post(f"/needs/{need.id}/accept", headers={"HX-Request": "true", "HX-Target": f"need-{need.id}"})
    assert r.status_code == 200 and r.headers["HX-Trigger"] == "need-updated"
    body = r.get_data(as_text=True)
    assert body.strip().startswith(f'<li id="need-{need.id}"') and "已接单" in body
    assert client.post(f"/needs/{need.id}/accept").status_code == 422  # again: refused, clearly
    r = client.post(f"/needs/{need.id}/resolve", data={"r-outcome": "referred", "r-note": "已转"},
                    headers={"HX-Request": "true", "HX-Target": "need-panel"})
    assert r.status_code == 422 and "转交给了哪个部门" in r.get_data(as_text=True)
    assert db.session.get(Need, need.id).status is NeedStatus.ACCEPTED


def test_progress_with_a_photo_and_bad_photo(client):
    w = make_need_world()
    need = make_need(w.household)
    needs.accept(need, w.member.user)
    db.session.commit()
    login(client, w.member.user)
    bad = client.post(f"/needs/{need.id}/progress", data={"p-text": "去看了", "p-photo": (io.BytesIO(b"x"), "x.png")},
                      content_type="multipart/form-data")
    assert bad.status_code == 422 and "无法识别" in bad.get_data(as_text=True)
    ok = client.post(f"/needs/{need.id}/progress", data={"p-text": "去看了", "p-photo": (io.BytesIO(_jpeg()), "x.jpg")},
                     content_type="multipart/form-data")
    assert ok.status_code == 303
    assert db.session.get(Need, need.id).status is NeedStatus.IN_PROGRESS


def test_head_passes_on_from_the_page(client):
    w = make_need_world()
    need = make_need(central=w.head.central_household, origin=needs.NeedOrigin.PLAQUE)
    login(client, w.head.user)
    assert "转交本户党员" in client.get(f"/needs/{need.id}").get_data(as_text=True)
    assert client.post(f"/needs/{need.id}/pass", data={"pass-member": str(w.p.other_member.id)}).status_code == 422
    assert client.post(f"/needs/{need.id}/pass", data={"pass-member": str(w.fellow.id)}).status_code == 303
    assert db.session.get(Need, need.id).owner_member_id == w.fellow.id


def test_admin_assigns_from_the_queue_and_hides_abuse(client):
    w = make_need_world()
    need = make_need(community=w.p.tree.community, address="无", phone="13700001111")
    login(client, w.p.community_admin)
    assert need.text in client.get("/needs/dispatch").get_data(as_text=True)
    assert client.post(f"/needs/{need.id}/assign", data={"a-member": str(w.fellow.id)}).status_code == 303
    assert db.session.get(Need, need.id).owner_member_id == w.fellow.id
    assert client.post(f"/needs/{need.id}/hide", data={"h-reason": ""}).status_code == 422
    assert client.post(f"/needs/{need.id}/hide", data={"h-reason": "辱骂"}).status_code == 303
    client.post("/logout")
    login(client, w.fellow.user)
    assert client.get(f"/needs/{need.id}").status_code == 404
    other = make_need(community=w.p.tree.community2, address="无", phone="13700001112")
    client.post("/logout")
    login(client, w.p.community_admin)
    assert client.get(f"/needs/{other.id}").status_code == 404
    assert client.post(f"/needs/{other.id}/assign", data={"a-member": str(w.fellow.id)}).status_code == 404


def test_dispute_needs_are_hidden_from_the_head_and_other_members(client):
    w = make_need_world()
    need = make_need(w.household, category=NeedCategory.DISPUTE)
    login(client, w.head.user)
    assert client.get(f"/needs/{need.id}").status_code == 404
    assert need.text not in client.get("/needs/?state=household").get_data(as_text=True)


def test_sla_page_saves_and_refuses_bad_hours(client):
    w = make_need_world()
    login(client, w.p.community_admin)
    node = str(w.p.tree.community.id)
    r = client.post("/needs/sla", data={"node": node, "category": "repair", "accept_hours": "48", "resolve_hours": "10"})
    assert r.status_code == 422 and "不能短于" in r.get_data(as_text=True)
    r = client.post("/needs/sla", data={"node": str(w.p.tree.community2.id), "category": "", "accept_hours": "4",
                                        "resolve_hours": "10"})
    assert r.status_code == 422
    assert client.post("/needs/sla", data={"node": node, "category": "repair", "accept_hours": "4",
                                           "resolve_hours": "48"}).status_code == 303
    assert needs.sla_for(w.p.tree.grid, NeedCategory.REPAIR) == (4, 48)


# --- cards and QR ---

def test_member_prints_cards_for_their_households(client):
    w = make_need_world()
    login(client, w.member.user)
    page = client.get("/needs/cards").get_data(as_text=True)
    assert page.count('class="contact-card"') == 1
    assert "李党员" in page and w.member.user.masked_phone in page and w.member.phone not in page
    assert "data:image/svg+xml;base64," in page
    assert entry_tokens.current_token(w.household) is not None


def test_qr_routes_are_for_the_member_head_and_admins_in_scope(client):
    w = make_need_world()
    hh, central = w.household.id, w.head.central_household_id
    login(client, w.member.user)
    r = client.get(f"/needs/qr/card/{hh}.svg")
    assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    assert client.get(f"/needs/qr/card/{hh}.png").mimetype == "image/png"
    assert client.get(f"/needs/qr/card/{hh}.gif").status_code == 404
    assert client.get(f"/needs/qr/plaque/{central}.png").status_code == 404
    client.post("/logout")
    login(client, w.head.user)
    assert client.get(f"/needs/qr/plaque/{central}.svg").status_code == 200
    assert client.get(f"/needs/qr/card/{hh}.svg").status_code == 404
    client.post("/logout")
    login(client, w.p.community_admin)
    assert client.get(f"/needs/qr/card/{hh}.png").status_code == 200
    client.post("/logout")
    login(client, w.p.other_community_admin)
    assert client.get(f"/needs/qr/card/{hh}.png").status_code == 404
    assert client.get(f"/needs/qr/plaque/{central}.png").status_code == 404
    assert entry_tokens.current_token(w.household).kind is EntryKind.CARD


# --- notifications ---

def test_notification_centre_and_badge(client):
    w = make_need_world()
    make_need(w.household)
    login(client, w.member.user)
    page = client.get("/").get_data(as_text=True)
    # The page counts nothing: its badge asks for the count when it loads, then every 60 s.
    assert 'id="notif-badge"' in page and 'hx-trigger="load, every 60s"' in page and "notif-count" not in page
    badge = client.get("/notifications/badge").get_data(as_text=True)
    assert 'class="notif-count">1<' in badge and 'hx-trigger="every 60s"' in badge and "load" not in badge
    listing = client.get("/notifications/").get_data(as_text=True)
    assert "新诉求" in listing
    note = db.session.scalar(sa.select(Notification).where(Notification.user_id == w.member.user_id))
    r = client.get(f"/notifications/{note.id}")
    assert r.status_code == 303 and r.headers["Location"].startswith("/needs/")
    assert "notif-count" not in client.get("/notifications/badge").get_data(as_text=True)
    client.post("/logout")
    login(client, w.fellow.user)
    assert client.get(f"/notifications/{note.id}").status_code == 404


def test_resident_user_gets_the_resident_nav(client):
    make_need_world()
    user = make_resident_user(name="注册群众", phone="13966667777")
    login(client, user)
    assert "/needs/mine" in client.get("/").get_data(as_text=True)


# --- the inbox, read as rows (issue 14) ---------------------------------------------------------


def _inbox_ids(html: str) -> list[int]:
    import re

    return [int(i) for i in re.findall(r'<li id="need-(\d+)" class="need-row">', html)]


def test_inbox_pages_through_a_long_tab_most_urgent_first_with_its_count(client):
    from datetime import UTC, datetime, timedelta

    w = make_need_world()
    start = datetime.now(UTC) - timedelta(hours=30)
    made = [make_need(w.household, text=f"第{i}件事", phone=f"139111{i:05d}", now=start + timedelta(minutes=7 * i))
            for i in range(23)]
    made[5].status = NeedStatus.ACCEPTED
    db.session.commit()
    login(client, w.member.user)
    first = client.get("/needs/").get_data(as_text=True)
    second = client.get("/needs/?page=2").get_data(as_text=True)
    waiting = sorted((n for n in made if n.status is NeedStatus.SUBMITTED), key=lambda n: (n.accept_due_at, n.id))
    assert _inbox_ids(first) + _inbox_ids(second) == [n.id for n in waiting]
    assert len(_inbox_ids(first)) == 20
    assert '待响应 <span class="badge">22</span>' in first and '已接单 <span class="badge">1</span>' in first
    assert "接单</button>" in first  # each waiting need is accepted in one tap
    accepted = client.get("/needs/?state=accepted").get_data(as_text=True)
    assert _inbox_ids(accepted) == [made[5].id] and "进展 / 办结" in accepted
    assert _inbox_ids(client.get("/needs/?page=3").get_data(as_text=True)) == []


def test_the_household_tab_shows_a_heads_fellow_members_open_needs_only_to_the_head(client, app):
    w = make_need_world()
    held = make_need(w.household, text="赵大爷家水管漏水")
    assert held.owner_member_id == w.member.id
    login(client, w.head.user)
    mine = client.get("/needs/").get_data(as_text=True)
    assert "本户党员" in mine and held.id not in _inbox_ids(mine)
    tab = client.get("/needs/?state=household").get_data(as_text=True)
    assert _inbox_ids(tab) == [held.id] and "接单</button>" not in tab  # the head sees it, the member accepts it
    other = app.test_client()
    login(other, w.fellow.user)
    assert "本户党员" not in other.get("/needs/").get_data(as_text=True)
    assert _inbox_ids(other.get("/needs/?state=household").get_data(as_text=True)) == []
