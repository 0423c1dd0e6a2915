"""Checking every row of a roster against the file itself and the database; a clean file gives a
``Plan`` holding the rows to insert."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask_babel import gettext as _

from app.extensions import db
from app.models import (
    BUILTIN_HOUSEHOLD_TYPES,
    CentralHousehold,
    Duty,
    HouseholdStatus,
    HouseholdType,
    OrgNode,
    ResidentHousehold,
    User,
)
from app.phones import normalize_phone
from app.policy import scope_condition
from app.services.importer.plan import (
    GridResolver,
    Plan,
    _category,
    _chunks,
    _existing_user_phones,
    _members_in_scope_by_phone,
    _optional,
    _phone,
    _required,
)
from app.services.importer.specs import DUTY_BY_LABEL, NO, YES, spec_for


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

