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


def _sh(y: int, m: int, d: int, hh: int = 10) -> datetime:
    """An instant on the Shanghai wall clock (UTC+8)."""
    from datetime import timedelta

    return datetime(y, m, d, hh, tzinfo=UTC) - timedelta(hours=8)


def test_the_evaluation_sheet_lists_the_months_outcomes_withdrawals_and_campaign_decisions(app, client):
    from app.models import CandidacyDecision, OutcomeKind
    from app.services.evaluation import campaigns, outcomes
    from tests.factories import make_household, make_member

    w = make_world()
    p, admin, community = w.p, w.p.community_admin, w.p.tree.community
    h2 = make_household(p.tree.grid_b, make_member(p.tree.grid_b, name="陈丙"), number="LS-002")
    evil = make_member(p.tree.grid, name="=cmd|' /C calc'!A0")
    today = datetime(2026, 10, 1).date()

    def at(moment: datetime, step):  # type: ignore[no-untyped-def]
        with time_machine.travel(moment, tick=False):
            result = step()
            db.session.commit()
            return result

    # September: recorded before the month; withdrawn inside it (a withdrawal row only).
    early = at(_sh(2026, 9, 20), lambda: outcomes.record_for_member(
        admin, community, 2026, w.fellow, OutcomeKind.RESERVE_POOL, "九月纳入", today))
    at(_sh(2026, 10, 2), lambda: outcomes.withdraw(admin, early, "材料不实"))
    # October 1 at 00:30 Shanghai (still 30 September in UTC): inside October.
    at(_sh(2026, 10, 1, 0).replace(minute=30), lambda: outcomes.record_for_member(
        admin, community, 2026, w.member, OutcomeKind.EXCELLENT_MEMBER,
        "服务群众表现突出", today))
    at(_sh(2026, 10, 15), lambda: outcomes.record_for_member(
        admin, community, 2026, evil, OutcomeKind.RECOMMEND_DEPUTY, "=SUM(A1)", today))
    # Recorded in October, withdrawn in November: one row, its state as of the export.
    later = at(_sh(2026, 10, 20), lambda: outcomes.record_for_household(
        admin, community, 2026, h2, OutcomeKind.MODEL_HOUSEHOLD, "示范带动好", today))
    at(_sh(2026, 11, 3), lambda: outcomes.withdraw(admin, later, "重复记录"))
    # The campaign: one household decided in October, one on 1 November at 00:10 (not October).
    campaign = at(_sh(2026, 9, 1), lambda: campaigns.create(
        admin, community, 2026, "2026年创建示范中心户", "联系群众、服务到位", today))
    first = at(_sh(2026, 9, 2), lambda: campaigns.propose(admin, campaign, w.member.central_household, "推荐"))
    second = at(_sh(2026, 9, 2), lambda: campaigns.propose(admin, campaign, h2, ""))
    at(_sh(2026, 10, 31, 23), lambda: campaigns.decide(admin, first, CandidacyDecision.AWARDED, "群众满意"))
    at(_sh(2026, 11, 1, 0).replace(minute=10), lambda: campaigns.decide(
        admin, second, CandidacyDecision.NOT_AWARDED, "尚需努力"))
    # Another community's outcome in October: not in 龙山社区's book.
    at(_sh(2026, 10, 5), lambda: outcomes.record_for_member(
        p.other_community_admin, p.tree.community2, 2026, p.other_member, OutcomeKind.EXCELLENT_MEMBER,
        "杨桥的", today))

    with time_machine.travel(NOW, tick=False):
        login(client, admin)
        response = client.get("/overview/monthly.xlsx?month=2026-10")
    assert response.status_code == 200
    book = _book(response.data)
    assert list(book)[-1] == "评定结果"
    sheet = book["评定结果"]
    assert sheet[0][0] == "评定结果"
    assert sheet[1][:2] == ("单位：龙山社区", "期间：2026-10-01 至 2026-10-31")
    assert sheet[2] == ("日期", "事项", "评定/创建活动", "对象类型", "对象", "中心户编号", "网格", "结果", "状态",
                        "理由", "经办人")
    rows = sheet[3:-1]
    day = lambda d: datetime(2026, 10, d)  # noqa: E731  (openpyxl reads dates back as datetimes)
    household = w.member.central_household
    assert rows == [
        (day(1), "记录评定结果", "2026年度评定（龙山社区）", "党员", "李党员", None, "第一网格", "优秀党员",
         "有效", "服务群众表现突出", "社区管理员"),
        (day(2), "撤回评定结果", "2026年度评定（龙山社区）", "党员", "陈同行", None, "第一网格",
         "纳入村级后备人才库", "已撤回", "材料不实", "社区管理员"),
        (day(15), "记录评定结果", "2026年度评定（龙山社区）", "党员", "'=cmd|' /C calc'!A0", None, "第一网格",
         "推荐为两代表一委员人选", "有效", "'=SUM(A1)", "社区管理员"),
        (day(20), "记录评定结果", "2026年度评定（龙山社区）", "中心户", "陈丙", "LS-002", "第二网格",
         "示范中心户", "已撤回（2026-11-03）", "示范带动好", "社区管理员"),
        (day(31), "创建示范中心户（组织推荐）", "2026年创建示范中心户（2026）", "中心户", "王户长",
         household.number, "第一网格", "评为示范", "进行中", "群众满意", "社区管理员"),
    ]
    assert sheet[-1][:2] == ("合计", "5 项")


def test_the_checkin_and_activity_sheets_equal_a_count_of_the_rows_after_random_writes(app):
    """The two sheets read the maintained aggregates (check-ins per station and day, activities per
    grid, month and kind): after random inserts, moves and deletes, every station's and grid's row
    and the totals equal the check-ins and activities counted here, for whole months and for a
    period that cuts months at both ends, for the district and for one community."""
    import random
    from datetime import date

    import sqlalchemy as sa

    from app.clock import local_day
    from app.models import (
        Activity,
        ActivityKind,
        Checkin,
        CheckinMethod,
        OrgNode,
        Station,
        VerifyState,
    )
    from app.services import monthly
    from tests.factories import make_member, make_personas

    p = make_personas()
    rng = random.Random(12)
    grids = [p.tree.grid, p.tree.grid_b, p.tree.grid2]
    members = [make_member(rng.choice(grids), name=f"党员{i}") for i in range(6)]
    stations = [p.station, make_station(p.tree.grid2, name="杨桥驿站"), make_station(p.tree.township, name="镇驿站")]
    # Either side of the Asia/Shanghai month ends (UTC+8).
    instants = [datetime(2025, 12, 31, 15, 59, tzinfo=UTC), datetime(2025, 12, 31, 16, 0, tzinfo=UTC),
                datetime(2026, 1, 15, 3, tzinfo=UTC), datetime(2026, 1, 31, 16, 30, tzinfo=UTC),
                datetime(2026, 2, 28, 15, 0, tzinfo=UTC)]
    days = [date(2025, 12, 31), date(2026, 1, 1), date(2026, 1, 20), date(2026, 1, 31), date(2026, 2, 1)]
    activities: list[Activity] = []
    checkins: list[Checkin] = []
    for _step in range(150):
        op = rng.randrange(6)
        if op == 0 or not activities:
            author = rng.choice(members)
            a = Activity(author_member_id=author.id, grid_id=author.grid_id, kind=rng.choice(list(ActivityKind)),
                         started_at=rng.choice(instants), duration_minutes=30, address="龙山路1号",
                         verify_state=VerifyState.NONE, created_by_id=author.user_id)
            db.session.add(a)
            activities.append(a)
        elif op == 1:
            a = rng.choice(activities)
            setattr(a, *rng.choice([("kind", rng.choice(list(ActivityKind))), ("started_at", rng.choice(instants)),
                                    ("grid_id", rng.choice(grids).id)]))
        elif op == 2:
            a = activities.pop(rng.randrange(len(activities)))
            db.session.delete(a)
        elif op == 3:
            m, s, d = rng.choice(members), rng.choice(stations), rng.choice(days)
            if not any((c.member_id, c.station_id, c.day) == (m.id, s.id, d) for c in checkins):
                c = Checkin(member_id=m.id, station_id=s.id, day=d, method=CheckinMethod.KIOSK,
                            checked_in_at=datetime(d.year, d.month, d.day, 2, tzinfo=UTC))
                db.session.add(c)
                checkins.append(c)
        elif op == 4 and checkins:
            c, d = rng.choice(checkins), rng.choice(days)
            if not any((o.member_id, o.station_id, o.day) == (c.member_id, c.station_id, d) for o in checkins):
                c.day = d
        elif op == 5 and checkins:
            db.session.delete(checkins.pop(rng.randrange(len(checkins))))
        db.session.commit() if rng.random() < 0.3 else db.session.flush()
    db.session.commit()

    rows_checkins = db.session.execute(sa.select(Checkin.station_id, Checkin.member_id, Checkin.day)).all()
    rows_activities = db.session.execute(sa.select(Activity.grid_id, Activity.kind, Activity.started_at)).all()
    assert rows_checkins and rows_activities
    paths = dict(db.session.execute(sa.select(OrgNode.id, OrgNode.path)).all())
    station_node = dict(db.session.execute(sa.select(Station.id, Station.org_node_id)).all())
    station_name = dict(db.session.execute(sa.select(Station.id, Station.name)).all())
    grid_name = {g.id: g.name for g in grids}
    kinds = list(ActivityKind)
    for node in (p.tree.district, p.tree.community):
        for first, last in [(date(2025, 12, 1), date(2025, 12, 31)), (date(2026, 1, 1), date(2026, 1, 31)),
                            (date(2026, 2, 1), date(2026, 2, 28)), (date(2025, 12, 31), date(2026, 2, 1))]:
            under = {i for i, path in paths.items() if path.startswith(node.path)}
            times: dict[str, int] = {}
            who: dict[str, set] = {}
            for station_id, member_id, day in rows_checkins:
                if station_node[station_id] in under and first <= day <= last:
                    times[station_name[station_id]] = times.get(station_name[station_id], 0) + 1
                    who.setdefault(station_name[station_id], set()).add(member_id)
            sheet = monthly.checkins_sheet(node, first, last)
            body = [list(r) for r in sheet.rows]
            listed = {r[1]: (r[2], r[3]) for r in body[:-1]}
            assert listed == {station_name[s]: (times.get(station_name[s], 0), len(who.get(station_name[s], ())))
                              for s in station_node if station_node[s] in under}, (node.name, first, last)
            assert body[-1][:3] == ["合计", "", sum(times.values())]
            per_grid: dict[str, dict] = {}
            for grid_id, kind, at in rows_activities:
                if grid_id in under and first <= local_day(at) <= last:
                    cell = per_grid.setdefault(grid_name[grid_id], {})
                    cell[kind] = cell.get(kind, 0) + 1
            body = [list(r) for r in monthly.activities_sheet(node, first, last).rows]
            assert {r[0]: r[1:] for r in body[:-1]} == {
                name: [*(c.get(k, 0) for k in kinds), sum(c.values())] for name, c in per_grid.items()}, (
                node.name, first, last)
            assert body[-1] == ["合计", *(sum(c.get(k, 0) for c in per_grid.values()) for k in kinds),
                                sum(sum(c.values()) for c in per_grid.values())]
    # A whole month's activities are not counted from the activities, nor check-ins (times or
    # the members who checked in) from the check-ins.
    from tests.helpers import count_queries

    with count_queries() as statements:
        monthly.activities_sheet(p.tree.district, date(2026, 1, 1), date(2026, 1, 31))
        monthly.checkins_sheet(p.tree.district, date(2026, 1, 1), date(2026, 1, 31))
    assert not [s for s in statements if "FROM activities" in s]
    assert not [s for s in statements if "FROM checkins" in s]
    # The workbook's sheets are these, cell by cell (January, the district).
    with time_machine.travel(NOW, tick=False):
        book = _book(monthly.build(p.tree.district, 2026, 1))
    expected = monthly.checkins_sheet(p.tree.district, date(2026, 1, 1), date(2026, 1, 31))
    assert book["驿站签到"][3:] == [tuple(None if v == "" else v for v in r) for r in expected.rows]
    assert book["服务活动"][-1][0] == "合计" and book["服务活动"][-1][-1] == sum(
        1 for _g, _k, at in rows_activities if date(2026, 1, 1) <= local_day(at) <= date(2026, 1, 31))
