"""Every route declares who may use it: walking the URL map, nothing but the public pages answers
an anonymous visitor, and nothing answers a logged-in user who holds no role."""

from __future__ import annotations

import re

import pytest

from tests.factories import login, make_tree, make_user

# Pages anyone may open without an account (residents have none).
PUBLIC = {
    "main.index",
    "main.set_language",
    "main.set_display",
    "main.offline",
    "main.manifest",
    "main.service_worker",
    "main.healthz",
    "auth.login",
    "static",
    # residents: contact card, door plaque, the public form, tracking, rating, registering
    "needs.card",
    "needs.plaque",
    "needs.new",
    "needs.track",
    "needs.track_token",
    "needs.track_photo",
    "needs.rate",
    "needs.register",
    # residents' rights: what is kept and why; download and erasure take the code + phone proof
    "needs.rights",
    "needs.rights_export",
    "needs.rights_erase",
    "needs.rights_erase_confirm",
    # the public notice of candidates, and objections to them
    "nominations.notice",
    "nominations.object_to",
}
# Public endpoints an area adds (resident entry points, tracking, public notices) match these.
PUBLIC_PREFIXES = ("public.", "entry.", "track.", "notice.")
# Pages any logged-in user may open whatever their roles.
ANY_USER = {"auth.logout", "auth.change_password", "main.coming"}
# Scanning a station's QR: the token is checked first (a bad one is refused whoever scans), then
# the scanner is told whether they can check in.
SCAN = {"checkin.kiosk_scan", "checkin.poster_scan", "checkin.resume"}
ANY_USER_PREFIXES = ("notifications.",)


def _routes(app):  # type: ignore[no-untyped-def]
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        url = re.sub(r"<(?:int:)?[^>]+>", "1", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url


def _is_public(endpoint: str) -> bool:
    return endpoint in PUBLIC or endpoint.startswith(PUBLIC_PREFIXES)


def test_anonymous_visitors_reach_only_public_pages(app, client):
    make_tree()
    for endpoint, method, url in _routes(app):
        if _is_public(endpoint) or endpoint in SCAN:
            continue
        response = client.open(url, method=method)
        if response.status_code == 204:  # a polling fragment tells htmx to go to the login page
            assert "/login" in response.headers.get("HX-Redirect", ""), (endpoint, url)
            continue
        assert response.status_code in (302, 401, 404), (endpoint, method, url, response.status_code)
        if response.status_code == 302:
            assert "/login" in response.headers["Location"], (endpoint, url)


def test_a_user_without_roles_is_refused_everywhere_but_their_own_account(app, client):
    make_tree()
    login(client, make_user(name="无角色"))
    for endpoint, method, url in _routes(app):
        if _is_public(endpoint) or endpoint in ANY_USER or endpoint.startswith(ANY_USER_PREFIXES):
            continue
        if endpoint in SCAN:
            continue
        response = client.open(url, method=method)
        assert response.status_code in (403, 404), (endpoint, method, url, response.status_code)


@pytest.mark.parametrize("path", ["/", "/login", "/offline", "/healthz"])
def test_public_pages_answer_anonymous_visitors(client, path):
    assert client.get(path).status_code == 200
