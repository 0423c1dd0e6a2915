"""The audit log read back: search and export for the district admin, and pruning by retention.

Entries are written by ``app.services.privacy.audit``; here they are listed (a ``select`` the view
paginates), exported as a ledger (itself audited) and deleted once older than the retention
(never under six months: PIPL and GB/T 35273 ask that the trail be kept at least that long).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.clock import days_bounds, local_naive, utcnow
from app.extensions import db
from app.models import AuditEntry, OrgLevel, OrgNode, User
from app.phones import mask_phone, normalize_phone
from app.services.errors import Refused
from app.services.ledger import build_workbook, today_label
from app.services.privacy import audit
from app.settings import setting

# Rows an export holds at most (a ledger, not a database dump).
MAX_EXPORT_ROWS = 50_000
DEFAULT_RETENTION_DAYS = 3 * 365
MIN_RETENTION_DAYS = 183  # six months (PIPL, GB/T 35273)

# What each action means, in the words of the page (unknown actions are shown as written).
ACTION_LABELS: dict[str, object] = {
    "phone.reveal": _l("查看完整手机号"),
    "objection.phone.reveal": _l("查看异议人手机号"),
    "export": _l("导出台账"),
    "checkin.ledger_export": _l("导出签到台账"),
    "import": _l("导入名册"),
    "password.initial": _l("设置初始密码"),
    "password.change": _l("修改密码"),
    "login.failed": _l("登录失败"),
    "login.locked": _l("账号锁定"),
    "structure.cover": _l("调整联系户"),
    "station.admin_add": _l("添加驿站管理员"),
    "station.admin_remove": _l("移除驿站管理员"),
    "station.poster_regenerate": _l("重新生成驿站二维码"),
    "audit.export": _l("导出审计日志"),
    "audit.prune": _l("清理审计日志"),
    "points.correct": _l("更正积分"),
}

# What each object type is (a ledger's or an import's kind for exports and imports).
OBJECT_LABELS: dict[str, object] = {
    "user": _l("账号"),
    "member": _l("党员"),
    "resident_household": _l("群众户"),
    "station": _l("驿站"),
    "notice_objection": _l("公示异议"),
    "members": _l("党员名册"),
    "households": _l("中心户名册"),
    "residents": _l("群众户名册"),
    "stations": _l("驿站名册"),
    "activities": _l("服务记录"),
    "needs_rates": _l("诉求三率"),
    "audit_log": _l("审计日志"),
    "points_entry": _l("积分记录"),
    "points_ranking": _l("积分排名"),
}


class AuditLogError(Refused):
    """A search, export or pruning of the audit log that is not possible."""


def action_label(action: str) -> str:
    """The Chinese (or translated) name of ``action``; the code itself when it has none."""
    return str(ACTION_LABELS.get(action, action))


def object_label(object_type: str) -> str:
    """The name of ``object_type`` in the page's words; the code itself when it has none."""
    return str(OBJECT_LABELS.get(object_type, object_type))


def _day(raw: str | None) -> date | None:
    """A ``YYYY-MM-DD`` day between 2000 and 2999; anything else is no day."""
    try:
        day = date.fromisoformat(raw) if raw else None
    except ValueError:
        return None
    return day if day and 2000 <= day.year <= 2999 else None


@dataclass(frozen=True)
class AuditFilters:
    """A search of the log: who (name or full phone), action, object type, Shanghai days."""

    q: str = ""
    action: str = ""
    object_type: str = ""
    first: date | None = None
    last: date | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> AuditFilters:
        """The filters from a query string; a malformed date is ignored."""
        return cls(
            q=(args.get("q") or "").strip()[:64],
            action=(args.get("action") or "").strip()[:64],
            object_type=(args.get("object_type") or "").strip()[:32],
            first=_day(args.get("first")),
            last=_day(args.get("last")),
        )

    def describe(self) -> str:
        """The filters in words, for the ledger and the export's audit line."""
        parts = []
        if self.q:
            parts.append(f"人员：{self.q}")
        if self.action:
            parts.append(f"操作：{action_label(self.action)}")
        if self.object_type:
            parts.append(f"对象：{object_label(self.object_type)}")
        return "；".join(parts) or "全部"

    def period(self) -> str:
        """The date range in words (``全部`` when open on both ends)."""
        if not self.first and not self.last:
            return f"截至 {today_label()}"
        return f"{self.first or '…'} 至 {self.last or today_label()}"


def list_query(f: AuditFilters) -> sa.Select:
    """The entries matching ``f``, newest first."""
    stmt = sa.select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if f.q:
        phone = normalize_phone(f.q)
        who = User.name.contains(f.q, autoescape=True)
        if phone:
            who = sa.or_(who, User.phone == phone)
        stmt = stmt.where(AuditEntry.user_id.in_(sa.select(User.id).where(who)))
    if f.action:
        stmt = stmt.where(AuditEntry.action == f.action)
    if f.object_type:
        stmt = stmt.where(AuditEntry.object_type == f.object_type)
    if f.first:
        stmt = stmt.where(AuditEntry.at >= days_bounds(f.first, f.first)[0])
    if f.last:
        stmt = stmt.where(AuditEntry.at < days_bounds(f.last, f.last)[1])
    return stmt


def users_of(entries: list[AuditEntry]) -> dict[int, User]:
    """The acting users of ``entries`` by id, in one query."""
    ids = {e.user_id for e in entries if e.user_id is not None}
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(ids)))}


def filter_options() -> dict[str, list[tuple[str, str]]]:
    """The actions and object types present in the log, for the search form's selects."""
    actions = db.session.scalars(sa.select(AuditEntry.action).distinct()).all()
    types = db.session.scalars(
        sa.select(AuditEntry.object_type).where(AuditEntry.object_type != "").distinct()
    ).all()
    return {
        "actions": sorted(((a, action_label(a)) for a in actions), key=lambda p: p[1]),
        "object_types": sorted(((t, object_label(t)) for t in types), key=lambda p: p[1]),
    }


HEADERS = ("时间", "操作", "操作代码", "操作人", "操作人手机号", "对象类型", "对象编号", "详情", "IP 地址")


def _row(entry: AuditEntry, users: dict[int, User]) -> tuple[object, ...]:
    user = users.get(entry.user_id) if entry.user_id is not None else None
    return (
        local_naive(entry.at).replace(microsecond=0),
        action_label(entry.action),
        entry.action,
        user.name if user else "",
        mask_phone(user.phone) if user else "",  # masked, as in every ledger
        object_label(entry.object_type),
        entry.object_id,
        entry.detail,
        entry.ip,
    )


def export_ledger(user: User, f: AuditFilters, ip: str = "") -> tuple[bytes, str]:
    """The entries matching ``f`` as an .xlsx ledger and its file name; the export is audited."""
    entries = list(db.session.scalars(list_query(f).limit(MAX_EXPORT_ROWS)))
    users: dict[int, User] = {}
    for start in range(0, len(entries), 5000):  # keep IN lists of a sane length
        users.update(users_of(entries[start : start + 5000]))
    district = db.session.scalar(sa.select(OrgNode.name).where(OrgNode.level == OrgLevel.DISTRICT).limit(1))
    title = "审计日志台账"
    data = build_workbook(
        title, district or "", f"{f.period()}；筛选：{f.describe()}", HEADERS,
        (_row(e, users) for e in entries),
    )
    audit(user.id, "audit.export", "audit_log", None, detail=f"{len(entries)} rows; {f.describe()}", ip=ip)
    return data, f"{title}-{today_label()}.xlsx"


def retention_days() -> int:
    """The configured retention (``AUDIT_RETENTION_DAYS``, default three years)."""
    return int(setting("AUDIT_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))  # type: ignore[call-overload]


def prune(days: int, dry_run: bool = False, now: datetime | None = None) -> int:
    """Delete the entries older than ``days`` (none with ``dry_run``) and return how many;
    the pruning is itself audited. A retention under six months is refused."""
    if days < MIN_RETENTION_DAYS:
        raise AuditLogError(
            _l("审计日志至少保留 %(min)d 天（6 个月），当前设置为 %(days)d 天。", min=MIN_RETENTION_DAYS, days=days)
        )
    cutoff = (now or utcnow()) - timedelta(days=days)
    old = AuditEntry.at < cutoff
    if dry_run:
        return db.session.scalar(sa.select(sa.func.count(AuditEntry.id)).where(old)) or 0
    count = db.session.execute(sa.delete(AuditEntry).where(old)).rowcount or 0
    audit(None, "audit.prune", "audit_log", None, detail=f"{count} entries older than {days} days")
    return count
