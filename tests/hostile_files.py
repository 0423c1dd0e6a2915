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
