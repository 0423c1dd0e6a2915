"""Charts drawn on the server: the geometry, the table of the same numbers, and the needs
dashboard's month-by-month charts against needs counted independently, bar by bar."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import time_machine

from app.charts import Series, bar_chart, line_chart, nice_max
from app.extensions import db
from app.models import NeedOutcome
from app.services import needs
from tests.factories import login, make_need, make_need_world
from tests.helpers import queries_for


def test_axis_maxima_are_round():
    assert [nice_max(v) for v in (0, 3, 7, 12, 26, 99, 101, 240)] == [1, 5, 10, 20, 50, 100, 200, 250]


def test_bars_are_as_tall_as_their_values_and_the_table_says_the_same():
    c = bar_chart("t", ["一月", "二月", "三月"], [Series("提交", [10, 20, 0], ["/a", "/b", "/c"])], header="月份")
    heights = [m.h for m in c.marks]
    assert heights[2] == 0 and abs(heights[1] - 2 * heights[0]) < 1e-9
    assert all(abs((m.y + m.h) - c.baseline) < 1e-9 for m in c.marks)  # bars stand on the axis
    assert c.rows == [("一月", [("10", "/a")]), ("二月", [("20", "/b")]), ("三月", [("0", "/c")])]
    assert c.ticks[-1][1] == "20" and not c.empty


def test_a_line_breaks_where_a_value_is_missing_and_an_empty_chart_says_so():
    c = line_chart("率", ["1", "2", "3", "4"], [Series("满意率", [50.0, None, 80.0, 90.0])], unit="%", top=100,
                   header="月份")
    assert [len(points) for _s, points in c.lines] == [2]  # 1 alone is no line; 3–4 is
    assert [label for label, _href in (cells[0] for _c, cells in c.rows)] == ["50%", "—", "80%", "90%"]
    assert bar_chart("空", ["1"], [Series("x", [0])], header="月份").empty


def test_a_figure_draws_each_value_as_a_link_and_its_table_says_the_same_in_escaped_words():
    c = bar_chart("<b>提交</b>", ["一月", "二&月"], [Series("提交", [10, 0], ["/a?x=1&y=2", None]),
                                                   Series("已办结", [4, None], ["/b", "/c"])], header="月<份>")
    html = str(c.figure("chart-x", "没有数据", "数据表"))
    assert "<b>" not in html and "&lt;b&gt;提交&lt;/b&gt;" in html and "二&amp;月" in html
    svg, table = html.split("</svg>", 1)
    # Every drawn value is a rect (a missing one is not drawn), linked where it has a link.
    assert re.findall(r'<a href="([^"]*)"><rect class="chart-bar s(\d)"', svg) == [
        ("/a?x=1&amp;y=2", "0"), ("/b", "1")]
    assert re.findall(r"<title>(.*?)</title></rect>", svg) == ["一月 · 提交：10", "一月 · 已办结：4",
                                                              "二&amp;月 · 提交：0"]
    assert '<ul class="chart-legend">' in table  # two series: a legend
    # The table: the categories under their own header, each cell labelled with its series.
    assert re.findall(r'<th scope="col">(.*?)</th>', table) == ["月&lt;份&gt;", "提交", "已办结"]
    assert _months(html, "chart-x") == [("一月", ["10", "4"]), ("二&amp;月", ["0", "—"])]
    assert re.findall(r'<td data-label="([^"]+)"><a href="([^"]+)">', table) == [
        ("提交", "/a?x=1&amp;y=2"), ("已办结", "/b"), ("已办结", "/c")]
    empty = str(bar_chart("空", ["1"], [Series("x", [0])], header="月份").figure("e", "没有数据", "数据表"))
    assert '<p class="muted">没有数据</p>' in empty and "<svg" not in empty and "<summary>数据表</summary>" in empty


def _header(html: str, chart_id: str) -> str:
    """The first column's header of a chart's data table."""
    figure = html.split(f'id="{chart_id}"', 1)[1].split("</figure>", 1)[0]
    return re.search(r'<th scope="col">(.*?)</th>', figure).group(1)


def _months(html: str, chart_id: str) -> list[tuple[str, list[str]]]:
    """The chart's data table as (month, [cells]) read from the page."""
    figure = html.split(f'id="{chart_id}"', 1)[1].split("</figure>", 1)[0]
    body = figure.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    out = []
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        head = re.search(r"<th[^>]*>(.*?)</th>", row, re.S).group(1).strip()
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        out.append((head, cells))
    return out


def test_the_dashboards_monthly_chart_counts_each_months_needs(app, client):
    w = make_need_world()
    # Asia/Shanghai months: 2026-08-31 23:30 local is August; 2026-09-01 00:10 local is September.
    times = {
        "aug": datetime(2026, 8, 31, 15, 30, tzinfo=UTC),
        "sep1": datetime(2026, 8, 31, 16, 10, tzinfo=UTC),
        "sep2": datetime(2026, 9, 10, 2, 0, tzinfo=UTC),
        "nov": datetime(2026, 11, 2, 2, 0, tzinfo=UTC),
        "old": datetime(2025, 11, 20, 2, 0, tzinfo=UTC),  # 12 months back: outside the window
    }
    made = {}
    for key, at in times.items():
        with time_machine.travel(at, tick=False):
            made[key] = make_need(w.household)
    with time_machine.travel(datetime(2026, 9, 10, 5, 0, tzinfo=UTC), tick=False):
        needs.accept(made["sep2"], w.member.user)
        needs.resolve(made["sep2"], w.member.user, NeedOutcome.SOLVED, "已修好")
    db.session.commit()
    with time_machine.travel(datetime(2026, 11, 29, 4, 0, tzinfo=UTC), tick=False):
        login(client, w.p.community_admin)
        resp = client.get("/needs/dashboard")
        html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html[:300]
    rows = dict(_months(html, "chart-needs-counts"))
    assert _header(html, "chart-needs-counts") == _header(html, "chart-needs-rates") == "月份"
    assert list(rows)[0] == "2025-12" and list(rows)[-1] == "2026-11"
    assert rows["2026-08"] == ["1", "0"]
    assert rows["2026-09"] == ["2", "1"]
    assert rows["2026-11"] == ["1", "0"]
    assert sum(int(v[0]) for v in rows.values()) == 4  # the 2025-11 need is outside
    # Each month links to the dashboard for that month, whose total is the bar's number.
    href = re.search(r'<a href="([^"]+)">2</a>', html.split('id="chart-needs-counts"')[1]).group(1)
    assert "from=2026-09-01" in href and "to=2026-09-30" in href
    with time_machine.travel(datetime(2026, 11, 29, 4, 0, tzinfo=UTC), tick=False):
        month_page = client.get(href.replace("&amp;", "&")).get_data(as_text=True)
    total = month_page.split('class="total"', 1)[1]
    assert re.search(r"<td[^>]*>\s*2\s*</td>", total)
    # Rates per month: September's resolution rate is 1 of 2.
    rates = dict(_months(html, "chart-needs-rates"))
    assert rates["2026-09"][1] == "50%" and rates["2026-10"] == ["—", "—", "—"]


def test_the_dashboard_stays_at_a_fixed_number_of_queries(app, client):
    w = make_need_world()
    make_need(w.household)
    login(client, w.p.community_admin)
    few = queries_for(client, "/needs/dashboard")
    for _i in range(5):
        make_need(w.household)
    assert queries_for(client, "/needs/dashboard") == few


def test_a_chart_of_counts_has_whole_ticks():
    from app.charts import whole_max

    for peak in (1, 3, 5, 7, 13, 26, 49, 101, 1249, 2618):
        top = whole_max(peak)
        assert top >= peak and top % 4 == 0 and top <= 2 * peak + 3
    c = bar_chart("人数", ["a", "b"], [Series("党员人数", [3, 1])], header="积分段")
    assert [label for _y, label in c.ticks] == ["0", "1", "2", "3", "4"]
    rates = bar_chart("率", ["a"], [Series("率", [2.5])], header="村/社区")
    assert rates.ticks[-1][1] == "2.5"  # not counts: the round maximum as before
