"""Erasure covers what staff wrote about the resident (issue 12, PIPL): progress and internal
notes, the resolution's note, the reason for hiding, staff photos, and the diary entries that
became a need or name the resident — while who did what and when, and the rates, stay."""

from __future__ import annotations

import io
import json
import zipfile

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


# --- the download holds what the erasure erases ---------------------------------------------------


def _amr(seconds: int) -> io.BytesIO:
    from tests import hostile_files

    return io.BytesIO(hostile_files.amr(seconds))


def _staff_world():  # type: ignore[no-untyped-def]
    """A need with the resident's photo and recording, a member's public progress with a photo
    and a voice reply, an internal note with a photo and a recording, a resolution note; a hidden
    need; diary entries that are (and one that is not) about the resident."""
    from app.services import voice

    w = make_need_world()
    own_voice = voice.store(voice.process(_amr(2)), None)
    need = make_need(w.household, contact_name="赵大爷", text="楼道灯坏了", photo=_photo("red"), voice_clip=own_voice)
    needs.accept(need, w.member.user)
    needs.add_progress(need, w.member.user, "赵大爷独居，腿脚不便，下午再去", photo=_photo("green"),
                       voice_upload=_amr(3))
    needs.add_progress(need, w.member.user, "内部：老人有慢性病", internal=True, photo=_photo("blue"),
                       voice_upload=_amr(4))
    needs.resolve(need, w.member.user, NeedOutcome.SOLVED, "已联系赵大爷儿子")
    hidden = make_need(w.household, contact_name="赵大爷", text="又来了")
    needs.hide(hidden, w.p.community_admin, "赵大爷辱骂工作人员")
    became = make_diary_entry(w.member, w.household, text="楼道灯坏了，老人怕黑")
    became.need_id = need.id
    make_diary_entry(w.member, w.household, text="赵大爷说想申请低保")
    make_diary_entry(w.member, w.household, text="楼道堆放杂物，已提醒")  # not about him
    db.session.commit()
    return w, need, hidden


def _download(client, need) -> tuple[dict, zipfile.ZipFile]:  # type: ignore[no-untyped-def]
    r = client.post("/rights/export", data={"code": need.code, "phone": PHONE})
    assert r.status_code == 200 and r.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(r.data))
    return json.loads(archive.read("data.json").decode("utf-8")), archive


def test_the_download_holds_internal_notes_staff_photos_and_replies_as_files(client):
    from app.services import voice

    w, need, hidden = _staff_world()
    data, archive = _download(client, need)
    got = {n["code"]: n for n in data["needs"]}[need.code]
    # What staff wrote: the public progress in the timeline, the internal note apart (time and
    # text, not who wrote it), the resolution note, the hidden need's reason, the diary entries.
    progress = next(e for e in got["timeline"] if e["kind"] == "办理进展")
    assert progress["text"] == "赵大爷独居，腿脚不便，下午再去" and progress["by"] == w.member.name
    [note] = got["internal_notes"]
    assert note["text"] == "内部：老人有慢性病" and note["at"].endswith("+08:00") and "by" not in note
    assert all(e["text"] != "内部：老人有慢性病" for e in got["timeline"])
    assert got["outcome_note"] == "已联系赵大爷儿子"
    assert {n["code"]: n for n in data["needs"]}[hidden.code]["hidden_reason"] == "赵大爷辱骂工作人员"
    assert [d["text"] for d in data["diary"]] == ["楼道灯坏了，老人怕黑", "赵大爷说想申请低保"]
    notes = " ".join(data["notes"])
    assert "内部备注" in notes and "不属于您的个人信息" in notes and "未包含在内" not in notes
    # Every photo and recording, the resident's and staff's, as a file named in data.json.
    events = db.session.scalars(sa.select(NeedEvent).where(NeedEvent.need_id == need.id)
                                .order_by(NeedEvent.at, NeedEvent.id)).all()
    step = {e.id: n for n, e in enumerate(events, start=1)}
    progress_event = next(e for e in events if e.kind.value == "progress")
    note_event = next(e for e in events if e.kind.value == "note")
    expected = {
        f"photos/{need.code}.jpg": photos.photo_path(need.photo),
        f"photos/{need.code}-{step[progress_event.id]}.jpg": photos.photo_path(progress_event.photo),
        f"photos/{need.code}-{step[note_event.id]}.jpg": photos.photo_path(note_event.photo),
        f"voice/{need.code}.amr": voice.voice_path(need.voice_clip),
        f"voice/{need.code}-{step[progress_event.id]}.amr": voice.voice_path(progress_event.voice_clip),
        f"voice/{need.code}-{step[note_event.id]}.amr": voice.voice_path(note_event.voice_clip),
    }
    assert sorted(archive.namelist()) == sorted(["data.json", *expected])
    for name, path in expected.items():
        assert archive.read(name) == path.read_bytes(), name
    assert progress["photo"] == f"photos/{need.code}-{step[progress_event.id]}.jpg"
    assert note["photo"] == f"photos/{need.code}-{step[note_event.id]}.jpg"
    assert note["voice"] == f"voice/{need.code}-{step[note_event.id]}.amr"
    replies = [v for v in data["voice"] if v.get("reply")]
    assert [v["seconds"] for v in replies] == [3.0, 4.0]


def test_everything_the_erasure_removes_was_in_the_download(client):
    """Consistency, checked from the database: each text the erasure blanks, and each file it
    deletes, was in the download just before."""
    w, need, hidden = _staff_world()
    data, archive = _download(client, need)
    dumped = json.dumps(data, ensure_ascii=False)
    files = {archive.read(name) for name in archive.namelist() if name != "data.json"}

    def texts() -> dict[tuple[str, int], str]:
        db.session.expire_all()
        rows = {("event", e.id): e.text for e in db.session.scalars(sa.select(NeedEvent))}
        rows |= {("diary", d.id): d.text for d in db.session.scalars(sa.select(DiaryEntry))}
        for n in db.session.scalars(sa.select(Need)):
            rows |= {("text", n.id): n.text, ("note", n.id): n.outcome_note or "",
                     ("hidden", n.id): n.hidden_reason or "", ("name", n.id): n.contact_name}
        return rows

    from app.models import VoiceClip
    from app.services import voice

    before = texts()
    stored = [photos.photo_path(p) for p in db.session.scalars(sa.select(Photo))]
    stored += [voice.voice_path(c) for c in db.session.scalars(sa.select(VoiceClip))]
    contents = {path: path.read_bytes() for path in stored}
    r = client.post("/rights/erase/confirm", data={"code": need.code, "phone": PHONE, "confirm": "y"})
    assert r.status_code == 303
    after = texts()
    changed = [before[k] for k in before if after.get(k) != before[k] and before[k]]
    assert len(changed) >= 10  # need texts, names, notes, the reason, progress, the note, diary
    for text in changed:
        kept = text.split("：", 1)[1] if text.startswith(("已解决：", "满意：")) else text
        assert kept in dumped, f"erased but not in the download: {text!r}"
    deleted = [path for path in stored if not path.exists()]
    assert len(deleted) == 6  # three photos, three recordings
    assert all(contents[path] in files for path in deleted)


def test_the_rights_page_says_the_download_holds_what_staff_wrote_and_who_did_what_is_kept(client):
    page = client.get("/rights").get_data(as_text=True)
    assert "内部备注不属于您的个人信息" not in page
    hint = page.split('id="rights-download-contents"', 1)[1].split("</p>", 1)[0]
    assert "内部备注" in hint and "工作人员拍的照片和录的语音回复" in hint and "下载的文件里都有" in hint
    assert "哪一步在什么时间由哪位工作人员完成" in page and "不属于您的个人信息" in page
