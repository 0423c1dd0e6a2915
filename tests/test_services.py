"""Shared services: phone numbers, masking, photos, QR images, entry tokens, notifications."""

from __future__ import annotations

import io
import zipfile

import pytest
import sqlalchemy as sa
import zxingcpp
from PIL import Image

from app.extensions import db
from app.models import EntryKind, EntryToken, Notification
from app.phones import normalize_phone
from app.services import entry_tokens, photos, qr
from app.services.notify import notify
from app.services.privacy import mask_name, mask_phone
from tests.factories import make_household, make_resident, make_tree, make_user


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("13912345678", "13912345678"),
        (" 139 1234 5678 ", "13912345678"),
        ("+86 139-1234-5678", "13912345678"),
        ("008613912345678", "13912345678"),
        ("13912345678.0", "13912345678"),  # an Excel number column
        ("12912345678", None),  # no such prefix
        ("1391234567", None),
        ("139123456789", None),
        ("一三九", None),
        ("", None),
        (None, None),
    ],
)
def test_phone_numbers_are_normalised_or_refused(raw, expected):
    assert normalize_phone(raw) == expected


def test_masking():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("") == ""
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳明月") == "欧**月"


def _jpeg_with_gps(size=(2400, 1800), orientation: int | None = 6) -> bytes:
    image = Image.new("RGB", size, (180, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    if orientation:
        exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (30.0, 31.0, 12.5)
    gps[3] = "E"
    gps[4] = (117.0, 2.0, 40.1)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_photo_is_reencoded_without_exif_rotated_and_resized(app):
    processed = photos.process(io.BytesIO(_jpeg_with_gps()))
    stored = Image.open(io.BytesIO(processed.jpeg))
    assert stored.format == "JPEG"
    assert dict(stored.getexif()) == {}
    assert "exif" not in stored.info
    # Orientation 6 means "rotate 90°": a landscape sensor image becomes portrait.
    assert (processed.width, processed.height) == (1200, 1600)
    thumb = Image.open(io.BytesIO(processed.thumb))
    assert max(thumb.size) == photos.THUMB_SIDE


def test_png_with_transparency_and_webp_are_accepted(app):
    for fmt, mode in (("PNG", "RGBA"), ("WEBP", "RGB")):
        out = io.BytesIO()
        Image.new(mode, (300, 200)).save(out, format=fmt)
        assert photos.process(io.BytesIO(out.getvalue())).width == 300


def _zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("a.txt", "hello")
    return out.getvalue()


def _gif_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="GIF")
    return out.getvalue()


def _bomb_png() -> bytes:
    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, format="PNG")  # 81 MP, a few kB
    return out.getvalue()


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "无法识别"),
        (b"hello, not an image", "无法识别"),
        (_zip_bytes(), "无法识别"),
        (_gif_bytes(), "无法识别"),
        (_jpeg_with_gps()[:3000], "不完整"),
        (_bomb_png(), "尺寸过大"),
        (b"\xff" * (photos.MAX_BYTES + 1), "10 MB"),
    ],
    ids=["empty", "text", "zip", "gif", "truncated", "bomb", "too-big"],
)
def test_bad_photos_are_refused_with_a_chinese_message(app, data, message):
    with pytest.raises(photos.PhotoError) as e:
        photos.process(io.BytesIO(data))
    assert message in str(e.value)


def test_storing_the_same_photo_twice_keeps_one_copy(app):
    user = make_user()
    processed = photos.process(io.BytesIO(_jpeg_with_gps()))
    first = photos.store(processed, user.id)
    db.session.commit()
    second = photos.store(processed, user.id)
    db.session.commit()
    assert first.id == second.id
    assert photos.photo_path(first).read_bytes() == processed.jpeg
    assert photos.photo_path(first, thumb=True).exists()


@pytest.mark.parametrize("ec", ["M", "Q", "H"])
def test_qr_png_decodes_back_to_its_url(app, ec):
    url = "https://dyzxh.yixiu.gov.cn/c/Zx8_aB3-kLmNoPqRsTuVwX"
    image = Image.open(io.BytesIO(qr.png(url, ec=ec)))
    results = zxingcpp.read_barcodes(image)
    assert [r.text for r in results] == [url]


def test_qr_svg_is_an_svg_of_the_same_code(app):
    url = "https://dyzxh.yixiu.gov.cn/p/Zx8_aB3-kLmNoPqRsTuVwX"
    svg = qr.svg(url, ec="Q")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "<path" in svg


def test_entry_tokens_carry_128_random_bits_and_can_be_reissued(app):
    tree = make_tree()
    resident = make_resident(tree.grid)
    token = entry_tokens.current_token(resident)
    db.session.commit()
    assert len(token.token) >= 22  # 16 bytes in base64url
    assert entry_tokens.current_token(resident).id == token.id
    assert entry_tokens.resolve(EntryKind.CARD, token.token).resident_household_id == resident.id
    assert entry_tokens.resolve(EntryKind.PLAQUE, token.token) is None  # a card is not a plaque
    new = entry_tokens.reissue(resident)
    db.session.commit()
    assert entry_tokens.resolve(EntryKind.CARD, token.token) is None
    assert entry_tokens.resolve(EntryKind.CARD, new.token) is not None
    assert entry_tokens.resolve(EntryKind.CARD, "x" * 200) is None


def test_plaque_tokens_belong_to_central_households(app):
    tree = make_tree()
    household = make_household(tree.grid)
    token = entry_tokens.current_token(household)
    db.session.commit()
    assert token.kind is EntryKind.PLAQUE
    assert entry_tokens.entry_url(token).endswith("/p/" + token.token)


def test_database_refuses_a_token_pointing_nowhere(app):
    db.session.add(EntryToken(token="abc", kind=EntryKind.CARD))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_notify_puts_a_message_in_the_users_centre(app):
    user = make_user()
    notify(user.id, "您有一条新诉求", url="/needs/1")
    db.session.commit()
    note = db.session.scalar(sa.select(Notification).where(Notification.user_id == user.id))
    assert note.title == "您有一条新诉求" and note.read_at is None
