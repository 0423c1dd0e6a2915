"""Real-browser tests: Playwright for Python driving Debian's Chromium against a live server.

Phones are 360×740, tablets 1024×768. Screenshots go to tests/browser/screenshots/ (not in git).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from app.extensions import db
from tests.conftest import make_app, skip_or_fail

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"
PHONE = {"width": 360, "height": 740}
TABLET = {"width": 1024, "height": 768}
# How often the live server's loop looks for shutdown(): its default, 0.5 s, was ~0.4 s of each
# browser test's teardown spent waiting.
POLL = {"poll_interval": 0.05}



def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this folder, so ``-m "not browser"`` leaves them out."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


@dataclass
class LiveServer:
    app: Flask
    url: str


@pytest.fixture
def live_server(tmp_path: Path, _template_db: str) -> Iterator[LiveServer]:
    """The app on a fresh database, served by Werkzeug in a thread on a free port."""
    app = make_app(tmp_path, _template_db)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs=POLL, daemon=True)
    thread.start()
    ctx = app.app_context()
    ctx.push()
    try:
        yield LiveServer(app=app, url=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        db.session.remove()
        ctx.pop()
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
            from tests.conftest import _truncate_all

            _truncate_all(app)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        skip_or_fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed: pip install -e '.[dev]'")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  # A microphone without a person: a fake device (a beep) and no permission prompt.
                  "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],
        )
        yield browser
        browser.close()


def _context(browser, viewport: dict, **kw):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  device_scale_factor=1, **kw)
    context.set_default_timeout(20_000)  # generous: CI machines have two cores
    return context


@pytest.fixture
def phone(browser):  # type: ignore[no-untyped-def]
    """A page in a phone-sized browser (360×740, touch)."""
    context = _context(browser, PHONE, has_touch=True, is_mobile=True)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def tablet(browser):  # type: ignore[no-untyped-def]
    """A page in a tablet-sized browser (1024×768, landscape)."""
    context = _context(browser, TABLET, has_touch=True)
    page = context.new_page()
    yield page
    context.close()


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def browser_login(page, base_url: str, phone_number: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base_url}/login")
    page.get_by_label("手机号").fill(phone_number)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base_url}/")


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory, _template_db: str) -> Iterator[tuple]:
    """The demo district (small) served live for a whole module, with the field pages listed:
    (LiveServer, FieldPages). Built once: the demo takes seconds and the pages only read it."""
    from tests.browser.field_pages import build_demo, field_pages

    app = make_app(tmp_path_factory.mktemp("demo"), _template_db)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs=POLL, daemon=True)
    thread.start()
    ctx = app.app_context()
    ctx.push()
    try:
        build_demo(app)
        pages = field_pages()
        yield LiveServer(app=app, url=f"http://127.0.0.1:{server.server_port}"), pages
    finally:
        server.shutdown()
        db.session.remove()
        ctx.pop()
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
            from tests.conftest import _truncate_all

            _truncate_all(app)
        with app.app_context():
            db.engine.dispose()


def context_for(browser, viewport: dict, phone_number: str | None = None, base_url: str = "",  # type: ignore[no-untyped-def]
                password: str = "", **kw):
    """A browser context (phone-like when 360 wide), signed in once when given a phone number."""
    if viewport["width"] < 600:
        kw = {"has_touch": True, "is_mobile": True, **kw}
    context = _context(browser, viewport, **kw)
    if phone_number:
        page = context.new_page()
        browser_login(page, base_url, phone_number, password)
        page.close()
    return context
