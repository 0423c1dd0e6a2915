"""What a check builds: the ``Plan`` (rows to insert, or the errors found, by row and column), and the
pieces every kind's check shares: grids by name within the admin's scope, phones already taken,
members in scope, and the checks of a single cell."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext as _

from app.extensions import db
from app.models import Member, MemberCategory, OrgLevel, OrgNode, User
from app.phones import normalize_phone
from app.policy import scope_condition
from app.services.importer.specs import CATEGORY_BY_LABEL

MAX_REPORTED_ERRORS = 500
_CHUNK = 500


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

