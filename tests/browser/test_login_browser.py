"""A member logs in on a phone."""

from __future__ import annotations

from tests.browser.conftest import browser_login, screenshot
from tests.factories import PASSWORD, make_member, make_tree


def test_member_logs_in_on_a_phone(live_server, phone):
    tree = make_tree()
    member = make_member(tree.grid, name="李党员")
    phone.goto(f"{live_server.url}/login")
    screenshot(phone, "login-phone")
    # A wrong password first: the message is shown and the phone number is kept.
    phone.get_by_label("手机号").fill(member.phone)
    phone.get_by_label("密码").fill("wrong-password")
    phone.get_by_role("button", name="登录").click()
    phone.get_by_text("手机号或密码不正确").wait_for()
    assert phone.get_by_label("手机号").input_value() == member.phone
    screenshot(phone, "login-phone-error")
    browser_login(phone, live_server.url, member.phone, PASSWORD)
    phone.get_by_text("您好，李党员").wait_for()
    # Nothing wider than the phone: no sideways scrolling.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "home-member-phone")
