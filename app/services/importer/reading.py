"""Reading a roster file: the first sheet of an .xlsx, or a .csv (UTF-8 with or without BOM, else
GB18030), turned into a header row and the rows under it; a file refused as a whole raises
``ImportFileError`` with the reason in Chinese."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import load_workbook

from app.services.importer.specs import ImportFileError, check_columns, spec_for

MAX_ROWS = 50_000


@dataclass
class Table:
    headers: list[str]
    rows: list[tuple[int, list[str]]]  # (row number as the spreadsheet shows it, cell texts)


def _text(value: object) -> str:
    """A cell as text: Excel hands phones over as numbers and dates as datetimes."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.strftime("%Y-%m-%d")
    return str(value).strip()


def read_table(data: bytes, max_rows: int | None = None) -> Table:
    """Read the first sheet of an .xlsx, or a .csv (UTF-8 with or without BOM, else GB18030).

    The content decides the format, not the file name: a renamed picture is refused.
    """
    if not data.strip():
        raise ImportFileError(_("文件是空的。"))
    if data.startswith(b"PK\x03\x04"):
        raw_rows = _xlsx_rows(data)
    elif data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(_("这是旧版 Excel（.xls）文件，请在 Excel 中另存为 .xlsx 或 .csv 后再导入。"))
    else:
        raw_rows = _csv_rows(data)
    return _collect(raw_rows, MAX_ROWS if max_rows is None else max_rows)


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds (BadZipFile, KeyError, XML errors …)
        raise ImportFileError(_("无法读取这个 Excel 文件：它可能已损坏，或不是 .xlsx 表格。")) from e
    try:
        ws = wb.worksheets[0]
        for number, row in enumerate(ws.iter_rows(values_only=True), start=1):
            yield number, [_text(v) for v in row]
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
        raise ImportFileError(_("无法读取这个 Excel 文件：它可能已损坏，或不是 .xlsx 表格。")) from e
    finally:
        wb.close()


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    not_a_table = _l("这不是表格文件：请上传 .xlsx 或 .csv 格式的名册（可先下载模板）。")
    if b"\x00" in data[:4096] or data.startswith(b"\x89PNG"):
        raise ImportFileError(str(not_a_table))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            # Chinese Excel saves CSV in GBK; GB18030 is its superset.
            text = data.decode("gb18030")
        except UnicodeDecodeError as e:
            raise ImportFileError(str(not_a_table)) from e
    if _CONTROL.search(text[:4096]):
        raise ImportFileError(str(not_a_table))
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, row in enumerate(reader, start=1):
            yield number, [c.strip() for c in row]
    except csv.Error as e:
        raise ImportFileError(str(not_a_table)) from e


def _collect(raw_rows: Iterable[tuple[int, list[str]]], max_rows: int) -> Table:
    headers: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for number, values in raw_rows:
        if not any(values):
            continue
        if headers is None:
            while values and not values[-1]:
                values.pop()
            headers = [h.strip() for h in values]
            continue
        rows.append((number, values))
        if len(rows) > max_rows:
            raise ImportFileError(_("行数超过上限：一次最多导入 %(n)d 行，请分成几个文件。", n=max_rows))
    if headers is None:
        raise ImportFileError(_("文件是空的。"))
    if not rows:
        raise ImportFileError(_("文件中没有数据行：第一行是表头，请从第二行起填写。"))
    return Table(headers=headers, rows=rows)

def to_records(kind: str, table: Table) -> list[dict[str, object]]:
    """Rows as dicts keyed by column key, each with its spreadsheet row number under ``_row``."""
    spec = spec_for(kind)
    by_header = {c.header: c.key for c in spec.columns}
    index = [(i, by_header[h]) for i, h in enumerate(table.headers) if h in by_header]
    records: list[dict[str, object]] = []
    for number, values in table.rows:
        rec: dict[str, object] = {c.key: "" for c in spec.columns}
        for i, key in index:
            rec[key] = values[i] if i < len(values) else ""
        rec["_row"] = number
        records.append(rec)
    return records


def parse(kind: str, data: bytes, max_rows: int | None = None) -> list[dict[str, object]]:
    """Bytes → checked header → records. Raises ImportFileError for a file refused as a whole."""
    table = read_table(data, max_rows)
    check_columns(kind, table.headers)
    return to_records(kind, table)
