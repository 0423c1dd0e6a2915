"""A member records a 走访 with a photo on a phone, and the stored photo has no EXIF."""

from __future__ import annotations

from PIL import Image

from app.extensions import db
from app.models import Activity, Photo
from app.services.photos import photo_path
from tests.browser.conftest import browser_login, screenshot
from tests.factories import (
    PASSWORD,
    image_bytes,
    make_household,
    make_member,
    make_resident,
    make_tree,
)


def test_member_records_a_visit_with_a_photo_on_a_phone(live_server, phone, tmp_path):
    tree = make_tree()
    household = make_household(tree.grid)
    member = make_member(tree.grid, name="李党员", household=household)
    make_resident(tree.grid, member, head_name="赵大爷")
    make_resident(tree.grid, member, head_name="钱大妈")
    make_member(tree.grid, name="陈同行", household=household)
    picture = tmp_path / "IMG_20250515.jpg"
    picture.write_bytes(image_bytes(size=(1200, 900), color="teal", exif_gps=True))
    with Image.open(picture) as original:
        assert original.getexif().get_ifd(0x8825)  # the upload does carry GPS

    browser_login(phone, live_server.url, member.phone, PASSWORD)
    phone.get_by_role("link", name="服务记录").click()
    # The home has a 记录服务 button too: wait for the list's, or the click races the navigation.
    phone.wait_for_url(f"{live_server.url}/activities/")
    phone.get_by_role("link", name="记录服务").click()
    phone.wait_for_url(f"{live_server.url}/activities/new")
    phone.get_by_text("走访", exact=True).click()
    phone.get_by_label("地址（不在驿站时填写）").fill("龙山路12号")
    # Tick only after the active search has answered and swapped its list: a tick made on the
    # list it is about to replace would be lost.
    with phone.expect_response(lambda r: "/activities/pick/residents" in r.url):
        phone.get_by_placeholder("地址或户主姓名").fill("赵")
    phone.wait_for_timeout(200)  # htmx settles the swap
    phone.locator("#resident-options").get_by_text("赵大爷").click()
    phone.locator("#resident-options input:checked").wait_for()
    with phone.expect_response(lambda r: "/activities/pick/members" in r.url):
        phone.get_by_placeholder("输入姓名").fill("陈")
    phone.wait_for_timeout(200)
    phone.locator("#fellow-options").get_by_text("陈同行").click()
    phone.locator("#fellow-options input:checked").wait_for()
    phone.get_by_label("做了什么").fill("入户走访，了解老人身体情况")
    phone.locator("input[type=file]").set_input_files(str(picture))
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "activities-new-phone")
    phone.get_by_role("button", name="保存记录").click()
    phone.get_by_text("已记录。").wait_for()
    screenshot(phone, "activities-detail-phone")
    phone.get_by_role("link", name="服务记录").first.click()
    phone.locator("#activity-list").get_by_text("走访").wait_for()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "activities-list-phone")

    db.session.rollback()  # end the read snapshot taken before the browser saved
    activity = db.session.scalar(db.select(Activity))
    assert activity.kind.value == "visit" and activity.note == "入户走访，了解老人身体情况"
    photo = db.session.scalar(db.select(Photo))
    stored = photo_path(photo)
    assert str(stored).startswith(live_server.app.config["UPLOAD_DIR"])
    with Image.open(stored) as image:
        assert image.format == "JPEG"
        assert not image.getexif() and "exif" not in image.info
    assert b"Exif" not in stored.read_bytes()[:4096]
