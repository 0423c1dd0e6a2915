"""Field conditions in a real browser at 360×740: a member types the kiosk's code when the phone cannot
scan, and records service with no signal (the outbox sends it when the signal returns)."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Activity, ActivityPhoto, Checkin, CheckinMethod, DiaryEntry
from tests.browser.conftest import PHONE, browser_login, screenshot
from tests.factories import (
    PASSWORD,
    image_bytes,
    make_member,
    make_resident,
    make_station,
    make_station_admin,
    make_tree,
)


def _phone_context(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  device_scale_factor=1, has_touch=True, is_mobile=True)
    context.set_default_timeout(20_000)
    return context


def test_member_types_the_code_the_kiosk_shows_and_is_checked_in(live_server, browser, tablet):
    tree = make_tree()
    station = make_station(tree.community)
    admin = make_station_admin(station)
    member = make_member(tree.grid, name="李党员")
    browser_login(tablet, live_server.url, admin.phone, PASSWORD)
    tablet.goto(f"{live_server.url}/stations/{station.id}/kiosk")
    tablet.locator("#kiosk-code").wait_for()
    screenshot(tablet, "field-kiosk-with-code")

    context = _phone_context(browser)
    phone = context.new_page()
    try:
        browser_login(phone, live_server.url, member.phone, PASSWORD)
        phone.locator("#nav-more summary").click()  # on a phone it is in the nav's 更多 sheet
        phone.get_by_role("link", name="我的签到").first.click()
        phone.get_by_role("link", name="扫不了码？输入签到码签到").click()
        phone.wait_for_url("**/checkin/code")
        assert phone.get_by_label("驿站").input_value() == str(station.id)  # their own station, chosen
        phone.get_by_label("签到码").fill("000000" if tablet.locator("#kiosk-code").inner_text() != "000000" else "111111")
        phone.get_by_role("button", name="签到").click()
        phone.locator("#code-error").wait_for()
        assert "签到码不对" in phone.locator("#code-error").inner_text()
        assert phone.get_by_label("签到码").get_attribute("aria-invalid") == "true"
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360
        screenshot(phone, "field-code-wrong")
        tablet.reload()  # the code on the screen now (it may have rotated meanwhile)
        code = tablet.locator("#kiosk-code").inner_text().replace(" ", "").replace("\n", "")
        phone.get_by_label("签到码").fill(code)
        phone.get_by_role("button", name="签到").click()
        phone.get_by_role("heading", name="签到成功").wait_for()
        assert phone.get_by_text("输入签到码").is_visible()
        screenshot(phone, "field-code-success")
    finally:
        context.close()
    db.session.commit()
    [row] = db.session.scalars(sa.select(Checkin)).unique().all()
    assert (row.member_id, row.method) == (member.id, CheckinMethod.TYPED)
    tablet.get_by_text("李*员").wait_for(timeout=12_000)  # the kiosk's list shows it, badge and all
    screenshot(tablet, "field-kiosk-after-typed")


def test_member_records_service_and_a_diary_entry_offline_and_both_arrive_once(live_server, browser, tmp_path):
    tree = make_tree()
    member = make_member(tree.grid, name="李党员")
    resident = make_resident(tree.grid, member, head_name="赵大爷")
    photo = tmp_path / "visit.jpg"
    photo.write_bytes(image_bytes(size=(640, 480)))
    context = _phone_context(browser)
    record = context.new_page()
    try:
        browser_login(record, live_server.url, member.phone, PASSWORD)
        record.goto(f"{live_server.url}/activities/new")
        diary = context.new_page()
        diary.goto(f"{live_server.url}/diary/new")
        key = record.locator("input[name=client_key]").input_value()
        assert len(key) == 36 and key != diary.locator("input[name=client_key]").input_value()

        context.set_offline(True)
        record.get_by_label("地址（不在驿站时填写）").fill("龙山路12号赵大爷家")
        record.get_by_label("做了什么").fill("上门讲解医保缴费，帮助在手机上操作")
        record.get_by_label("照片（最多 6 张）").set_input_files(str(photo))
        record.get_by_role("button", name="保存记录").click()
        record.get_by_text("待发送 1 条").wait_for()
        assert record.get_by_text("没有网络：已存在手机上").is_visible()
        assert record.get_by_label("做了什么").input_value() == ""  # ready for the next record
        screenshot(record, "field-outbox-activity-kept")

        diary.get_by_label("群众户").select_option(str(resident.id))
        diary.get_by_label("听到了什么").fill("赵大爷说楼道灯坏了一个星期")
        diary.get_by_role("button", name="保存").click()
        diary.get_by_text("待发送 2 条").wait_for()
        assert diary.evaluate("document.documentElement.scrollWidth") <= 360
        screenshot(diary, "field-outbox-two-kept")
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Activity)) == 0

        context.set_offline(False)  # both pages hear "online" and send: the database keeps one of each
        diary.locator("#outbox-status").wait_for(state="hidden")
        record.locator("#outbox-status").wait_for(state="hidden")
        screenshot(diary, "field-outbox-sent")
        diary.reload()
        record.goto(f"{live_server.url}/activities/")
        record.get_by_text("龙山路12号赵大爷家").wait_for()
    finally:
        context.close()
    db.session.commit()
    [activity] = db.session.scalars(sa.select(Activity)).unique().all()
    assert (activity.author_member_id, activity.address, activity.client_key) == (member.id, "龙山路12号赵大爷家", key)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ActivityPhoto)) == 1
    [entry] = db.session.scalars(sa.select(DiaryEntry)).unique().all()
    assert (entry.member_id, entry.text) == (member.id, "赵大爷说楼道灯坏了一个星期")


def test_without_javascript_the_forms_post_as_before(live_server, browser):
    tree = make_tree()
    member = make_member(tree.grid, name="李党员")
    resident = make_resident(tree.grid, member, head_name="赵大爷")
    context = browser.new_context(viewport=PHONE, locale="zh-CN", java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/login")
        page.get_by_label("手机号").fill(member.phone)
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.goto(f"{live_server.url}/diary/new")
        page.get_by_label("群众户").select_option(str(resident.id))
        page.get_by_label("听到了什么").fill("没有脚本也能写")
        page.get_by_role("button", name="保存").click()
        page.get_by_text("已记入民情日记").wait_for()
    finally:
        context.close()
    db.session.commit()
    [entry] = db.session.scalars(sa.select(DiaryEntry)).unique().all()
    assert entry.client_key is None


def test_printed_contact_cards_show_their_link_in_full_without_clipping(live_server, phone):
    tree = make_tree()
    member = make_member(tree.grid, name="李党员")
    for _ in range(3):
        make_resident(tree.grid, member)
    browser_login(phone, live_server.url, member.phone, PASSWORD)
    phone.goto(f"{live_server.url}/needs/cards")
    phone.emulate_media(media="print")
    phone.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    links = phone.locator(".contact-card .typed-link-url")
    assert links.count() == 3
    assert links.first.get_attribute("data-url").startswith(f"{live_server.url}/c/")
    clipped = phone.evaluate("""[...document.querySelectorAll('.contact-card')].map(
        c => c.scrollHeight > c.clientHeight + 1 || c.querySelector('.typed-link').getBoundingClientRect().bottom
             > c.getBoundingClientRect().bottom)""")
    assert clipped == [False, False, False]
    screenshot(phone, "field-cards-print")
