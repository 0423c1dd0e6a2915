"""The central households list's ledger (.xlsx): opened back with openpyxl and checked cell by
cell — title, node, date, the status filter, Chinese headers, each household's row against what
was made here, no formula cells; each admin gets their own node's households only; audited."""

from __future__ import annotations

from datetime import UTC, date, datetime
from io import BytesIO

import sqlalchemy as sa
import time_machine
from openpyxl import load_workbook

from app.extensions import db
from app.models import AuditEntry, Duty, HouseholdDuty, HouseholdStatus, ModelTitle
from tests.factories import login, make_household, make_member, make_personas, user_of

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
HEADERS = ("编号", "户主", "村/社区", "网格", "地址", "联系党员", "不少于10名", "类型", "职责", "帮带书记",
           "示范年度", "状态", "建户日期")


def _rows(response) -> list[tuple]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.status_code
    assert response.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(BytesIO(response.data)).active
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    return list(ws.iter_rows(values_only=True))


def _world():  # type: ignore[no-untyped-def]
    p = make_personas()
    h1 = p.member.central_household  # 王户长's, 李党员 linked
    h1.established_on = date(2024, 5, 1)
    for i in range(10):
        make_member(p.tree.grid, name=f"联系党员{i}", household=h1)
    secretary = make_member(p.tree.grid, name="书记甲")
    secretary.is_secretary = True
    h1.mentor_id = secretary.id
    db.session.add(HouseholdDuty(household_id=h1.id, duty=Duty.MEDIATION))
    db.session.add(ModelTitle(household_id=h1.id, year=2025))
    h2 = make_household(p.tree.grid_b, make_member(p.tree.grid_b, name="=HYPERLINK(\"x\")"), number="LS-002",
                        address="@SUM(1)")
    h2.status = HouseholdStatus.REVOKED
    h3 = make_household(p.tree.grid2, make_member(p.tree.grid2, name="杨户长"), number="YQ-001")
    db.session.commit()
    return p, h1, h2, h3


def test_the_households_ledger_has_node_date_filter_headers_and_each_households_row(app, client):
    with time_machine.travel(NOW, tick=False):
        p, h1, h2, _h3 = _world()
        login(client, p.community_admin)
        page = client.get("/households/").get_data(as_text=True)
        assert 'href="/households/export.xlsx"' in page
        rows = _rows(client.get("/households/export.xlsx"))
    assert rows[0][0] == "党员中心户台账"
    assert rows[1][:4] == ("单位：龙山社区", "期间：截至 2026-11-18", "导出日期：2026-11-18", "筛选：状态：全部")
    assert rows[2] == HEADERS
    assert rows[3:] == [
        (h1.number, "王户长", "龙山社区", "第一网格", "龙山路1号", 11, "是", None, "矛盾调解员", "书记甲", "2025",
         "已创建", datetime(2024, 5, 1)),
        ("LS-002", "'=HYPERLINK(\"x\")", "龙山社区", "第二网格", "'@SUM(1)", 0, "—", None, None, None, None,
         "已撤销", None),
    ]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "export", AuditEntry.object_type == "households")) == 1


def test_the_ledger_follows_the_status_filter_and_each_admins_scope(app, client):
    with time_machine.travel(NOW, tick=False):
        p, h1, _h2, h3 = _world()
        login(client, p.community_admin)
        rows = _rows(client.get("/households/export.xlsx?status=revoked"))
        assert rows[1][3] == "筛选：状态：已撤销" and [r[0] for r in rows[3:]] == ["LS-002"]
        rows = _rows(client.get("/households/export.xlsx?status=established"))
        assert rows[1][3] == "筛选：状态：已创建" and [r[0] for r in rows[3:]] == [h1.number]
        rows = _rows(client.get("/households/export.xlsx?status=%3D1%2B1"))  # an unknown status: all
        assert rows[1][3] == "筛选：状态：全部" and len(rows[3:]) == 2
        client.post("/logout")
        login(client, p.other_community_admin)
        rows = _rows(client.get("/households/export.xlsx"))
        assert rows[1][0] == "单位：杨桥社区" and [r[0] for r in rows[3:]] == [h3.number]
        client.post("/logout")
        login(client, p.district_admin)
        rows = _rows(client.get("/households/export.xlsx"))
        assert rows[1][0] == "单位：宜秀区" and {r[0] for r in rows[3:]} == {h1.number, "LS-002", h3.number}
        client.post("/logout")
        for user in (user_of(p.member), p.station_admin, p.resident, p.nobody):
            login(client, user)
            assert client.get("/households/export.xlsx").status_code == 403
            client.post("/logout")
        assert client.get("/households/export.xlsx").status_code in (302, 303)
