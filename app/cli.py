"""``flask`` commands: kebab-case, their docstring is their help."""

from __future__ import annotations

import shutil
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app

from app.database import writing
from app.extensions import db
from app.models import OrgLevel, OrgNode, Role, RoleAssignment, User
from app.phones import normalize_phone
from app.services.passwords import MIN_LENGTH, hash_password


def init_app(app: Flask) -> None:
    for command in (create_admin, demo_district, backup, escalate_needs, prune_audit,
                    recount_counters, monthly_ledger, points_group):
        app.cli.add_command(command)


@click.command("create-admin")
@click.option("--phone", prompt="手机号", help="The admin's mainland mobile number (login).")
@click.option("--name", prompt="姓名", help="The admin's name.")
@click.option("--district", default=None, help="District name; created when the database has none.")
@click.password_option("--password", prompt="密码", help=f"At least {MIN_LENGTH} characters.")
def create_admin(phone: str, name: str, district: str | None, password: str) -> None:
    """Create the first district admin (and the district node if there is none yet)."""
    number = normalize_phone(phone)
    if number is None:
        raise click.BadParameter("不是有效的手机号", param_hint="--phone")
    if len(password) < MIN_LENGTH:
        raise click.BadParameter(f"密码至少 {MIN_LENGTH} 位", param_hint="--password")
    with writing():
        root = db.session.scalar(sa.select(OrgNode).where(OrgNode.level == OrgLevel.DISTRICT))
        if root is None:
            if not district:
                raise click.UsageError("数据库中还没有区，请用 --district 给出区的名称")
            root = OrgNode(name=district, level=OrgLevel.DISTRICT)
            db.session.add(root)
            db.session.flush()
            root.path = f"{root.id}/"
        user = db.session.scalar(sa.select(User).where(User.phone == number))
        if user is None:
            user = User(phone=number, name=name)
            db.session.add(user)
        user.password_hash = hash_password(password)
        user.end_sessions()
        db.session.flush()
        if not any(r.role is Role.ORG_ADMIN and r.org_node_id == root.id for r in user.roles):
            db.session.add(RoleAssignment(user=user, role=Role.ORG_ADMIN, org_node_id=root.id))
        db.session.commit()
    click.echo(f"已创建区管理员 {name}（{number}），管辖：{root.name}")


@click.command("demo-district")
@click.option("--scale", default=1.0, show_default=True, type=float, help="0.05 for tests, 10 for city scale.")
@click.option("--seed", default=2024, show_default=True, type=int, help="Same seed, same district.")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has data.")
def demo_district(scale: float, seed: int, if_empty: bool) -> None:
    """Generate a realistic demo district (Yixiu-like) with demo accounts for every role."""
    from app.demo import district

    if if_empty and db.session.scalar(sa.select(sa.func.count(OrgNode.id))):
        click.echo("数据库已有数据，跳过演示数据生成。")
        return
    started = time.perf_counter()
    with writing():
        try:
            stats = district.generate(seed=seed, scale=scale)
        except district.DemoError as error:
            raise click.ClickException(str(error)) from error
    elapsed = time.perf_counter() - started
    click.echo(f"演示区已生成（{elapsed:.1f} 秒）：")
    for key, value in stats.items():
        click.echo(f"  {key}: {value}")


@click.command("backup")
@click.option("--to", "target", type=click.Path(path_type=Path), default=None, help="Backup file.")
def backup(target: Path | None) -> None:
    """Copy the SQLite database consistently while the app runs (SQLite's online backup)."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite":
        raise click.UsageError("PostgreSQL 请使用 pg_dump 备份")
    source = Path(url.database or "")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = target or Path(current_app.instance_path) / "backups" / f"dangyuan-{stamp}.sqlite"
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    shutil.copymode(source, target) if source.exists() else None
    click.echo(f"已备份到 {target}")


@click.command("escalate-needs")
def escalate_needs() -> None:
    """Escalate needs past their SLA one level up (run from cron, e.g. every 10 minutes).

    Idempotent: each breach restarts the deadline for the new owner, so a second run at the same
    moment changes nothing."""
    from app.services import needs

    with writing():
        count = needs.escalate_overdue()
        db.session.commit()
    click.echo(f"已上报超时诉求：{count} 件")


@click.command("prune-audit")
@click.option("--days", type=int, default=None,
              help="Retention in days (default: AUDIT_RETENTION_DAYS, 3 years); at least 183.")
@click.option("--dry-run", is_flag=True, help="Only count the entries that would be deleted.")
def prune_audit(days: int | None, dry_run: bool) -> None:
    """Delete audit log entries older than the retention (run from cron, e.g. daily).

    The retention is AUDIT_RETENTION_DAYS (default 3 × 365 days); under 183 days (6 months, PIPL /
    GB/T 35273) it is refused. The pruning is itself audited ("audit.prune")."""
    from app.services import audit_log

    retention = days if days is not None else audit_log.retention_days()
    if retention < audit_log.MIN_RETENTION_DAYS:
        raise click.UsageError(
            f"审计日志至少保留 {audit_log.MIN_RETENTION_DAYS} 天（6 个月），当前设置为 {retention} 天"
        )
    if dry_run:
        click.echo(f"将删除 {retention} 天前的审计日志：{audit_log.prune(retention, dry_run=True)} 条（未删除）")
        return
    with writing():
        count = audit_log.prune(retention)
        db.session.commit()
    click.echo(f"已删除 {retention} 天前的审计日志：{count} 条")


@click.command("recount-counters")
@click.option("--repair", is_flag=True, help="Rebuild every counter from the source rows.")
def recount_counters(repair: bool) -> None:
    """Compare the maintained 1+10+15 counters with a recount from the source rows and report
    every difference (exit status 1 when there is one); ``--repair`` rebuilds them."""
    from app.services import counters

    with writing():
        conn = db.session.connection()
        found = counters.check(conn)
        for d in found[:200]:
            click.echo(f"{d.counter} #{d.key} {d.figure}: 记录 {d.stored}，实数 {d.counted}")
        if len(found) > 200:
            click.echo(f"……共 {len(found)} 处不一致")
        if repair and found:
            counters.recount_all(conn)
            db.session.commit()
            click.echo(f"已按实际数据重建计数（{len(found)} 处不一致已修正）")
            return
        db.session.rollback()
    if found:
        raise SystemExit(1)
    click.echo("计数与实际数据一致")


@click.command("monthly-ledger")
@click.option("--node", "node_id", type=int, required=True, help="The org node's id.")
@click.option("--month", default=None, help="YYYY-MM (default: last month).")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Output .xlsx file.")
def monthly_ledger(node_id: int, month: str | None, out: Path | None) -> None:
    """Write a node's monthly ledger (.xlsx, one sheet per area) — for cron, to send upward."""
    from app.clock import local_today
    from app.services import monthly

    node = db.session.get(OrgNode, node_id)
    if node is None:
        raise click.UsageError(f"没有编号为 {node_id} 的组织")
    today = local_today()
    if month is None:
        last = today.replace(day=1) - timedelta(days=1)
        year, mon = last.year, last.month
    else:
        try:
            year, mon = (int(p) for p in month.split("-"))
            datetime(year, mon, 1)
        except ValueError as error:
            raise click.UsageError("月份格式应为 YYYY-MM") from error
    target = out or Path(f"monthly-{node.id}-{year}-{mon:02d}.xlsx")
    target.write_bytes(monthly.build(node, year, mon))
    click.echo(f"已写出 {node.name} {year}年{mon}月台账：{target}")


@click.group("points")
def points_group() -> None:
    """The points ledger (党员积分制)."""


@points_group.command("recompute")
@click.option("--from", "first", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day (YYYY-MM-DD).")
@click.option("--to", "last", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day (YYYY-MM-DD).")
@click.option("--node", "node_id", type=int, default=None, help="Only the members under this org node.")
@click.option("--apply-missing", is_flag=True, help="Write the missing entries (through the award path).")
def points_recompute(first: datetime, last: datetime, node_id: int | None, apply_missing: bool) -> None:
    """Recompute the days --from to --to from the source records and report every difference
    from the ledger: entries missing, extra, or with other points. Exit code 1 when there is any.

    The ledger is never edited silently: only --apply-missing writes, and only the missing
    entries (idempotent); extra and different ones are reported for an admin to correct."""
    from app.services.points import recompute

    if last < first:
        raise click.BadParameter("截止日期不能早于起始日期", param_hint="--to")
    node = db.session.get(OrgNode, node_id) if node_id is not None else None
    if node_id is not None and node is None:
        raise click.BadParameter(f"没有编号为 {node_id} 的组织", param_hint="--node")
    report = recompute.compare(first.date(), last.date(), node)
    db.session.commit()  # the comparison only reads: the write lock is taken for the writing alone
    written = 0
    if apply_missing:
        with writing():
            written = recompute.apply_missing(report)
            db.session.commit()
    click.echo(f"积分核对 {report.first} 至 {report.last}"
               f"{'（' + node.name + '）' if node else ''}：应有 {report.checked} 条，台账 {report.entries} 条")
    for d in report.differences:
        code, source_type, source_id, member_id = d.key
        mark = "（已补记）" if d.applied else ""
        click.echo(f"  {LABELS[d.kind]}{mark} {d.day} 党员#{member_id} {code.label} "
                   f"{source_type}#{source_id} 应计 {d.expected:+d} 台账 {d.ledger:+d}")
    if apply_missing:
        click.echo(f"已补记 {written} 条。")
    if not report.clean:
        click.echo("有差异：多出或分值不同的记录请管理员核实后在“积分”页面更正。")
        raise SystemExit(1)
    click.echo("没有差异。")


LABELS = {"missing": "缺少", "extra": "多出", "different": "分值不同", "corrected": "已人工更正"}
