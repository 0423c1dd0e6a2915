"""A resident's form loads its own small stylesheet (issue 14); the pages after it are whole.

htmx's boosted navigation swaps the body and keeps the head, so the tracking page reached by
submitting a card's form would keep the form's smaller stylesheet: static/js/app.js loads such a
page whole instead. Checked in a real browser: the stylesheet changes, and the tracking page's own
rules apply (its code in large type).
"""

from __future__ import annotations

from tests.browser.conftest import PHONE, context_for, screenshot


def _stylesheet(page) -> str:  # type: ignore[no-untyped-def]
    return page.evaluate("document.querySelector('link[rel=stylesheet]').getAttribute('href')")


def test_a_card_form_has_the_residents_stylesheet_and_the_tracking_page_after_it_the_whole_one(browser, demo_site):
    site, pages = demo_site
    context = context_for(browser, PHONE)
    page = context.new_page()
    page.goto(f"{site.url}/c/{pages.card_token}")
    assert "/static/css/resident." in _stylesheet(page)
    # Styled by it: the submit button is a full-width 44 px target.
    button = page.get_by_role("button", name="提交").bounding_box()
    assert button["height"] >= 44 and button["width"] >= 300
    page.get_by_text("医疗养老").click()
    page.get_by_label("遇到了什么困难？").fill("想问问能不能上门量血压（样式测试）")
    page.get_by_label("联系电话").fill("13800138001")
    page.get_by_label("我同意为办理本诉求使用我的联系方式").check()
    page.get_by_role("button", name="提交").click()
    page.get_by_text("已提交，谢谢您！").wait_for()
    page.wait_for_load_state("load")
    assert "/static/css/app." in _stylesheet(page)
    # A rule only app.css has: the tracking code's digits in groups, in large monospace type.
    family = page.evaluate("getComputedStyle(document.querySelector('#need-code')).fontFamily")
    assert "mono" in family.lower() or "courier" in family.lower(), family
    screenshot(page, "speed-card-then-tracking-phone")
    context.close()
