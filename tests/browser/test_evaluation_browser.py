"""A district admin on a tablet (1024×768) opens the evaluation sheet, records 纳入村级后备人才库
for a member with a reason, and the 后备人才库 shows them."""

from __future__ import annotations

from tests.browser.conftest import browser_login, screenshot
from tests.evaluation_fixtures import YEAR, make_eval_world
from tests.factories import PASSWORD


def test_a_district_admin_records_a_reserve_pool_outcome_from_the_sheet(live_server, tablet):
    w = make_eval_world()
    page = tablet
    browser_login(page, live_server.url, w.p.district_admin.phone, PASSWORD)

    page.get_by_role("navigation", name="主导航").get_by_role("link", name="评先", exact=True).click()
    page.get_by_role("heading", name="评先选优").wait_for()
    page.goto(f"{live_server.url}/evaluation/{w.p.tree.community.id}/{YEAR}/members")
    page.get_by_role("heading", name=f"龙山社区 · {YEAR}年度 · 党员评定表").wait_for()
    assert page.get_by_text("得分 = Σ（权重 × 该项数值 ÷ 本表该项最高值）").is_visible()
    first = page.locator("#sheet-table tbody tr").first
    assert "李乙" in first.inner_text() and "73.3" in first.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    screenshot(page, "evaluation-sheet-tablet")

    page.locator("#sheet-table").get_by_role("link", name="李乙").click()
    page.get_by_role("heading", name=f"李乙 · {YEAR}年度评定").wait_for()
    assert page.get_by_text("第 1 名，共 5 人").is_visible()
    # Without a reason: refused in Chinese, nothing recorded.
    page.get_by_label("纳入村级后备人才库").check()
    page.get_by_role("button", name="记录").click()
    page.get_by_text("请填写评定理由").wait_for()
    page.get_by_label("理由").fill("走访全覆盖，群众满意，培养为村级后备力量")
    page.get_by_role("button", name="记录").click()
    page.get_by_text("已记录：纳入村级后备人才库。").wait_for()
    assert page.locator("#outcome-history").get_by_text("走访全覆盖，群众满意，培养为村级后备力量").is_visible()
    screenshot(page, "evaluation-outcome-tablet")

    page.goto(f"{live_server.url}/evaluation/")
    page.get_by_role("link", name="村级后备人才库").first.click()
    page.get_by_role("heading", name="村级后备人才库").wait_for()
    row = page.locator("#reserve-table tbody tr").first
    text = row.inner_text()
    assert "李乙" in text and f"{YEAR}年度 · 龙山社区" in text and "区管理员" in text
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    screenshot(page, "evaluation-reserve-tablet")
