"""A member self-nominates on a phone; a township admin takes it to establishment on a tablet.

The notice period cannot pass in real time during a test: once the notice has started, the test
moves the nomination's last notice day to yesterday in the database (what five days of waiting
would do) and the admin then establishes the household through the page.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from playwright.sync_api import expect

from app.clock import local_today
from app.extensions import db
from app.models import Nomination
from tests.browser.conftest import browser_login, screenshot
from tests.factories import PASSWORD, make_admin, make_member, make_tree


def test_member_self_nominates_on_a_phone_and_admin_establishes_on_a_tablet(live_server, phone, tablet):
    tree = make_tree()
    member = make_member(tree.grid, name="陈候选")
    admin = make_admin(tree.township, name="镇管理员")
    url = live_server.url

    # The member, on the phone.
    browser_login(phone, url, member.phone, PASSWORD)
    phone.locator("#nav-more summary").click()  # on a phone it is in the nav's 更多 sheet
    if not phone.get_by_role("link", name="我要自荐").first.is_visible():
        phone.locator("#nav-more summary").click()  # on a phone it is in the 更多 sheet
    phone.get_by_role("link", name="我要自荐").click()
    phone.get_by_label("人选类别").select_option("employed")
    phone.get_by_label("中心户住址").fill("龙山路1号3栋")
    phone.get_by_role("button", name="提交自荐").click()
    phone.get_by_text("请至少对照一项标准填写推荐理由").wait_for()
    assert phone.get_by_label("中心户住址").input_value() == "龙山路1号3栋"
    screenshot(phone, "nomination-self-error-phone")
    phone.get_by_label("政治素质").fill("入党二十年，坚持参加组织生活")
    phone.get_by_label("服务能力").fill("常年帮邻居调解纠纷")
    phone.get_by_role("button", name="提交自荐").click()
    phone.get_by_text("自荐已提交").wait_for()
    assert phone.locator("#nomination-status").inner_text() == "待村党组织审定"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "nomination-submitted-phone")

    # The township admin, on the tablet: village approval, joint review, township approval.
    browser_login(tablet, url, admin.phone, PASSWORD)
    tablet.get_by_role("link", name="建户审核").click()
    tablet.wait_for_url("**/nominations/**")
    tablet.locator("#nomination-list").get_by_role("link", name="陈候选", exact=True).click()
    screenshot(tablet, "nomination-detail-tablet")
    section = tablet.locator("#community-review")
    section.get_by_label("同意", exact=True).check()
    section.get_by_role("button", name="提交审定意见").click()
    expect(tablet.locator("#nomination-status")).to_have_text("待乡镇审核联审")
    # Trying to approve before the departments signed off is refused with the reason.
    township = tablet.locator("#township-form")
    township.get_by_label("同意", exact=True).check()
    township.get_by_role("button", name="提交审核意见").click()
    tablet.get_by_text("联审尚未完成").wait_for()
    screenshot(tablet, "nomination-joint-review-refused-tablet")
    for signed in (1, 2):  # 纪检, then 公安
        form = tablet.locator("#signoff-form")
        form.get_by_label("无异议").check()
        form.get_by_role("button", name="登记部门意见").click()
        expect(tablet.locator("#joint-review .badge-ok")).to_have_count(signed)
    tablet.get_by_text("各联审部门均无异议").wait_for()
    screenshot(tablet, "nomination-joint-review-done-tablet")
    township = tablet.locator("#township-form")
    township.get_by_label("同意", exact=True).check()
    township.get_by_role("button", name="提交审核意见").click()
    expect(tablet.locator("#nomination-status")).to_have_text("村级公示")
    assert tablet.get_by_role("button", name="创建党员中心户").is_disabled()

    # Anyone sees the notice, without personal data.
    phone.goto(f"{url}/nominations/notice")
    phone.get_by_role("heading", name="陈候选").wait_for()
    assert member.phone not in phone.content()
    screenshot(phone, "nomination-public-notice-phone")

    # Five days pass (see the module docstring), then the admin establishes the household.
    db.session.rollback()  # end the test session's old read snapshot: the server wrote since
    nom = db.session.scalars(sa.select(Nomination)).one()
    nom.notice_last_day = local_today() - timedelta(days=1)
    db.session.commit()
    tablet.reload()
    tablet.get_by_role("button", name="创建党员中心户").click()
    tablet.get_by_text("党员中心户已创建").wait_for()
    assert "YX-" in tablet.locator("h1").inner_text()
    screenshot(tablet, "household-established-tablet")
    tablet.get_by_role("link", name="打印挂牌").click()
    tablet.locator("#plaque svg").wait_for()
    screenshot(tablet, "household-plaque-tablet")
