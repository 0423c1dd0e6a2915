"""The loop on a 360 px phone: a resident scans a contact card, the member accepts and resolves,
the resident rates 不满意 and the need reopens."""

from __future__ import annotations

import io

import sqlalchemy as sa
from PIL import Image

from app.extensions import db
from app.models import Need, NeedStatus
from app.services import entry_tokens
from tests.browser.conftest import browser_login, screenshot
from tests.factories import PASSWORD, make_need_world


def _fits(page) -> None:  # type: ignore[no-untyped-def]
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > 361)
        .map(e => e.tagName + '.' + e.className + '#' + e.id).slice(0, 5)""")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, wide


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (30, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


def test_resident_member_resident_loop_on_a_phone(live_server, phone):
    w = make_need_world()
    token = entry_tokens.current_token(w.household).token
    db.session.commit()
    base = live_server.url

    # The resident scans the card.
    phone.goto(f"{base}/c/{token}")
    phone.get_by_text("您的联系党员 李党员").wait_for()
    _fits(phone)
    screenshot(phone, "needs-card-form-phone")
    phone.get_by_text("设施维修").click()
    phone.get_by_label("遇到了什么困难？").fill("楼道灯坏了三天，晚上看不见路")
    phone.get_by_label("照片").set_input_files({"name": "light.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()})
    phone.get_by_label("我同意为办理本诉求使用我的联系方式").check()
    phone.get_by_role("button", name="提交").click()
    phone.get_by_text("已提交，谢谢您！").wait_for()
    code = phone.locator("#tracking-code").inner_text()
    track_url = phone.url.split("?")[0]
    _fits(phone)
    screenshot(phone, "needs-submitted-phone")
    need = db.session.scalar(sa.select(Need))
    assert need.code == code and need.photo_id is not None

    # The covering member accepts and resolves.
    browser_login(phone, base, w.member.phone, PASSWORD)
    phone.goto(f"{base}/needs/")
    phone.get_by_text("楼道灯坏了三天").wait_for()
    _fits(phone)
    screenshot(phone, "needs-inbox-phone")
    phone.get_by_role("button", name="接单").click()
    phone.locator(f"#need-{need.id}").get_by_text("已接单").wait_for()
    phone.get_by_role("link", name="进展 / 办结").click()
    phone.get_by_text("办结", exact=True).click()
    phone.get_by_text("已解决").click()
    phone.get_by_label("情况说明").fill("已联系物业更换灯泡")
    phone.get_by_role("button", name="确认办结").click()
    phone.locator("#need-summary").get_by_text("已办结").first.wait_for()
    _fits(phone)
    screenshot(phone, "needs-resolved-phone")
    phone.get_by_role("button", name="退出").click()
    phone.wait_for_url(f"{base}/login")

    # The resident rates it 不满意 through the tracking link; it reopens.
    phone.goto(track_url)
    phone.get_by_text("已联系物业更换灯泡").first.wait_for()
    phone.get_by_text("不满意", exact=True).click()
    phone.get_by_label("还想说的话（可不填）").fill("还是不亮")
    screenshot(phone, "needs-rate-phone")
    phone.get_by_role("button", name="提交评价").click()
    phone.get_by_text("诉求已退回重新办理").wait_for()
    _fits(phone)
    screenshot(phone, "needs-reopened-phone")
    db.session.commit()  # end the test's read snapshot; re-read what the server wrote
    need = db.session.get(Need, need.id)
    assert need.status is NeedStatus.IN_PROGRESS and need.reopen_count == 1
