"""Roster import (名册导入): members, central households and resident households from .xlsx/.csv.

The steps are separate so the view can show each outcome: ``read_table`` turns the bytes into
rows (or refuses the file), ``check_columns`` holds the header row against the template,
``validate`` checks every row against the file itself and the database and builds a ``Plan``, and
``commit`` writes a clean plan with bulk inserts. Nothing is written unless every row is valid:
the caller commits once, after ``commit`` returns.

Column headers are data, not interface text: a file filled in under the English interface still
carries the Chinese headers of the template, so they are plain constants, not gettext strings.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import time
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook, load_workbook

from app.extensions import db
from app.models import (
    BUILTIN_HOUSEHOLD_TYPES,
    CentralHousehold,
    Duty,
    HouseholdDuty,
    HouseholdStatus,
    HouseholdType,
    Member,
    MemberCategory,
    OrgLevel,
    OrgNode,
    ResidentHousehold,
    User,
)
from app.phones import normalize_phone
from app.policy import scope_condition
from app.services.errors import Refused
from app.services.privacy import audit
from app.settings import setting

MAX_ROWS = 50_000
MAX_REPORTED_ERRORS = 500
_CHUNK = 500


class ImportFileError(Refused):
    """The file as a whole is refused (not a spreadsheet, wrong columns, too big …)."""


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    required: bool
    example: str
    note: str = ""


@dataclass(frozen=True)
class Spec:
    kind: str
    label: object
    columns: tuple[Column, ...]

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]


CATEGORY_BY_LABEL = {
    "村两委": MemberCategory.VILLAGE_COMMITTEE,
    "网格党组织": MemberCategory.GRID_ORG,
    "两代表一委员": MemberCategory.DEPUTY,
    "在职党员": MemberCategory.EMPLOYED,
    "五老": MemberCategory.FIVE_ELDERS,
    "其他": MemberCategory.OTHER,
}
DUTY_BY_LABEL = {
    "政策宣讲员": Duty.POLICY,
    "党建协助员": Duty.PARTY_BUILDING,
    "矛盾调解员": Duty.MEDIATION,
    "乡村振兴员": Duty.REVITALISATION,
    "民风监督员": Duty.CIVIC_MORALITY,
    "民情收集员": Duty.SENTIMENT,
    "群众联络员": Duty.LIAISON,
}
YES, NO = {"是", "Y", "y", "1", "√"}, {"否", "N", "n", "0", ""}
GRID_HINT = "网格名称；同名网格写成“社区/网格”"

SPECS: dict[str, Spec] = {
    "members": Spec("members", _l("党员名册"), (
        Column("姓名", "name", True, "李明"),
        Column("手机号", "phone", True, "13912345678", "11位手机号，不能与系统中已有账号重复"),
        Column("网格", "grid", True, "第一网格", GRID_HINT),
        Column("党员类别", "category", True, "在职党员", "、".join(CATEGORY_BY_LABEL)),
        Column("所属中心户编号", "household_number", False, "", "可空；须为已登记的中心户"),
    )),
    "households": Spec("households", _l("中心户名册"), (
        Column("中心户编号", "number", False, "LS-001", "可空；填写则不能重复"),
        Column("户长姓名", "head_name", True, "王建国"),
        Column("户长手机号", "head_phone", True, "13912345679", "须为已登记的党员，或填写“户长党员类别”一并登记"),
        Column("网格", "grid", True, "第一网格", GRID_HINT),
        Column("地址", "address", True, "龙山路1号3栋1单元101室"),
        Column("类型", "type", False, "治理协助型", "可空；须为系统中已有的类型"),
        Column("职责", "duties", False, "政策宣讲员、群众联络员", "可空；多个用顿号分隔：" + "、".join(DUTY_BY_LABEL)),
        Column("示范中心户", "model", False, "否", "是 / 否"),
        Column("户长党员类别", "head_category", False, "", "户长尚未登记为党员时填写：" + "、".join(CATEGORY_BY_LABEL)),
    )),
    "residents": Spec("residents", _l("群众户名册"), (
        Column("户主姓名", "head_name", True, "赵大爷"),
        Column("地址", "address", True, "龙山路1号3栋1单元102室", "同一网格内不能重复"),
        Column("网格", "grid", True, "第一网格", GRID_HINT),
        Column("楼栋", "building", False, "3"),
        Column("单元", "unit", False, "1"),
        Column("室", "room", False, "102"),
        Column("联系电话", "phone", False, "13912345680", "可空；11位手机号"),
        Column("联系党员手机号", "member_phone", False, "13912345678", "可空；须为您管辖范围内已登记的党员"),
        Column("关爱标签", "care_tags", False, "独居老人", "可空；多个用顿号分隔"),
    )),
}


def spec_for(kind: str) -> Spec:
    if kind not in SPECS:
        raise ImportFileError(_("不支持的名册类型。"))
    return SPECS[kind]


# --- Templates --------------------------------------------------------------------------------


def template_workbook(kind: str) -> bytes:
    """The template: Chinese headers and one example row on the first sheet, notes on a second."""
    spec = spec_for(kind)
    wb = Workbook()
    ws = wb.active
    ws.title = str(spec.label)
    ws.append(spec.headers)
    ws.append([c.example for c in spec.columns])
    for cell in ws[2]:
        cell.number_format = "@"  # phones stay text, not 1.39E+10
    for i, c in enumerate(spec.columns):
        ws.column_dimensions[chr(ord("A") + i)].width = max(12, len(c.header) * 2 + 4)
    notes = wb.create_sheet("填写说明")
    notes.append(["列名", "是否必填", "说明"])
    for c in spec.columns:
        notes.append([c.header, "必填" if c.required else "选填", c.note])
    notes.append([])
    notes.append(["只读取第一个工作表；第一行为表头，请勿修改表头；示例行请删除后再导入。"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --- Reading ----------------------------------------------------------------------------------


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


def check_columns(kind: str, headers: Sequence[str]) -> None:
    """The header row must be the template's: every required column, nothing unknown."""
    spec = spec_for(kind)
    known = set(spec.headers)
    present = [h for h in headers if h]
    missing = [c.header for c in spec.columns if c.required and c.header not in present]
    unknown = [h for h in present if h not in known]
    doubled = [h for h, n in Counter(present).items() if n > 1]
    if missing or unknown or doubled or len(present) != len(headers):
        parts = []
        if missing:
            parts.append(_("缺少列：%(cols)s", cols="、".join(missing)))
        if unknown:
            parts.append(_("无法识别的列：%(cols)s", cols="、".join(unknown)))
        if doubled:
            parts.append(_("重复的列：%(cols)s", cols="、".join(doubled)))
        if len(present) != len(headers):
            parts.append(_("有空白的表头"))
        raise ImportFileError(
            _("表头与“%(label)s”模板不符（%(problems)s）。请下载模板，按模板的表头填写。",
              label=spec.label, problems="；".join(parts))
        )


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


# --- Validation -------------------------------------------------------------------------------


@dataclass
class RowError:
    row: int
    column: str
    message: str


@dataclass
class Plan:
    """What a clean file will create, or the errors that stop it."""

    kind: str
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    members: list[dict] = field(default_factory=list)
    households: list[dict] = field(default_factory=list)
    residents: list[dict] = field(default_factory=list)
    by_grid: Counter = field(default_factory=Counter)
    grid_names: dict[int, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def error(self, row: object, column: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RowError(int(row), column, message))  # type: ignore[call-overload]

    @property
    def counts(self) -> dict[str, int]:
        return {
            "members": len(self.members),
            "households": len(self.households),
            "residents": len(self.residents),
        }


def _chunks(values: Sequence, size: int = _CHUNK) -> Iterator[Sequence]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


class GridResolver:
    """Grid names within the admin's scope: "第一网格", or "龙山社区/第一网格" where names repeat.
    A grid outside the scope is as unknown as one that does not exist."""

    def __init__(self, user: User) -> None:
        parent = sa.orm.aliased(OrgNode)
        rows = db.session.execute(
            sa.select(OrgNode.id, OrgNode.name, parent.name)
            .join(parent, parent.id == OrgNode.parent_id)
            .where(scope_condition(user), OrgNode.level == OrgLevel.GRID)
        )
        self.by_name: dict[str, list[int]] = {}
        self.by_full: dict[str, int] = {}
        self.names: dict[int, str] = {}
        for grid_id, name, parent_name in rows:
            self.by_name.setdefault(name, []).append(grid_id)
            self.by_full[f"{parent_name}/{name}"] = grid_id
            self.names[grid_id] = name

    def resolve(self, raw: str) -> tuple[int | None, str | None]:
        """(grid id, None) or (None, the error message)."""
        text = re.sub(r"\s*[/／]\s*", "/", raw.strip())
        if not text:
            return None, _("网格不能为空")
        if "/" in text:
            found = self.by_full.get(text)
            return (found, None) if found else (None, _("找不到网格“%(name)s”，或它不在您的管辖范围内", name=raw))
        ids = self.by_name.get(text, [])
        if len(ids) == 1:
            return ids[0], None
        if len(ids) > 1:
            return None, _("您的管辖范围内有多个名为“%(name)s”的网格，请写成“社区/网格”", name=raw)
        return None, _("找不到网格“%(name)s”，或它不在您的管辖范围内", name=raw)


def _existing_user_phones(phones: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(list(phones)):
        found.update(db.session.scalars(sa.select(User.phone).where(User.phone.in_(chunk))))
    return found


def _members_in_scope_by_phone(user: User, phones: Sequence[str]) -> dict[str, Member]:
    found: dict[str, Member] = {}
    for chunk in _chunks(list(phones)):
        for m in db.session.scalars(
            sa.select(Member)
            .join(Member.user)
            .join(OrgNode, OrgNode.id == Member.grid_id)
            .where(User.phone.in_(chunk), scope_condition(user))
        ):
            found[m.user.phone] = m
    return found


def _required(plan: Plan, rec: dict, key: str, header: str, max_len: int) -> str:
    value = str(rec.get(key, "")).strip()
    if not value:
        plan.error(rec["_row"], header, _("%(col)s不能为空", col=header))
    elif len(value) > max_len:
        plan.error(rec["_row"], header, _("%(col)s过长（最多%(n)d个字）", col=header, n=max_len))
    return value


def _optional(plan: Plan, rec: dict, key: str, header: str, max_len: int) -> str:
    value = str(rec.get(key, "")).strip()
    if len(value) > max_len:
        plan.error(rec["_row"], header, _("%(col)s过长（最多%(n)d个字）", col=header, n=max_len))
    return value


def _category(plan: Plan, rec: dict, key: str, header: str) -> MemberCategory | None:
    raw = str(rec.get(key, "")).strip()
    if raw not in CATEGORY_BY_LABEL:
        plan.error(rec["_row"], header, _("党员类别“%(v)s”不正确，应为：%(choices)s",
                                          v=raw, choices="、".join(CATEGORY_BY_LABEL)))
        return None
    return CATEGORY_BY_LABEL[raw]


def _phone(plan: Plan, rec: dict, key: str, header: str, seen: dict[str, int],
           required: bool) -> str | None:
    """A valid phone, not repeated in the file (``seen`` maps phone → first row)."""
    raw = str(rec.get(key, "")).strip()
    if not raw:
        if required:
            plan.error(rec["_row"], header, _("%(col)s不能为空", col=header))
        return None
    phone = normalize_phone(raw)
    if phone is None:
        plan.error(rec["_row"], header, _("“%(v)s”不是有效的手机号", v=raw))
        return None
    if phone in seen:
        plan.error(rec["_row"], header, _("手机号 %(p)s 与第 %(n)d 行重复", p=phone, n=seen[phone]))
        return None
    seen[phone] = int(rec["_row"])  # type: ignore[call-overload]
    return phone


def validate(kind: str, records: list[dict], user: User) -> Plan:
    """Check every row; the plan holds the rows to insert when there is no error."""
    spec_for(kind)
    plan = Plan(kind=kind)
    grids = GridResolver(user)
    plan.grid_names = grids.names
    {"members": _validate_members, "households": _validate_households,
     "residents": _validate_residents}[kind](plan, records, user, grids)
    return plan


def _validate_members(plan: Plan, records: list[dict], user: User, grids: GridResolver) -> None:
    seen: dict[str, int] = {}
    phones = [p for r in records if (p := normalize_phone(str(r.get("phone", ""))))]
    taken = _existing_user_phones(phones)
    numbers = {str(r.get("household_number", "")).strip() for r in records} - {""}
    households: dict[str, int] = {}
    if numbers:
        for chunk in _chunks(sorted(numbers)):
            households.update(db.session.execute(
                sa.select(CentralHousehold.number, CentralHousehold.id)
                .join(OrgNode, OrgNode.id == CentralHousehold.grid_id)
                .where(CentralHousehold.number.in_(chunk), scope_condition(user))
            ).all())
    for rec in records:
        row = rec["_row"]
        name = _required(plan, rec, "name", "姓名", 32)
        phone = _phone(plan, rec, "phone", "手机号", seen, required=True)
        if phone and phone in taken:
            plan.error(row, "手机号", _("手机号 %(p)s 已被系统中的账号使用", p=phone))
        grid_id, problem = grids.resolve(str(rec.get("grid", "")))
        if problem:
            plan.error(row, "网格", problem)
        category = _category(plan, rec, "category", "党员类别")
        number = str(rec.get("household_number", "")).strip()
        household_id = None
        if number:
            household_id = households.get(number)
            if household_id is None:
                plan.error(row, "所属中心户编号",
                           _("找不到编号为“%(v)s”的中心户，或它不在您的管辖范围内", v=number))
        if plan.ok:
            plan.members.append({"name": name, "phone": phone, "grid_id": grid_id,
                                 "category": category, "central_household_id": household_id})
            plan.by_grid[grid_id] += 1


def _validate_households(plan: Plan, records: list[dict], user: User, grids: GridResolver) -> None:
    seen: dict[str, int] = {}
    seen_numbers: dict[str, int] = {}
    phones = [p for r in records if (p := normalize_phone(str(r.get("head_phone", ""))))]
    members = _members_in_scope_by_phone(user, phones)
    taken = _existing_user_phones(phones)
    heading = dict(db.session.execute(
        sa.select(CentralHousehold.head_member_id, CentralHousehold.number).where(
            CentralHousehold.head_member_id.in_([m.id for m in members.values()] or [0]),
            CentralHousehold.status != HouseholdStatus.REVOKED,
        )
    ).all())
    numbers = [n for r in records if (n := str(r.get("number", "")).strip())]
    used_numbers: set[str] = set()
    for chunk in _chunks(numbers):
        used_numbers.update(db.session.scalars(
            sa.select(CentralHousehold.number).where(CentralHousehold.number.in_(chunk))))
    types = dict(db.session.execute(sa.select(HouseholdType.name, HouseholdType.id)).all())

    for rec in records:
        row = rec["_row"]
        number = _optional(plan, rec, "number", "中心户编号", 32)
        if number:
            if number in seen_numbers:
                plan.error(row, "中心户编号", _("中心户编号“%(v)s”与第 %(n)d 行重复", v=number, n=seen_numbers[number]))
            elif number in used_numbers:
                plan.error(row, "中心户编号", _("中心户编号“%(v)s”已存在", v=number))
            seen_numbers.setdefault(number, int(row))
        head_name = _required(plan, rec, "head_name", "户长姓名", 32)
        phone = _phone(plan, rec, "head_phone", "户长手机号", seen, required=True)
        grid_id, problem = grids.resolve(str(rec.get("grid", "")))
        if problem:
            plan.error(row, "网格", problem)
        address = _required(plan, rec, "address", "地址", 255)
        head_id: int | None = None
        new_head: dict | None = None
        if phone:
            member = members.get(phone)
            if member is not None:
                head_id = member.id
                if head_name and member.name != head_name:
                    plan.error(row, "户长姓名", _("户长姓名“%(v)s”与系统中登记的“%(name)s”不一致",
                                                 v=head_name, name=member.name))
                if member.id in heading:
                    plan.error(row, "户长手机号", _("该党员已是中心户“%(v)s”的户长",
                                                   v=heading[member.id] or "—"))
            elif phone in taken:
                plan.error(row, "户长手机号", _("手机号 %(p)s 不是您管辖范围内登记的党员", p=phone))
            elif str(rec.get("head_category", "")).strip():
                category = _category(plan, rec, "head_category", "户长党员类别")
                new_head = {"name": head_name, "phone": phone, "grid_id": grid_id,
                            "category": category, "central_household_id": None}
            else:
                plan.error(row, "户长手机号", _("户长须为已登记的党员：请先导入党员，或填写“户长党员类别”一并登记"))
        type_name = str(rec.get("type", "")).strip()
        type_id = None
        if type_name:
            type_id = types.get(type_name)
            # The built-in types exist from their first use on.
            if type_id is None and type_name not in BUILTIN_HOUSEHOLD_TYPES:
                plan.error(row, "类型", _("类型“%(v)s”不存在，可选：%(choices)s",
                                         v=type_name,
                                         choices="、".join(dict.fromkeys([*BUILTIN_HOUSEHOLD_TYPES, *types]))))
        duties: list[Duty] = []
        for label in re.split(r"[、,，;；\s]+", str(rec.get("duties", "")).strip()):
            if not label:
                continue
            if label in DUTY_BY_LABEL:
                duties.append(DUTY_BY_LABEL[label])
            else:
                plan.error(row, "职责", _("职责“%(v)s”不正确，应为：%(choices)s",
                                         v=label, choices="、".join(DUTY_BY_LABEL)))
        model_raw = str(rec.get("model", "")).strip()
        if model_raw not in YES | NO:
            plan.error(row, "示范中心户", _("示范中心户请填“是”或“否”"))
        if plan.ok:
            if new_head:
                plan.members.append(new_head)
            plan.households.append({
                "number": number or None, "head_member_id": head_id, "head_phone": phone,
                "grid_id": grid_id, "address": address, "type_id": type_id,
                "type_name": type_name,
                "duties": sorted(set(duties)), "is_model": model_raw in YES,
            })
            plan.by_grid[grid_id] += 1


def _validate_residents(plan: Plan, records: list[dict], user: User, grids: GridResolver) -> None:
    seen_phones: dict[str, int] = {}
    seen_addresses: dict[tuple[int, str], int] = {}
    phones = [p for r in records if (p := normalize_phone(str(r.get("phone", ""))))]
    used_phones: set[str] = set()
    for chunk in _chunks(phones):
        used_phones.update(db.session.scalars(
            sa.select(ResidentHousehold.phone).where(ResidentHousehold.phone.in_(chunk))))
    member_phones = sorted({p for r in records if (p := normalize_phone(str(r.get("member_phone", ""))))})
    members = {p: m.id for p, m in _members_in_scope_by_phone(user, member_phones).items() if m.is_active}
    used_addresses = set(db.session.execute(
        sa.select(ResidentHousehold.grid_id, ResidentHousehold.address).where(
            ResidentHousehold.grid_id.in_(list(grids.names) or [0]))
    ).all())

    for rec in records:
        row = rec["_row"]
        head_name = _required(plan, rec, "head_name", "户主姓名", 32)
        address = _required(plan, rec, "address", "地址", 255)
        grid_id, problem = grids.resolve(str(rec.get("grid", "")))
        if problem:
            plan.error(row, "网格", problem)
        if grid_id and address:
            key = (grid_id, address)
            if key in seen_addresses:
                plan.error(row, "地址", _("地址与第 %(n)d 行重复", n=seen_addresses[key]))
            elif key in used_addresses:
                plan.error(row, "地址", _("该网格已登记这个地址"))
            seen_addresses.setdefault(key, int(row))
        building = _optional(plan, rec, "building", "楼栋", 16)
        unit = _optional(plan, rec, "unit", "单元", 16)
        room = _optional(plan, rec, "room", "室", 16)
        phone = _phone(plan, rec, "phone", "联系电话", seen_phones, required=False)
        if phone and phone in used_phones:
            plan.error(row, "联系电话", _("联系电话 %(p)s 已登记在其他群众户", p=phone))
        member_raw = str(rec.get("member_phone", "")).strip()
        member_id = None
        if member_raw:
            member_phone = normalize_phone(member_raw)
            member_id = members.get(member_phone or "")
            if member_id is None:
                plan.error(row, "联系党员手机号",
                           _("找不到手机号为“%(v)s”的党员，或其不在您的管辖范围内", v=member_raw))
        tags = ",".join(t for t in re.split(r"[、,，;；\s]+", str(rec.get("care_tags", ""))) if t)
        if len(tags) > 128:
            plan.error(row, "关爱标签", _("关爱标签过长（最多128个字）"))
        if plan.ok:
            plan.residents.append({
                "grid_id": grid_id, "address": address, "building": building, "unit": unit,
                "room": room, "head_name": head_name, "phone": phone,
                "covering_member_id": member_id, "care_tags": tags,
            })
            plan.by_grid[grid_id] += 1


# --- Writing ----------------------------------------------------------------------------------


def commit(plan: Plan, user: User) -> dict[str, int]:
    """Write a clean plan with bulk inserts; the caller commits the transaction (or rolls back)."""
    if not plan.ok:
        raise ValueError("a plan with errors cannot be written")
    member_ids = _insert_members(plan.members)
    if plan.households:
        _insert_households(plan.households, member_ids, user)
    for chunk in _chunks(plan.residents, 2000):
        db.session.execute(sa.insert(ResidentHousehold), list(chunk))
    return plan.counts


def _insert_members(rows: list[dict]) -> dict[str, int]:
    """Users (no password: they cannot log in until an admin sets one) and their member records."""
    ids: dict[str, int] = {}
    for chunk in _chunks(rows, 2000):
        user_ids = db.session.scalars(
            sa.insert(User).returning(User.id, sort_by_parameter_order=True),
            [{"phone": r["phone"], "name": r["name"], "password_hash": None} for r in chunk],
        ).all()
        db.session.execute(sa.insert(Member), [
            {"user_id": uid, "grid_id": r["grid_id"], "category": r["category"],
             "central_household_id": r["central_household_id"]}
            for uid, r in zip(user_ids, chunk, strict=True)
        ])
        ids.update(zip([r["phone"] for r in chunk], user_ids, strict=True))
    if not ids:
        return {}
    by_user = dict(db.session.execute(
        sa.select(Member.user_id, Member.id).where(Member.user_id.in_(list(ids.values())))
    ).all())
    return {phone: by_user[uid] for phone, uid in ids.items()}


def _insert_households(rows: list[dict], new_members: dict[str, int], user: User) -> None:
    now = datetime.now(UTC)
    types = dict(db.session.execute(sa.select(HouseholdType.name, HouseholdType.id)).all())
    for r in rows:
        if r["type_name"] and r["type_id"] is None:
            if r["type_name"] not in types:
                new_type = HouseholdType(name=r["type_name"], builtin=True)
                db.session.add(new_type)
                db.session.flush()
                types[new_type.name] = new_type.id
            r["type_id"] = types[r["type_name"]]
        head_id = r["head_member_id"] or new_members[r["head_phone"]]
        household = CentralHousehold(
            number=r["number"], head_member_id=head_id, address=r["address"], grid_id=r["grid_id"],
            status=HouseholdStatus.ESTABLISHED, type_id=r["type_id"], is_model=r["is_model"],
            model_granted_at=now if r["is_model"] else None,
            model_granted_by_id=user.id if r["is_model"] else None,
        )
        household.duties = [HouseholdDuty(duty=d) for d in r["duties"]]
        db.session.add(household)
        db.session.flush()
        # The head belongs to the household they lead.
        db.session.execute(
            sa.update(Member).where(Member.id == head_id).values(central_household_id=household.id)
        )


# Stored between preview and confirm: the records as read, re-validated at confirm time.
def records_to_json(records: list[dict]) -> list[dict]:
    return [{k: (v if isinstance(v, int | str) else str(v)) for k, v in r.items()} for r in records]


# --- Between preview and confirm: the records wait in instance/imports/<token>.json -------------

STORE_MAX_AGE_SECONDS = 3600


def store_records(directory: str, user_id: int, kind: str, records: list[dict]) -> str:
    """Keep the parsed records for the confirm step; returns the random token naming them.

    Old files (any user's) past their age are swept here, so the folder does not grow.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in folder.glob("*.json"):
        if now - old.stat().st_mtime > STORE_MAX_AGE_SECONDS:
            old.unlink(missing_ok=True)
    token = secrets.token_urlsafe(24)
    payload = {"user_id": user_id, "kind": kind, "created": now, "records": records_to_json(records)}
    path = folder / f"{token}.json"
    path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    path.chmod(0o600)
    return token


def load_records(directory: str, token: str, user_id: int, kind: str) -> list[dict] | None:
    """The records stored under ``token`` for this user and kind, if not expired; else None."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", token):
        return None
    path = Path(directory) / f"{token}.json"
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        payload.get("user_id") != user_id
        or payload.get("kind") != kind
        or time.time() - float(payload.get("created", 0)) > STORE_MAX_AGE_SECONDS
    ):
        return None
    return list(payload["records"])


def discard_records(directory: str, token: str) -> None:
    if re.fullmatch(r"[A-Za-z0-9_-]{16,64}", token):
        (Path(directory) / f"{token}.json").unlink(missing_ok=True)


# --- The two steps of an import as the pages take them: check and preview, then confirm -------


class RosterRejected(Refused):
    """A file whose rows do not pass the check: ``plan`` lists the errors, nothing is written."""

    def __init__(self, plan: Plan) -> None:
        super().__init__(_("发现 %(n)d 处错误，未导入任何数据。请修改文件后重新上传。", n=plan.error_count))
        self.plan = plan


def too_big_message() -> str:
    """The refusal of a file past ``IMPORT_MAX_BYTES``, naming the limit."""
    limit = int(setting("IMPORT_MAX_BYTES")) / (1024 * 1024)  # type: ignore[call-overload]
    return _("文件太大：名册文件不能超过 %(mb)g MB。请删去多余的工作表或分成几个文件导入。", mb=limit)


@dataclass
class Preview:
    """A file that passed the check, stored under ``token`` until it is confirmed."""

    plan: Plan
    records: list[dict]
    token: str


def check_upload(user: User, kind: str, data: bytes, directory: str) -> Preview:
    """Check every row of an uploaded roster (reading only) and keep a clean one for the confirm
    step. ``data`` may be one byte past the limit: that is how a file too big is told."""
    if len(data) > int(setting("IMPORT_MAX_BYTES")):  # type: ignore[call-overload]
        raise ImportFileError(too_big_message())
    records = parse(kind, data)
    plan = validate(kind, records, user)
    if not plan.ok:
        raise RosterRejected(plan)
    return Preview(plan, records, store_records(directory, user.id, kind, records))


@dataclass
class Confirmation:
    """The confirm step of a previewed roster: checked again (the database may have changed since
    the preview), then written all or nothing and audited. ``plan`` keeps the check that stopped
    it, for the page that says why."""

    user: User
    kind: str
    token: str
    directory: str
    ip: str = ""
    plan: Plan | None = None

    def __call__(self) -> dict[str, int]:
        records = None
        if self.token and self.kind in SPECS:
            records = load_records(self.directory, self.token, self.user.id, self.kind)
        if records is None:
            raise ImportFileError(_("预览已过期或无效，请重新上传文件。"))
        plan = validate(self.kind, records, self.user)
        if not plan.ok:
            self.plan = plan
            raise RosterRejected(plan)
        counts = commit(plan, self.user)
        audit(self.user.id, "import", self.kind, None, detail=str(counts), ip=self.ip)
        return counts
