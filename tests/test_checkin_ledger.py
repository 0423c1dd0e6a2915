"""The kiosk's live list, manual check-in, events and attendance, the ledger and its export,
and a member's own history."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest
import sqlalchemy as sa
import time_machine

from app.extensions import db
from app.models import AuditEntry, Checkin, CheckinMethod, StationEvent
from app.services import checkin_tokens as tokens
from tests.factories import (
    login,
    make_checkin,
    make_event,
    make_member,
    make_personas,
)
from tests.helpers import count_queries

# 2025-03-10 10:00 in Shanghai.
T0 = datetime(2025, 3, 10, 2, 0, 0, tzinfo=UTC)


@pytest.fixture
def p(app):
    return make_personas()


def many_members(p, n: int, at: datetime, method: str = "kiosk") -> None:
    for i in range(n):
        m = make_member(p.tree.grid_b, name=f"党员{i:02d}")
        make_checkin(m, p.station, at + timedelta(minutes=i), method=method,
                     recorded_by=p.station_admin if method == "manual" else None)


# Kiosk -------------------------------------------------------------------------------------------


def test_kiosk_shows_name_qr_clock_events_and_todays_check_ins(client, p):
    with time_machine.travel(T0, tick=False):
        make_event(p.station, T0 - timedelta(minutes=30), T0 + timedelta(hours=2), title="三月主题党日")
        make_checkin(p.member, p.station, T0 - timedelta(minutes=5))
        make_checkin(p.other_member, p.station, T0 - timedelta(days=1))  # yesterday: not listed
        login(client, p.station_admin)
        response = client.get(f"/stations/{p.station.id}/kiosk")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "龙山党群驿站" in page and 'id="kiosk-clock"' in page and "js/kiosk.js" in page
    assert "三月主题党日" in page and "进行中" in page
    assert "李*员" in page  # masked on the public screen
    assert "周*员" not in page
    assert 'hx-trigger="every 5s"' in page and page.count("hx-trigger") == 1
    assert "<script>" not in page and "style=" not in page


def test_kiosk_live_fragment_is_one_region_with_a_fresh_code(client, p):
    with time_machine.travel(T0, tick=False):
        login(client, p.station_admin)
        first = client.get(f"/stations/{p.station.id}/kiosk/live", headers={"HX-Request": "true"})
    with time_machine.travel(T0 + timedelta(seconds=30), tick=False):
        make_checkin(p.member, p.station, T0 + timedelta(seconds=20))
        second = client.get(f"/stations/{p.station.id}/kiosk/live", headers={"HX-Request": "true"})
    a, b = first.get_data(as_text=True), second.get_data(as_text=True)
    assert a.lstrip().startswith('<div class="kiosk-live" id="kiosk-live"') and "<html" not in a
    assert second.headers["Cache-Control"] == "no-store"
    qr = lambda s: s.split('id="kiosk-qr">')[1].split("</svg>")[0]  # noqa: E731
    assert qr(a) != qr(b)  # the code rotated
    assert "还没有人签到" in a and "李*员" in b


def test_kiosk_live_runs_a_fixed_number_of_queries(client, p):
    login(client, p.station_admin)
    url = f"/stations/{p.station.id}/kiosk/live"
    many_members(p, 1, datetime.now(UTC) - timedelta(seconds=5))
    with count_queries() as few:
        client.get(url, headers={"HX-Request": "true"})
    many_members(p, 12, datetime.now(UTC) - timedelta(seconds=1))
    with count_queries() as many:
        client.get(url, headers={"HX-Request": "true"})
    assert len(many) == len(few)


# Manual check-in ---------------------------------------------------------------------------------


def test_station_admin_finds_a_member_by_name_and_checks_them_in(client, p):
    login(client, p.station_admin)
    page = client.get(f"/stations/{p.station.id}/manual?q=李").get_data(as_text=True)
    assert "李党员" in page and p.member.phone not in page  # phone masked
    response = client.post(f"/stations/{p.station.id}/manual", data={"member_id": p.member.id, "q": "李"})
    assert response.status_code == 303
    row = db.session.scalar(sa.select(Checkin))
    assert row.method is CheckinMethod.MANUAL and row.recorded_by_id == p.station_admin.id
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已为 李党员 补签" in page and "补签人：驿站管理员" in page


def test_station_admin_finds_a_member_by_phone(client, p):
    login(client, p.station_admin)
    for q in (p.member.phone, p.member.phone[-4:]):
        page = client.get(f"/stations/{p.station.id}/manual?q={q}").get_data(as_text=True)
        assert "李党员" in page, q


def test_second_manual_check_in_says_already_checked_in(client, p):
    login(client, p.station_admin)
    client.post(f"/stations/{p.station.id}/manual", data={"member_id": p.member.id})
    response = client.post(f"/stations/{p.station.id}/manual", data={"member_id": p.member.id},
                           follow_redirects=True)
    assert "今日已签到" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Checkin.id))) == 1


@pytest.mark.parametrize("q,message", [("", "请输入姓名或手机号"), ("  ", "请输入姓名或手机号"),
                                       ("138", "完整的11位手机号"),
                                       ("138001", "完整的11位手机号")])
def test_empty_or_too_short_search_is_422_in_chinese(client, p, q, message):
    login(client, p.station_admin)
    response = client.get(f"/stations/{p.station.id}/manual?q={q}")
    assert response.status_code == 422 and message in response.get_data(as_text=True)


def test_search_does_not_reach_members_outside_the_stations_org(client, p):
    login(client, p.station_admin)
    page = client.get(f"/stations/{p.station.id}/manual?q=周").get_data(as_text=True)
    assert "周党员" not in page and "没有找到匹配的党员" in page


@pytest.mark.parametrize("member_id", ["999999", "abc", "", "other"])
def test_manual_check_in_of_an_unknown_or_out_of_scope_member_is_422(client, p, member_id):
    login(client, p.station_admin)
    if member_id == "other":
        member_id = str(p.other_member.id)
    response = client.post(f"/stations/{p.station.id}/manual", data={"member_id": member_id})
    assert response.status_code == 422
    assert "党员" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Checkin.id))) == 0


# Events ------------------------------------------------------------------------------------------


def test_station_admin_schedules_an_event_in_shanghai_time(client, p):
    login(client, p.station_admin)
    data = {"title": "四月主题党日", "kind": "theme_day", "starts_at": "2025-04-05T09:00", "ends_at": "2025-04-05T11:30"}
    response = client.post(f"/stations/{p.station.id}/events/new", data=data)
    assert response.status_code == 303
    event = db.session.scalar(sa.select(StationEvent))
    assert event.starts_at == datetime(2025, 4, 5, 1, 0, tzinfo=UTC)
    assert event.created_by_id == p.station_admin.id
    page = client.get(f"/stations/{p.station.id}/events").get_data(as_text=True)
    assert "四月主题党日" in page and "2025-04-05 09:00" in page


def test_event_ending_before_it_starts_is_422_and_keeps_the_input(client, p):
    login(client, p.station_admin)
    data = {"title": "培训课", "kind": "training", "starts_at": "2025-04-05T09:00", "ends_at": "2025-04-05T08:00"}
    response = client.post(f"/stations/{p.station.id}/events/new", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "结束时间必须晚于开始时间" in page and "培训课" in page and "2025-04-05T09:00" in page
    assert db.session.scalar(sa.select(sa.func.count(StationEvent.id))) == 0


@pytest.mark.parametrize("field,value,message", [("title", "", "请填写活动名称"),
                                                 ("starts_at", "明天", "请填写开始时间"),
                                                 ("kind", "party", "Not a valid choice")])
def test_event_with_bad_fields_is_422(client, p, field, value, message):
    login(client, p.station_admin)
    data = {"title": "活动", "kind": "activity", "starts_at": "2025-04-05T09:00", "ends_at": "2025-04-05T10:00"}
    data[field] = value
    response = client.post(f"/stations/{p.station.id}/events/new", data=data)
    assert response.status_code == 422


def test_event_edit_changes_times(client, p):
    event = make_event(p.station, T0, T0 + timedelta(hours=1))
    login(client, p.station_admin)
    page = client.get(f"/stations/{p.station.id}/events/{event.id}/edit").get_data(as_text=True)
    assert "2025-03-10T10:00" in page
    data = {"title": "改期的主题党日", "kind": "theme_day", "starts_at": "2025-03-11T14:00", "ends_at": "2025-03-11T16:00"}
    assert client.post(f"/stations/{p.station.id}/events/{event.id}/edit", data=data).status_code == 303
    db.session.refresh(event)
    assert event.title == "改期的主题党日" and event.starts_at == datetime(2025, 3, 11, 6, 0, tzinfo=UTC)


def test_event_page_lists_its_attendance(client, p):
    event = make_event(p.station, T0, T0 + timedelta(hours=2), title="三月主题党日")
    make_checkin(p.member, p.station, T0 + timedelta(minutes=3), event=event)
    login(client, p.station_admin)
    page = client.get(f"/stations/{p.station.id}/events/{event.id}").get_data(as_text=True)
    assert "出勤名单" in page and "李党员" in page and "（1）" in page


# Ledger ------------------------------------------------------------------------------------------


def test_ledger_lists_the_period_and_filters_by_method_and_event(client, p):
    event = make_event(p.station, T0, T0 + timedelta(hours=2), title="三月主题党日")
    make_checkin(p.member, p.station, T0 + timedelta(minutes=1), event=event)
    m2 = make_member(p.tree.grid_b, name="海报党员")
    make_checkin(m2, p.station, T0 - timedelta(days=2), method="poster")
    m3 = make_member(p.tree.grid_b, name="补签党员")
    make_checkin(m3, p.station, T0 - timedelta(days=40), method="manual", recorded_by=p.station_admin)
    login(client, p.station_admin)
    base = f"/stations/{p.station.id}/ledger?start=2025-03-01&end=2025-03-31"
    page = client.get(base).get_data(as_text=True)
    assert "李党员" in page and "海报党员" in page and "补签党员" not in page
    assert "海报扫码" in page
    page = client.get(base + "&method=poster").get_data(as_text=True)
    assert "海报党员" in page and "李党员" not in page
    page = client.get(base + f"&event={event.id}").get_data(as_text=True)
    assert "李党员" in page and "海报党员" not in page
    page = client.get(f"/stations/{p.station.id}/ledger?start=2025-01-01&end=2025-03-31").get_data(as_text=True)
    assert "补签党员" in page and "补签人：驿站管理员" in page


def test_ledger_with_end_before_start_is_422_in_chinese(client, p):
    login(client, p.station_admin)
    response = client.get(f"/stations/{p.station.id}/ledger?start=2025-03-31&end=2025-03-01")
    assert response.status_code == 422 and "结束日期不能早于开始日期" in response.get_data(as_text=True)
    response = client.get(f"/stations/{p.station.id}/ledger?start=not-a-date&method=sms")
    assert response.status_code == 422


def test_ledger_runs_a_fixed_number_of_queries(client, p):
    login(client, p.station_admin)
    url = f"/stations/{p.station.id}/ledger?start=2025-03-01&end=2025-03-31"
    many_members(p, 1, T0, method="manual")
    with count_queries() as few:
        client.get(url)
    many_members(p, 15, T0 + timedelta(days=1), method="manual")
    with count_queries() as many:
        client.get(url)
    assert len(many) == len(few)


def test_ledger_export_is_an_xlsx_with_chinese_headers_station_period_and_escaped_cells(client, p):
    event = make_event(p.station, T0, T0 + timedelta(hours=2), title="三月主题党日")
    make_checkin(p.member, p.station, T0 + timedelta(minutes=1), event=event)
    sly = make_member(p.tree.grid_b, name="=HYPERLINK(\"http://x\")")
    make_checkin(sly, p.station, T0 + timedelta(days=1), method="poster")
    make_checkin(make_member(p.tree.grid_b, name="补签党员"), p.station, T0 + timedelta(days=2),
                 method="manual", recorded_by=p.station_admin)
    login(client, p.station_admin)
    response = client.get(f"/stations/{p.station.id}/ledger.xlsx?start=2025-03-01&end=2025-03-31")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response.headers["Content-Disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert "龙山党群驿站" in rows[0][0] and "龙山党群驿站" in rows[1][0]
    assert rows[1][1] == "期间：2025-03-01 至 2025-03-31"
    assert list(rows[2]) == ["日期", "时间", "姓名", "网格", "签到方式", "活动", "补签人"]
    body = rows[3:]
    assert body[0][2] == "李党员" and body[0][1] == "10:01" and body[0][5] == "三月主题党日"
    assert body[1][2] == "'=HYPERLINK(\"http://x\")" and body[1][4] == "海报扫码"
    assert body[2][4] == "人工补签" and body[2][6] == "驿站管理员"
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "checkin.ledger_export"))
    assert entry.user_id == p.station_admin.id and entry.object_id == p.station.id


def test_ledger_export_filtered_by_method(client, p):
    make_checkin(p.member, p.station, T0)
    make_checkin(make_member(p.tree.grid_b, name="海报党员"), p.station, T0, method="poster")
    login(client, p.community_admin)
    response = client.get(f"/stations/{p.station.id}/ledger.xlsx?start=2025-03-01&end=2025-03-31&method=poster")
    rows = list(openpyxl.load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))[3:]
    assert [r[2] for r in rows] == ["海报党员"]


def test_safe_cell_escapes_formula_starts():
    from app.services.ledger import safe_cell

    for bad in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1"):
        assert safe_cell(bad) == "'" + bad
    assert safe_cell("李党员") == "李党员" and safe_cell(3) == 3 and safe_cell(None) is None


# My check-ins ------------------------------------------------------------------------------------


def test_member_sees_their_check_ins_by_month_with_station_and_event(client, p):
    event = make_event(p.station, T0, T0 + timedelta(hours=2), title="三月主题党日")
    make_checkin(p.member, p.station, T0 + timedelta(minutes=2), event=event)
    make_checkin(p.member, p.station, T0 - timedelta(days=30), method="poster")
    make_checkin(p.other_member, p.station, T0)  # someone else's
    login(client, p.member.user)
    page = client.get("/me/checkins?month=2025-03").get_data(as_text=True)
    assert "龙山党群驿站" in page and "三月主题党日" in page and "3月10日 10:02" in page
    assert "2025年2月" in page  # the month list
    page = client.get("/me/checkins?month=2025-02").get_data(as_text=True)
    assert "海报扫码" in page and "三月主题党日" not in page
    assert client.get("/me/checkins?month=2025-13").status_code == 200  # falls back to this month


@pytest.mark.parametrize("who", ["station_admin", "community_admin", "resident"])
def test_my_check_ins_is_for_members_only(client, p, who):
    login(client, getattr(p, who))
    assert client.get("/me/checkins").status_code == 403


def test_my_check_ins_requires_login(client, p):
    assert client.get("/me/checkins").status_code == 302


def test_scan_then_history_end_to_end(client, p):
    with time_machine.travel(T0, tick=False):
        login(client, p.member.user)
        client.get(f"/k/{tokens.kiosk_token(p.station.id)}")
        page = client.get("/me/checkins").get_data(as_text=True)
    assert "龙山党群驿站" in page and "平板扫码" in page
    assert date(2025, 3, 10) == db.session.scalar(sa.select(Checkin.day))


def test_my_check_ins_and_the_events_list_run_a_fixed_number_of_queries(client, p):
    login(client, p.member.user)
    make_checkin(p.member, p.station, T0, event=make_event(p.station, T0, T0 + timedelta(hours=1)))
    with count_queries() as few_mine:
        client.get("/me/checkins?month=2025-03")
    for i in range(1, 12):
        at = T0 + timedelta(days=i)
        make_checkin(p.member, p.station, at, event=make_event(p.station, at, at + timedelta(hours=1)))
    with count_queries() as many_mine:
        client.get("/me/checkins?month=2025-03")
    assert len(many_mine) == len(few_mine)
    login(client, p.station_admin)
    with count_queries() as events_list:
        client.get(f"/stations/{p.station.id}/events")
    make_event(p.station, T0 - timedelta(days=3), T0 - timedelta(days=3, hours=-1), title="更多")
    with count_queries() as more_events:
        client.get(f"/stations/{p.station.id}/events")
    assert len(more_events) == len(events_list)
