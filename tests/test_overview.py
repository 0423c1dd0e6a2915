"""The 工作看板: each chart's numbers equal its table and the list each bar links to; the
scope-wide check-in list and its ledger; only org admins, each in their scope."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from io import BytesIO

import time_machine
from openpyxl import load_workbook

from app.extensions import db
from tests.factories import (
    login,
    make_activity,
    make_checkin,
    make_member,
    make_resident,
    make_station,
    make_world,
)
from tests.test_charts import _months

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # Wednesday; this week began Monday 11-16


def _world():  # type: ignore[no-untyped-def]
    w = make_world()
    fellow2 = make_member(w.p.tree.grid, name="吴党员")
    other_station = make_station(w.p.tree.community2, name="杨桥驿站")
    make_checkin(w.member, w.p.station, NOW - timedelta(days=1))              # this week
    make_checkin(w.fellow, w.p.station, NOW - timedelta(days=1))              # this week
    make_checkin(fellow2, w.p.station, NOW - timedelta(days=8))               # last week
    make_checkin(w.p.other_member, other_station, NOW - timedelta(days=1))    # another community
    make_activity(w.member, kind="mediation", started_at=NOW - timedelta(days=1))
    make_activity(w.fellow, kind="visit", started_at=NOW - timedelta(days=2))
    make_activity(w.fellow, kind="visit", started_at=datetime(2026, 10, 3, 2, tzinfo=UTC))
    make_activity(w.p.other_member, kind="visit", started_at=NOW - timedelta(days=1))
    make_resident(w.p.tree.grid, member=None, head_name="无人联系户")
    db.session.commit()
    return w


def test_each_bar_is_the_count_of_the_list_it_opens(app, client):
    with time_machine.travel(NOW, tick=False):
        w = _world()
        login(client, w.p.community_admin)
        html = client.get("/overview/").get_data(as_text=True)
        weeks = dict(_months(html, "chart-1"))
        assert weeks["2026-11-16"] == ["2"] and weeks["2026-11-09"] == ["1"]
        href = re.search(r'<a href="([^"]+)">2</a>', html.split('id="chart-1"')[1]).group(1)
        listing = client.get(href.replace("&amp;", "&")).get_data(as_text=True)
        assert len(re.findall(r'class="checkin-row"', listing)) == 2
        assert "周党员" not in listing  # the other community's check-in is not in scope
        months = dict(_months(html, "chart-2"))
        assert months["2026-11"] == ["2"] and months["2026-10"] == ["1"]
        kinds = dict(_months(html, "chart-3"))
        assert kinds["矛盾调解"] == ["1"] and kinds["走访"] == ["1"]
        visit_href = [h for h in re.findall(r'href="([^"]+)"', html.split('id="chart-3"')[1].split("</figure>")[0])
                      if "kind=visit" in h][0]
        ledger = client.get(visit_href.replace("&amp;", "&")).get_data(as_text=True)
        assert len(re.findall(r'<tr><td><a href="/activities/\d+">', ledger)) == 1
        coverage = dict(_months(html, "chart-4"))
        covered = coverage["龙山社区"][0]
        # Four households in the community, one uncovered: 3 of 4 covered.
        assert covered == "75%"


def test_the_checkin_ledger_exports_what_the_list_shows(app, client):
    with time_machine.travel(NOW, tick=False):
        w = _world()
        login(client, w.p.community_admin)
        response = client.get("/overview/checkins.xlsx?from=2026-11-01&to=2026-11-30")
        rows = list(load_workbook(BytesIO(response.data)).active.iter_rows(values_only=True))
        assert rows[0][0] == "驿站签到台账" and rows[1][0] == "单位：龙山社区"
        assert rows[2][:3] == ("日期", "时间", "姓名")
        assert sorted(r[2] for r in rows[3:]) == sorted([w.member.name, w.fellow.name, "吴党员"])


def test_the_home_figures_for_checkins_match_the_list(app, client):
    with time_machine.travel(NOW, tick=False):
        w = _world()
        login(client, w.p.community_admin)
        home = client.get("/").get_data(as_text=True)
        m = re.search(r'<a id="fig-checkins-month" href="([^"]+)">(\d+)</a>', home)
        listing = client.get(m.group(1).replace("&amp;", "&")).get_data(as_text=True)
        assert int(m.group(2)) == 3 == len(re.findall(r'class="checkin-row"', listing))


def test_only_org_admins_see_the_overview(app, client):
    w = make_world()
    assert client.get("/overview/").status_code in (302, 303)
    for user in (w.p.station_admin, w.p.resident):
        login(client, user)
        assert client.get("/overview/").status_code == 403
        assert client.get("/overview/checkins").status_code == 403
        client.post("/logout")
    login(client, w.member.user)
    assert client.get("/overview/checkins.xlsx").status_code == 403
    client.post("/logout")
    login(client, w.p.other_community_admin)
    assert client.get("/overview/").status_code == 200
    assert client.get("/overview/checkins?from=bad&to=2026-13-01").status_code == 200


def test_training_appears_on_the_overview_the_home_and_the_monthly_ledger(app, client):
    from app.models import CheckinMethod, TrainingKind, TrainingMode, TrainingSession
    from app.services import checkin as checkin_service
    from tests.factories import make_event

    with time_machine.travel(NOW, tick=False):
        w = make_world()
        starts = NOW - timedelta(days=2)
        event = make_event(w.p.station, starts, starts + timedelta(hours=2), title="集中学习",
                           kind="training")
        session = TrainingSession(org_node_id=w.p.tree.community.id, title="集中学习", kind=TrainingKind.CONCENTRATED,
                                  mode=TrainingMode.OFFLINE, starts_at=starts, ends_at=starts + timedelta(hours=2),
                                  duration_minutes=120, station_event_id=event.id)
        db.session.add(session)
        db.session.commit()
        for member in (w.member, w.fellow):
            checkin_service.check_in(member, w.p.station, CheckinMethod.KIOSK, now=starts + timedelta(minutes=5))
        db.session.commit()
        login(client, w.p.community_admin)
        html = client.get("/overview/").get_data(as_text=True)
        rows = dict(_months(html, "chart-5"))
        assert rows["2026-11"] == ["1", "2"]  # sessions, participations
        home = client.get("/").get_data(as_text=True)
        m = re.search(r'<a id="fig-training-sessions" href="([^"]+)">(\d+)</a>', home)
        listing = client.get(m.group(1).replace("&amp;", "&")).get_data(as_text=True)
        assert int(m.group(2)) == 1 and listing.count("集中学习") >= 1
        book = load_workbook(BytesIO(client.get("/overview/monthly.xlsx?month=2026-11").data))
        sheet = list(book["培训"].iter_rows(values_only=True))
        assert sheet[-1][0] == "合计" and sheet[-1][-1] == 2


def _training_world():  # type: ignore[no-untyped-def]
    """龙山社区 this month (November 2026): a two-day session at its station that 李党员 attends
    both days (counted once) and 陈同行 one day; an online one 陈同行 completes; one cancelled;
    one still to come. Last month, one session 李党员 attended; this month, one in 杨桥社区 that
    周党员 attended (not in scope)."""
    from app.models import TrainingCompletion, TrainingKind, TrainingMode, TrainingSession

    w = make_world()
    other_station = make_station(w.p.tree.community2, name="杨桥驿站")

    def session(title, starts, hours, mode=TrainingMode.OFFLINE, station=None, node=None, minutes=90, **kw):  # type: ignore[no-untyped-def]
        event = None
        if mode is TrainingMode.OFFLINE:
            from tests.factories import make_event

            event = make_event(station or w.p.station, starts, starts + timedelta(hours=hours), title=title,
                               kind="training")
        s = TrainingSession(org_node_id=(node or w.p.tree.community).id, title=title, kind=TrainingKind.CONCENTRATED,
                            mode=mode, starts_at=starts, ends_at=starts + timedelta(hours=hours),
                            duration_minutes=minutes, station_event_id=event.id if event else None,
                            link_url="" if event else "https://example.org/lesson", **kw)
        db.session.add(s)
        db.session.commit()
        return s, event

    two_days, event = session("两天集训", NOW - timedelta(days=3), 30, minutes=120)
    make_checkin(w.member, w.p.station, NOW - timedelta(days=3) + timedelta(hours=1), event=event)
    make_checkin(w.member, w.p.station, NOW - timedelta(days=2), event=event)
    make_checkin(w.fellow, w.p.station, NOW - timedelta(days=2), event=event)
    online, _e = session("线上微党课", NOW - timedelta(days=5), 24 * 10, mode=TrainingMode.ONLINE, minutes=45)
    db.session.add(TrainingCompletion(session_id=online.id, member_id=w.fellow.id, completed_at=NOW - timedelta(days=1),
                                      reflection="="))
    session("已取消的培训", NOW + timedelta(days=3), 2, cancelled_at=NOW - timedelta(days=1))
    session("下周培训", NOW + timedelta(days=6), 2)
    _october, event = session("十月培训", datetime(2026, 10, 10, 2, tzinfo=UTC), 2)
    make_checkin(w.member, w.p.station, datetime(2026, 10, 10, 3, tzinfo=UTC), event=event)
    _yq, event = session("杨桥培训", NOW - timedelta(days=4), 2, station=other_station, node=w.p.tree.community2)
    make_checkin(w.p.other_member, other_station, NOW - timedelta(days=4) + timedelta(minutes=10), event=event)
    db.session.commit()
    return w


def _session_rows(client, url: str) -> int:  # type: ignore[no-untyped-def]
    response = client.get(url)
    assert response.status_code == 200, url
    return len(re.findall(r'<td><a href="/training/sessions/\d+">', response.get_data(as_text=True)))


def _participation_rows(client, url: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    response = client.get(url)
    assert response.status_code == 200, url
    html = response.get_data(as_text=True)
    hours = re.search(r"合计 ([\d.]+) 学时", html).group(1)
    return len(re.findall(r'<tr class="participation-row">', html)), hours


def test_each_training_bar_is_the_count_of_the_list_it_opens(app, client):
    with time_machine.travel(NOW, tick=False):
        w = _training_world()
        login(client, w.p.community_admin)
        html = client.get("/overview/").get_data(as_text=True)
        rows = dict(_months(html, "chart-5"))
        # November: three sessions not cancelled (the cancelled one left out); 李党员 and 陈同行 at
        # the two-day one (李党员 once), 陈同行 online: 3. October: one session, one participant.
        assert rows["2026-11"] == ["3", "3"] and rows["2026-10"] == ["1", "1"]
        figure = html.split('id="chart-5"', 1)[1].split("</figure>", 1)[0]
        links = re.findall(r'<td data-label="[^"]*"><a href="([^"]+)">(\d+)</a></td>', figure)
        assert len(links) == 12  # six months, two numbers each, every one a link
        for href, n in links:
            url = href.replace("&amp;", "&")
            if "/training/participations" in url:
                assert _participation_rows(client, url)[0] == int(n), url
            else:
                assert "state=active" in url and _session_rows(client, url) == int(n), url


def test_the_admin_homes_training_figures_are_the_counts_of_their_lists(app, client):
    with time_machine.travel(NOW, tick=False):
        w = _training_world()
        login(client, w.p.community_admin)
        home = client.get("/").get_data(as_text=True)
        from tests.test_today import _figure

        n, url = _figure(home, "fig-training-sessions")
        assert n == 4 == _session_rows(client, url)  # this year's, the cancelled one left out
        n, url = _figure(home, "fig-training-upcoming")
        assert n == 1 == _session_rows(client, url)
        n, url = _figure(home, "fig-training-participations")
        assert n == 4 == _participation_rows(client, url)[0]
        m = re.search(r'<a id="fig-training-hours" href="([^"]+)">合计 ([\d.]+) 学时</a>', home)
        # 2 h each for two members at the two-day session, 0.75 h online, 1.5 h in October.
        assert m.group(2) == "6.25" == _participation_rows(client, m.group(1).replace("&amp;", "&"))[1]
