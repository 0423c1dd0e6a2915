"""The three rosters an import takes (members, central households, residents): their columns, the
labels their cells may hold, the template to fill in, and the header row held against it.

Column headers are data, not interface text: a file filled in under the English interface still
carries the Chinese headers of the template, so they are plain constants, not gettext strings.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.models import Duty, MemberCategory
from app.services.errors import Refused


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
    from openpyxl import Workbook  # here: only imports and templates need openpyxl (~8 MB a worker)

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

# --- The header row ------------------------------------------------------------------------------


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
