"""The shell every page shares: headers, errors, language, PWA files, the pages still to come."""

from __future__ import annotations

import json
import re

from tests.factories import login, make_member, make_tree, make_user


def test_pages_send_a_strict_content_security_policy(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "HX-Request" in response.headers["Vary"]


def test_pages_have_no_inline_script_and_no_third_party_hosts(client):
    page = client.get("/login").get_data(as_text=True)
    assert "<script>" not in page
    assert "http://" not in page and "https://" not in page
    assert re.search(r'src="/static/vendor/htmx-2\.0\.11\.min\.[0-9a-f]{10}\.js"', page)  # hashed name


def test_htmx_is_configured_without_eval_or_history_snapshots(client):
    page = client.get("/login").get_data(as_text=True)
    config = json.loads(page.split("name=\"htmx-config\" content='")[1].split("'>")[0])
    assert config["allowEval"] is False
    assert config["includeIndicatorStyles"] is False
    assert config["historyCacheSize"] == 0


def test_personal_pages_are_not_cached_and_not_snapshotted(client):
    tree = make_tree()
    member = make_member(tree.grid)
    login(client, member.user)
    response = client.get("/")
    assert response.headers["Cache-Control"] == "no-store"
    assert 'hx-history="false"' in response.get_data(as_text=True)


def test_not_found_page_is_in_chinese(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)


def test_forbidden_page_is_in_chinese(client):
    make_tree()
    login(client, make_user())
    response = client.get("/structure/")
    assert response.status_code == 403
    assert "没有权限" in response.get_data(as_text=True)


def test_language_switch_to_english_and_back(client):
    response = client.post("/lang/en", data={"next": "/login"})
    assert response.status_code == 303
    page = client.get("/login").get_data(as_text=True)
    assert "Log in" in page
    client.post("/lang/zh_Hans_CN", data={"next": "/login"})
    assert "登录" in client.get("/login").get_data(as_text=True)


def test_unknown_language_is_404(client):
    assert client.post("/lang/xx").status_code == 404


def test_manifest_is_chinese_and_installable(client):
    with client.get("/manifest.webmanifest") as response:
        assert response.mimetype == "application/manifest+json"
        manifest = json.loads(response.get_data(as_text=True))
    assert manifest["name"] == "党员中心户服务平台"
    assert manifest["display"] == "standalone"
    sizes = {(i["sizes"], i.get("purpose", "any")) for i in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        with client.get(icon["src"]) as response:
            assert response.status_code == 200


def test_service_worker_is_served_from_the_root_and_never_caches_pages(client):
    with client.get("/sw.js") as response:
        assert response.status_code == 200
        assert response.headers["Service-Worker-Allowed"] == "/"
        body = response.get_data(as_text=True)
    assert "/offline" in body and 'startsWith("/static/")' in body
    assert client.get("/offline").status_code == 200


def test_coming_soon_page_says_what_is_coming_and_shows_no_numbers(client):
    tree = make_tree()
    login(client, make_member(tree.grid).user)
    page = client.get("/coming/training").get_data(as_text=True)
    assert "即将上线" in page
    assert client.get("/coming/nothing").status_code == 404


def test_coming_soon_requires_login(client):
    assert client.get("/coming/training").status_code == 302


def test_large_type_can_be_switched_on_without_an_account(client):
    response = client.post("/display/large", data={"next": "/login"})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert 'class="large-type' in client.get("/login").get_data(as_text=True)
    client.post("/display/normal")
    assert 'class="large-type' not in client.get("/login").get_data(as_text=True)
