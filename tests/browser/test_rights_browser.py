"""Residents' rights on a phone (issue 12, PIPL): a resident downloads their data with a tracking
code and their phone, then asks for erasure and confirms it."""

from __future__ import annotations

import io
import json
import zipfile

from app.extensions import db
from app.models import Need
from app.services import needs
from app.services.privacy_rights import ERASED_TEXT
from tests.browser.conftest import screenshot
from tests.factories import make_need, make_need_world

PHONE = "13911112222"


def test_a_resident_downloads_then_erases_their_data_on_a_phone(live_server, phone):
    w = make_need_world()
    first = make_need(w.household, text="楼道灯坏了", contact_name="赵大爷")
    needs.accept(first, w.member.user)
    needs.add_progress(first, w.member.user, "赵大爷独居，下午再去")
    second = make_need(w.household, text="门口积水", contact_name="赵大爷")
    db.session.commit()
    first_id = first.id

    phone.goto(f"{live_server.url}/rights")
    phone.get_by_text("删除时删除什么").wait_for()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
    screenshot(phone, "rights-phone")

    phone.get_by_label("查询码").fill(second.code)
    phone.get_by_label("提交时留的手机号").fill(PHONE)
    with phone.expect_download() as download_info:
        phone.get_by_role("button", name="下载我的数据").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".zip")
    with open(download.path(), "rb") as f:
        archive = zipfile.ZipFile(io.BytesIO(f.read()))
    data = json.loads(archive.read("data.json"))
    assert {n["code"] for n in data["needs"]} == {first.code, second.code}

    phone.get_by_role("button", name="申请删除我的个人信息").click()
    phone.get_by_role("heading", name="确认删除").wait_for()
    assert phone.get_by_text(first.code).is_visible() and phone.get_by_text(second.code).is_visible()
    screenshot(phone, "rights-confirm-phone")
    phone.get_by_role("button", name="确认删除").click()  # not ticked: asked again, nothing erased
    phone.get_by_text("请勾选").wait_for()
    db.session.rollback()  # a fresh read: the server wrote (or not) in another connection
    assert db.session.get(Need, first_id).text == "楼道灯坏了"
    phone.get_by_label("我已了解，确认删除").check()
    phone.get_by_role("button", name="确认删除").click()
    phone.get_by_text("已删除 2 件诉求中的个人信息").wait_for()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "rights-erased-phone")
    db.session.rollback()
    erased = db.session.get(Need, first_id)
    assert erased.text == ERASED_TEXT and erased.contact_phone is None
