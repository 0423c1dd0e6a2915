"""Phones read once, by libphonenumber's rules (app/phones.py), everywhere a phone is typed,
searched or stored; the migration that made the stored ones canonical; and the contact card's
phone field, which keeps its promise (required with its reason when the household has no phone on
record, optional when it has one) and marks a refused field next to itself."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Need, ResidentHousehold, User
from app.phones import normalize_phone, phone_match, phone_refusal
from app.services import entry_tokens, needs
from tests.factories import PASSWORD, make_need, make_need_world, make_resident, make_user

FULL_WIDTH = "13８００１３８０００"  # partly full-width, as a Chinese IME types it


# --- One reader ----------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    "13800138000", FULL_WIDTH, "１３８００１３８０００", " 138 0013 8000 ", "138-0013-8000",
    "+86 138 0013 8000", "+8613800138000", "＋８６ １３８００１３８０００", "008613800138000",
    "0086-138-0013-8000", "(+86)138-0013-8000", "13800138000.0",
])
def test_every_way_people_type_a_mobile_gives_the_same_eleven_ascii_digits(raw):
    assert normalize_phone(raw) == "13800138000"


@pytest.mark.parametrize("raw, reason", [
    ("010-12345678", "固定电话"), ("0551-65123456", "固定电话"), ("(021) 6212 3456", "固定电话"),
    ("12345678901", "手机号格式不对"), ("1380013800", "手机号格式不对"), ("138001380001", "手机号格式不对"),
    ("1380013800O", "手机号格式不对"), ("一三八", "手机号格式不对"), ("abc", "手机号格式不对"),
    ("+1 650 253 0000", "手机号格式不对"), ("", "手机号格式不对"), ("1" * 200, "手机号格式不对"),
])
def test_a_landline_or_junk_is_refused_with_a_chinese_reason(raw, reason):
    assert normalize_phone(raw) is None
    assert reason in phone_refusal(raw)


def test_search_by_phone_reads_the_number_the_same_way(app):
    make_user(name="甲", phone="13800138000")
    make_user(name="乙", phone="13900008000")

    def names(raw: str) -> set[str] | None:
        cond = phone_match(User.phone, raw)
        return None if cond is None else set(db.session.scalars(sa.select(User.name).where(cond)))

    assert names(FULL_WIDTH) == {"甲"} and names("+86 138-0013-8000") == {"甲"}
    assert names("８０００") == {"甲", "乙"}  # the last four digits, typed full-width
    assert names("0013") == set()  # four digits search the end of a number, never its middle
    assert names("00138") is None and names("李") is None


# --- Everywhere a phone comes in ---------------------------------------------------------------


def test_a_full_width_number_is_stored_canonically_and_tracking_finds_it_with_ascii(client):
    w = make_need_world()
    token = entry_tokens.current_token(w.household).token
    db.session.commit()
    r = client.post(f"/c/{token}", data={"category": "repair", "text": "灯坏了", "consent": "y",
                                          "contact_phone": FULL_WIDTH})
    assert r.status_code == 303
    need = db.session.scalar(sa.select(Need))
    assert need.contact_phone == "13800138000"
    found = client.post("/track", data={"code": need.code, "phone": "13800138000"})
    assert found.status_code == 303 and need.token in found.headers["Location"]
    assert needs.tracked_need(need.code, "+86 138 0013 8000").id == need.id


def test_login_takes_the_number_in_any_form(client):
    user = make_user(phone="13800138000")
    r = client.post("/login", data={"phone": FULL_WIDTH, "password": PASSWORD})
    assert r.status_code in (302, 303), r.get_data(as_text=True)
    assert db.session.get(User, user.id).phone == "13800138000"


def test_a_landline_on_the_public_forms_is_refused_next_to_the_field(client):
    w = make_need_world()
    token = entry_tokens.current_token(w.head.central_household).token
    db.session.commit()
    r = client.post(f"/p/{token}", data={"category": "repair", "text": "灯坏了", "consent": "y",
                                          "contact_phone": "0551-65123456"})
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and "这是固定电话号码" in page
    assert _input(page, "contact_phone").count('aria-invalid="true"') == 1
    assert db.session.scalar(sa.select(sa.func.count(Need.id))) == 0


# --- The card form's promise -----------------------------------------------------------------


def _input(page: str, name: str) -> str:
    return re.search(rf'<(?:input|textarea) [^>]*name="{name}"[^>]*>', page).group(0)


def _card(w, household: ResidentHousehold) -> str:  # type: ignore[no-untyped-def]
    token = entry_tokens.current_token(household).token
    db.session.commit()
    return token


def test_a_card_of_a_household_with_a_phone_says_it_may_be_left_empty_and_keeps_that_promise(client):
    w = make_need_world()  # the household has 13911112222 on record
    token = _card(w, w.household)
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert "可不填，不填时使用本户登记的电话。" in page
    assert "required" not in _input(page, "contact_phone")
    assert "13911112222" not in page and "2222" not in page  # the number itself is never shown
    r = client.post(f"/c/{token}", data={"category": "repair", "text": "灯坏了", "consent": "y"})
    assert r.status_code == 303
    assert db.session.scalar(sa.select(Need)).contact_phone == "13911112222"


def test_a_card_of_a_household_without_a_phone_asks_for_one_and_says_why(client):
    w = make_need_world()
    household = make_resident(w.p.tree.grid, member=w.member, phone=None)
    token = _card(w, household)
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert "不填时使用本户登记的电话" not in page
    assert "必填：本户没有登记电话" in page
    field = _input(page, "contact_phone")
    assert "required" in field and "contact_phone-hint" in field


def test_without_a_phone_on_record_the_refusal_sits_on_the_phone_field_and_keeps_what_was_typed(client):
    w = make_need_world()
    household = make_resident(w.p.tree.grid, member=w.member, phone=None)
    token = _card(w, household)
    r = client.post(f"/c/{token}", data={"category": "repair", "text": "楼道灯坏了三天", "consent": "y",
                                          "contact_name": "赵老"})
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    field = _input(page, "contact_phone")
    assert 'aria-invalid="true"' in field and "autofocus" in field
    described = re.search(r'aria-describedby="([^"]+)"', field).group(1).split()
    assert "contact_phone-error" in described
    assert '<p class="error" id="contact_phone-error">请留下联系电话，方便党员联系您。</p>' in page
    assert 'id="submit-error"' not in page  # not an alert at the top any more
    assert "楼道灯坏了三天" in page and 'value="赵老"' in page
    assert page.count("autofocus") == 1  # only the first refused field takes the focus
    assert 'aria-invalid="true"' not in _input(page, "contact_name")
    assert db.session.scalar(sa.select(sa.func.count(Need.id))) == 0


def test_the_first_refused_field_takes_the_focus_whatever_its_kind(client):
    w = make_need_world()
    token = _card(w, w.household)
    r = client.post(f"/c/{token}", data={"text": "", "contact_phone": "12345"})  # no category, no text
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and page.count("autofocus") == 1
    first_radio = re.search(r'<input [^>]*name="category"[^>]*>', page).group(0)
    assert "autofocus" in first_radio and 'aria-invalid="true"' in first_radio
    assert 'aria-invalid="true"' in _input(page, "text") and 'aria-invalid="true"' in _input(page, "contact_phone")


# --- The migration ----------------------------------------------------------------------------


def test_the_migration_rewrites_stored_phones_canonically_and_counts_what_it_cannot(app, capsys):
    from flask_migrate import downgrade, upgrade

    w = make_need_world()
    need = make_need(w.household)
    taken = make_user(name="已有", phone="13700001111")
    ids = {"member": w.member.user_id, "nobody": w.p.nobody.id, "head": w.head.user_id,
           "household": w.household.id, "need": need.id, "taken": taken.id}
    db.session.commit()
    db.session.close()
    downgrade(revision="0005_checkin")
    # What the old regex let in: 11 characters, full-width digits among them (passes the old CHECK).
    with db.engine.begin() as conn:
        for table, column, key, value in (
            ("users", "phone", "member", "13９00000099"),
            ("users", "phone", "nobody", "1２345678901"),  # junk
            ("users", "phone", "head", "137０0001111"),  # the canonical number is taken
            ("resident_households", "phone", "household", "139１1112222"),
            ("needs", "contact_phone", "need", "13９11112222"),
        ):
            conn.execute(sa.text(f"UPDATE {table} SET {column} = :v WHERE id = :id"), {"v": value, "id": ids[key]})
    capsys.readouterr()
    upgrade()  # alembic.ini's logging writes the migration's counts to stderr
    db.engine.dispose()
    assert db.session.get(User, ids["member"]).phone == "13900000099"
    assert db.session.get(ResidentHousehold, ids["household"]).phone == "13911112222"
    assert db.session.get(Need, ids["need"]).contact_phone == "13911112222"
    # Junk, and a number another account already holds, stay as they were and are counted.
    assert db.session.get(User, ids["nobody"]).phone == "1２345678901"
    assert db.session.get(User, ids["head"]).phone == "137０0001111"
    assert db.session.get(User, ids["taken"]).phone == "13700001111"
    log = capsys.readouterr().err
    assert "users.phone: 1 normalised, 2 left as they were" in log
    assert "resident_households.phone: 1 normalised, 0 left" in log
    assert "needs.contact_phone: 1 normalised, 0 left" in log
    assert "notice_objections.contact_phone: 0 normalised, 0 left" in log


def test_a_phone_that_is_not_one_never_matches_an_erased_needs_empty_phone(app):
    from app.services import residents
    from app.services.errors import Refused

    w = make_need_world()
    need = make_need(w.household)
    need.contact_phone = None  # as erasure leaves it
    db.session.commit()
    assert needs.tracked_need(need.code, "") is None and needs.tracked_need(need.code, "abc") is None
    with pytest.raises(Refused):
        residents.register("abc", need.code, "某人", "a-long-password-1")
