"""The shortcuts of the request path (issue 14) keep what the long way promised.

The session cookie is checked once and signed again only when due, yet its lifetime and its
contents behave as before; the signed CSRF token is kept per session, yet a token still works only
with its own session; dates are formatted without Babel, yet read the same; the pages read as Core
rows (the member's post card, the tracking page) say what the ORM pages say. Runs with CSRF on, as
production does.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from flask_babel import force_locale, format_datetime
from markupsafe import Markup

from app.extensions import db
from app.models import ActivityKind, PostAssignment, PostType
from app.services import needs
from app.web import _fill, local_time
from tests.factories import (
    PASSWORD,
    make_activity,
    make_member,
    make_need,
    make_need_world,
    make_personas,
)

TOKEN_RE = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


def _login(client, user) -> None:  # type: ignore[no-untyped-def]
    token = TOKEN_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"csrf_token": token, "phone": user.phone, "password": PASSWORD})
    assert response.status_code == 303


def _set_cookie(response) -> str | None:  # type: ignore[no-untyped-def]
    return next((v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("dy_session=")), None)


# --- the session cookie ------------------------------------------------------------------------


def test_an_unchanged_session_is_not_sent_again_until_it_is_due(client, app):
    member = make_member(make_personas().tree.grid)
    _login(client, member.user)
    client.get("/me/checkins")  # the first page after login puts a CSRF token in the session
    again = client.get("/me/checkins")
    assert again.status_code == 200 and _set_cookie(again) is None  # unchanged, signed a moment ago
    assert client.get("/me/checkins").status_code == 200  # the kept cookie still opens the session
    # Past SESSION_REFRESH_AFTER the cookie is signed again, so the lifetime slides with use.
    app.config["SESSION_REFRESH_AFTER"] = timedelta(0)
    try:
        again = client.get("/me/checkins")
    finally:
        app.config["SESSION_REFRESH_AFTER"] = timedelta(minutes=5)
    cookie = _set_cookie(again)
    assert cookie is not None and "Expires=" in cookie and "HttpOnly" in cookie


def test_a_changed_session_is_written_at_once(client):
    member = make_member(make_personas().tree.grid)
    _login(client, member.user)
    token = TOKEN_RE.search(client.get("/me/checkins").get_data(as_text=True)).group(1)
    assert _set_cookie(client.get("/me/checkins")) is None
    # Logging out changes the session (cleared, a message put in): the cookie goes out at once.
    logout = client.post("/logout", data={"csrf_token": token})
    assert logout.status_code == 303 and _set_cookie(logout) is not None
    assert "已退出登录" in client.get("/login").get_data(as_text=True)
    assert client.get("/me/checkins").status_code == 302


def test_an_expired_session_cookie_is_refused_even_when_it_was_seen_before(client, app):
    member = make_member(make_personas().tree.grid)
    _login(client, member.user)
    assert client.get("/me/checkins").status_code == 200  # verified once, and kept
    app.permanent_session_lifetime = timedelta(seconds=1)
    try:
        time.sleep(2.1)
        response = client.get("/me/checkins")
    finally:
        app.permanent_session_lifetime = timedelta(hours=12)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_forged_session_cookie_is_refused(client):
    member = make_member(make_personas().tree.grid)
    _login(client, member.user)
    value = client.get_cookie("dy_session").value
    client.set_cookie("dy_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    response = client.get("/me/checkins")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- the CSRF token ------------------------------------------------------------------------------


def test_the_signed_csrf_token_is_kept_per_session_and_works_only_with_its_own(client, app):
    member = make_member(make_personas().tree.grid)
    _login(client, member.user)
    first = TOKEN_RE.search(client.get("/me/checkins").get_data(as_text=True)).group(1)
    time.sleep(1.1)  # a token signed again would carry another second (the first page after login too)
    second = TOKEN_RE.search(client.get("/me/checkins").get_data(as_text=True)).group(1)
    assert first == second  # signed once for the session, not on every page
    other = app.test_client()
    other_token = TOKEN_RE.search(other.get("/login").get_data(as_text=True)).group(1)
    assert other_token != first
    # Another session's token is refused; the session's own works.
    refused = client.post("/lang/en", data={"csrf_token": other_token, "next": "/"})
    assert refused.status_code == 400
    assert client.post("/lang/en", data={"csrf_token": first, "next": "/"}).status_code == 303


# --- dates ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["HH:mm", "HH:mm:ss", "MM-dd HH:mm", "M月d日 HH:mm", "M月d日",
                                     "yyyy-MM-dd HH:mm", "yyyy-MM-dd", "yyyy年M月d日 EEEE"])
def test_dates_read_the_same_as_babel_formats_them_in_both_languages(app, pattern):
    moments = [datetime(2026, 1, 5, 16, 7, 9, tzinfo=UTC), datetime(2026, 12, 31, 16, 0, tzinfo=UTC),
               datetime(2025, 3, 1, 0, 0, tzinfo=UTC), datetime(2024, 2, 28, 23, 59, 59)]
    with app.test_request_context("/"):
        for locale in ("zh_Hans_CN", "en"):
            with force_locale(locale):
                for moment in moments:
                    assert local_time(moment, pattern) == format_datetime(moment, pattern), (locale, moment)


# --- pages read as Core rows say what the ORM pages say -------------------------------------------


def _section(page: str, ident: str) -> str:
    found = re.search(rf'<section class="card" id="{ident}">(.*?)</section>', page, re.S)
    assert found, ident
    return re.sub(r"\s+", " ", re.sub(r'<p><a class="btn btn-small"[^>]*>.*?</a></p>', "", found.group(1)))


def test_the_members_post_card_on_their_home_is_the_one_their_admin_sees(client, app):
    p = make_personas()
    member = make_member(p.tree.grid, name="岗位党员")
    kind_post = PostType(org_node_id=p.tree.district.id, name="政策宣讲岗", duty="宣讲", activity_kind=ActivityKind.STUDY_VISIT)
    old_post = PostType(org_node_id=p.tree.district.id, name="志愿服务岗", duty="服务", activity_kind=None)
    db.session.add_all([kind_post, old_post])
    db.session.flush()
    now = datetime.now(UTC)
    db.session.add_all([
        PostAssignment(member_id=member.id, post_type_id=old_post.id, duty="旧岗", assigned_by_id=p.district_admin.id,
                       assigned_at=now - timedelta(days=90), ended_at=now - timedelta(days=30),
                       ended_by_id=p.district_admin.id),
        PostAssignment(member_id=member.id, post_type_id=kind_post.id, duty="新岗", assigned_by_id=p.district_admin.id,
                       assigned_at=now - timedelta(days=20)),
    ])
    db.session.commit()
    make_activity(member, "study_visit", started_at=now - timedelta(days=3))
    make_activity(member, "study_visit", station=p.station, started_at=now - timedelta(days=2))
    make_activity(member, "errand", started_at=now - timedelta(days=1))
    _login(client, p.community_admin)
    admin_view = _section(client.get(f"/structure/members/{member.id}").get_data(as_text=True), "member-post")
    client.post("/logout", data={"csrf_token": TOKEN_RE.search(client.get("/").get_data(as_text=True)).group(1)})
    _login(client, member.user)
    home_view = _section(client.get("/").get_data(as_text=True), "member-post")
    assert "今年 2 次" in home_view and "志愿服务岗" in home_view and p.station.name in home_view
    assert home_view == admin_view


def test_the_tracking_page_read_as_rows_shows_the_need_as_the_orm_does(client, app):
    w = make_need_world()
    need = make_need(w.household, text="路灯不亮")
    row = needs.tracked_by_token(need.token)
    for name in ("id", "token", "code", "category", "status", "text", "submitted_at", "photo_id", "outcome",
                 "outcome_note", "referred_to", "rating", "reopen_count", "contact_phone"):
        assert getattr(row, name) == getattr(need, name), name
    assert row.owner_member.name == need.owner_member.name and row.voice_clip is None
    events = needs.timeline(need, public=True)
    assert [(e.kind, e.at, e.actor_label, e.text, e.to_label) for e in needs.public_timeline(need.id)] == [
        (e.kind, e.at, e.actor_label, e.text, e.to_label) for e in events]
    page = client.get(f"/t/{need.token}").get_data(as_text=True)
    assert "路灯不亮" in page and need.owner_member.name in page and need.code[:4] in page
    assert needs.tracked_by_token("not-a-token") is None


# --- the page chrome, rendered once and kept (app/chrome.py) ----------------------------------------


def _header(html: str) -> str:
    return html[html.index('<header class="topbar">'):html.index('<main id="main">')]


def test_the_kept_header_holds_each_users_own_name_token_and_nav(app):
    personas = make_personas()
    member, admin = personas.member, personas.district_admin
    member.user.name = '李<b>党员</b>"'
    db.session.commit()
    pages = {}
    for user in (member.user, admin, member.user):
        client = app.test_client()
        _login(client, user)
        html = client.get("/").get_data(as_text=True)
        token = TOKEN_RE.search(html).group(1)
        header = _header(html)
        # Their own token in the logout form and the page's htmx header, their own name, escaped.
        assert f'name="csrf_token" value="{token}"' in header
        assert f'"X-CSRFToken": "{token}"' in html
        assert "CHROME" not in html
        pages.setdefault(user.id, []).append((token, header))
    (m1, mh1), (m2, mh2) = pages[member.user.id]
    assert m1 != m2 and mh1 != mh2  # two sessions, two tokens: the kept copy is not handed out as is
    assert '<span class="who">李&lt;b&gt;党员&lt;/b&gt;&#34;</span>' in mh1
    [(_token, ah)] = pages[admin.id]
    assert '<span class="who">区管理员</span>' in ah
    # Each gets the nav of their roles, the home entry marked current on the home page only.
    assert 'href="/structure/"' in ah and 'href="/structure/"' not in mh1
    assert 'aria-current="page"' in mh1
    client = app.test_client()
    _login(client, member.user)
    other = _header(client.get("/me/checkins").get_data(as_text=True))
    assert 'href="/" aria-current' not in other.replace("  ", " ") and 'href="/"aria-current' not in other


def test_the_kept_footer_sends_back_to_the_page_it_is_on_and_switches_per_language(app):
    member = make_member(make_personas().tree.grid)
    client = app.test_client()
    _login(client, member.user)
    html = client.get("/me/checkins?page=2&x=<i>").get_data(as_text=True)
    assert 'name="next" value="/me/checkins?page=2&amp;x=&lt;i&gt;"' in html
    token = TOKEN_RE.search(html).group(1)
    assert client.post("/lang/en", data={"csrf_token": token, "next": "/"}).status_code == 303
    english = client.get("/me/checkins").get_data(as_text=True)
    assert ">简体中文</button>" in english and 'name="next" value="/me/checkins"' in english
    assert f'data-user="{member.user.id}"' in english  # the outbox knows whose records it holds
    chinese = app.test_client()
    _login(chinese, member.user)
    assert ">English</button>" in chinese.get("/me/checkins").get_data(as_text=True)


@pytest.mark.parametrize(("fmt", "values"), [
    ("剩 %(span)s", {"span": "<b>3</b>"}), ("%(n)d 条", {"n": 5}), ("%(a)s·%(b).1f", {"a": Markup("<i>x</i>"), "b": 2.345}),
    ("%%(n)s %(n)s", {"n": "&\"'"}), ("%(x)s", {"x": None}), ("%(x)s / %(y)s", {"x": 12, "y": Decimal("1.50")}),
])
def test_template_strings_are_filled_in_as_markup_would_fill_them(fmt, values):
    # The templates' gettext formats without Markup's helper objects: the same text, as safe.
    filled = _fill(fmt, values, True)
    assert filled == Markup(fmt) % values and isinstance(filled, Markup)
    assert _fill(fmt, values, False) == fmt % values


def test_a_lists_per_row_links_are_the_urls_url_for_builds(app):
    """``id_url`` builds one URL per endpoint and puts each row's id in it: the same URLs as
    ``url_for``, in a path or a query string, under a script root too."""
    from flask import url_for

    for root in ("", "/app"):
        with app.test_request_context("/", base_url=f"http://localhost{root}"):
            id_url = app.jinja_env.globals["id_url"]
            for i in (1, 7, 2147483646):
                assert id_url("structure.member", "member_id")(i) == url_for("structure.member", member_id=i)
                assert (id_url("structure.residents", "member", below=1)(i)
                        == url_for("structure.residents", member=i, below=1))
                assert id_url("structure.node", "node_id")(i) == url_for("structure.node", node_id=i)
