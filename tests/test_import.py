"""Roster import: templates, the happy path for each kind and format, and every bad file refused
with a Chinese message and nothing saved."""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile

import pytest
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook

from app.clock import local_today
from app.extensions import db
from app.models import AuditEntry, CentralHousehold, Duty, Member, ResidentHousehold, User
from app.services import importer
from tests.factories import login, make_member, make_personas

MEMBER_HEADERS = ["姓名", "手机号", "网格", "党员类别", "所属中心户编号"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx(rows: list[list]) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


def multipart(kind: str, data: bytes, filename: str) -> tuple[bytes, str]:
    """A multipart body built by hand: the test client would spool a big file to a temporary file
    it never closes (a ResourceWarning, an error under filterwarnings)."""
    boundary = "----roster-boundary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\n{kind}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n")
    return head.encode() + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def upload(client, kind: str, data: bytes, filename: str = "名册.xlsx"):  # type: ignore[no-untyped-def]
    body, content_type = multipart(kind, data, filename)
    return client.post("/structure/import", data=body, content_type=content_type)


def confirm(client, preview):  # type: ignore[no-untyped-def]
    html = preview.get_data(as_text=True)
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', html).group(1)
    kind = re.search(r'name="kind" type="hidden" value="([^"]+)"', html).group(1)
    return client.post("/structure/import/confirm", data={"kind": kind, "token": token})


def totals() -> tuple[int, ...]:
    return tuple(
        db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (User, Member, CentralHousehold, ResidentHousehold)
    )


@pytest.fixture
def p(client):  # type: ignore[no-untyped-def]
    personas = make_personas()
    login(client, personas.community_admin)
    return personas


def refused(response, *messages: str) -> str:  # type: ignore[no-untyped-def]
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html[:400]
    for message in messages:
        assert message in html, message
    return html


# --- Templates --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["members", "households", "residents"])
def test_each_kind_has_a_template_with_chinese_headers_and_an_example(client, p, kind):
    response = client.get(f"/structure/import/template/{kind}.xlsx")
    assert response.status_code == 200 and response.mimetype == XLSX
    rows = list(load_workbook(io.BytesIO(response.data)).worksheets[0].iter_rows(values_only=True))
    assert list(rows[0]) == importer.SPECS[kind].headers
    assert any(rows[1])
    assert client.get("/structure/import/template/nope.xlsx").status_code == 404


def test_the_members_template_as_downloaded_passes_the_check(client, p):
    data = client.get("/structure/import/template/members.xlsx").data
    response = upload(client, "members", data)
    assert response.status_code == 200
    assert "全部检查通过" in response.get_data(as_text=True)


# --- Happy paths ------------------------------------------------------------------------------


def test_members_from_xlsx_are_previewed_then_saved_on_confirm(client, p):
    before = totals()
    data = xlsx([MEMBER_HEADERS,
                 ["陈一", "139 0000 0001", "第一网格", "在职党员", p.member.central_household.number],
                 ["陈二", 13900000002, "龙山社区/第二网格", "五老", None]])
    preview = upload(client, "members", data)
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "全部检查通过" in html and "新增党员" in html
    assert totals() == before  # nothing until confirmed
    done = confirm(client, preview)
    assert done.status_code == 303
    assert totals()[:2] == (before[0] + 2, before[1] + 2)
    chen = db.session.scalar(sa.select(Member).join(Member.user).where(User.phone == "13900000001"))
    assert chen.user.password_hash is None and chen.category.value == "employed"
    assert chen.central_household_id == p.member.central_household_id
    assert db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "import")).object_type == "members"
    assert "导入成功" in client.get("/structure/import").get_data(as_text=True)
    # The preview cannot be confirmed twice.
    refused(confirm(client, preview), "预览已过期或无效")


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig"])
def test_members_from_csv_in_every_encoding_chinese_excel_writes(client, p, encoding):
    data = csv_bytes([MEMBER_HEADERS[:4], ["欧阳修", "13900000003", "第一网格", "村两委"]], encoding)
    preview = upload(client, "members", data, "党员.csv")
    assert preview.status_code == 200, preview.get_data(as_text=True)[-800:]
    assert confirm(client, preview).status_code == 303
    assert db.session.scalar(sa.select(User.name).where(User.phone == "13900000003")) == "欧阳修"


def test_central_households_with_an_existing_head_and_a_head_in_the_same_file(client, p):
    existing = make_member(p.tree.grid, name="陈党员", phone="13900000010")
    data = xlsx([
        ["中心户编号", "户长姓名", "户长手机号", "网格", "地址", "类型", "职责", "示范中心户", "户长党员类别"],
        ["LS-101", "陈党员", "13900000010", "第一网格", "龙山路2号", "治理协助型", "政策宣讲员、群众联络员", "是", ""],
        ["LS-102", "新户长", "13900000011", "第二网格", "龙山路3号", "", "", "否", "五老"],
    ])
    preview = upload(client, "households", data)
    assert preview.status_code == 200, preview.get_data(as_text=True)[-800:]
    assert confirm(client, preview).status_code == 303
    first = db.session.scalar(sa.select(CentralHousehold).where(CentralHousehold.number == "LS-101"))
    assert first.head_member_id == existing.id
    # "示范中心户: 是" on the roster is a title for this year, granted by whoever imported it.
    [title] = first.model_titles
    assert (title.year, title.granted_by_id, title.revoked_at) == (local_today().year, p.community_admin.id, None)
    assert first.duty_set == {Duty.POLICY, Duty.LIAISON} and first.type.name == "治理协助型"
    assert db.session.get(Member, existing.id).central_household_id == first.id
    second = db.session.scalar(sa.select(CentralHousehold).where(CentralHousehold.number == "LS-102"))
    assert second.head.name == "新户长" and second.head.user.password_hash is None
    assert second.head.central_household_id == second.id


def test_resident_households_from_csv_with_their_covering_member(client, p):
    data = csv_bytes([
        ["户主姓名", "地址", "网格", "楼栋", "单元", "室", "联系电话", "联系党员手机号", "关爱标签"],
        ["赵大爷", "龙山路1号1栋1单元101室", "第一网格", "1", "1", "101", "13700000001", p.member.user.phone, "独居老人、低保户"],
        ["钱大妈", "龙山路1号1栋1单元102室", "第一网格", "1", "1", "102", "", "", ""],
    ], "utf-8-sig")
    preview = upload(client, "residents", data, "群众户.csv")
    assert preview.status_code == 200, preview.get_data(as_text=True)[-800:]
    assert confirm(client, preview).status_code == 303
    rows = db.session.scalars(sa.select(ResidentHousehold).order_by(ResidentHousehold.room)).all()
    assert [r.head_name for r in rows] == ["赵大爷", "钱大妈"]
    assert rows[0].covering_member_id == p.member.id and rows[0].tags == ["独居老人", "低保户"]
    assert rows[1].covering_member_id is None and rows[1].phone is None


# --- Bad files: a Chinese message, nothing saved ---------------------------------------------


def test_a_file_with_the_wrong_columns_is_refused_naming_them(client, p):
    before = totals()
    data = xlsx([["姓名", "电话", "网格", "党员类别"], ["陈一", "13900000001", "第一网格", "五老"]])
    refused(upload(client, "members", data), "缺少列：手机号", "无法识别的列：电话", "下载模板")
    assert totals() == before


def test_phones_repeated_in_the_file_are_reported_by_row(client, p):
    before = totals()
    data = xlsx([MEMBER_HEADERS[:4], ["陈一", "13900000001", "第一网格", "五老"],
                 ["陈二", "13900000001", "第一网格", "五老"]])
    html = refused(upload(client, "members", data), "第 3 行", "手机号 13900000001 与第 2 行重复", "未导入任何数据")
    assert "第 2 行" not in html.split("第 3 行")[0].split("<tbody>")[-1]
    assert totals() == before


def test_a_phone_already_in_the_database_is_refused(client, p):
    before = totals()
    data = xlsx([MEMBER_HEADERS[:4], ["陈一", "13900000001", "第一网格", "五老"],
                 ["冒名", p.member.user.phone, "第一网格", "五老"]])
    refused(upload(client, "members", data), f"手机号 {p.member.user.phone} 已被系统中的账号使用")
    assert totals() == before


def test_an_unknown_grid_is_named_in_the_report(client, p):
    before = totals()
    data = xlsx([MEMBER_HEADERS[:4], ["陈一", "13900000001", "第九网格", "五老"]])
    refused(upload(client, "members", data), "找不到网格“第九网格”")
    assert totals() == before


def test_a_grid_outside_the_admins_scope_is_as_unknown_as_a_missing_one(client, p):
    before = totals()
    data = xlsx([MEMBER_HEADERS[:4], ["陈一", "13900000001", "杨桥一网格", "五老"]])
    refused(upload(client, "members", data), "找不到网格“杨桥一网格”，或它不在您的管辖范围内")
    assert totals() == before


def test_a_row_with_an_empty_name_and_bad_values_is_reported_by_column(client, p):
    before = totals()
    data = csv_bytes([MEMBER_HEADERS[:4], ["陈一", "13900000001", "第一网格", "五老"],
                      ["", "12345", "第一网格", "党员"]])
    refused(upload(client, "members", data, "a.csv"), "第 3 行", "姓名不能为空", "“12345”不是有效的手机号",
            "党员类别“党员”不正确")
    assert totals() == before


def test_a_ten_megabyte_file_gets_a_chinese_message_not_a_bare_413(client, p):
    before = totals()
    response = upload(client, "members", b"a" * (10 * 1024 * 1024))
    refused(response, "文件太大", "5 MB")
    assert totals() == before


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True, "MAX_CONTENT_LENGTH": 1024 * 1024,
                                         "IMPORT_MAX_BYTES": 512 * 1024}])
def test_a_file_past_the_apps_upload_limit_still_lands_on_the_import_page(client, app_config):
    personas = make_personas()
    # Log in with CSRF on: take the token from the form.
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    login_data = {"phone": personas.community_admin.phone, "password": "correct-horse-9", "csrf_token": token}
    assert client.post("/login", data=login_data).status_code == 303
    # The CSRF check reads the body before the view does: the 413 is answered on the import page.
    body, content_type = multipart("members", b"a" * (2 * 1024 * 1024), "big.xlsx")
    response = client.post("/structure/import", data=body, content_type=content_type)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "文件太大" in html and "名册导入" in html


@pytest.mark.parametrize("data, name, message", [
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "photo.xlsx", "这不是表格文件"),
    (bytes(range(256)) * 16, "random.csv", "这不是表格文件"),
    (b"", "empty.xlsx", "文件是空的"),
    (b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "old.xls", "旧版 Excel"),
])
def test_files_that_are_not_spreadsheets_are_refused(client, p, data, name, message):
    before = totals()
    refused(upload(client, "members", data, name), message)
    assert totals() == before


def test_a_zip_renamed_xlsx_is_refused(client, p):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("readme.txt", "hello")
    refused(upload(client, "members", out.getvalue()), "无法读取这个 Excel 文件")


def test_headers_only_and_no_file_are_refused(client, p):
    refused(upload(client, "members", xlsx([MEMBER_HEADERS])), "没有数据行")
    response = client.post("/structure/import", data={"kind": "members"}, content_type="multipart/form-data")
    refused(response, "请选择要上传的文件")


def test_too_many_rows_are_refused(client, p, monkeypatch):
    monkeypatch.setattr(importer.reading, "MAX_ROWS", 3)
    rows = [MEMBER_HEADERS[:4]] + [[f"人{i}", f"1390000{i:04d}", "第一网格", "五老"] for i in range(4)]
    refused(upload(client, "members", xlsx(rows)), "行数超过上限", "3 行")


def test_households_whose_head_is_not_a_member_are_refused(client, p):
    before = totals()
    data = xlsx([["户长姓名", "户长手机号", "网格", "地址"],
                 ["无名", "13900000099", "第一网格", "龙山路9号"],
                 ["周党员", p.other_member.user.phone, "第一网格", "龙山路10号"]])
    refused(upload(client, "households", data), "户长须为已登记的党员", "不是您管辖范围内登记的党员")
    assert totals() == before


def test_residents_with_an_unknown_covering_member_or_a_repeated_address_are_refused(client, p):
    before = totals()
    data = csv_bytes([["户主姓名", "地址", "网格", "联系党员手机号"],
                      ["赵大爷", "龙山路1号", "第一网格", p.other_member.user.phone],
                      ["钱大妈", "龙山路1号", "第一网格", ""]])
    refused(upload(client, "residents", data, "r.csv"), "其不在您的管辖范围内", "地址与第 2 行重复")
    assert totals() == before


def test_confirm_checks_again_and_saves_nothing_if_the_database_changed(client, p):
    before = totals()
    preview = upload(client, "members", xlsx([MEMBER_HEADERS[:4], ["陈一", "13900000001", "第一网格", "五老"],
                                              ["陈二", "13900000002", "第一网格", "五老"]]))
    assert preview.status_code == 200
    make_member(p.tree.grid, name="抢先", phone="13900000002")
    refused(confirm(client, preview), "已被系统中的账号使用")
    assert totals() == (before[0] + 1, before[1] + 1, before[2], before[3])


def test_another_admin_cannot_confirm_someone_elses_preview(client, p):
    preview = upload(client, "members", xlsx([MEMBER_HEADERS[:4], ["陈一", "13900000001", "第一网格", "五老"]]))
    client.post("/logout")
    login(client, p.district_admin)
    refused(confirm(client, preview), "预览已过期或无效")
    assert db.session.scalar(sa.select(User).where(User.phone == "13900000001")) is None


@pytest.mark.slow
def test_thirty_thousand_resident_households_import_in_seconds(app):
    personas = make_personas()
    rows = [["户主姓名", "地址", "网格", "联系电话"]] + [
        [f"户主{i}", f"龙山路{i}号", "第一网格" if i % 2 else "第二网格", f"137{i:08d}"] for i in range(30_000)
    ]
    data = csv_bytes(rows)
    started = time.perf_counter()
    with app.test_request_context():  # messages are translated for the request's locale
        records = importer.parse("residents", data)
        plan = importer.validate("residents", records, personas.community_admin)
        assert plan.ok
        importer.commit(plan, personas.community_admin)
        db.session.commit()
    elapsed = time.perf_counter() - started
    assert db.session.scalar(sa.select(sa.func.count(ResidentHousehold.id))) == 30_000
    print(f"30,000 resident households imported in {elapsed:.1f}s")
