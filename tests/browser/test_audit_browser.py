"""The audit log on the district admin's tablet (1024×768): search, then export what was found."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from app.extensions import db
from app.services.privacy import audit
from tests.browser.conftest import browser_login, screenshot
from tests.factories import PASSWORD, make_admin, make_member, make_tree


def test_the_district_admin_searches_and_exports_the_audit_log(live_server, tablet):
    tree = make_tree()
    admin = make_admin(tree.district, name="区管理员")
    member = make_member(tree.grid, name="李党员")
    audit(admin.id, "phone.reveal", "member", member.id, detail="查看手机号", ip="10.0.0.8")
    audit(None, "login.failed", "user", member.user_id, detail="138****0002", ip="203.0.113.9")
    db.session.commit()

    browser_login(tablet, live_server.url, admin.phone, PASSWORD)
    tablet.goto(f"{live_server.url}/audit/")
    table = tablet.locator("#audit-table")
    table.get_by_text("203.0.113.9").wait_for()
    screenshot(tablet, "audit-tablet")
    # Search by kind of action: the table is replaced in place (htmx) and the URL says the filter.
    tablet.get_by_label("操作").select_option("login.failed")
    tablet.wait_for_url("**action=login.failed**")
    table = tablet.locator("#audit-table")
    table.get_by_text("203.0.113.9").wait_for()
    assert table.get_by_text("10.0.0.8").count() == 0
    screenshot(tablet, "audit-tablet-filtered")
    with tablet.expect_download() as download_info:
        tablet.get_by_role("link", name="导出 Excel 台账").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    with open(download.path(), "rb") as f:
        sheet = load_workbook(io.BytesIO(f.read())).active
    text = " ".join(str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None)
    assert "203.0.113.9" in text and "10.0.0.8" not in text and "登录失败" in text
