"""Ledgers for the lists that had none: the dispatch queue (with the overdue list) and the
nominations list. Each opened back with openpyxl: title, node, period, filters, headers, rows,
no formula cells; only admins in scope; audited."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import sqlalchemy as sa
from openpyxl import load_workbook

from app.clock import utcnow
from app.extensions import db
from app.models import AuditEntry, OwnerLevel
from tests.factories import login, make_need, make_need_world, make_nomination, make_personas


def _sheets(response) -> dict[str, list[tuple]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.status_code
    assert response.mimetype.endswith("spreadsheetml.sheet")
    wb = load_workbook(BytesIO(response.data))
    out = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
        out[ws.title] = [tuple(c for c in row) for row in ws.iter_rows(values_only=True)]
    return out


def test_the_dispatch_ledger_has_the_queue_and_the_overdue_list(app, client):
    w = make_need_world()
    held = make_need(None, text='=HYPERLINK("http://evil")', community=w.p.tree.community)
    assert held.owner_level in (OwnerLevel.COMMUNITY, OwnerLevel.TOWNSHIP)
    late = make_need(w.household, text="楼道灯坏了")
    late.accept_due_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    login(client, w.p.community_admin)
    sheets = _sheets(client.get("/needs/dispatch.xlsx"))
    queue, overdue = sheets["待调度诉求"], sheets["超时诉求"]
    assert queue[0][0] == "待调度诉求"
    assert queue[1][0] == "单位：龙山社区" and queue[1][3].startswith("筛选：")
    assert queue[2][:3] == ("编号", "类别", "内容")
    assert [r[0] for r in queue[3:]] == [held.code]
    assert queue[3][2] == "'=HYPERLINK(\"http://evil\")"  # stays text
    assert [r[0] for r in overdue[3:]] == [late.code]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                             .where(AuditEntry.object_type == "needs_dispatch")) == 1


def test_the_dispatch_ledger_is_for_admins_in_scope_only(app, client):
    w = make_need_world()
    make_need(None, community=w.p.tree.community)
    db.session.commit()
    login(client, w.p.other_community_admin)
    sheets = _sheets(client.get("/needs/dispatch.xlsx"))
    assert sheets["待调度诉求"][3:] == []
    client.post("/logout")
    for user in (w.p.member, w.p.station_admin, w.p.resident):
        login(client, user)
        assert client.get("/needs/dispatch.xlsx").status_code == 403
        client.post("/logout")
    assert client.get("/needs/dispatch.xlsx").status_code in (302, 303)


def test_the_nominations_ledger_follows_the_status_filter(app, client):
    p = make_personas()
    nom = make_nomination(p.member)
    db.session.commit()
    login(client, p.community_admin)
    rows = _sheets(client.get("/nominations/export.xlsx?status=open"))["中心户建户提名台账"]
    assert rows[1][3] == "筛选：状态：办理中"
    assert rows[2][0] == "候选人"
    assert [r[0] for r in rows[3:]] == [p.member.name]
    rows = _sheets(client.get("/nominations/export.xlsx?status=established"))["中心户建户提名台账"]
    assert rows[3:] == []
    client.post("/logout")
    login(client, p.other_community_admin)
    rows = _sheets(client.get("/nominations/export.xlsx?status=all"))["中心户建户提名台账"]
    assert rows[3:] == [] and nom.id
    client.post("/logout")
    login(client, p.member)
    assert client.get("/nominations/export.xlsx").status_code == 403
