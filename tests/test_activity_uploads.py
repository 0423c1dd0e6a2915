"""Photos on activities: every bad upload is refused with a Chinese message, the rest of the form
kept and nothing saved; good ones are re-encoded without EXIF."""

from __future__ import annotations

import gc
import io
import re
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from app.extensions import db
from app.models import Activity, ActivityPhoto, Photo, User
from tests.factories import activity_form_data, image_bytes, login, make_personas, make_resident


def _png(size: tuple[int, int], mode: str = "1") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, format="PNG")
    return out.getvalue()


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("report.txt", "不是照片" * 200)
    return out.getvalue()


def _truncated_jpeg() -> bytes:
    data = image_bytes(size=(800, 600), color="orange")
    return data[: len(data) // 2]


def _uploads_dir(app) -> Path:  # type: ignore[no-untyped-def]
    return Path(app.config["UPLOAD_DIR"])


def _files_written(app) -> list[Path]:  # type: ignore[no-untyped-def]
    root = _uploads_dir(app)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _counts() -> tuple[int, int, int]:
    return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(m))
                 for m in (Activity, ActivityPhoto, Photo))  # type: ignore[return-value]


BAD_UPLOADS = {
    "a text file": ([(b"just some text, not a picture", "notes.txt")], "无法识别这个文件"),
    "a truncated JPEG": ([(_truncated_jpeg(), "half.jpg")], "照片文件不完整或已损坏"),
    "a huge-pixel PNG (64 MP)": ([(_png((8000, 8000)), "huge.png")], "照片尺寸过大（超过 5000 万像素）"),
    "a zip renamed .jpg": ([(_zip(), "photo.jpg")], "无法识别这个文件"),
    "a GIF": ([(image_bytes("GIF"), "anim.gif")], "无法识别这个文件"),
    "an empty file": ([(b"", "empty.jpg")], "无法识别这个文件"),
    "seven photos": ([(image_bytes(color=c), f"{i}.jpg") for i, c in enumerate(
        ["red", "green", "blue", "white", "black", "yellow", "purple"])], "最多上传 6 张照片"),
    "a good photo then a bad one": ([(image_bytes(), "ok.jpg"), (b"%PDF-1.4", "scan.jpg")],
                                    "第 2 张：无法识别这个文件"),
}
BIG = ([(b"\xff\xd8\xff" + b"\0" * (10 * 1024 * 1024), "big.jpg")], "照片不能超过 10 MB")


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_a_bad_upload_is_refused_with_the_form_kept_and_nothing_saved(client, app, case):
    _refused_and_kept(client, app, *BAD_UPLOADS[case])


# Werkzeug's test client spools a body this big to a temporary file it never closes.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_photo_over_10_mb_is_refused_with_the_form_kept(client, app):
    _refused_and_kept(client, app, *BIG)
    gc.collect()  # let the test client's temporary file go here, under this test's filter


def _refused_and_kept(client, app, files, message):  # type: ignore[no-untyped-def]
    p = make_personas()
    resident = make_resident(p.tree.grid, p.member, head_name="赵大爷")
    login(client, db.session.get(User, p.member.user_id))
    data = activity_form_data(kind="mediation", duration_minutes="75", address="龙山路33号",
                     note="调解邻里漏水纠纷", residents=[str(resident.id)])
    data["photos"] = [(io.BytesIO(content), name) for content, name in files]
    response = client.post("/activities/new", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert "照片需要重新选择" in page  # the file inputs come back empty, and it says so
    # Every other field is kept as typed.
    assert re.search(r'<input checked[^>]*value="mediation"', page)
    assert 'value="75"' in page and 'value="龙山路33号"' in page and "调解邻里漏水纠纷" in page
    assert f'value="{resident.id}" checked' in page
    assert _counts() == (0, 0, 0)
    assert _files_written(app) == []


def test_six_photos_are_accepted(client, app):
    p = make_personas()
    login(client, db.session.get(User, p.member.user_id))
    colors = ["red", "green", "blue", "white", "black", "yellow"]
    data = activity_form_data()
    data["photos"] = [(io.BytesIO(image_bytes(color=c)), f"{c}.jpg") for c in colors]
    assert client.post("/activities/new", data=data).status_code == 303
    assert _counts() == (1, 6, 6)
    positions = db.session.scalars(sa.select(ActivityPhoto.position).order_by(ActivityPhoto.position))
    assert list(positions) == [0, 1, 2, 3, 4, 5]


def test_the_same_picture_twice_is_stored_once(client, app):
    p = make_personas()
    login(client, db.session.get(User, p.member.user_id))
    data = activity_form_data()
    same = image_bytes(color="green")
    data["photos"] = [(io.BytesIO(same), "a.jpg"), (io.BytesIO(same), "b.jpg")]
    assert client.post("/activities/new", data=data).status_code == 303
    assert _counts() == (1, 1, 1)


def test_a_stored_photo_has_no_exif_is_upright_and_resized(client, app):
    p = make_personas()
    login(client, db.session.get(User, p.member.user_id))
    # A tall phone photo stored sideways with an orientation tag and GPS.
    image = Image.new("RGB", (2400, 1800), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° to display
    exif.get_ifd(0x8825)[2] = (31.0, 30.0, 15.0)
    raw = io.BytesIO()
    image.save(raw, format="JPEG", exif=exif)
    data = activity_form_data()
    data["photos"] = [(io.BytesIO(raw.getvalue()), "IMG_0001.JPG")]
    assert client.post("/activities/new", data=data).status_code == 303
    from app.services.photos import photo_path

    photo = db.session.scalar(sa.select(Photo))
    with Image.open(photo_path(photo)) as stored:
        assert stored.format == "JPEG"
        assert stored.size == (1200, 1600) and (photo.width, photo.height) == (1200, 1600)
        assert not stored.getexif() and "exif" not in stored.info
    with Image.open(photo_path(photo, thumb=True)) as thumb:
        assert max(thumb.size) == 320 and not thumb.getexif()


def test_a_bad_photo_on_edit_changes_nothing(client, app):
    from tests.factories import make_activity

    p = make_personas()
    activity = make_activity(p.member, note="原来的内容")
    login(client, db.session.get(User, p.member.user_id))
    data = activity_form_data(note="新的内容")
    data["photos"] = [(io.BytesIO(_zip()), "x.jpg")]
    response = client.post(f"/activities/{activity.id}/edit", data=data)
    assert response.status_code == 422
    assert "无法识别这个文件" in response.get_data(as_text=True)
    assert "新的内容" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Activity, activity.id).note == "原来的内容"
