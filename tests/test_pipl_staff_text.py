"""Erasure covers what staff wrote about the resident (issue 12, PIPL): progress and internal
notes, the resolution's note, the reason for hiding, staff photos, and the diary entries that
became a need or name the resident — while who did what and when, and the rates, stay."""

from __future__ import annotations

import io

import sqlalchemy as sa

from app.extensions import db
from app.models import DiaryEntry, Need, NeedEvent, NeedOutcome, Photo
from app.services import needs, photos
from app.services.privacy_rights import ERASED_TEXT
from tests.factories import image_bytes, make_diary_entry, make_need, make_need_world, make_resident

PHONE = "13911112222"


def _photo(color: str) -> Photo:
    photo = photos.store(photos.process(io.BytesIO(image_bytes(color=color))), None)
    db.session.flush()
    return photo


def test_staff_text_about_the_resident_is_erased_and_the_record_of_the_work_kept(client):
    w = make_need_world()
    need = make_need(w.household, contact_name="赵大爷", text="楼道灯坏了")
    needs.accept(need, w.member.user)
    staff_photo = _photo("green")
    needs.add_progress(need, w.member.user, "赵大爷独居，腿脚不便，下午再去", photo=staff_photo)
    needs.add_progress(need, w.member.user, "内部：老人有慢性病", internal=True)
    needs.resolve(need, w.member.user, NeedOutcome.REFERRED, "已联系赵大爷儿子", referred_to="物业公司")
    # The member's diary: one entry became this need, one names him, one is about another matter
    # of the same household without naming him, one is about a neighbour and quotes his phone.
    became = make_diary_entry(w.member, w.household, text="楼道灯坏了，老人怕黑")
    became.need_id = need.id
    names = make_diary_entry(w.member, w.household, text="赵大爷说想申请低保")
    neutral = make_diary_entry(w.member, w.household, text="楼道堆放杂物，已提醒")
    neighbour = make_resident(w.p.tree.grid, member=w.member, head_name="钱大妈")
    quotes = make_diary_entry(w.member, neighbour, text=f"钱大妈说有事可找邻居 {PHONE}")
    other = make_diary_entry(w.member, neighbour, text="赵大爷是她邻居")  # another household: kept
    db.session.commit()
    ids = {"need": need.id, "became": became.id, "names": names.id, "neutral": neutral.id,
           "quotes": quotes.id, "other": other.id, "photo": staff_photo.id}
    files = [photos.photo_path(staff_photo), photos.photo_path(staff_photo, thumb=True)]

    r = client.post("/rights/erase/confirm", data={"code": need.code, "phone": PHONE, "confirm": "y"})
    assert r.status_code == 303
    db.session.expire_all()
    kept = db.session.get(Need, ids["need"])
    assert kept.outcome_note == ERASED_TEXT and kept.outcome is NeedOutcome.REFERRED
    assert kept.referred_to == "物业公司" and kept.resolved_at is not None
    events = db.session.scalars(sa.select(NeedEvent).where(NeedEvent.need_id == ids["need"])
                                .order_by(NeedEvent.id)).all()
    texts = " ".join(e.text for e in events)
    assert "赵大爷" not in texts and "慢性病" not in texts and "儿子" not in texts
    assert [e.kind.value for e in events] == ["submitted", "routed", "accepted", "progress", "note", "resolved"]
    assert all(e.actor_id == w.member.user_id for e in events if e.kind.value in ("accepted", "progress", "resolved"))
    assert events[-1].text == "已转交有关部门（物业公司）" and all(e.photo_id is None for e in events)
    assert db.session.get(Photo, ids["photo"]) is None and not any(f.exists() for f in files)
    diary = {k: db.session.get(DiaryEntry, ids[k]).text for k in ("became", "names", "neutral", "quotes", "other")}
    assert diary["became"] == diary["names"] == diary["quotes"] == ERASED_TEXT
    assert diary["neutral"] == "楼道堆放杂物，已提醒" and diary["other"] == "赵大爷是她邻居"
    # The member still sees their diary (the entries and dates) and the need's steps.
    from tests.factories import login

    login(client, w.member.user)
    page = client.get(f"/needs/{ids['need']}").get_data(as_text=True)
    assert "物业公司" in page and "腿脚不便" not in page and ERASED_TEXT in page
    r = client.get("/diary/")
    assert r.status_code == 200 and "低保" not in r.get_data(as_text=True)


def test_a_hidden_need_s_reason_is_erased(client):
    w = make_need_world()
    need = make_need(w.household, contact_name="赵大爷")
    visible = make_need(w.household, text="门口积水")  # a hidden need's code opens nothing
    needs.hide(need, w.p.community_admin, "赵大爷辱骂工作人员")
    db.session.commit()
    need_id = need.id
    r = client.post("/rights/erase/confirm", data={"code": visible.code, "phone": PHONE, "confirm": "y"})
    assert r.status_code == 303
    db.session.expire_all()
    hidden = db.session.get(Need, need_id)
    assert hidden.hidden_at is not None and hidden.hidden_reason == ERASED_TEXT
    events = db.session.scalars(sa.select(NeedEvent).where(NeedEvent.need_id == need_id)).all()
    assert all("辱骂" not in e.text for e in events)


def test_the_rights_page_says_staff_text_is_erased_and_why(client):
    page = client.get("/rights").get_data(as_text=True)
    assert "工作人员写下的关于您的内容" in page and "不论是谁写下的" in page
