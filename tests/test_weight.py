"""What a first visit costs on the wire (issue 14, DESIGN §9: the card form's first visit ≤ 30 KB
with htmx and CSS), and that the smaller stylesheet made for residents' forms styles them whole.

The module runs with CSRF on, as production does: the page carries its token and session cookie.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.assets import SUBSETS, _blocks, _selectors, prune_css
from app.extensions import db
from app.services import entry_tokens
from tests.factories import make_need_world

CARD_FIRST_VISIT_MAX = 30 * 1024
ASSET_RE = re.compile(r'<(?:link|script)\b[^>]*?\b(?:href|src)="(/[^"]+)"')
STATIC = Path(__file__).resolve().parent.parent / "app" / "static"


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


def _wire(response) -> int:  # type: ignore[no-untyped-def]
    """Bytes as received: status line, headers and body."""
    head = len(f"HTTP/1.1 {response.status}\r\n") + sum(len(k) + len(v) + 4 for k, v in response.headers.items()) + 2
    return head + len(response.get_data())


def _card(w) -> str:  # type: ignore[no-untyped-def]
    token = entry_tokens.current_token(w.household).token
    db.session.commit()
    return token


def test_a_contact_cards_first_visit_is_at_most_30_kb_on_the_wire_htmx_and_css_included(client):
    w = make_need_world()
    gzip = {"Accept-Encoding": "gzip"}  # what a phone's browser asks for (brotli only over HTTPS)
    page = client.get(f"/c/{_card(w)}", headers=gzip)
    assert page.status_code == 200 and page.headers["Content-Encoding"] == "gzip"
    html = client.get(f"/c/{_card(w)}").get_data(as_text=True)
    assets = list(dict.fromkeys(ASSET_RE.findall(html)))  # each URL once, as a browser fetches it
    total, sizes = _wire(page), {}
    for url in assets:
        response = client.get(url, headers=gzip)
        assert response.status_code == 200, url
        sizes[url] = _wire(response)
        response.close()
    total += sum(sizes.values())
    names = " ".join(assets)
    assert "/static/vendor/htmx-" in names and "/static/css/resident." in names  # counted, not left out
    assert total <= CARD_FIRST_VISIT_MAX, (total, _wire(page), sizes)
    # What the page does not need is not loaded: the member's outbox, the app's manifest, app.css.
    assert "outbox" not in names and "manifest" not in names and "/static/css/app." not in names


def test_other_pages_keep_the_whole_stylesheet_the_outbox_and_the_manifest(client):
    html = client.get("/login").get_data(as_text=True)
    assets = " ".join(ASSET_RE.findall(html))
    assert "/static/css/app." in assets and "/static/js/outbox." in assets and "/manifest.webmanifest" in assets


def _rules(css: str) -> set[str]:
    """Every (media, selector, declarations) of a stylesheet, whitespace squeezed."""

    def walk(text: str, media: str) -> set[str]:
        found = set()
        for prelude, body in _blocks(text):
            if prelude.startswith("@media"):
                found |= walk(body, " ".join(prelude.split()))
            elif not prelude.startswith("@"):
                decl = " ".join(body.split()).replace(" ;", ";").rstrip(";").strip()
                found |= {f"{media}|{s}|{decl}" for s in _selectors(" ".join(prelude.split()))}
        return found

    return walk(re.sub(r"/\*.*?\*/", "", css, flags=re.S), "")


def test_the_residents_stylesheet_holds_every_rule_of_app_css_the_card_form_can_use(client):
    """Every page state of the card form — a household with a phone on record or without, the
    form refused, the duplicate warning — with the scripts it loads: every rule of app.css that
    may match it is in resident.css, with the same declarations."""
    w = make_need_world()
    token = _card(w)
    pages = [client.get(f"/c/{token}").get_data(as_text=True)]
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', pages[0]).group(1)
    good = {"csrf_token": csrf, "category": "repair", "text": "楼道灯坏了", "consent": "y"}
    pages.append(client.post(f"/c/{token}", data={"csrf_token": csrf}).get_data(as_text=True))  # refused
    assert client.post(f"/c/{token}", data=good).status_code == 303
    pages.append(client.post(f"/c/{token}", data=good).get_data(as_text=True))  # the duplicate warning
    assert "duplicate-warning" in pages[-1] and "has-error" in pages[1]
    w.household.phone = None
    db.session.commit()
    pages.append(client.get(f"/c/{token}").get_data(as_text=True))
    scripts = [(STATIC / s).read_text() for s in SUBSETS["css/resident.css"][1]]
    # The class names and ids of the pages as served, and every word of their scripts (which may
    # add a class).
    attributes = " ".join(re.findall(r'\b(?:class|id)="([^"]*)"', " ".join(pages)))
    on_pages = set(attributes.split())
    shown = on_pages | set(re.findall(r"[A-Za-z_][\w-]*", " ".join(scripts)))
    app_css = (STATIC / "css" / "app.css").read_text()
    needed = _rules(prune_css(app_css, shown))
    with client.get("/static/css/resident.css") as response:
        resident = response.get_data(as_text=True)
    missing = needed - _rules(resident)
    assert not missing, sorted(missing)[:10]
    # And it is the smaller file it is meant to be.
    assert len(resident) < len(app_css) / 2
