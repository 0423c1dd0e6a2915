"""The resident's need form switched to English on a phone."""

from __future__ import annotations

from app.extensions import db
from app.services import entry_tokens
from tests.browser.conftest import screenshot
from tests.factories import make_member, make_resident, make_tree


def test_resident_switches_the_need_form_to_english(live_server, phone):
    tree = make_tree()
    resident = make_resident(tree.grid, member=make_member(tree.grid, name="李党员"))
    token = entry_tokens.current_token(resident).token
    db.session.commit()
    phone.goto(f"{live_server.url}/c/{token}")
    phone.get_by_role("button", name="English").click()
    phone.wait_for_url(f"{live_server.url}/c/{token}")
    phone.get_by_role("button", name="简体中文").wait_for()
    assert phone.evaluate("document.documentElement.lang") == "en"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "needs-card-form-english-phone")
