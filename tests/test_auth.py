"""Logging in and out: one message for every failure, sessions that really end."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import User
from tests.factories import PASSWORD, login, make_member, make_tree, make_user

FAILED = "手机号或密码不正确"


def test_login_page_is_in_chinese(client):
    page = client.get("/login").get_data(as_text=True)
    assert "手机号" in page and "密码" in page


def test_member_logs_in_and_sees_home(client, app):
    tree = make_tree()
    member = make_member(tree.grid, name="李党员")
    response = client.post("/login", data={"phone": member.phone, "password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert "您好，李党员" in client.get("/").get_data(as_text=True)


def test_phone_with_spaces_and_country_code_logs_in(client):
    make_user(phone="13912345678")
    response = client.post("/login", data={"phone": "+86 139 1234 5678", "password": PASSWORD})
    assert response.status_code == 303


@pytest.mark.parametrize(
    "phone, password",
    [
        ("13912345678", "wrong-password"),  # wrong password
        ("13700000000", PASSWORD),  # unknown phone
        ("12345", PASSWORD),  # malformed phone
        ("一三九", PASSWORD),  # not digits at all
    ],
)
def test_every_login_failure_says_the_same_and_keeps_the_phone(client, phone, password):
    make_user(phone="13912345678")
    response = client.post("/login", data={"phone": phone, "password": password})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert FAILED in page
    assert f'value="{phone}"' in page
    assert password not in page  # the password is never echoed back


def test_empty_login_form_says_what_is_missing(client):
    response = client.post("/login", data={"phone": "", "password": ""})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "请输入手机号" in page and "请输入密码" in page


def test_disabled_account_cannot_log_in_with_the_same_message(client):
    make_user(phone="13912345678", active=False)
    response = client.post("/login", data={"phone": "13912345678", "password": PASSWORD})
    assert response.status_code == 422
    assert FAILED in response.get_data(as_text=True)


def test_account_without_password_cannot_log_in(client):
    make_user(phone="13912345678", password=None)
    response = client.post("/login", data={"phone": "13912345678", "password": ""})
    assert response.status_code == 422


def test_login_redirects_to_next_on_this_site_only(client):
    user = make_user()
    ok = client.post("/login", data={"phone": user.phone, "password": PASSWORD, "next": "/structure/"})
    assert ok.headers["Location"] == "/structure/"
    client.post("/logout")
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.post("/login", data={"phone": user.phone, "password": PASSWORD, "next": evil})
        assert response.headers["Location"] == "/"
        client.post("/logout")


def test_cookie_copied_before_logout_does_not_work_after_it(app, client):
    user = make_user()
    login(client, user)
    stolen = client.get_cookie("dy_session").value
    assert client.get("/account/password").status_code == 200
    client.post("/logout")

    thief = app.test_client()
    thief.set_cookie("dy_session", stolen)
    response = thief.get("/account/password")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_remember_cookie_copied_before_logout_does_not_work_after_it(app, client):
    user = make_user()
    login(client, user, remember=True)
    remember = client.get_cookie("dy_remember")
    assert remember is not None
    client.post("/logout")

    thief = app.test_client()
    thief.set_cookie("dy_remember", remember.value)
    assert thief.get("/account/password").status_code == 302


def test_password_change_ends_other_sessions_but_keeps_this_one(app, client):
    user = make_user()
    other_device = app.test_client()
    login(other_device, user)
    login(client, user)
    response = client.post(
        "/account/password",
        data={"current": PASSWORD, "new": "new-password-1", "confirm": "new-password-1"},
    )
    assert response.status_code == 303
    assert client.get("/account/password").status_code == 200
    assert other_device.get("/account/password").status_code == 302
    client.post("/logout")
    assert client.post("/login", data={"phone": user.phone, "password": "new-password-1"}).status_code == 303


def test_password_change_with_wrong_current_password_changes_nothing(client):
    user = make_user()
    login(client, user)
    old_hash = user.password_hash
    response = client.post(
        "/account/password", data={"current": "nope", "new": "new-password-1", "confirm": "new-password-1"}
    )
    assert response.status_code == 422
    assert "当前密码不正确" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash == old_hash


def test_short_or_mismatched_new_password_is_refused(client):
    user = make_user()
    login(client, user)
    short = client.post("/account/password", data={"current": PASSWORD, "new": "abc", "confirm": "abc"})
    assert short.status_code == 422 and "密码至少 8 位" in short.get_data(as_text=True)
    mismatch = client.post(
        "/account/password", data={"current": PASSWORD, "new": "abcdefgh1", "confirm": "abcdefgh2"}
    )
    assert "两次输入的新密码不一致" in mismatch.get_data(as_text=True)


def test_disabling_an_account_ends_its_session(client):
    user = make_user()
    login(client, user)
    user.active = False
    db.session.commit()
    assert client.get("/account/password").status_code == 302


def test_logout_requires_post(client):
    user = make_user()
    login(client, user)
    assert client.get("/logout").status_code == 405
    assert client.get("/account/password").status_code == 200


def test_password_is_stored_as_argon2id(client):
    user = make_user()
    assert user.password_hash.startswith("$argon2id$")


def test_cookies_carry_explicit_flags(client):
    user = make_user()
    response = client.post("/login", data={"phone": user.phone, "password": PASSWORD, "remember": "y"})
    cookies = response.headers.getlist("Set-Cookie")
    for name in ("dy_session", "dy_remember"):
        cookie = next(c for c in cookies if c.startswith(name + "="))
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie


def test_admin_is_signed_out_after_idle_timeout(client, app):
    import time_machine

    from tests.factories import make_admin

    tree = make_tree()
    admin = make_admin(tree.district)
    with time_machine.travel("2026-03-01 09:00 +0800", tick=False) as traveller:
        login(client, admin)
        assert client.get("/structure/").status_code == 200
        traveller.shift(60 * 29)
        assert client.get("/structure/").status_code == 200
        traveller.shift(60 * 31)
        assert client.get("/structure/").status_code == 302
