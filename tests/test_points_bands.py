"""The 工作看板's points distribution: members per band of this year's points, drawn as bars whose
numbers equal the table under them and counted here independently; each bar opens the members'
ranking filtered to its band, which lists exactly that many members, and whose export holds
exactly those rows with the filter written above them."""

from __future__ import annotations

import io
import itertools
import re
from datetime import UTC, date, datetime

import pytest
import time_machine
from openpyxl import load_workbook

from app.extensions import db
from app.models import Member, MemberStatus, PointsEntry, RuleCode
from app.services.points.lists import Band, bands_for
from tests.factories import make_member, make_personas
from tests.helpers import login

# Wednesday 15 July 2026 in Shanghai: "this year" is 2026.
NOW = datetime(2026, 7, 15, 2, 0, tzinfo=UTC)
_ids = itertools.count(5000)


def add(member: Member, points: int, day: date) -> None:
    db.session.add(PointsEntry(member_id=member.id, points=points, code=RuleCode.NEED_RESOLVED_IN_SLA,
                               source_type="need", source_id=next(_ids), occurred_on=day))


@pytest.fixture
def now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def test_bands_are_equal_widths_chosen_from_the_top_total():
    assert [(b.low, b.high) for b in bands_for(0)] == [(None, 0)]
    assert [(b.low, b.high) for b in bands_for(13)] == [
        (None, 0), (1, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11), (12, 13)]
    assert [(b.low, b.high) for b in bands_for(45)] == [
        (None, 0), (1, 9), (10, 19), (20, 29), (30, 39), (40, 49)]
    assert [(b.low, b.high) for b in bands_for(166)][1:3] == [(1, 24), (25, 49)]
    assert bands_for(10**7)[-1].high is None  # beyond every width: the last band is open
    for top in (1, 7, 45, 166, 999, 12345):
        bands = bands_for(top)
        assert len(bands) <= 8 and bands[-1].holds(top)
        # Every whole number from the lowest to the top is in exactly one band.
        assert all(sum(b.holds(v) for b in bands) == 1 for v in range(-5, top + 1))
    assert Band.of(30, 10) == Band(10, 30) and Band.of(None, None) is None
    assert Band.of(-10**30, 10**30) == Band(-10**9, 10**9)


def _world():  # type: ignore[no-untyped-def]
    """Members of 龙山社区 with this year's points spread over the bands, and some that must not
    count: last year's points, an inactive member, another community's member."""
    p = make_personas()
    head = db.session.get(Member, p.member.central_household.head_member_id)
    totals = {p.member: 45, head: 0}
    for i, points in enumerate([-3, 1, 9, 10, 10, 19, 20, 33, 33, 33, 41]):
        totals[make_member(p.tree.grid if i % 2 else p.tree.grid_b, name=f"党员{i:02d}")] = points
    for member, points in totals.items():
        if points:
            add(member, points + 4, date(2026, 3, 1))
            add(member, -4, date(2026, 7, 14))
    add(p.member, 500, date(2025, 12, 31))  # last year's
    stopped = make_member(p.tree.grid, name="停用党员")
    stopped.status = MemberStatus.INACTIVE
    add(stopped, 30, date(2026, 2, 1))
    add(p.other_member, 30, date(2026, 2, 1))
    db.session.commit()
    return p, totals


def _points_chart(html: str) -> tuple[list[tuple[str, int, str]], list[tuple[str, int, str]]]:
    """The points chart's bars (title, value, href) and its table rows (band, value, href)."""
    figure = html.split("积分分布</figcaption>", 1)[1].split("</figure>", 1)[0]
    svg, table = figure.split("</svg>", 1)
    bars = [(t, int(v), h.replace("&amp;", "&")) for h, t, v in re.findall(
        r'<a href="([^"]+)">\s*<rect class="chart-bar[^>]*><title>(.*?) · 党员人数：(\d+)</title>', svg)]
    rows = [(t, int(v), h.replace("&amp;", "&")) for t, h, v in re.findall(
        r'<th scope="row">(.*?)</th><td[^>]*><a href="([^"]+)">(\d+)</a>', table)]
    return bars, rows


def test_the_dashboards_points_chart_counts_members_per_band_and_each_bar_opens_its_members(app, client, now):
    p, totals = _world()
    login(client, p.community_admin)
    response = client.get("/overview/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "龙山社区党员2026年积分分布" in html
    bars, rows = _points_chart(html)
    assert bars == rows  # the chart's numbers are its table's
    # Counted here: the top total is 45, so bands of ten after "0 and below".
    expected = {"0 分及以下": 2, "1–9 分": 2, "10–19 分": 3, "20–29 分": 1, "30–39 分": 3, "40–49 分": 2}
    assert [(t, v) for t, v, _h in rows] == list(expected.items())
    assert sum(expected.values()) == len(totals)
    for band, value, href in rows:
        page = client.get(href).get_data(as_text=True)
        assert f"共 {value} 条" in page, (band, href)
        listed = set(re.findall(r'href="/points/members/(\d+)"', page.split('id="ranking-table"')[1]))
        assert listed == {str(m.id) for m, pts in totals.items() if _in(band, pts)}, band
        # The export of that list holds the same members, with the filter written above them.
        export = href.replace("/points/?", "/points/ranking.xlsx?")
        sheet = list(load_workbook(io.BytesIO(client.get(export).data)).active.iter_rows(values_only=True))
        assert sheet[1][:2] == ("单位：龙山社区", "期间：2026年")
        assert sheet[1][3] == f"筛选：排名对象：党员；积分：{band}"
        assert len(sheet[3:]) == value and {r[1] for r in sheet[3:]} == {
            m.name for m, pts in totals.items() if _in(band, pts)}


def _in(band: str, points: int) -> bool:
    if band == "0 分及以下":
        return points <= 0
    low, high = (int(x) for x in band.removesuffix(" 分").split("–"))
    return low <= points <= high


def test_a_district_admin_sees_the_whole_district_and_another_nodes_band_is_not_reachable(app, client, now):
    p, totals = _world()
    login(client, p.district_admin)
    bars, _rows = _points_chart(client.get("/overview/").get_data(as_text=True))
    assert sum(v for _t, v, _h in bars) == len(totals) + 1  # and 杨桥社区's member
    client.post("/logout")
    login(client, p.other_community_admin)
    html = client.get("/overview/").get_data(as_text=True)
    bars, _rows = _points_chart(html)
    assert bars[-1][:2] == ("30–34 分", 1) and sum(v for _t, v, _h in bars) == 1  # widths of 5 up to 30
    community = p.tree.community.id
    assert client.get(f"/points/?node={community}&by=member&period=y:2026&min=1&max=9").status_code == 404
    assert client.get(f"/points/ranking.xlsx?node={community}&min=1&max=9").status_code == 404


def test_the_band_filter_reads_what_it_can_and_never_fails(app, client, now):
    p, totals = _world()
    login(client, p.community_admin)
    base = f"/points/?node={p.tree.community.id}&period=y:2026"
    for query, count in [("&min=abc&max=", len(totals)), ("&min=30&max=10", 4), ("&min=40", 2),
                         ("&max=0", 2), ("&min=-99999999999999999999999", len(totals)),
                         ("&max=99999999999999999999", len(totals)), ("&by=grid&min=40", 2)]:
        response = client.get(base + query)
        assert response.status_code == 200, query
        assert f"共 {count} 条" in response.get_data(as_text=True), query
    html = client.get(base + "&min=30&max=10").get_data(as_text=True)
    assert 'name="min" step="1" inputmode="numeric" value="10"' in html and "（积分 10–30 分）" in html
    # htmx asks for the table alone: it keeps the band.
    partial = client.get(base + "&min=40", headers={"HX-Request": "true", "HX-Target": "ranking-table"})
    assert "共 2 条（积分 40 分及以上）" in partial.get_data(as_text=True)
