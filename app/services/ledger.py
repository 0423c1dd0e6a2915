"""Ledgers (台账) as .xlsx: a title row, the node's name and the period, Chinese headers, rows.

Cells that a spreadsheet would read as a formula (= + - @, also tab/CR that some programs strip
first) are prefixed with ' so that an exported name like ``=HYPERLINK(...)`` stays text.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A value safe to put in a cell: strings that start like a formula get a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def build_workbook(
    title: str,
    node_name: str,
    period: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    sheet_name: str = "台账",
) -> bytes:
    """The .xlsx bytes of one ledger sheet."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet_name[:31]
    ws.append([safe_cell(title)])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([safe_cell(f"单位：{node_name}")])
    ws.append([safe_cell(f"期间：{period}")])
    ws.append([safe_cell(h) for h in headers])
    for cell in ws[4]:
        cell.font = Font(bold=True)
    widths = [max(8, len(str(h)) * 2 + 2) for h in headers]
    for row in rows:
        values = []
        for i, v in enumerate(row):
            if isinstance(v, datetime) and v.tzinfo is not None:
                v = v.replace(tzinfo=None)  # openpyxl refuses aware datetimes; callers pass local time
            values.append(safe_cell(v))
            if i < len(widths) and isinstance(v, str | date):
                widths[i] = min(40, max(widths[i], len(str(v)) * 2))
        ws.append(values)
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.freeze_panes = "A5"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
