"""Home pages as today's to-do lists: every figure equals the count of the list it links to,
for each role, on a fixture built for it; the overdue need comes first, in red, with its reason."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import time_machine

from app.extensions import db
from app.models import NeedStatus
from app.services import needs
from tests.factories import (
    login,
    make_activity,
    make_checkin,
    make_event,
    make_need,
    make_need_world,
    make_resident,
)

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Asia/Shanghai


def _figure(html: str, fig_id: str) -> tuple[int, str]:
    """The number shown by the figure ``fig_id`` and the link it carries."""
    m = re.search(rf'<a id="{fig_id}"[^>]*href="([^"]+)"[^>]*>([^<]*)</a>', html)
    assert m, f"no figure {fig_id}"
    return int(re.findall(r"\d+", m.group(2))[-1]), m.group(1).replace("&amp;", "&")


def _rows(client, url: str, pattern: str) -> int:  # type: ignore[no-untyped-def]
    response = client.get(url)
    assert response.status_code == 200, url
    return len(re.findall(pattern, response.get_data(as_text=True)))


def test_a_members_figures_are_the_counts_of_their_lists(app, client):
    with time_machine.travel(NOW - timedelta(days=3), tick=False):
        w = make_need_world()
        extra = make_resident(w.p.tree.grid, member=w.member, head_name="钱大妈")
        late = make_need(w.household, text="水管漏水")  # 3 days old: past its accept deadline
        accepted = make_need(extra, text="路灯不亮")
        needs.accept(accepted, w.member.user)
        db.session.commit()
    with time_machine.travel(NOW - timedelta(hours=1), tick=False):
        fresh = make_need(extra, text="想了解医保")
    with time_machine.travel(NOW, tick=False):
        make_checkin(w.member, w.p.station, NOW - timedelta(days=1))
        make_checkin(w.member, w.p.station, datetime(2026, 10, 30, 2, 0, tzinfo=UTC))  # last month
        make_activity(w.member, residents=[w.household], started_at=NOW - timedelta(days=2))
        make_activity(w.member, started_at=datetime(2026, 10, 20, 2, 0, tzinfo=UTC))
        make_event(w.p.station, NOW + timedelta(days=1), NOW + timedelta(days=1, hours=2), title="主题党日")
        login(client, w.member.user)
        html = client.get("/").get_data(as_text=True)
        # The overdue need is first, marked, with its reason; then the one still in time.
        waiting = html.split('id="waiting-needs"', 1)[1].split("</ul>", 1)[0]
        assert waiting.index("水管漏水") < waiting.index("想了解医保")
        assert "todo-overdue" in waiting.split("水管漏水")[0] and "已超过接单时限" in waiting
        assert fresh.status is NeedStatus.SUBMITTED and late.status is NeedStatus.SUBMITTED
        n, url = _figure(html, "fig-inbox-submitted")
        assert n == 2 == _rows(client, url, r'<li id="need-\d+" class="need-row"')
        n, url = _figure(html, "fig-inbox-accepted")
        assert n == 1 == _rows(client, url, r'<li id="need-\d+" class="need-row"')
        n, url = _figure(html, "fig-visits-due")
        assert n == 1 == _rows(client, url, r'<li class="overdue">')  # the household visited is not due
        n, url = _figure(html, "fig-checkins-month")
        assert n == 1 == _rows(client, url, r"<li><strong>")
        n, url = _figure(html, "fig-activities-month")
        assert n == 1 == _rows(client, url, r'<a class="activity-link"')
        assert "主题党日" in html.split('id="week-events"', 1)[1]


def test_an_admins_figures_are_the_counts_of_their_lists(app, client):
    with time_machine.travel(NOW, tick=False):
        w = make_need_world()
        make_resident(w.p.tree.grid, member=None, head_name="孙奶奶")  # nobody covers it
        make_resident(w.p.tree.grid2, member=None, head_name="外区户")  # another community
        make_activity(w.member, started_at=NOW - timedelta(days=1))
        make_activity(w.fellow, started_at=datetime(2026, 10, 5, 2, 0, tzinfo=UTC))
        make_activity(w.p.other_member, started_at=NOW - timedelta(days=1))  # out of scope
        login(client, w.p.community_admin)
        html = client.get("/").get_data(as_text=True)
        row = r'<tr class="(?:below)?">'
        for fig in ("fig-households", "fig-households-below", "fig-members", "fig-members-below",
                    "fig-residents", "fig-residents-uncovered"):
            n, url = _figure(html, fig)
            assert n == _rows(client, url, row), fig
        n, url = _figure(html, "fig-residents-uncovered")
        assert n == 1
        ledger_row = r'<tr><td><a href="/activities/\d+">'
        n, url = _figure(html, "fig-activities-month")
        assert n == 1 == _rows(client, url, ledger_row)
        n, url = _figure(html, "fig-activities-last")
        assert n == 1 == _rows(client, url, ledger_row)


def test_a_station_admins_queue_figure_is_the_verify_queue(app, client):
    with time_machine.travel(NOW, tick=False):
        w = make_need_world()
        make_activity(w.member, station=w.p.station, started_at=NOW - timedelta(hours=3))
        make_activity(w.fellow, station=w.p.station, started_at=NOW - timedelta(hours=2))
        make_checkin(w.member, w.p.station, NOW - timedelta(hours=1))
        login(client, w.p.station_admin)
        html = client.get("/").get_data(as_text=True)
        n, url = _figure(html, "fig-pending-verification")
        assert n == 2 == _rows(client, url, r'<a class="activity-link"')
        n, url = _figure(html, f"fig-checkins-today-{w.p.station.id}")
        assert n == 1 == _rows(client, url, r"<tr><td>")  # the station's ledger for today


def test_a_head_sees_the_household_against_the_rule(app, client):
    with time_machine.travel(NOW, tick=False):
        w = make_need_world()
        login(client, w.head.user)
        html = client.get("/").get_data(as_text=True)
        section = html.split('id="head-today"', 1)[1]
        assert "未达10名" in section  # two members linked, the rule asks for ten
        assert w.member.name in section and w.fellow.name in section


def test_points_on_the_homes_are_the_ledgers(app, client):
    from datetime import date

    from app.models import RuleCode
    from app.services import points

    with time_machine.travel(NOW, tick=False):
        w = make_need_world()
        points.award(w.member, RuleCode.NEED_RESOLVED_IN_SLA, "need", 1, date(2026, 11, 3))
        points.award(w.member, RuleCode.SLA_BREACH, "need_breach", 2, date(2026, 11, 4))
        points.award(w.member, RuleCode.RATED_SATISFIED, "need", 3, date(2026, 10, 30))  # October
        points.award(w.fellow, RuleCode.RATED_SATISFIED, "need", 4, date(2026, 11, 5))
        db.session.commit()
        login(client, w.member.user)
        n, url = _figure(client.get("/").get_data(as_text=True), "fig-points-month")
        assert n == 1  # +3 − 2 this month; October's +2 is not counted
        assert "2026-11" in url and client.get(url).status_code == 200
        client.post("/logout")
        login(client, w.p.community_admin)
        leaders = client.get("/").get_data(as_text=True).split('id="points-leaders"', 1)[1].split("</ol>")[0]
        assert leaders.index(w.fellow.name) < leaders.index(w.member.name)  # 2 points before 1
