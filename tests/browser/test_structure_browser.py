"""An admin on a tablet searches the member list as they type, and reads an import error report."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

from tests.browser.conftest import browser_login, screenshot
from tests.factories import PASSWORD, make_member, make_personas, make_resident


def test_admin_searches_members_as_they_type_and_sees_an_import_report(live_server, tablet, tmp_path: Path):
    p = make_personas()
    for i in range(12):
        make_member(p.tree.grid_b, name=f"党员{i:02d}")
    target = make_member(p.tree.grid, name="欧阳明")
    for _ in range(3):
        make_resident(p.tree.grid, member=target)
    page = tablet
    browser_login(page, live_server.url, p.community_admin.phone, PASSWORD)

    page.goto(f"{live_server.url}/structure/members")
    page.get_by_text("共 15 名党员").wait_for()
    # Mark the document: a full page load would lose the mark.
    page.evaluate("document.body.dataset.sameDocument = 'yes'")
    page.get_by_label("搜索").press_sequentially("欧阳", delay=50)
    page.get_by_text("共 1 名党员").wait_for()
    page.wait_for_url("**/structure/members?q=*")
    assert "q=%E6%AC%A7%E9%98%B3" in page.url
    assert page.evaluate("document.body.dataset.sameDocument") == "yes"
    row = page.locator("#members-table tbody tr")
    assert row.count() == 1 and "欧阳明" in row.inner_text() and "不足15户" in row.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    screenshot(page, "structure-members-search-tablet")

    page.goto(f"{live_server.url}/structure/")
    page.get_by_role("link", name="展开下级（2）").click()
    page.locator("#node-children-3, [id^=node-children-]").get_by_text("第二网格").wait_for()
    screenshot(page, "structure-tree-tablet")

    wb = Workbook()
    wb.active.append(["姓名", "手机号", "网格", "党员类别"])
    wb.active.append(["陈一", "13900000001", "第九网格", "五老"])
    wb.active.append(["", "12345", "第一网格", "党员"])
    path = tmp_path / "党员名册.xlsx"
    wb.save(path)
    page.goto(f"{live_server.url}/structure/import")
    page.get_by_label("名册文件（.xlsx 或 .csv）").set_input_files(str(path))
    page.get_by_role("button", name="上传并检查").click()
    page.get_by_text("未导入任何数据").wait_for()
    assert page.get_by_text("找不到网格“第九网格”").count() == 1
    assert page.get_by_text("姓名不能为空").count() == 1
    screenshot(page, "structure-import-errors-tablet")
