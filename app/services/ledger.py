"""Ledgers (台账): .xlsx exports in the shape district offices file them.

A title, the node and the period above Chinese column headers, then the rows. Every text cell goes
through ``safe_cell`` so that a name typed as ``=HYPERLINK(...)`` stays text in Excel/WPS
(spreadsheet formula injection, OWASP).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from io import BytesIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from app.clock import TZ, local_today

# Characters that make a spreadsheet read a cell as a formula (tab and CR too: some apps strip them).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def safe_cell(value: object) -> object:
    """The value as a cell may hold it: text that would start a formula gets a leading ``'``, and
    control characters a sheet cannot hold are dropped.

    Numbers stay numbers (a negative number is not an injection); datetimes are shown in
    Asia/Shanghai without a zone, as Excel cannot store one; None becomes an empty cell.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(TZ).replace(tzinfo=None)
        return value
    if isinstance(value, date):
        return value
    # Control characters (typed, pasted, or sent in a query string) cannot be stored in a sheet:
    # openpyxl refuses the whole file, so they are left out.
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def today_label() -> str:
    """Today's date in Asia/Shanghai, as a ledger writes it."""
    return local_today().isoformat()


def build_workbook(
    title: str,
    node_name: str,
    period: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
) -> bytes:
    """A one-sheet ledger: row 1 the title, row 2 unit/period/date, row 3 the headers, then rows.

    Written in openpyxl's write-only mode so that 30,000 rows stay quick and small in memory.
    """
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=_sheet_title(title))
    bold = Font(bold=True)
    big = Font(bold=True, size=14)

    def styled(value: object, font: Font) -> WriteOnlyCell:
        cell = WriteOnlyCell(ws, value=safe_cell(value))
        cell.font = font
        return cell

    ws.append([styled(title, big)])
    ws.append([safe_cell(f"单位：{node_name}"), safe_cell(f"期间：{period}"),
               safe_cell(f"导出日期：{today_label()}")])
    ws.append([styled(h, bold) for h in headers])
    for row in rows:
        ws.append([safe_cell(v) for v in row])
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def _sheet_title(title: str) -> str:
    # Sheet names: at most 31 characters, none of : \ / ? * [ ]
    cleaned = "".join("_" if c in ':\\/?*[]' else c for c in title)
    return cleaned[:31] or "Sheet1"
