"""Ledgers (台账): .xlsx exports in the shape district offices file them.

A title, the node and the period above Chinese column headers, then the rows. Every text cell goes
through ``safe_cell`` so that a name typed as ``=HYPERLINK(...)`` stays text in Excel/WPS
(spreadsheet formula injection, OWASP).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Sheet:
    """One sheet of a ledger: its title, the node and period it covers, the filters applied (in
    words, "" when none), Chinese column headers and the rows."""

    title: str
    node_name: str
    period: str
    headers: Sequence[str]
    rows: Iterable[Sequence[object]]
    filters: str = ""


def build_workbook(
    title: str,
    node_name: str,
    period: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    filters: str = "",
) -> bytes:
    """A one-sheet ledger: row 1 the title, row 2 unit/period/date (and the filters applied),
    row 3 the headers, then rows."""
    return build_book([Sheet(title, node_name, period, headers, rows, filters)])


def build_book(sheets: Sequence[Sheet]) -> bytes:
    """A ledger workbook of one or more sheets, each laid out as ``build_workbook`` says.

    Written in openpyxl's write-only mode so that 30,000 rows stay quick and small in memory.
    """
    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    big = Font(bold=True, size=14)
    used: set[str] = set()
    for sheet in sheets:
        name = _sheet_title(sheet.title)
        while name in used:  # two sheets of one title: number the later ones
            name = _sheet_title(f"{sheet.title[:27]}{len(used) + 1}")
        used.add(name)
        ws = wb.create_sheet(title=name)

        def styled(value: object, font: Font, ws=ws) -> WriteOnlyCell:  # type: ignore[no-untyped-def]
            cell = WriteOnlyCell(ws, value=safe_cell(value))
            cell.font = font
            return cell

        ws.append([styled(sheet.title, big)])
        info = [f"单位：{sheet.node_name}", f"期间：{sheet.period}", f"导出日期：{today_label()}"]
        if sheet.filters:
            info.append(f"筛选：{sheet.filters}")
        ws.append([safe_cell(v) for v in info])
        ws.append([styled(h, bold) for h in sheet.headers])
        for row in sheet.rows:
            ws.append([safe_cell(v) for v in row])
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def _sheet_title(title: str) -> str:
    # Sheet names: at most 31 characters, none of : \ / ? * [ ]
    cleaned = "".join("_" if c in ':\\/?*[]' else c for c in title)
    return cleaned[:31] or "Sheet1"
