"""Files an attacker uploads (issue 12): valid samples to truncate, polyglots, decompression bombs.

Every builder is cheap (a bomb is a few hundred KB at most: its size is declared or compressed).
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib

from openpyxl import Workbook
from PIL import Image


def jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="JPEG", quality=70)
    return out.getvalue()


def png(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, format="PNG")
    return out.getvalue()


def webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (0, 120, 0)).save(out, format="WEBP")
    return out.getvalue()


def xlsx(rows: list[list[object]] | None = None) -> bytes:
    wb = Workbook()
    for row in rows or [["姓名", "手机号", "网格", "类别"], ["李明", "13900000001", "第一网格", "在职党员"]]:
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int, real_data: bool = True, rgba: bool = False) -> bytes:
    """A PNG declaring ``width`` × ``height`` (1-bit grey, or 8-bit RGBA): with ``real_data`` every
    row is there (zeros, compressed ~1000:1), else one row only (a lie a decoder finds out late)."""
    depth, colour, row_bytes = (8, 6, 4 * width) if rgba else (1, 0, (width + 7) // 8)
    header = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))
    row = b"\x00" * (1 + row_bytes)
    packer = zlib.compressobj(9)
    rows = height if real_data else 1
    body = b"".join(packer.compress(row) for _ in range(rows)) + packer.flush()
    return header + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def png_text_bomb() -> bytes:
    """A small PNG with a zTXt chunk that inflates to 100 MB."""
    packer = zlib.compressobj(9)
    text = b"".join(packer.compress(b"A" * 1_000_000) for _ in range(100)) + packer.flush()
    data = png()
    return data[:-12] + _chunk(b"zTXt", b"Comment\x00\x00" + text) + data[-12:]


def jpeg_huge_header(width: int = 65000, height: int = 65000) -> bytes:
    """A small JPEG whose frame header declares ``width`` × ``height``."""
    data = bytearray(jpeg((16, 16)))
    at = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, at + 5, height, width)
    return bytes(data)


def gif_huge_canvas() -> bytes:
    return b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x00\x00\x00" + b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"


def xlsx_bomb(unpacked_mb: int = 80) -> bytes:
    """A roster whose sheet inflates to ``unpacked_mb`` MB of XML from a file of ~100 KB."""
    row = b'<row><c t="inlineStr"><is><t>A</t></is></c></row>'
    sheet = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
             + row * (unpacked_mb * 1024 * 1024 // len(row)) + b"</sheetData></worksheet>")
    return _replace_member(xlsx(), "xl/worksheets/sheet1.xml", sheet)


def xlsx_shared_strings_bomb() -> bytes:
    """A roster whose shared-strings table inflates to 80 MB."""
    strings = b"<si><t>" + b"B" * 1000 + b"</t></si>"
    sst = (b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           + strings * 80_000 + b"</sst>")
    return _replace_member(xlsx(), "xl/sharedStrings.xml", sst)


def zip_of_zeros() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", b"\x00" * (60 * 1024 * 1024))
    return out.getvalue()


def _replace_member(archive: bytes, name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        names = src.namelist()
        for entry in src.infolist():
            dst.writestr(entry.filename, data if entry.filename == name else src.read(entry), compresslevel=9)
        if name not in names:
            dst.writestr(name, data, compresslevel=9)
    return out.getvalue()


def polyglots() -> list[bytes]:
    """Files that are two things at once, or claim to be what they are not."""
    return [
        jpeg() + xlsx(),  # a JPEG with a zip (the roster) appended: opens as both
        xlsx() + jpeg(),
        b"GIF89a/*" + b"\x00" * 10 + b"*/=alert(1);",  # GIF header, JavaScript body
        png()[:-12] + _chunk(b"tEXt", b"Comment\x00<script>alert(1)</script>") + png()[-12:],
        b"<html><body><script>alert(1)</script></body></html>",
        b"%PDF-1.4\n" + jpeg(),
        b"\xff\xd8\xff\xe0" + b"PK\x03\x04" * 100,  # a JPEG start, then zip headers
        b"PK\x05\x06" + b"\x00" * 18,  # an empty zip
        webp()[:12] + jpeg(),
    ]


@functools.cache
def bombs() -> dict[str, bytes]:
    """Decompression bombs and lying headers, by name (what the memory test reports)."""
    return {
        "png 30000×30000, data declared only": png_bomb(30_000, 30_000, real_data=False),
        "png 6000×4000 (24 MP, 1-bit zeros)": png_bomb(6000, 4000),
        "png 4898×4898 RGBA (24 MP, the worst a photo may be)": png_bomb(4898, 4898, rgba=True),
        "png zTXt 100 MB": png_text_bomb(),
        "jpeg header 65000×65000": jpeg_huge_header(),
        "gif 65535×65535": gif_huge_canvas(),
        "xlsx sheet 80 MB": xlsx_bomb(),
        "xlsx shared strings 80 MB": xlsx_shared_strings_bomb(),
        "zip of 60 MB zeros": zip_of_zeros(),
    }


def samples() -> list[bytes]:
    """Valid files to truncate."""
    return [jpeg(), png(), webp(), xlsx(), png(mode="RGBA")]


# --- audio (residents' and members' voice messages) ------------------------------------------


def amr(seconds: float = 2) -> bytes:
    """An AMR-NB file of silent 12.2 kbit/s frames (20 ms each), made by hand."""
    return b"#!AMR\n" + (b"\x3c" + bytes(31)) * round(seconds / 0.02)


def wav(seconds: float = 2, rate: int = 8000, declared: int | None = None) -> bytes:
    """A mono 16-bit WAV of silence; ``declared`` overrides the data chunk's size (a lying header)."""
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(2 * int(rate * seconds)))
    data = out.getvalue()
    if declared is not None:
        at = data.index(b"data") + 4
        data = data[:at] + struct.pack("<I", declared) + data[at + 4:]
    return data


@functools.cache
def recordings() -> dict[str, bytes]:
    """A 2-second tone as each browser and phone records (ffmpeg; none without it): the real
    containers whose headers the upload check walks by hand (WebM, fragmented MP4)."""
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    if shutil.which("ffmpeg") is None:
        return {}
    found = {}
    formats = {"webm": ["-c:a", "libopus", "-b:a", "16k", "-f", "webm"],
               "ogg": ["-c:a", "libopus", "-b:a", "16k", "-f", "ogg"],
               "m4a-fragmented": ["-c:a", "aac", "-b:a", "24k", "-movflags",
                                  "frag_keyframe+empty_moov+default_base_moof", "-f", "mp4"],
               "mp3": ["-c:a", "libmp3lame", "-b:a", "24k", "-f", "mp3"]}
    with tempfile.TemporaryDirectory() as tmp:
        for name, options in formats.items():
            out = Path(tmp) / name
            done = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                                   "sine=frequency=440:duration=2:sample_rate=16000", *options, str(out)],
                                  capture_output=True, timeout=60)
            if done.returncode == 0:
                found[name] = out.read_bytes()
    return found


def audio_samples() -> list[bytes]:
    """Valid recordings to truncate (AMR and WAV always; the others where ffmpeg is installed)."""
    return [amr(), wav(), *recordings().values()]


def audio_polyglots() -> list[bytes]:
    """Files that start as a recording and go on as something else, or the reverse."""
    return [
        amr(1) + xlsx(),
        b"#!AMR\n" + jpeg(),
        wav(1) + b"<html><script>alert(1)</script></html>",
        jpeg() + amr(1),
        b"\x1a\x45\xdf\xa3" + b"<html><script>alert(1)</script></html>",  # an EBML magic, then HTML
        b"RIFF\xff\xff\xff\xffWAVEfmt " + png(),
        b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + jpeg(),  # an ID3 tag claiming 256 MB
    ]


def _webm_of_voids(size: int) -> bytes:
    """A WebM header, then a Segment of unknown size holding ``size`` bytes of empty Void
    elements (two bytes each): the most elements 2 MB can hold for the walker to step through."""
    header = bytes.fromhex("1a45dfa3") + bytes([0x80 | 7]) + bytes.fromhex("4282") + bytes([0x84]) + b"webm"
    segment = bytes.fromhex("18538067") + bytes.fromhex("01ffffffffffffff")
    return header + segment + b"\xec\x80" * (size // 2)


def _m4a_trun_count(count: int) -> bytes | None:
    """The fragmented recording with its first ``trun`` claiming ``count`` samples."""
    data = recordings().get("m4a-fragmented")
    if data is None or b"trun" not in data:
        return None
    at = data.index(b"trun") - 4
    return data[:at + 12] + struct.pack(">I", count) + data[at + 16:]


@functools.cache
def audio_bombs() -> dict[str, bytes]:
    """Recordings whose headers lie about their length or size, by name."""
    found = {
        "wav declaring 4 GB of samples": wav(1, declared=0xFFFFFFF0),
        "wav of 2 MB (just at the cap)": wav(2 * 1024 * 1024 / 16000 - 1, rate=8000),
        "webm of 1 M empty elements (2 MB)": _webm_of_voids(2 * 1024 * 1024 - 64),
        "mp3 of 2 MB frame headers": (b"\xff\xfb\x90\x00" + bytes(413)) * (2 * 1024 * 1024 // 417),
        "amr of 2 MB (70 minutes declared by its frames)": amr(2 * 1024 * 1024 / 32 * 0.02 - 1),
    }
    trun = _m4a_trun_count(0xFFFFFFFF)
    if trun is not None:
        found["m4a fragment claiming 4 G samples"] = trun
    return found
