"""Daily work in a real browser. At tablet width (1024×768) a district admin opens 工作看板, follows
the points chart's tallest bar into the members' ranking filtered to that band, and downloads its
ledger: an .xlsx holding as many members as the bar says. At phone width (360×740) a member's home
shows the overdue need first, in red with its reason, and one tap opens it."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from openpyxl import load_workbook

from app.clock import local_today, utcnow
from app.extensions import db
from app.models import PointsEntry, RuleCode
from tests.browser.conftest import PHONE, SCREENSHOTS, browser_login, context_for, screenshot
from tests.factories import (
    PASSWORD,
    make_admin,
    make_member,
    make_need,
    make_need_world,
    make_resident,
    make_tree,
)

# This year's points of the district's members: the top total is 55, so bands of ten.
POINTS = [0, 3, 12, 12, 25, 40, 41, 47, 55]


def _district():  # type: ignore[no-untyped-def]
    tree = make_tree()
    admin = make_admin(tree.district, name="区管理员")
    today = local_today()
    grids = [tree.grid, tree.grid_b, tree.grid2]
    for i, points in enumerate(POINTS):
        member = make_member(grids[i % 3], name=f"党员{i + 1}")
        if points:
            db.session.add(PointsEntry(member_id=member.id, points=points, code=RuleCode.NEED_RESOLVED_IN_SLA,
                                       source_type="need", source_id=9000 + i, occurred_on=today))
    db.session.commit()
    return admin


def _bars(page) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    """The points chart's bars as (band, members), read from the SVG's titles."""
    titles = page.locator("figure.chart:has(figcaption:has-text('积分分布')) svg rect title").evaluate_all(
        "els => els.map(e => e.textContent)")
    return [(m.group(1), int(m.group(2))) for m in (re.match(r"(.+) · 党员人数：(\d+)", t) for t in titles)]


def test_a_district_admin_follows_a_chart_bar_into_its_list_and_downloads_its_ledger(live_server, tablet):
    admin = _district()
    browser_login(tablet, live_server.url, admin.phone, PASSWORD)
    tablet.get_by_role("link", name="工作看板").first.click()
    tablet.get_by_role("heading", name="工作看板").wait_for()
    figure = tablet.locator("figure.chart:has(figcaption:has-text('积分分布'))")
    figure.scroll_into_view_if_needed()
    bars = _bars(tablet)
    assert bars == [("0 分及以下", 1), ("1–9 分", 1), ("10–19 分", 2), ("20–29 分", 1), ("30–39 分", 0),
                    ("40–49 分", 3), ("50–59 分", 1)]
    screenshot(tablet, "dashboard-tablet")
    figure.screenshot(path=str(SCREENSHOTS / "dashboard-points-chart-tablet.png"))

    band, members = max(bars, key=lambda b: b[1])
    figure.locator("svg a").nth([b for b, _n in bars].index(band)).locator("rect").click()
    tablet.wait_for_url("**/points/?**min=40**")
    tablet.get_by_text(f"共 {members} 条").wait_for()
    assert tablet.locator("#ranking-table tbody tr").count() == members
    screenshot(tablet, "dashboard-bar-list-tablet")

    with tablet.expect_download() as download_info:
        tablet.get_by_role("link", name="导出 Excel").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    with open(download.path(), "rb") as f:
        rows = list(load_workbook(io.BytesIO(f.read())).active.iter_rows(values_only=True))
    assert rows[1][0] == "单位：宜秀区" and rows[1][3] == f"筛选：排名对象：党员；积分：{band}"
    assert rows[2][:4] == ("名次", "姓名", "网格", "积分")
    assert len(rows[3:]) == members and sorted(r[3] for r in rows[3:]) == [40, 41, 47]


def test_the_dashboards_points_chart_reads_at_phone_width(live_server, browser):
    admin = _district()
    context = context_for(browser, PHONE, admin.phone, live_server.url, PASSWORD)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/overview/")
        figure = page.locator("figure.chart:has(figcaption:has-text('积分分布'))")
        figure.scroll_into_view_if_needed()
        box = figure.locator("svg").bounding_box()
        assert box is not None and box["width"] <= 360 and box["width"] >= 280
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        # Every axis label stays inside the drawing and is at least 9 px tall on screen.
        for label in figure.locator("svg text.chart-label").all():
            b = label.bounding_box()
            assert b is not None and b["x"] >= box["x"] - 1 and b["x"] + b["width"] <= box["x"] + box["width"] + 1
            assert b["height"] >= 9
        screenshot(page, "dashboard-phone")
        figure.screenshot(path=str(SCREENSHOTS / "dashboard-points-chart-phone.png"))
    finally:
        context.close()


def test_a_members_home_shows_the_overdue_need_first_in_red_and_one_tap_opens_it(live_server, phone):
    w = make_need_world()
    other = make_resident(w.p.tree.grid, member=w.member, head_name="钱大妈")
    late = make_need(w.household, text="水管漏水，楼下已经渗水", now=utcnow() - timedelta(days=3))
    make_need(other, text="想了解医保报销")
    browser_login(phone, live_server.url, w.member.phone, PASSWORD)
    first = phone.locator("#waiting-needs li").first
    first.wait_for()
    assert "水管漏水" in first.inner_text() and "已超过接单时限" in first.inner_text()
    assert "todo-overdue" in (first.get_attribute("class") or "")
    assert "想了解医保" in phone.locator("#waiting-needs li").nth(1).inner_text()
    # Red: the row's danger background and the reason's danger badge, as the stylesheet's tokens say.
    colours = first.evaluate("""li => {
        const css = getComputedStyle(document.documentElement);
        const probe = document.createElement('span'); document.body.append(probe);
        const token = name => { probe.style.color = css.getPropertyValue(name); return getComputedStyle(probe).color; };
        const out = {row: getComputedStyle(li).backgroundColor, rowToken: token('--color-danger-bg'),
                     badge: getComputedStyle(li.querySelector('.badge-bad')).color, badgeToken: token('--color-danger')};
        probe.remove(); return out; }""")
    assert colours["row"] == colours["rowToken"] and colours["badge"] == colours["badgeToken"]
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    # On the first screen, without scrolling: above the bottom bar.
    assert phone.evaluate("window.scrollY") == 0
    bar_top = phone.locator("nav.mainnav").bounding_box()["y"]
    assert first.bounding_box()["y"] + first.bounding_box()["height"] <= bar_top
    phone.screenshot(path=str(SCREENSHOTS / "member-home-overdue-first-screen-phone.png"))
    box = first.locator("a").bounding_box()
    assert box is not None and box["height"] >= 44  # a thumb's target
    screenshot(phone, "member-home-overdue-phone")
    first.locator("a").tap()
    phone.wait_for_url(f"**/needs/{late.id}")
    phone.get_by_text("水管漏水，楼下已经渗水").first.wait_for()
    screenshot(phone, "member-home-overdue-opened-phone")
