"""Voice needs (语音留言): real recordings in every format phones make are stored with their length;
anything else is refused in Chinese and stores nothing; the recording plays only for those who may
see the need; a need may be voice alone; members reply by voice; residents download and erase it."""

from __future__ import annotations

import contextlib
import gc
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import EventKind, Need, NeedCategory, NeedEvent, NeedStatus, VoiceClip
from app.services import entry_tokens, needs, voice
from app.services.privacy_rights import ERASED_TEXT
from tests import audio
from tests.factories import login, make_need, make_need_world, make_resident_user

GOOD = {"category": "repair", "consent": "y"}


def _card(w) -> str:  # type: ignore[no-untyped-def]
    token = entry_tokens.current_token(w.household).token
    db.session.commit()
    return token


def _post_card(client, w, path: Path | None, text: str = "", name: str | None = None, **extra):  # type: ignore[no-untyped-def]
    data = {**GOOD, "text": text, **extra}
    if path is not None:
        data["voice"] = (io.BytesIO(path.read_bytes()), name or path.name)
    return client.post(f"/c/{_card(w)}", data=data, content_type="multipart/form-data")


def _stored_files(app) -> list[Path]:  # type: ignore[no-untyped-def]
    root = Path(app.config["UPLOAD_DIR"]) / "voice"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _nothing_stored(app) -> bool:  # type: ignore[no-untyped-def]
    return (db.session.scalar(sa.select(sa.func.count(VoiceClip.id))) == 0
            and db.session.scalar(sa.select(sa.func.count(Need.id))) == 0 and _stored_files(app) == [])


# --- Accepted: every format, by content, with its length ---------------------------------------


@pytest.mark.parametrize("fmt", [*audio.FORMATS, "amr"])
def test_each_format_phones_record_is_stored_with_its_length(client, app, tmp_path, fmt):
    w = make_need_world()
    path = audio.recording(tmp_path, fmt)
    r = _post_card(client, w, path, name="录音")  # a name that says nothing: the content decides
    assert r.status_code == 303, r.get_data(as_text=True)
    need = db.session.scalar(sa.select(Need))
    clip = need.voice_clip
    assert need.text == "" and clip is not None
    assert clip.mime == audio.MIME[path.suffix.lstrip(".")]
    expected_ms = 3000 if fmt == "amr" else _espeak_ms(tmp_path)
    assert abs(clip.duration_ms - expected_ms) < 150, (clip.duration_ms, expected_ms)
    assert clip.size_bytes == path.stat().st_size
    assert voice.voice_path(clip).read_bytes() == path.read_bytes()  # stored as uploaded
    assert _stored_files(app) == [voice.voice_path(clip)]
    # The resident hears it again on the tracking page.
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    src = f"/t/{need.token}/voice/{clip.id}"
    assert f'<audio controls preload="none" src="{src}"' in page
    played = client.get(src)
    assert played.status_code == 200 and played.mimetype == clip.mime
    assert played.headers["Cache-Control"] == "private, no-store"
    assert played.get_data() == path.read_bytes()
    played.close()


def _espeak_ms(tmp_path: Path) -> int:
    import wave

    with wave.open(str(audio.speech(tmp_path))) as w:
        return round(w.getnframes() / w.getframerate() * 1000)


def test_a_need_with_voice_and_text_keeps_both_and_a_need_with_neither_is_refused(client, app, tmp_path):
    w = make_need_world()
    r = _post_card(client, w, None, text="  ")
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and "请写下遇到了什么困难，或录一段语音。" in page
    assert _nothing_stored(app)
    r = _post_card(client, w, audio.recording(tmp_path, "ogg-opus"), text="灯坏了")
    assert r.status_code == 303
    need = db.session.scalar(sa.select(Need))
    assert need.text == "灯坏了" and need.voice_clip is not None


@pytest.mark.parametrize("entry", ["plaque", "public"])
def test_the_plaque_and_public_forms_take_a_voice_need_too(client, tmp_path, entry):
    w = make_need_world()
    path = audio.recording(tmp_path, "mp3")
    data = {**GOOD, "text": "", "contact_phone": "13700001111", "voice": (io.BytesIO(path.read_bytes()), "x")}
    if entry == "plaque":
        url = f"/p/{entry_tokens.current_token(w.head.central_household).token}"
        db.session.commit()
    else:
        url = "/needs/new"
        data |= {"community": str(w.p.tree.community.id), "address": "3栋2单元501"}
    assert 'accept="audio/*"' in client.get(url).get_data(as_text=True)
    r = client.post(url, data=data, content_type="multipart/form-data")
    assert r.status_code == 303
    need = db.session.scalar(sa.select(Need))
    assert need.text == "" and need.voice_clip.mime == "audio/mpeg"


def test_a_form_refused_for_another_reason_says_the_recording_must_be_given_again(client, app, tmp_path):
    w = make_need_world()
    r = _post_card(client, w, audio.recording(tmp_path, "ogg-opus"), consent="")
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and "请勾选同意" in page
    assert "录音还没有提交：请重新录制或选择。" in page  # a file input cannot be refilled by the server
    assert _nothing_stored(app)


def test_the_database_refuses_a_need_with_neither_text_nor_voice(app):
    w = make_need_world()
    need = make_need(w.household)
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.update(Need).where(Need.id == need.id).values(text=""))
    db.session.rollback()


def test_the_same_recording_twice_is_stored_once(client, app, tmp_path):
    w = make_need_world()
    path = audio.recording(tmp_path, "ogg-opus")
    assert _post_card(client, w, path, category="repair").status_code == 303
    assert _post_card(client, w, path, category="health").status_code == 303
    assert db.session.scalar(sa.select(sa.func.count(VoiceClip.id))) == 1
    assert len(_stored_files(app)) == 1


# --- Refused: a Chinese message next to the field, typed values kept, nothing stored ----------


def _bad(tmp_path: Path, kind: str) -> Path:
    if kind == "text renamed .m4a":
        path = tmp_path / "voice.m4a"
        path.write_text("这不是录音，是一段文字。" * 20)
    elif kind == "empty":
        path = tmp_path / "voice.webm"
        path.write_bytes(b"")
    elif kind.startswith("truncated "):
        good = audio.recording(tmp_path, kind.removeprefix("truncated "))
        path = tmp_path / f"cut-{good.name}"
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif kind == "ten minutes":
        path = audio.long_recording(tmp_path, 600)
    elif kind == "over 2 MB":
        path = tmp_path / "big.wav"
        path.write_bytes(b"RIFF" + bytes(voice.MAX_BYTES + 10))
    elif kind == "a photo":
        from tests.factories import image_bytes

        path = tmp_path / "voice.mp3"
        path.write_bytes(image_bytes())
    else:  # "amr cut mid-frame"
        good = audio.amr(tmp_path, seconds=2)
        path = tmp_path / "cut.amr"
        path.write_bytes(good.read_bytes()[:-7])
    return path


@pytest.mark.parametrize("kind, message", [
    ("text renamed .m4a", "无法识别这个文件"),
    ("empty", "录音是空的"),
    ("truncated webm-opus-live", "录音文件不完整或已损坏"),
    ("truncated m4a-aac-fragmented", "录音文件不完整或已损坏"),
    ("truncated mp3", "录音文件不完整或已损坏"),
    ("truncated ogg-opus", "录音文件不完整或已损坏"),
    ("truncated wav", "录音文件不完整或已损坏"),
    ("amr cut mid-frame", "录音文件不完整或已损坏"),
    ("ten minutes", "录音不能超过 60 秒"),
    ("a photo", "无法识别这个文件"),
])
def test_bad_audio_is_refused_next_to_the_field_and_nothing_is_stored(client, app, tmp_path, kind, message):
    w = make_need_world()
    r = _post_card(client, w, _bad(tmp_path, kind), text="灯坏了", contact_name="赵老")
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert f'<p class="error" id="voice-error">{message}' in page
    field = re.search(r'<input [^>]*id="voice"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in field and "voice-error" in field and "autofocus" in field
    assert "灯坏了" in page and "赵老" in page  # what was typed is kept
    assert _nothing_stored(app)


# Werkzeug's test client spools a body this big to a temporary file it never closes.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_recording_over_2_mb_is_refused_and_nothing_is_stored(client, app, tmp_path):
    w = make_need_world()
    r = _post_card(client, w, _bad(tmp_path, "over 2 MB"), text="灯坏了")
    assert r.status_code == 422 and "录音不能超过 2 MB" in r.get_data(as_text=True)
    assert _nothing_stored(app)
    del r  # the response holds the request, which holds the file
    gc.collect()  # let the test client's temporary file go here, under this test's filter


@pytest.mark.parametrize("data", [b"OggS" + bytes(100), b"\x1a\x45\xdf\xa3" + bytes(3), b"#!AMR\n\x4f",
                                  b"ID3" + bytes(50), b"\x00\x00\x00\x18ftypM4A " + bytes(8)])
def test_headers_without_a_recording_are_refused_by_the_service(app, data):
    with pytest.raises(voice.VoiceError) as refused:
        voice.process(io.BytesIO(data))
    assert "录" in str(refused.value) or "无法识别" in str(refused.value)


def test_a_webm_of_a_million_empty_elements_is_refused_without_walking_them_all(app, monkeypatch):
    """Found by the upload fuzzer: 2 MB of two-byte Void elements after a WebM header kept a
    worker walking for seconds (any resident may upload one); the walk stops past what a minute
    of Opus in its smallest frames holds."""
    from tests import hostile_files as hf

    calls = []
    real = voice._vint
    monkeypatch.setattr(voice, "_vint", lambda *a, **k: calls.append(1) or real(*a, **k))
    with pytest.raises(voice.VoiceError) as refused:
        voice.process(io.BytesIO(hf.audio_bombs()["webm of 1 M empty elements (2 MB)"]))
    assert "不完整或已损坏" in str(refused.value)
    assert len(calls) <= 2 * 50_001  # two reads per element, not the million elements there


def test_a_minute_of_opus_in_its_smallest_frames_is_still_read(app, tmp_path):
    audio.tools()
    out = tmp_path / "small-frames.webm"
    audio._run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                "sine=frequency=440:duration=60:sample_rate=16000", "-c:a", "libopus", "-b:a", "16k",
                "-frame_duration", "2.5", "-f", "webm", str(out)])
    assert abs(voice.process(io.BytesIO(out.read_bytes())).duration_ms - 60_000) < 100


# --- Who may listen -----------------------------------------------------------------------------


@pytest.fixture
def spoken(tmp_path):  # type: ignore[no-untyped-def]
    """A need left by voice from the card, with a member's voice reply and an internal voice note."""
    w = make_need_world()
    clip = voice.store(voice.process(io.BytesIO(audio.recording(tmp_path, "ogg-opus").read_bytes())), None)
    need = make_need(w.household, text="", voice_clip=clip)
    needs.accept(need, w.member.user)
    needs.add_progress(need, w.member.user, "", voice_upload=io.BytesIO(
        audio.recording(tmp_path, "m4a-aac").read_bytes()))
    needs.add_progress(need, w.member.user, "", internal=True, voice_upload=io.BytesIO(
        audio.recording(tmp_path, "mp3").read_bytes()))
    db.session.commit()
    events = {e.kind: e for e in db.session.scalars(sa.select(NeedEvent).where(NeedEvent.need_id == need.id))}
    return w, need, events[EventKind.PROGRESS].voice_clip_id, events[EventKind.NOTE].voice_clip_id


def test_resident_replays_their_own_voice_and_public_replies_through_the_tracking_link(client, spoken):
    w, need, reply, note = spoken
    for clip_id, status in ((need.voice_clip_id, 200), (reply, 200), (note, 404)):
        r = client.get(f"/t/{need.token}/voice/{clip_id}")
        assert r.status_code == status, clip_id
        r.close()
    assert client.get(f"/t/{'A' * 22}/voice/{need.voice_clip_id}").status_code == 404
    page = client.get(f"/t/{need.token}").get_data(as_text=True)
    assert f"/t/{need.token}/voice/{reply}" in page and f"/voice/{note}" not in page


@pytest.mark.parametrize("who, status", [
    ("member", 200), ("head", 200), ("community_admin", 200), ("district_admin", 200),
    ("township_admin", 200), ("other_member", 404), ("other_community_admin", 404),
    ("station_admin", 404), ("resident", 404), ("nobody", 404),
])
def test_the_voice_route_lets_only_those_who_may_see_the_need_listen(client, spoken, who, status):
    w, need, reply, note = spoken
    user = {"member": w.member.user, "head": w.head.user, "township_admin": w.township_admin}.get(who) \
        or getattr(w.p, who)
    user = getattr(user, "user", user)
    login(client, user)
    for clip_id in (need.voice_clip_id, reply, note):
        r = client.get(f"/needs/{need.id}/voice/{clip_id}")
        assert r.status_code == status, (who, clip_id)
        if status == 200:
            assert r.headers["Cache-Control"] == "private, no-store"
        r.close()


def test_anonymous_users_cannot_listen_and_a_clip_of_another_need_is_404(client, spoken):
    w, need, reply, note = spoken
    r = client.get(f"/needs/{need.id}/voice/{need.voice_clip_id}")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    other = make_need(w.household, text="另一件事", category=NeedCategory.HEALTH)
    login(client, w.member.user)
    assert client.get(f"/needs/{other.id}/voice/{need.voice_clip_id}").status_code == 404
    assert client.get(f"/t/{other.token}/voice/{need.voice_clip_id}").status_code == 404
    assert client.get(f"/needs/{need.id}/voice/{2**31 - 1}").status_code == 404


def test_the_members_page_plays_the_need_and_its_replies(client, spoken):
    w, need, reply, note = spoken
    login(client, w.member.user)
    page = client.get(f"/needs/{need.id}").get_data(as_text=True)
    for clip_id in (need.voice_clip_id, reply, note):
        assert f'src="/needs/{need.id}/voice/{clip_id}"' in page
    inbox = client.get("/needs/?state=in_progress").get_data(as_text=True)
    assert "（语音留言）" in inbox


# --- Members reply by voice -------------------------------------------------------------------


def test_member_replies_with_a_voice_note_on_a_progress_step(client, tmp_path):
    w = make_need_world()
    need = make_need(w.household)
    needs.accept(need, w.member.user)
    db.session.commit()
    login(client, w.member.user)
    empty = client.post(f"/needs/{need.id}/progress", data={"p-text": ""}, content_type="multipart/form-data")
    assert empty.status_code == 422 and "请填写进展情况，或录一段语音。" in empty.get_data(as_text=True)
    bad = client.post(f"/needs/{need.id}/progress", content_type="multipart/form-data",
                      data={"p-text": "", "p-voice": (io.BytesIO(b"not audio at all"), "a.webm")})
    assert bad.status_code == 422 and "无法识别这个文件" in bad.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(VoiceClip.id))) == 0
    path = audio.recording(tmp_path, "webm-opus-live")
    ok = client.post(f"/needs/{need.id}/progress", content_type="multipart/form-data",
                     data={"p-text": "", "p-voice": (io.BytesIO(path.read_bytes()), "blob")})
    assert ok.status_code == 303
    step = db.session.scalar(sa.select(NeedEvent).where(NeedEvent.kind == EventKind.PROGRESS))
    assert step.voice_clip is not None and step.voice_clip.mime == "audio/webm"
    assert step.voice_clip.uploaded_by_id == w.member.user.id
    assert db.session.get(Need, need.id).status is NeedStatus.IN_PROGRESS


# --- Residents' rights: download and erasure ------------------------------------------------


def test_residents_download_includes_their_voice_and_erasure_deletes_it(client, app, tmp_path):
    w = make_need_world()
    path = audio.recording(tmp_path, "m4a-aac")
    assert _post_card(client, w, path).status_code == 303
    need = db.session.scalar(sa.select(Need))
    clip_path = voice.voice_path(need.voice_clip)
    resident = make_resident_user(phone="13911112222")
    login(client, resident)
    r = client.post("/rights/export")
    archive = zipfile.ZipFile(io.BytesIO(r.get_data()))
    data = json.loads(archive.read("data.json"))
    name = f"voice/{need.code}.m4a"
    assert data["voice"] == [{"need": need.code, "file": name, "seconds": pytest.approx(
        need.voice_clip.duration_ms / 1000, abs=0.1), "type": "audio/mp4"}]
    assert archive.read(name) == path.read_bytes()
    assert client.post("/rights/erase/confirm", data={"confirm": "y"}).status_code == 303
    need = db.session.get(Need, need.id)
    assert need.voice_clip_id is None and need.text == ERASED_TEXT
    assert db.session.scalar(sa.select(sa.func.count(VoiceClip.id))) == 0
    assert not clip_path.exists()


@pytest.mark.parametrize("fmt", ["webm-opus-live", "ogg-opus", "m4a-aac", "m4a-aac-fragmented", "mp3", "amr"])
def test_damaged_headers_are_refused_or_read_never_a_crash(app, tmp_path, fmt):
    import random

    data = audio.recording(tmp_path, fmt).read_bytes()
    rnd = random.Random(fmt)
    for _ in range(40):
        damaged = bytearray(data)
        for _ in range(rnd.randint(1, 12)):
            damaged[rnd.randrange(400)] = rnd.randrange(256)
        with contextlib.suppress(voice.VoiceError):
            voice.process(io.BytesIO(bytes(damaged[: rnd.randrange(len(damaged)) + 1])))


def test_the_demo_district_has_voice_needs_and_voice_replies_that_play(client, app):
    import random
    from datetime import UTC, datetime

    from app.demo import needs as demo_needs
    from tests.factories import make_resident

    w = make_need_world()
    for _ in range(6):
        make_resident(w.p.tree.grid, member=w.member)
    with db.engine.begin() as conn:
        stats = demo_needs.generate(conn, random.Random(3), datetime(2026, 6, 1, tzinfo=UTC), scale=0.2)
    spoken = db.session.scalars(sa.select(Need).where(Need.voice_clip_id.is_not(None))).all()
    assert stats["voice_needs"] == len(spoken) > 10
    assert any(n.text == "" for n in spoken) and any(n.text for n in spoken)
    replies = db.session.scalar(sa.select(sa.func.count(NeedEvent.id)).where(
        NeedEvent.kind == EventKind.PROGRESS, NeedEvent.voice_clip_id.is_not(None)))
    assert replies > 0
    clips = db.session.scalars(sa.select(VoiceClip)).all()
    assert len(clips) == 4 and all(voice.voice_path(c).exists() and c.duration_ms > 2000 for c in clips)
    need = spoken[0]
    login(client, w.member.user)
    r = client.get(f"/needs/{need.id}/voice/{need.voice_clip_id}")
    assert r.status_code == 200 and r.mimetype == "audio/ogg"
    r.close()


def test_the_need_page_runs_as_many_queries_with_one_voice_reply_as_with_five(client, tmp_path):
    from tests.helpers import queries_for

    w = make_need_world()
    need = make_need(w.household)
    needs.accept(need, w.member.user)
    recordings = [audio.recording(tmp_path, fmt).read_bytes() for fmt in ("ogg-opus", "mp3", "m4a-aac", "wav", "amr")]
    needs.add_progress(need, w.member.user, "", voice_upload=io.BytesIO(recordings[0]))
    db.session.commit()
    login(client, w.member.user)
    one = queries_for(client, f"/needs/{need.id}")
    for data in recordings[1:]:
        needs.add_progress(need, w.member.user, "", voice_upload=io.BytesIO(data))
    db.session.commit()
    assert queries_for(client, f"/needs/{need.id}") == one
