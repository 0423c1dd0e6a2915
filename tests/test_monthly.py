"""The monthly ledger: one sheet per area, opened back and checked cell by cell against counts
made here; from the page (scoped, audited) and from the flask command (for cron)."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

import time_machine
from openpyxl import load_workbook

from app.extensions import db
from tests.factories import (
    login,
    make_activity,
    make_checkin,
    make_need,
    make_resident,
    make_station,
    make_world,
)

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)


def _book(data: bytes) -> dict[str, list[tuple]]:
    wb = load_workbook(BytesIO(data))
    for ws in wb.worksheets:
        assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in wb.worksheets}


def _world():  # type: ignore[no-untyped-def]
    w = make_world()
    evil = make_station(w.p.tree.community, name="=HYPERLINK(1)")
    make_checkin(w.member, w.p.station, datetime(2026, 10, 8, 2, tzinfo=UTC))
    make_checkin(w.member, w.p.station, datetime(2026, 10, 9, 2, tzinfo=UTC))
    make_checkin(w.fellow, evil, datetime(2026, 10, 9, 2, tzinfo=UTC))
    make_checkin(w.fellow, evil, datetime(2026, 11, 2, 2, tzinfo=UTC))  # November: not counted
    make_activity(w.member, kind="mediation", started_at=datetime(2026, 10, 3, 2, tzinfo=UTC))
    make_activity(w.fellow, kind="visit", started_at=datetime(2026, 10, 4, 2, tzinfo=UTC))
    make_activity(w.fellow, kind="visit", started_at=datetime(2026, 10, 31, 17, tzinfo=UTC))  # Nov 1 local
    make_resident(w.p.tree.grid, member=None, head_name="无人联系")
    with time_machine.travel(datetime(2026, 10, 12, 2, tzinfo=UTC), tick=False):
        make_need(w.r1)
    db.session.commit()
    return w


def test_the_months_ledger_has_a_sheet_per_area_with_its_totals(app, client):
    with time_machine.travel(NOW, tick=False):
        w = _world()
        login(client, w.p.community_admin)
        response = client.get("/overview/monthly.xlsx?month=2026-10")
        assert response.status_code == 200
        book = _book(response.data)
    assert list(book)[:4] == ["组织架构与1+10+15", "驿站签到", "服务活动", "诉求与三率"]
    structure = book["组织架构与1+10+15"]
    assert structure[1][0] == "单位：龙山社区"
    total = structure[-1]
    assert total[0] == "合计" and total[6:8] == (4, 1)  # four households in the community, one uncovered
    checkins = {r[1]: r[2:] for r in book["驿站签到"][3:]}
    assert checkins["龙山党群驿站"] == (2, 1)
    assert checkins["'=HYPERLINK(1)"] == (1, 1)  # formula-safe, and November's check-in left out
    activities = book["服务活动"]
    headers = activities[2]
    total = dict(zip(headers, activities[-1], strict=True))
    assert total["矛盾调解"] == 1 and total["走访"] == 1 and total["合计"] == 2
    needs_rows = book["诉求与三率"]
    assert needs_rows[-1][0] == "合计" and needs_rows[-1][1] == 1


def test_another_nodes_ledger_is_not_reachable(app, client):
    w = make_world()
    login(client, w.p.other_community_admin)
    assert client.get(f"/overview/monthly.xlsx?node={w.p.tree.community.id}").status_code == 404
    assert client.get("/overview/monthly.xlsx?month=bad").status_code == 200
    client.post("/logout")
    login(client, w.member.user)
    assert client.get("/overview/monthly.xlsx").status_code == 403


def test_the_command_writes_the_ledger_for_cron(app, tmp_path):
    with time_machine.travel(NOW, tick=False):
        w = _world()
        out = tmp_path / "ledger.xlsx"
        runner = app.test_cli_runner()
        result = runner.invoke(args=["monthly-ledger", "--node", str(w.p.tree.community.id),
                                     "--month", "2026-10", "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert _book(out.read_bytes())["驿站签到"][1][1] == "期间：2026-10-01 至 2026-10-31"
        assert runner.invoke(args=["monthly-ledger", "--node", "999999"]).exit_code != 0
        assert runner.invoke(args=["monthly-ledger", "--node", "1", "--month", "13-2026"]).exit_code != 0
