"""A mentor on a phone records a guidance contact and sees the household's flag clear."""

from __future__ import annotations

from app.extensions import db
from app.models import CentralHousehold, MemberCategory
from tests.browser.conftest import browser_login, screenshot
from tests.factories import PASSWORD, make_household, make_member, make_personas, user_of


def test_mentor_records_a_guidance_contact_on_a_phone(live_server, phone):
    p = make_personas()
    mentor = make_member(p.tree.grid_b, name="胡书记", category=MemberCategory.VILLAGE_COMMITTEE)
    mentor.is_secretary = True
    first = db.session.get(CentralHousehold, p.member.central_household_id)
    second = make_household(p.tree.grid_b, head=make_member(p.tree.grid_b, name="张户长"), number="T-B01")
    first.mentor_id = second.mentor_id = mentor.id
    db.session.commit()
    page = phone
    browser_login(page, live_server.url, user_of(mentor).phone, PASSWORD)

    if not page.get_by_role("link", name="我的帮带").first.is_visible():
        page.locator("#nav-more summary").click()  # on a phone it is in the 更多 sheet
    page.get_by_role("link", name="我的帮带").click()
    row = page.locator(f"#mentored-{first.id}")
    row.get_by_text("本季度未帮带").wait_for()
    assert page.locator(f"#mentored-{second.id}").get_by_text("本季度未帮带").count() == 1
    screenshot(page, "mentoring-before-phone")

    row.get_by_role("link", name="记录帮带").click()
    page.get_by_label("帮带方式").select_option(label="电话沟通")
    page.get_by_label("指导了什么").fill("指导梳理联系群众户的急难愁盼，落实本月走访")
    page.get_by_label("后续跟进").fill("下月回访")
    screenshot(page, "mentoring-record-phone")
    page.get_by_role("button", name="保存").click()

    page.wait_for_url(f"{live_server.url}/mentoring/")
    page.get_by_text("已记录对 王户长 的帮带。").wait_for()
    row = page.locator(f"#mentored-{first.id}")
    assert row.get_by_text("本季度已帮带 1 次").count() == 1
    assert row.get_by_text("本季度未帮带").count() == 0
    assert "电话沟通" in row.inner_text()
    assert page.locator(f"#mentored-{second.id}").get_by_text("本季度未帮带").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "mentoring-after-phone")
