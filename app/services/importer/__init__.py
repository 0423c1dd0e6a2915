"""Roster import (名册导入): members, central households and resident households from .xlsx/.csv.

The steps are separate so the view can show each outcome: ``read_table`` turns the bytes into
rows (or refuses the file), ``check_columns`` holds the header row against the template,
``validate`` checks every row against the file itself and the database and builds a ``Plan``, and
``commit`` writes a clean plan with bulk inserts. Nothing is written unless every row is valid:
the caller commits once, after ``commit`` returns.

The modules, by concern:

- ``specs``: the three rosters' columns and labels, the template, the header row held against it;
- ``reading``: the file's bytes → rows (.xlsx streamed, .csv in UTF-8/BOM/GB18030), with its caps;
- ``plan`` and ``validation``: every row checked, the plan of what a clean file creates;
- ``writing``: the plan written with bulk inserts (all or nothing: the caller commits once);
- ``store``: the records kept between preview and confirm;
- ``steps``: the check-and-preview and confirm steps as the pages take them.

The public names are re-exported here: callers import ``app.services.importer``.
"""

from __future__ import annotations

from app.services.importer.plan import MAX_REPORTED_ERRORS, GridResolver, Plan, RowError
from app.services.importer.reading import MAX_ROWS, Table, parse, read_table, to_records
from app.services.importer.specs import (
    CATEGORY_BY_LABEL,
    DUTY_BY_LABEL,
    NO,
    SPECS,
    YES,
    Column,
    ImportFileError,
    Spec,
    check_columns,
    spec_for,
    template_workbook,
)
from app.services.importer.steps import (
    Confirmation,
    Preview,
    RosterRejected,
    check_upload,
    too_big_message,
)
from app.services.importer.store import (
    STORE_MAX_AGE_SECONDS,
    discard_records,
    load_records,
    records_to_json,
    store_records,
)
from app.services.importer.validation import validate
from app.services.importer.writing import commit

__all__ = [
    "CATEGORY_BY_LABEL", "DUTY_BY_LABEL", "MAX_REPORTED_ERRORS", "MAX_ROWS", "NO", "SPECS",
    "STORE_MAX_AGE_SECONDS", "YES", "Column", "Confirmation", "GridResolver", "ImportFileError",
    "Plan", "Preview", "RosterRejected", "RowError", "Spec", "Table", "check_columns", "check_upload",
    "commit", "discard_records", "load_records", "parse", "read_table", "records_to_json",
    "spec_for", "store_records", "template_workbook", "to_records", "too_big_message", "validate",
]
