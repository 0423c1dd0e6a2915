"""The audit log read back (issue 12, residents' rights, admin side): the district admin's search
page and export, who else is refused, and `flask prune-audit`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from app.clock import days_bounds, local_naive
from app.extensions import db
from app.models import AuditEntry
from app.phones import mask_phone
from app.services import audit_log
from tests.factories import make_personas, make_user
from tests.helpers import login, queries_for


def entry(action: str, user=None, at: datetime | None = None, **kw: object) -> AuditEntry:  # type: ignore[no-untyped-def]
    e = AuditEntry(action=action, user_id=user.id if user else None, at=at or datetime.now(UTC), **kw)
    db.session.add(e)
    db.session.commit()
    return e


@pytest.fixture
def world(app):  # type: ignore[no-untyped-def]
    p = make_personas()
    entry("phone.reveal", p.community_admin, object_type="member", object_id=7, ip="10.0.0.1")
    entry("export", p.district_admin, object_type="members", detail="12 rows; {}")
    entry("login.failed", None, object_type="user", object_id=p.member.user_id, detail="139****0000")
    entry("password.initial", p.community_admin, object_type="user", object_id=3,
          at=datetime(2020, 3, 1, 2, 0, tzinfo=UTC))
    return p


def _db_ids(f: audit_log.AuditFilters) -> list[int]:
    return [e.id for e in db.session.scalars(audit_log.list_query(f))]


def test_the_district_admin_sees_every_entry_newest_first(client, world):
    login(client, world.district_admin)
    response = client.get("/audit/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for label in ("查看完整手机号", "导出台账", "登录失败", "设置初始密码"):
        assert label in html
    assert "共 4 条记录" in html
    assert html.index("phone.reveal") < html.index("password.initial")  # the March entry is last
    # the nav shows the entry to the district admin
    assert 'href="/audit/"' in html


def test_filters_by_action_person_and_date_match_the_database(client, world):
    login(client, world.district_admin)
    # action
    html = client.get("/audit/?action=login.failed").get_data(as_text=True)
    expected = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "login.failed")).all()
    assert len(expected) == 1 and "共 1 条记录" in html and "139****0000" in html
    assert _db_ids(audit_log.AuditFilters(action="login.failed")) == [expected[0].id]
    # person by name, and by full phone
    admin = world.community_admin
    mine = db.session.scalars(sa.select(AuditEntry.id).where(AuditEntry.user_id == admin.id)).all()
    for q in ("社区管理员", admin.phone):
        html = client.get("/audit/", query_string={"q": q}).get_data(as_text=True)
        assert f"共 {len(mine)} 条记录" in html
        assert sorted(_db_ids(audit_log.AuditFilters(q=q))) == sorted(mine)
    assert "共 0 条记录" in client.get("/audit/", query_string={"q": admin.phone[:7]}).get_data(as_text=True)
    # Shanghai days: 2020-03-01 02:00 UTC is 10:00 on 1 March in Shanghai
    html = client.get("/audit/?first=2020-03-01&last=2020-03-01").get_data(as_text=True)
    start, end = days_bounds(datetime(2020, 3, 1).date(), datetime(2020, 3, 1).date())
    in_day = db.session.scalars(
        sa.select(AuditEntry.id).where(AuditEntry.at >= start, AuditEntry.at < end)).all()
    assert len(in_day) == 1 and "共 1 条记录" in html and "password.initial" in html
    assert "共 3 条记录" in client.get("/audit/?first=2020-03-02").get_data(as_text=True)
    # 2020-02-29 16:30 UTC is already 1 March in Shanghai (00:30)
    edge = entry("login.locked", at=datetime(2020, 2, 29, 16, 30, tzinfo=UTC)).id
    assert "共 2 条记录" in client.get("/audit/?first=2020-03-01&last=2020-03-01").get_data(as_text=True)
    assert "共 0 条记录" in client.get("/audit/?last=2020-02-29").get_data(as_text=True)
    assert edge in _db_ids(audit_log.AuditFilters(first=datetime(2020, 3, 1).date()))
    # a malformed date is ignored, never a 500
    assert client.get("/audit/?first=9999-12-31&last=nope").status_code == 200


def test_the_action_select_lists_the_actions_present_in_chinese(client, world):
    login(client, world.district_admin)
    html = client.get("/audit/").get_data(as_text=True)
    assert '<option value="login.failed" >登录失败</option>' in html
    assert 'value="login.locked"' not in html  # none yet
    assert '<option value="member" >党员</option>' in html
    html = client.get("/audit/?object_type=member").get_data(as_text=True)
    assert "共 1 条记录" in html and "党员 #7" in html


def test_an_htmx_search_answers_the_table_alone(client, world):
    login(client, world.district_admin)
    response = client.get("/audit/?action=export", headers={"HX-Request": "true", "HX-Target": "audit-table"})
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="audit-table"') and "<html" not in html


@pytest.mark.parametrize("who", ["community_admin", "other_community_admin", "station_admin", "nobody"])
def test_other_users_are_refused(client, world, who):
    user = getattr(world, who)
    login(client, user)
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/export.xlsx").status_code == 403
    assert 'href="/audit/"' not in client.get("/").get_data(as_text=True)


def test_a_township_admin_member_and_resident_are_refused(client, world):
    from tests.factories import make_admin, user_of

    for user in (make_admin(world.tree.township, name="镇管理员"), user_of(world.member), world.resident):
        login(client, user)
        assert client.get("/audit/").status_code == 403, user.name
        assert client.get("/audit/export.xlsx").status_code == 403, user.name
        client.post("/logout")


def test_anonymous_visitors_are_sent_to_login(client, world):
    for url in ("/audit/", "/audit/export.xlsx"):
        response = client.get(url)
        assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_the_export_is_a_safe_ledger_and_is_audited(client, world):
    entry("station.admin_add", world.district_admin, object_type="station", object_id=1,
          detail="=HYPERLINK(\"http://evil\")", ip="10.0.0.9")
    login(client, world.district_admin)
    response = client.get("/audit/export.xlsx?action=station.admin_add")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    ws = load_workbook(BytesIO(response.data)).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0][0] == "审计日志台账"
    assert rows[1][0] == "单位：宜秀区" and "操作：添加驿站管理员" in rows[1][1]
    assert rows[2] == list(audit_log.HEADERS)
    assert len(rows) == 4
    e = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "station.admin_add"))
    assert rows[3] == [local_naive(e.at).replace(microsecond=0), "添加驿站管理员", "station.admin_add",
                       "区管理员", mask_phone(world.district_admin.phone), "驿站", 1,
                       "'=HYPERLINK(\"http://evil\")", "10.0.0.9"]
    for row in ws.iter_rows():
        for cell in row:
            assert cell.data_type != "f"
    logged = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "audit.export"))
    assert logged.user_id == world.district_admin.id and logged.detail.startswith("1 rows")


def test_the_list_runs_a_fixed_number_of_queries(client, world):
    login(client, world.district_admin)
    few = queries_for(client, "/audit/")
    users = [make_user(name=f"用户{i}") for i in range(15)]
    for u in users:
        entry("phone.reveal", u, object_type="member", object_id=u.id)
    assert queries_for(client, "/audit/") == few


# --- pruning ---------------------------------------------------------------------------------


def _exists(entry_id: int) -> bool:
    db.session.rollback()  # end the test's read transaction: see what the command committed
    return db.session.scalar(sa.select(sa.func.count(AuditEntry.id)).where(AuditEntry.id == entry_id)) == 1


def _old_and_new(app):  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    old = entry("login.failed", at=now - timedelta(days=3 * 365 + 5)).id
    recent = entry("login.failed", at=now - timedelta(days=3 * 365 - 5)).id
    return old, recent


def test_prune_deletes_old_entries_keeps_recent_ones_and_is_audited(app, runner):
    old, recent = _old_and_new(app)
    result = runner.invoke(args=["prune-audit"])
    assert result.exit_code == 0, result.output
    assert "1 条" in result.output
    assert not _exists(old)
    assert _exists(recent)
    pruned = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "audit.prune"))
    assert pruned.detail.startswith("1 entries")


def test_prune_dry_run_deletes_nothing(app, runner):
    old, recent = _old_and_new(app)
    result = runner.invoke(args=["prune-audit", "--dry-run"])
    assert result.exit_code == 0 and "1 条" in result.output
    assert _exists(old)
    assert not db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "audit.prune"))


def test_prune_refuses_a_retention_under_six_months(app, runner):
    old, _ = _old_and_new(app)
    result = runner.invoke(args=["prune-audit", "--days", "182"])
    assert result.exit_code != 0 and "183" in result.output
    app.config["AUDIT_RETENTION_DAYS"] = 30
    result = runner.invoke(args=["prune-audit"])
    assert result.exit_code != 0 and "183" in result.output
    assert _exists(old)
    with pytest.raises(audit_log.AuditLogError):
        audit_log.prune(100)


def test_prune_follows_the_configured_retention(app, runner):
    now = datetime.now(UTC)
    entry("export", at=now - timedelta(days=200))
    kept = entry("export", at=now - timedelta(days=180)).id
    app.config["AUDIT_RETENTION_DAYS"] = 190
    result = runner.invoke(args=["prune-audit"])
    assert result.exit_code == 0 and "190 天前" in result.output and "1 条" in result.output, result.output
    assert _exists(kept)
    assert db.session.scalars(sa.select(AuditEntry.id).where(AuditEntry.action == "export")).all() == [kept]
