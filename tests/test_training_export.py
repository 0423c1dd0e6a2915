"""The training sessions list's ledger (.xlsx): opened back with openpyxl and checked cell by cell
— title, the admin's node, the period and filters asked for, Chinese headers, each session's row,
no formula cells; each admin (and station admin) gets the sessions of their own reach; audited."""

from __future__ import annotations

import io
from datetime import datetime

import sqlalchemy as sa
import time_machine
from openpyxl import load_workbook

from app.extensions import db
from app.models import AuditEntry
from app.services import training as svc
from tests.factories import login, make_checkin, make_personas, user_of
from tests.test_training import local, offline, online

NOW = local(2025, 4, 1, 8)
LATER = local(2025, 4, 20, 10)
HEADERS = ("开始时间", "结束时间", "主题", "类型", "方式", "地点", "面向组织", "学时", "实参训", "应参训", "状态")


def _rows(response) -> list[tuple]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.status_code
    assert response.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(response.data)).active
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    return list(ws.iter_rows(values_only=True))


def _world():  # type: ignore[no-untyped-def]
    p = make_personas()
    with time_machine.travel(NOW, tick=False):
        off = svc.plan_session(p.community_admin, offline(p.tree.community.id, p.station.id), None, NOW)
        on = svc.plan_session(p.community_admin, online(p.tree.community.id, title="=HYPERLINK(1)"), None, NOW)
        far = svc.plan_session(p.other_community_admin, online(p.tree.community2.id, title="杨桥微党课"), None, NOW)
    db.session.commit()
    make_checkin(p.member, p.station, local(2025, 4, 8, 9, 40), event=off.station_event)
    return p, off, on, far


def test_the_sessions_ledger_has_node_period_filters_headers_and_each_sessions_row(app, client):
    p, off, on, _far = _world()
    with time_machine.travel(LATER, tick=False):
        login(client, p.community_admin)
        page = client.get("/training/?kind=concentrated").get_data(as_text=True)
        assert 'href="/training/sessions.xlsx?kind=concentrated"' in page
        rows = _rows(client.get("/training/sessions.xlsx"))
        assert rows[0][0] == "培训台账"
        assert rows[1][:4] == ("单位：龙山社区", "期间：全部日期", "导出日期：2025-04-20",
                               "筛选：类型：全部类型；方式：全部方式")
        assert rows[2] == HEADERS
        expected = 2  # 龙山社区's active members: 李党员 and 王户长 (the household's head)
        assert rows[3:] == [
            (datetime(2025, 4, 8, 9, 30), datetime(2025, 4, 8, 11, 30), "四月集中学习", "集中学习", "线下（驿站）",
             "龙山党群驿站", "龙山社区", 2, 1, expected, "已结束"),
            (datetime(2025, 4, 2, 0, 0), datetime(2025, 4, 30, 23, 59), "'=HYPERLINK(1)", "微党课", "线上",
             "线上", "龙山社区", 0.75, 0, expected, "进行中"),
        ]
        filtered = _rows(client.get("/training/sessions.xlsx?date_from=2025-04-05&date_to=2025-04-30"
                                    "&kind=concentrated&mode=offline"))
        assert filtered[1][1] == "期间：2025-04-05 至 2025-04-30"
        assert filtered[1][3] == "筛选：类型：集中学习；方式：线下（驿站）"
        assert [r[2] for r in filtered[3:]] == ["四月集中学习"]
        bad = _rows(client.get("/training/sessions.xlsx?date_from=nope&kind=%3D1"))  # left out, as the list does
        assert bad[1][1] == "期间：全部日期" and len(bad[3:]) == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.object_type == "training_sessions")) == 3
    assert off.id and on.id


def test_each_admin_exports_the_sessions_of_their_own_reach(app, client):
    p, _off, _on, _far = _world()
    with time_machine.travel(LATER, tick=False):
        login(client, p.other_community_admin)
        rows = _rows(client.get("/training/sessions.xlsx"))
        assert rows[1][0] == "单位：杨桥社区" and [r[2] for r in rows[3:]] == ["杨桥微党课"]
        client.post("/logout")
        login(client, p.station_admin)  # the sessions held at their station
        rows = _rows(client.get("/training/sessions.xlsx"))
        assert rows[1][0] == "单位：龙山党群驿站" and [r[2] for r in rows[3:]] == ["四月集中学习"]
        client.post("/logout")
        login(client, p.district_admin)
        rows = _rows(client.get("/training/sessions.xlsx"))
        assert len(rows[3:]) == 3
        client.post("/logout")
        for user in (user_of(p.member), p.resident, p.nobody):
            login(client, user)
            assert client.get("/training/sessions.xlsx").status_code == 403
            client.post("/logout")
        assert client.get("/training/sessions.xlsx").status_code in (302, 303)


# --- the participation list (参训名单) and its ledger --------------------------------------------

PARTICIPATION_HEADERS = ("开始时间", "培训", "类型", "方式", "面向组织", "姓名", "网格", "签到/完成时间", "学时")


def _participations_world():  # type: ignore[no-untyped-def]
    """The sessions of ``_world`` with, besides 李党员's check-in at the offline one, 王户长's
    completion of the online one and 周党员's of 杨桥's."""
    p, off, on, far = _world()
    head = p.member.central_household.head
    svc.complete(on, head, "=1+1", local(2025, 4, 10, 20, 15))
    svc.complete(far, p.other_member, "", local(2025, 4, 11, 9))
    db.session.commit()
    return p, off, on, far


def test_the_participation_list_has_one_line_per_session_and_member_and_its_total(app, client):
    p, off, on, _far = _participations_world()
    with time_machine.travel(LATER, tick=False):
        login(client, p.community_admin)
        page = client.get("/training/participations").get_data(as_text=True)
        assert page.count('<tr class="participation-row">') == 2
        assert "共 2 人次，合计 2.75 学时" in page
        listed = page.split('id="participation-list"', 1)[1]
        assert listed.index("李党员") < listed.index("王户长")  # newest session first
        assert 'href="/training/participations.xlsx"' in page
        page = client.get("/training/participations?mode=offline").get_data(as_text=True)
        assert page.count('<tr class="participation-row">') == 1 and "共 1 人次，合计 2 学时" in page
        assert client.get("/training/participations?date_from=2025-04-09&date_to=2025-04-01").status_code == 422
        sessions = client.get("/training/?kind=micro_lesson").get_data(as_text=True)
        assert 'href="/training/participations?kind=micro_lesson"' in sessions
    assert off.id and on.id


def test_the_participation_ledger_has_node_period_filters_headers_and_each_line(app, client):
    p, _off, _on, _far = _participations_world()
    with time_machine.travel(LATER, tick=False):
        login(client, p.community_admin)
        rows = _rows(client.get("/training/participations.xlsx?date_from=2025-04-01&date_to=2025-04-30"))
        assert rows[0][0] == "参训台账"
        assert rows[1][:4] == ("单位：龙山社区", "期间：2025-04-01 至 2025-04-30", "导出日期：2025-04-20",
                               "筛选：类型：全部类型；方式：全部方式")
        assert rows[2] == PARTICIPATION_HEADERS
        assert rows[3:] == [
            (datetime(2025, 4, 8, 9, 30), "四月集中学习", "集中学习", "线下（驿站）", "龙山社区", "李党员", "第一网格",
             datetime(2025, 4, 8, 9, 40), 2),
            (datetime(2025, 4, 2, 0, 0), "'=HYPERLINK(1)", "微党课", "线上", "龙山社区", "王户长", "第一网格",
             datetime(2025, 4, 10, 20, 15), 0.75),
        ]
        rows = _rows(client.get("/training/participations.xlsx?kind=micro_lesson&state=ended"))
        assert rows[1][1] == "期间：全部日期" and rows[1][3] == "筛选：类型：微党课；方式：全部方式；状态：已结束"
        assert rows[3:] == []  # the online session is still open
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.object_type == "training_participations")) == 2


def test_each_admin_exports_the_participations_of_their_own_reach(app, client):
    p, _off, _on, _far = _participations_world()
    with time_machine.travel(LATER, tick=False):
        login(client, p.other_community_admin)
        rows = _rows(client.get("/training/participations.xlsx"))
        assert rows[1][0] == "单位：杨桥社区" and [(r[1], r[5]) for r in rows[3:]] == [("杨桥微党课", "周党员")]
        client.post("/logout")
        login(client, p.station_admin)  # the sessions held at their station
        rows = _rows(client.get("/training/participations.xlsx"))
        assert rows[1][0] == "单位：龙山党群驿站" and [(r[1], r[5]) for r in rows[3:]] == [("四月集中学习", "李党员")]
        client.post("/logout")
        login(client, p.district_admin)
        assert len(_rows(client.get("/training/participations.xlsx"))[3:]) == 3
        client.post("/logout")
        for user in (user_of(p.member), p.resident, p.nobody):
            login(client, user)
            assert client.get("/training/participations.xlsx").status_code == 403
            assert client.get("/training/participations").status_code == 403
            client.post("/logout")
        assert client.get("/training/participations.xlsx").status_code in (302, 303)
        assert client.get("/training/participations").status_code in (302, 303)


def test_the_sessions_list_filters_by_state(app, client):
    p, off, on, _far = _world()
    with time_machine.travel(NOW, tick=False):
        soon = svc.plan_session(p.community_admin, online(p.tree.community.id, title="五月微党课",
                                                          starts_at=local(2025, 5, 1), ends_at=local(2025, 5, 2)),
                                None, NOW)
        gone = svc.plan_session(p.community_admin, online(p.tree.community.id, title="取消的微党课",
                                                          starts_at=local(2025, 5, 3), ends_at=local(2025, 5, 4)),
                                None, NOW)
        svc.cancel_session(gone, p.community_admin, NOW)
    db.session.commit()
    with time_machine.travel(local(2025, 4, 8, 10), tick=False):  # the offline session is on
        login(client, p.community_admin)
        listed = {}
        for state in ("", "active", "upcoming", "ongoing", "ended", "cancelled"):
            page = client.get(f"/training/?state={state}").get_data(as_text=True)
            listed[state] = {t for t in ("四月集中学习", "HYPERLINK", "五月微党课", "取消的微党课") if t in page}
            assert f"共 {len(listed[state])} 次培训" in page, state
        assert listed == {"": {"四月集中学习", "HYPERLINK", "五月微党课", "取消的微党课"},
                          "active": {"四月集中学习", "HYPERLINK", "五月微党课"},
                          "upcoming": {"五月微党课"}, "ongoing": {"四月集中学习", "HYPERLINK"},
                          "ended": set(), "cancelled": {"取消的微党课"}}
        assert client.get("/training/?state=bogus").status_code == 422
        rows = _rows(client.get("/training/sessions.xlsx?state=upcoming"))
        assert rows[1][3] == "筛选：类型：全部类型；方式：全部方式；状态：未开始"
        assert [r[2] for r in rows[3:]] == ["五月微党课"]
    assert off.id and on.id and soon.id
