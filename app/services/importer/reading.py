"""Reading a roster file: the first sheet of an .xlsx, or a .csv (UTF-8 with or without BOM, else
GB18030), turned into a header row and the rows under it; a file refused as a whole raises
``ImportFileError`` with the reason in Chinese."""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.services.importer.specs import ImportFileError, check_columns, spec_for

MAX_ROWS = 50_000
# What an .xlsx may unpack to (a zip bomb is refused before it is parsed): a full 50,000-row roster
# saved by Excel unpacks to about 20–30 MB.
MAX_UNPACKED_BYTES = 50 * 1024 * 1024


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


def read_table(data: bytes, max_rows: int | None = None,
               check_headers: Callable[[list[str]], None] | None = None) -> Table:
    """Read the first sheet of an .xlsx, or a .csv (UTF-8 with or without BOM, else GB18030).

    The content decides the format, not the file name: a renamed picture is refused. Memory stays
    bounded whatever the file claims: an .xlsx is refused unopened when it would unpack past
    ``MAX_UNPACKED_BYTES``, its rows are streamed and kept only as wide as the header row
    (``check_headers`` may refuse that row before the rest is read), and reading stops past
    ``max_rows`` rows.
    """
    if not data.strip():
        raise ImportFileError(_("文件是空的。"))
    if data.startswith(b"PK\x03\x04"):
        _check_unpacked_size(data)
        raw_rows = _xlsx_rows(data)
    elif data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(_("这是旧版 Excel（.xls）文件，请在 Excel 中另存为 .xlsx 或 .csv 后再导入。"))
    else:
        raw_rows = _csv_rows(data)
    try:
        return _collect(raw_rows, MAX_ROWS if max_rows is None else max_rows, check_headers)
    finally:
        raw_rows.close()  # the workbook is closed now, not whenever the generator is collected


def _unreadable() -> ImportFileError:
    return ImportFileError(_("无法读取这个 Excel 文件：它可能已损坏，或不是 .xlsx 表格。"))


def _check_unpacked_size(data: bytes) -> None:
    """Refuse a zip bomb before it is parsed, by the sizes its entries declare (their sum bounds
    each one). A declared size is a bound, not a claim: ``zipfile`` never inflates an entry past it.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            sizes = [entry.file_size for entry in archive.infolist()]
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise _unreadable() from e
    if sum(sizes) > MAX_UNPACKED_BYTES:
        raise ImportFileError(_(
            "文件解压后太大：表格内容不能超过 %(mb)d MB（常见原因是整行整列设置了格式，或有多余的工作表）。"
            "请只保留名册的数据，或分成几个文件导入。", mb=MAX_UNPACKED_BYTES // (1024 * 1024)))


def load_workbook(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
    """openpyxl's, imported when a workbook is read: a worker that never reads one keeps ~8 MB."""
    from openpyxl import load_workbook as load

    return load(*args, **kwargs)


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, Sequence[object]]]:
    """The first sheet's rows, streamed (read-only mode): cell values as openpyxl gives them."""
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds (BadZipFile, KeyError, XML errors …)
        raise _unreadable() from e
    try:
        ws = wb.worksheets[0]
        # The declared dimension (say A1:XFD40001, from one stray cell) would pad every row to
        # 16,384 cells: read each row as wide as its own cells instead.
        ws.reset_dimensions()
        yield from enumerate(ws.iter_rows(values_only=True), start=1)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError, SyntaxError, zlib.error) as e:
        raise _unreadable() from e  # SyntaxError: a broken sheet XML (ElementTree's ParseError)
    finally:
        wb.close()


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _csv_rows(data: bytes) -> Iterator[tuple[int, Sequence[object]]]:
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
        yield from enumerate(reader, start=1)
    except csv.Error as e:
        raise ImportFileError(str(not_a_table)) from e


def _blank(values: Sequence[object]) -> bool:
    """No cell with text. Cheap on a wide row of empty cells: those are None, counted in C."""
    if values.count(None) == len(values):
        return True
    return not any(_text(v) for v in values if v is not None)


def _collect(raw_rows: Iterable[tuple[int, Sequence[object]]], max_rows: int,
             check_headers: Callable[[list[str]], None] | None = None) -> Table:
    """The first row with text is the header row; the rows with text under it are kept as texts,
    each cut to the header row's width (the cells past it belong to no column)."""
    headers: list[str] | None = None
    width = 0
    rows: list[tuple[int, list[str]]] = []
    for number, values in raw_rows:
        if headers is None:
            if _blank(values):
                continue
            texts = [_text(v) for v in values]
            while texts and not texts[-1]:
                texts.pop()
            headers = texts
            width = len(headers)
            if check_headers is not None:
                check_headers(headers)
            continue
        texts = [_text(v) for v in values[:width]]
        if not any(texts) and _blank(values[width:]):
            continue
        rows.append((number, texts))
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
    """Bytes → checked header → records. Raises ImportFileError for a file refused as a whole; a
    header row unlike the template's is refused before the rows under it are read."""
    table = read_table(data, max_rows, lambda headers: check_columns(kind, headers))
    return to_records(kind, table)
