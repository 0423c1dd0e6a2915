"""Photos from phones: accepted only if Pillow decodes them as JPEG, PNG or WebP; re-encoded to
JPEG without EXIF (GPS!), orientation applied, resized, thumbnailed, stored by content hash.

Nothing here trusts the file name or the declared type: the bytes are decoded, and only what
decoded is kept. ``process()`` is pure; ``store()`` writes the files and the row.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.extensions import db
from app.models import Photo
from app.services import stored_files
from app.services.errors import Refused
from app.settings import setting

if TYPE_CHECKING:  # Pillow is imported by the functions that decode (issue 14: ~4 MB a worker)
    from PIL import Image

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 50_000_000  # a 48-megapixel phone photo passes; a decompression bomb does not
# JPEGs are decoded at a reduced scale (draft mode: 1/2, 1/4, 1/8) near the size we keep, so even a
# 48-megapixel one costs a few tens of MB. PNG and WebP decode whole: their cap fits a worker.
MAX_PIXELS_FULL_DECODE = 24_000_000
LONG_SIDE = 1600
THUMB_SIDE = 320
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "MPO"}  # MPO: JPEG with extra frames (some phones)
JPEG_QUALITY = 82


class PhotoError(Refused):
    """A file that is not an acceptable photo; ``str()`` is the message for the user."""


TOO_BIG = _l("照片不能超过 10 MB，请换一张或压缩后再传。")
NOT_AN_IMAGE = _l("无法识别这个文件：请上传 JPG、PNG 或 WebP 格式的照片。")
TOO_MANY_PIXELS = _l("照片尺寸过大（超过 5000 万像素），请换一张。")
TOO_MANY_PIXELS_PNG = _l("PNG 或 WebP 图片尺寸过大（超过 2400 万像素），请换成 JPG 照片或缩小后再传。")
BROKEN = _l("照片文件不完整或已损坏，请重新拍摄或选择。")


@dataclass(frozen=True)
class ProcessedPhoto:
    jpeg: bytes
    thumb: bytes
    sha256: str
    width: int
    height: int


def process(stream: IO[bytes]) -> ProcessedPhoto:
    """Decode, check and re-encode one uploaded photo, or raise PhotoError."""
    from PIL import Image, ImageOps

    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise PhotoError(str(TOO_BIG))
    if not data:
        raise PhotoError(str(NOT_AN_IMAGE))
    with warnings.catch_warnings():
        # Pillow warns before it raises for huge images; we check the size ourselves below.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as e:
            raise PhotoError(str(TOO_MANY_PIXELS)) from e
        except Exception as e:  # noqa: BLE001 — any failure to identify means "not an image"
            raise PhotoError(str(NOT_AN_IMAGE)) from e
        if image.format not in ACCEPTED_FORMATS:
            raise PhotoError(str(NOT_AN_IMAGE))
        width, height = image.size
        if width * height > MAX_PIXELS or width <= 0 or height <= 0:
            raise PhotoError(str(TOO_MANY_PIXELS))
        if image.format in ("JPEG", "MPO"):
            # Decode at the smallest scale that still covers the size we keep.
            scale = min(1.0, LONG_SIDE / max(width, height))
            image.draft("RGB", (int(width * scale), int(height * scale)))
        elif width * height > MAX_PIXELS_FULL_DECODE:
            raise PhotoError(str(TOO_MANY_PIXELS_PNG))
        try:
            image.load()
            ImageOps.exif_transpose(image, in_place=True)  # no second copy of the pixels
        except Exception as e:  # noqa: BLE001 — truncated or corrupt data
            raise PhotoError(str(BROKEN)) from e
    image = _to_rgb(_shrink(image))
    image.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
    jpeg = _encode(image)
    thumb_image = image.copy()
    thumb_image.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return ProcessedPhoto(
        jpeg=jpeg,
        thumb=_encode(thumb_image),
        sha256=hashlib.sha256(jpeg).hexdigest(),
        width=image.width,
        height=image.height,
    )


def _shrink(image: Image.Image) -> Image.Image:
    """Down to the size we keep before the colour conversions, which copy every pixel: a 24 MP
    RGBA PNG converted first, then shrunk, took +300 MB. Palette and 1-bit images become the
    smallest mode that can be resized smoothly first."""
    if image.mode == "1":
        image = image.convert("L")
    elif image.mode in ("P", "PA"):
        image = image.convert("RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB")
    factor = max(image.size) // LONG_SIDE
    if factor > 1 and image.mode in ("RGB", "L"):
        image = image.reduce(factor)  # a box reduction by a whole factor, into a new small image
    elif factor > 1 and image.mode in ("RGBA", "LA"):
        image = _reduce_in_strips(image, factor)
    return image


def _reduce_in_strips(image: Image.Image, factor: int) -> Image.Image:
    """``image.reduce(factor)`` a band of rows at a time: Pillow reduces (and resizes) an image
    with alpha through a premultiplied copy of all of it — another 96 MB for a 24 MP RGBA PNG."""
    from PIL import Image

    width, height = image.size
    out = Image.new(image.mode, (-(-width // factor), -(-height // factor)))
    step = factor * 128
    for top in range(0, height, step):
        band = image.crop((0, top, width, min(top + step, height)))
        out.paste(band.reduce(factor), (0, top // factor))
    return out


def _to_rgb(image: Image.Image) -> Image.Image:
    from PIL import Image

    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _encode(image: Image.Image) -> bytes:
    out = io.BytesIO()
    # A fresh save with no exif/icc arguments writes no metadata at all.
    image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def photo_dir() -> Path:
    return Path(str(setting("UPLOAD_DIR"))) / "photos"


def photo_path(photo: Photo, thumb: bool = False) -> Path:
    suffix = "_t.jpg" if thumb else ".jpg"
    return photo_dir() / photo.sha256[:2] / f"{photo.sha256}{suffix}"


def store(processed: ProcessedPhoto, uploaded_by_id: int | None) -> Photo:
    """Write the files (once per content) and return the Photo row (added, not committed)."""
    existing = db.session.scalar(sa.select(Photo).where(Photo.sha256 == processed.sha256))
    photo = existing or Photo(
        sha256=processed.sha256,
        width=processed.width,
        height=processed.height,
        size_bytes=len(processed.jpeg),
        uploaded_by_id=uploaded_by_id,
    )
    for thumb, content in ((False, processed.jpeg), (True, processed.thumb)):
        stored_files.write_once(photo_path(photo, thumb), content)
    if existing is None:
        db.session.add(photo)
    return photo


def process_many(files: list, limit: int) -> list[ProcessedPhoto]:
    """Process every non-empty upload of a multi-file field, or raise PhotoError naming the
    first bad one. Nothing is stored until all are good, so a form never saves half its photos."""
    chosen = [f for f in files if f and getattr(f, "filename", "")]
    if len(chosen) > limit:
        raise PhotoError(str(_l("最多上传 %(n)d 张照片。", n=limit)))
    processed = []
    for index, upload in enumerate(chosen, start=1):
        try:
            processed.append(process(upload.stream))
        except PhotoError as e:
            if len(chosen) == 1:
                raise
            raise PhotoError(str(_l("第 %(i)d 张：%(msg)s", i=index, msg=str(e)))) from e
    return processed


# --- Deleting ---------------------------------------------------------------------------------


def discard(photo: Photo) -> None:
    """Delete the photo's row now and its files once the transaction commits (nothing is lost
    if it rolls back). The caller has checked that no record links the photo any more."""
    stored_files.delete_after_commit([photo_path(photo), photo_path(photo, thumb=True)])
    db.session.delete(photo)
