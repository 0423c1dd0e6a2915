"""Residents' rights (PIPL): download one's data, ask for erasure, the page that says what is kept."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    AuditEntry,
    Need,
    NeedEvent,
    NeedOutcome,
    NeedRating,
    NeedStatus,
    Notification,
    Photo,
    Role,
    RoleAssignment,
    User,
)
from app.services import needs, photos
from app.services.privacy_rights import ERASED_TEXT
from tests.factories import (
    PASSWORD,
    image_bytes,
    login,
    make_need,
    make_need_world,
    make_resident_user,
)

PHONE = "13911112222"
OTHER = "13955556666"


def _photo(color: str = "red") -> Photo:
    photo = photos.store(photos.process(io.BytesIO(image_bytes(color=color))), None)
    db.session.flush()
    return photo


def _world():  # type: ignore[no-untyped-def]
    """Two needs filed with PHONE (one with a photo, resolved and rated with a comment, an
    internal note), one need of someone else."""
    w = make_need_world()
    first = make_need(w.household, photo=_photo(), address="3栋2单元501", contact_name="赵大爷")
    needs.accept(first, w.member.user)
    needs.add_progress(first, w.member.user, "内部：此户常投诉", internal=True)
    needs.resolve(first, w.member.user, NeedOutcome.SOLVED, "灯已换好")
    needs.rate(first, NeedRating.BASICALLY, "修得有点慢")
    second = make_need(w.household, text="门口积水", contact_name="赵大爷")
    other = make_need(w.household, text="别人的事", phone=OTHER, contact_name="孙阿姨", photo=_photo("blue"))
    db.session.commit()
    return w, first, second, other


def _audits(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def _open(response) -> tuple[dict, zipfile.ZipFile]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    return json.loads(archive.read("data.json").decode("utf-8")), archive


def _rates() -> list:
    start, end = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    result = []
    for group in needs.GROUPS:
        rows, total = needs.rates(sa.true(), group, start, end)
        result.append([(r.key, r.submitted, r.accepted_in_time, r.resolved, r.rated, r.satisfied)
                       for r in [*rows, total]])
    return result


# --- the page ---


def test_the_page_says_what_is_kept_and_is_linked_from_tracking_and_my_needs(client):
    w, first, *_ = _world()
    page = client.get("/rights").get_data(as_text=True)
    for words in ("删除时删除什么", ERASED_TEXT, "响应率、办结率和满意率", "审计日志保存 1095 天", "正在办理的诉求也可以删除"):
        assert words in page
    assert 'href="/rights"' in client.get(f"/t/{first.token}").get_data(as_text=True)
    resident = make_resident_user(phone=PHONE)
    login(client, resident)
    assert 'href="/rights"' in client.get("/needs/mine").get_data(as_text=True)
    assert "您已登录" in client.get("/rights").get_data(as_text=True)


# --- download ---


def _check_first(data: dict, first: Need) -> None:
    by_code = {n["code"]: n for n in data["needs"]}
    got = by_code[first.code]
    assert got["category"] == "设施维修" and got["text"] == "楼道灯坏了"
    assert got["address"] == "3栋2单元501" and got["contact_name"] == "赵大爷" and got["contact_phone"] == PHONE
    assert got["status"] == "已评价" and got["outcome"] == "已解决" and got["outcome_note"] == "灯已换好"
    assert got["rating"] == "基本满意" and got["rating_comment"] == "修得有点慢"
    assert got["submitted_at"].endswith("+08:00") and got["resolved_at"] and got["rated_at"]
    kinds = [e["kind"] for e in got["timeline"]]
    assert kinds[0] == "提交诉求" and "评价" in kinds and "内部备注" not in kinds
    assert all("此户常投诉" not in (e["text"] or "") for e in got["timeline"])
    assert got["photo"] == f"photos/{first.code}.jpg"


def test_registered_resident_downloads_every_need_filed_with_their_phone(client):
    w, first, second, other = _world()
    resident = make_resident_user(phone=PHONE, name="赵大爷")
    login(client, resident)
    data, archive = _open(client.post("/rights/export"))
    assert {n["code"] for n in data["needs"]} == {first.code, second.code}
    assert data["phone"] == PHONE and data["account"]["name"] == "赵大爷"
    assert data["voice"] == []  # no voice messages left: none in the file (see test_voice_needs)
    _check_first(data, first)
    assert "别人的事" not in json.dumps(data, ensure_ascii=False)
    assert archive.namelist() == ["data.json", f"photos/{first.code}.jpg"]
    assert archive.read(f"photos/{first.code}.jpg") == photos.photo_path(first.photo).read_bytes()
    [entry] = _audits("pipl.export")
    assert entry.user_id == resident.id and "needs=2" in entry.detail and PHONE not in entry.detail


def test_anonymous_resident_downloads_with_a_code_and_the_phone(client):
    w, first, second, other = _world()
    data, archive = _open(client.post("/rights/export", data={"code": second.code.lower(), "phone": "139 1111 2222"}))
    assert {n["code"] for n in data["needs"]} == {first.code, second.code}
    assert data["account"] is None
    _check_first(data, first)
    assert f"photos/{first.code}.jpg" in archive.namelist()
    [entry] = _audits("pipl.export")
    assert entry.user_id is None and "via=code" in entry.detail


@pytest.mark.parametrize("form, message", [
    ({"code": "ABCDEFGH", "phone": PHONE}, "没有找到"),  # a guessed code
    ({"code": "", "phone": PHONE}, "请填写查询码"),
    ({"phone": PHONE}, "请填写查询码"),
    ({}, "请填写查询码"),
    ({"code": "X" * 5000, "phone": "1" * 5000}, "请填写查询码"),
])
def test_wrong_or_missing_proof_gives_nothing(client, form, message):
    w, first, second, other = _world()
    r = client.post("/rights/export", data=form)
    assert r.status_code == 422 and r.mimetype == "text/html"
    body = r.get_data(as_text=True)
    assert message in body and "楼道灯坏了" not in body
    assert _audits("pipl.export") == []


def test_another_residents_phone_or_code_opens_nothing(client):
    w, first, second, other = _world()
    # Someone else's code with my phone, my code with someone else's phone: nothing.
    for form in ({"code": other.code, "phone": PHONE}, {"code": first.code, "phone": OTHER}):
        assert client.post("/rights/export", data=form).status_code == 422
        assert client.post("/rights/erase", data=form).status_code == 422
        assert client.post("/rights/erase/confirm", data={**form, "confirm": "y"}).status_code == 422
    # A logged-in resident acts for their own phone only, whatever the form or the query says.
    neighbour = make_resident_user(phone=OTHER, name="孙阿姨")
    login(client, neighbour)
    data, _ = _open(client.post(f"/rights/export?need={first.id}", data={"code": first.code, "phone": PHONE}))
    assert [n["code"] for n in data["needs"]] == [other.code]
    db.session.expire_all()
    assert db.session.get(Need, first.id).text == "楼道灯坏了"


# --- erasure ---


def test_anonymous_erasure_after_confirmation(client):
    w, first, second, other = _world()
    before = _rates()
    photo = first.photo
    photo_id = photo.id
    files = [photos.photo_path(photo), photos.photo_path(photo, thumb=True)]
    assert all(f.exists() for f in files)
    proof = {"code": first.code, "phone": PHONE}
    step1 = client.post("/rights/erase", data=proof)
    page = step1.get_data(as_text=True)
    assert step1.status_code == 200 and "确认删除" in page and first.code in page and second.code in page
    db.session.expire_all()
    assert db.session.get(Need, first.id).contact_phone == PHONE  # nothing yet
    unconfirmed = client.post("/rights/erase/confirm", data=proof)
    assert unconfirmed.status_code == 422 and "请勾选" in unconfirmed.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Need, first.id).text == "楼道灯坏了" and _audits("pipl.erase") == []

    done = client.post("/rights/erase/confirm", data={**proof, "confirm": "y"})
    assert done.status_code == 303
    db.session.expire_all()
    for need in (db.session.get(Need, first.id), db.session.get(Need, second.id)):
        assert need.text == ERASED_TEXT and need.contact_name == "" and need.contact_phone is None
        assert need.address == "" and need.rating_comment == "" and need.photo_id is None
        assert need.resident_household_id is None
    kept = db.session.get(Need, first.id)
    assert kept.status is NeedStatus.RATED and kept.rating is NeedRating.BASICALLY and kept.category.value == "repair"
    assert kept.member_id == w.member.id and kept.node_id == w.p.tree.grid.id
    events = db.session.scalars(sa.select(NeedEvent).where(NeedEvent.need_id == first.id)).all()
    assert all(e.photo_id is None for e in events) and all("修得有点慢" not in e.text for e in events)
    assert db.session.get(Photo, photo_id) is None and not any(f.exists() for f in files)
    assert all("楼道灯坏了" not in n.body for n in db.session.scalars(sa.select(Notification)))
    assert _rates() == before
    untouched = db.session.get(Need, other.id)
    assert untouched.text == "别人的事" and untouched.contact_phone == OTHER and untouched.photo_id is not None
    [entry] = _audits("pipl.erase")
    assert "needs=2" in entry.detail and "photos=1" in entry.detail and PHONE not in entry.detail
    # The code and phone open nothing any more.
    assert client.post("/rights/export", data=proof).status_code == 422
    assert client.post("/track", data=proof).status_code == 422


def test_registered_resident_erasure_closes_the_account_and_leaves_the_open_need_to_its_owner(client):
    w, first, second, other = _world()
    needs.accept(second, w.member.user)
    db.session.commit()
    resident = make_resident_user(phone=PHONE, name="赵大爷")
    login(client, resident)
    assert "正在办理" in client.post("/rights/erase").get_data(as_text=True)
    assert client.post("/rights/erase/confirm", data={"confirm": "y"}).status_code == 303
    db.session.expire_all()
    account = db.session.get(User, resident.id)
    assert not account.active and account.name == "（已注销）" and account.phone.startswith("10")
    assert account.password_hash is None
    assert client.get("/needs/mine").status_code in (302, 303, 401)  # signed out
    need = db.session.get(Need, second.id)
    assert need.status is NeedStatus.ACCEPTED and need.text == ERASED_TEXT
    login(client, w.member.user)
    page = client.get(f"/needs/{second.id}").get_data(as_text=True)
    assert ERASED_TEXT in page and PHONE not in page
    [entry] = _audits("pipl.erase")
    assert entry.user_id == resident.id and "account=closed" in entry.detail


def test_anonymous_erasure_leaves_an_account_for_its_owner_to_close(client):
    w, first, second, other = _world()
    resident = make_resident_user(phone=PHONE, name="赵大爷")
    r = client.post("/rights/erase/confirm", data={"code": first.code, "phone": PHONE, "confirm": "y"})
    assert r.status_code == 303
    db.session.expire_all()
    account = db.session.get(User, resident.id)
    assert account.active and account.phone == PHONE and account.name == "赵大爷"
    assert db.session.get(Need, first.id).text == ERASED_TEXT
    assert "account=none" in _audits("pipl.erase")[0].detail


def test_a_member_who_is_also_a_resident_keeps_their_account(client):
    w, first, second, other = _world()
    member_user = w.member.user
    first.contact_phone = second.contact_phone = member_user.phone
    db.session.add(RoleAssignment(user=member_user, role=Role.RESIDENT))
    db.session.commit()
    login(client, member_user)
    assert client.post("/rights/erase/confirm", data={"confirm": "y"}).status_code == 303
    db.session.expire_all()
    account = db.session.get(User, member_user.id)
    assert account.active and account.name == "李党员"
    assert db.session.get(Need, first.id).text == ERASED_TEXT
    assert "account=kept" in _audits("pipl.erase")[0].detail


def test_a_photo_another_record_uses_stays(client):
    w = make_need_world()
    mine = make_need(w.household, photo=_photo())
    theirs = make_need(w.household, phone=OTHER, text="别人的事", photo=_photo())  # the same content
    assert mine.photo_id == theirs.photo_id
    r = client.post("/rights/erase/confirm", data={"code": mine.code, "phone": PHONE, "confirm": "y"})
    assert r.status_code == 303
    db.session.expire_all()
    photo = db.session.get(Photo, theirs.photo_id)
    assert photo is not None and photos.photo_path(photo).exists()
    assert "photos=0" in _audits("pipl.erase")[0].detail


def test_anonymous_without_proof_erases_nothing(client):
    w, first, second, other = _world()
    for url in ("/rights/erase", "/rights/erase/confirm"):
        r = client.post(url, data={"confirm": "y"})
        body = r.get_data(as_text=True)
        assert r.status_code == 422 and ("请填写查询码" in body or "没有找到" in body)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Need.id)).where(Need.text == ERASED_TEXT)) == 0
    assert _audits("pipl.erase") == []


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_erasure_and_download_need_the_csrf_token(client):
    w, first, second, other = _world()
    proof = {"code": first.code, "phone": PHONE}
    assert client.post("/rights/export", data=proof).status_code == 400
    assert client.post("/rights/erase/confirm", data={**proof, "confirm": "y"}).status_code == 400
    db.session.expire_all()
    assert db.session.get(Need, first.id).text == "楼道灯坏了"
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/rights").get_data(as_text=True)).group(1)
    step1 = client.post("/rights/erase", data={**proof, "csrf_token": token}).get_data(as_text=True)
    token2 = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', step1).group(1)
    assert client.post("/rights/erase/confirm", data={**proof, "confirm": "y", "csrf_token": token2}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Need, first.id).text == ERASED_TEXT


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_a_logged_in_resident_needs_the_csrf_token_too(client):
    w, first, second, other = _world()
    resident = make_resident_user(phone=PHONE)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"phone": PHONE, "password": PASSWORD, "csrf_token": token}).status_code == 303
    assert client.post("/rights/export").status_code == 400
    assert client.post("/rights/erase/confirm", data={"confirm": "y"}).status_code == 400
    db.session.expire_all()
    assert db.session.get(Need, first.id).text == "楼道灯坏了" and db.session.get(User, resident.id).active
    assert _audits("pipl.export") == [] and _audits("pipl.erase") == []


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://",
                                         "TRACK_LIMIT_PER_IP": "3 per 10 minutes"}])
def test_the_proof_shares_the_tracking_rate_limit(client):
    make_need_world()
    bad = {"code": "ABCDEFGH", "phone": "13700001111"}
    assert client.post("/track", data=bad).status_code == 422
    assert client.post("/rights/export", data=bad).status_code == 422
    assert client.post("/rights/erase", data=bad).status_code == 422
    assert client.post("/rights/erase/confirm", data=bad).status_code == 429
    assert client.post("/track", data=bad).status_code == 429
