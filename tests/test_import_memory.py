"""Roster import within a worker's memory: a zip bomb refused before it is parsed, a stray cell in
the sheet's last column not padding every row to 16,384 cells, and a full-size roster (about 5 MB,
as Excel writes it) checked with a bounded peak."""

from __future__ import annotations

import io
import random
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from app.extensions import db
from app.services import importer
from tests.factories import make_personas
from tests.test_import import MEMBER_HEADERS, refused, totals, upload

ROOT = Path(__file__).resolve().parent.parent
RESIDENT_HEADERS = ["户主姓名", "地址", "网格", "楼栋", "单元", "室", "联系电话", "联系党员手机号", "关爱标签"]


@pytest.fixture
def admin(client):  # type: ignore[no-untyped-def]
    from tests.factories import login

    personas = make_personas()
    db.session.commit()
    login(client, personas.community_admin)
    return personas.community_admin


def _with_sheet(sheet_xml: bytes) -> bytes:
    """A valid .xlsx from openpyxl whose first sheet is replaced by ``sheet_xml``."""
    wb = Workbook()
    wb.active.append(MEMBER_HEADERS)
    original = io.BytesIO()
    wb.save(original)
    out = io.BytesIO()
    with zipfile.ZipFile(original) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for entry in src.infolist():
            data = sheet_xml if entry.filename == "xl/worksheets/sheet1.xml" else src.read(entry)
            dst.writestr(entry.filename, data, compresslevel=9)
    return out.getvalue()


def test_a_zip_bomb_is_refused_before_it_is_parsed(client, admin, monkeypatch):
    # 1,200,000 rows of the same member (rows without numbers follow one another): 70 MB of sheet
    # XML in a file of some 100 KB.
    row = '<row><c t="inlineStr"><is><t>李明</t></is></c></row>'.encode()
    sheet = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
             + row * 1_200_000 + b"</sheetData></worksheet>")
    data = _with_sheet(sheet)
    assert len(data) < 1024 * 1024 < importer.reading.MAX_UNPACKED_BYTES < len(sheet)
    before = totals()
    stored = Path(client.application.instance_path) / "imports"
    previews = set(stored.glob("*.json"))

    def never(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the workbook was opened")

    monkeypatch.setattr(importer.reading, "load_workbook", never)
    refused(upload(client, "members", data), "文件解压后太大", "50 MB")
    assert totals() == before
    assert set(stored.glob("*.json")) == previews


def excel_like(rows: list[list[object]], stray_far_cell: bool = False) -> bytes:
    """An .xlsx as Excel writes it: text in the shared-strings table, numbers as numbers. With
    ``stray_far_cell``, one cell in the sheet's last column (XFD) and the dimension that says so."""
    strings: dict[str, int] = {}
    body = []
    for r, values in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(values, start=1):
            ref = f"{get_column_letter(c)}{r}"
            if isinstance(value, int):
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            elif value:
                index = strings.setdefault(str(value), len(strings))
                cells.append(f'<c r="{ref}" t="s"><v>{index}</v></c>')
        if stray_far_cell and r == 2:
            cells.append(f'<c r="XFD{r}" t="s"><v>{strings.setdefault(" ", len(strings))}</v></c>')
        body.append(f'<row r="{r}">{"".join(cells)}</row>')
    last = "XFD" if stray_far_cell else get_column_letter(max(len(v) for v in rows))
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    doc = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    shared = "".join(f'<si><t xml:space="preserve">{escape(s)}</t></si>' for s in strings)
    files = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{ct}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{ct}.worksheet+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{ct}.sharedStrings+xml"/></Types>'),
        "_rels/.rels": (f'<Relationships xmlns="{pkg}"><Relationship Id="rId1" '
                        f'Type="{doc}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (f'<workbook {ns} {rel}><sheets><sheet name="名册" sheetId="1" r:id="rId1"/>'
                            "</sheets></workbook>"),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{pkg}">'
            f'<Relationship Id="rId1" Type="{doc}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{doc}/sharedStrings" Target="sharedStrings.xml"/></Relationships>'),
        "xl/worksheets/sheet1.xml": (f'<worksheet {ns}><dimension ref="A1:{last}{len(rows)}"/>'
                                     f'<sheetData>{"".join(body)}</sheetData></worksheet>'),
        "xl/sharedStrings.xml": f'<sst {ns} count="{len(strings)}" uniqueCount="{len(strings)}">{shared}</sst>',
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return out.getvalue()


def _peak_growth_mb(app, user_id: int, kind: str, path: Path) -> tuple[str, float]:  # type: ignore[no-untyped-def]
    """Check the roster at ``path`` in a fresh interpreter on the test's database (as the upload
    does: read, every row checked, the preview stored); its outcome and how far its peak rose (MB)."""
    config = {key: app.config[key] for key in ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "ASSETS_DIR")}
    config.update(TESTING=True, INSTANCE_PATH=str(path.parent / "instance"))
    code = (
        "import re\n"
        "from app import create_app\n"
        "from app.extensions import db\n"
        "from app.models import User\n"
        "from app.services import importer\n"
        "def kb(field):\n"
        "    return int(re.search(field + r':\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
        f"app = create_app({config!r})\n"
        f"data = open({str(path)!r}, 'rb').read()\n"
        "with app.test_request_context():\n"
        f"    user = db.session.get(User, {user_id})\n"
        "    before = kb('VmRSS')\n"
        "    try:\n"
        f"        outcome = len(importer.check_upload(user, {kind!r}, data, {str(path.parent)!r}).records)\n"
        "    except importer.Refused as e:\n"
        "        outcome = str(e)\n"
        "    print(outcome)\n"
        "    print((kb('VmHWM') - before) / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    outcome, growth = out.stdout.strip().splitlines()[-2:]
    return outcome, float(growth)


def test_one_stray_cell_in_the_last_column_does_not_pad_every_row(app, tmp_path):
    personas = make_personas()
    db.session.commit()
    rows: list[list[object]] = [MEMBER_HEADERS[:4]]
    rows += [[f"党员{i}", 13900000000 + i, "第一网格", "在职党员"] for i in range(4000)]
    path = tmp_path / "members.xlsx"
    path.write_bytes(excel_like(rows, stray_far_cell=True))
    # Padded to 16,384 cells, 4,000 rows took over 500 MB.
    outcome, growth = _peak_growth_mb(app, personas.community_admin.id, "members", path)
    assert outcome == "4000"
    assert growth < 60, growth


@pytest.mark.slow
def test_a_full_size_roster_is_checked_within_a_bounded_peak(app, tmp_path):
    personas = make_personas()
    db.session.commit()
    rng = random.Random(12)
    family = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
    given = "明华建国平安秀英桂兰志强伟芳娜敏静丽强磊军洋勇艳杰娟涛超霞"
    rows: list[list[object]] = [RESIDENT_HEADERS]
    for i in range(importer.MAX_ROWS):
        building, unit, room = rng.randint(1, 40), rng.randint(1, 6), rng.randint(101, 2604)
        rows.append([
            rng.choice(family) + "".join(rng.choices(given, k=rng.randint(1, 2))),
            f"龙山街道{rng.choice(family)}家巷{rng.randint(1, 999)}号{building}栋{unit}单元{room}室"
            f"（门牌编码 {rng.randint(10**11, 10**12)}，{''.join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(14))}）",
            "第一网格" if i % 2 else "第二网格", str(building), str(unit), str(room),
            13700000000 + i, "", "、".join(rng.sample(["独居老人", "低保户", "残疾人", "留守儿童", "空巢老人"], 2)),
        ])
    path = tmp_path / "residents.xlsx"
    path.write_bytes(excel_like(rows))
    size_mb = path.stat().st_size / 1024 / 1024
    assert 4 < size_mb < 5, size_mb
    outcome, growth = _peak_growth_mb(app, personas.community_admin.id, "residents", path)
    assert outcome == str(importer.MAX_ROWS)
    print(f"{importer.MAX_ROWS} residents, {size_mb:.1f} MB .xlsx: peak grew {growth:.0f} MB")
    assert growth < 150, growth
