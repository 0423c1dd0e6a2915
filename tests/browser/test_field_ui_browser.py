"""Field reality on the demo district: every resident, member and kiosk page (and the admins' lists)
at 360 px passes axe-core with no serious or critical violation and has no tap target under 44 px;
admin lists read as cards on a phone and stay tables on a tablet; a member's 更多 sheet works
without JavaScript; a resident's home leads to 反映诉求 and 我的诉求; a member's home to 打印联系卡;
and a card page loads and submits in good time on a throttled phone.

One demo district and one browser for the module, one sign-in per role (the JavaScript-off context
borrows the member's cookies).
"""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest

from tests.browser.audit import JUSTIFIED, TAP, TAP_MIN, run_axe, serious, small, targets
from tests.browser.conftest import PHONE, TABLET, _context, context_for, screenshot
from tests.browser.field_pages import PASSWORD

# FIELD_SCREENSHOTS=1: a screenshot of every surveyed page too (to look at; off in CI for time).
pytestmark = pytest.mark.slow  # the survey of every page takes a minute

EVERY_SCREENSHOT = bool(os.environ.get("FIELD_SCREENSHOTS"))
TABLET_PORTRAIT = {"width": 768, "height": 1024}
LAPTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def signed_in(browser, demo_site):  # type: ignore[no-untyped-def]
    """``signed_in(role)``: that role's phone-sized context, signed in on first use."""
    site, pages = demo_site
    made = {}

    def get(role: str):  # type: ignore[no-untyped-def]
        if role not in made:
            made[role] = context_for(browser, PHONE, pages.roles()[role].phone, site.url, PASSWORD)
        return made[role]

    yield get
    for context in made.values():
        context.close()


@pytest.fixture(scope="module")
def survey(demo_site, signed_in) -> dict[tuple[str, str], dict]:  # type: ignore[no-untyped-def]
    """Every listed page at 360 px (the kiosk at tablet width too): axe's violations and every
    visible tap target, keyed by (role, path)."""
    site, pages = demo_site
    found: dict[tuple[str, str], dict] = {}
    for role_name, role in pages.roles().items():
        page = signed_in(role_name).new_page()
        for viewport in [PHONE, TABLET] if role_name == "kiosk" else [PHONE]:
            page.set_viewport_size(viewport)
            for path in role.pages:
                response = page.goto(site.url + path)
                assert response is not None and response.ok, (role_name, path, response and response.status)
                key = (role_name if viewport is PHONE else f"{role_name}@{viewport['width']}", path)
                found[key] = {"axe": run_axe(page), "targets": targets(page),
                              "overflow": page.evaluate("document.documentElement.scrollWidth") - viewport["width"]}
                if EVERY_SCREENSHOT:
                    screenshot(page, f"ui-{key[0]}{path}".replace("/", "_").replace("?", "_"))
        page.close()
    _print_survey(found)
    return found


def _print_survey(found: dict[tuple[str, str], dict]) -> None:
    """The counts the closing note of issue 13 asks for, per group of pages."""
    groups = {"resident, member and kiosk pages": [k for k in found if not k[0].startswith("admin")],
              "admin pages": [k for k in found if k[0].startswith("admin")]}
    for group, keys in groups.items():
        every = [t for k in keys for t in found[k]["targets"]]
        under = small(every)
        rules: Counter[tuple[str, str]] = Counter()
        for k in keys:
            for v in found[k]["axe"]:
                rules[(v["id"], v["impact"])] += v["count"]
        print(f"\n[field] {group}: {len(keys)} pages at 360 px, {len(every)} visible targets; "
              f"under {TAP} px: {len(under)}; under {TAP_MIN} px: {len(small(every, TAP_MIN))}")
        for reason in JUSTIFIED:
            excused = [t for t in under if t["reason"] == reason]
            names = sorted({t["name"] for t in excused})[:8]
            print(f"[field]   excused ({reason}): {len(excused)} {names if excused else ''}")
        for (rule, impact), n in sorted(rules.items()):
            print(f"[field]   axe {impact} {rule}: {n} nodes")
        if not rules:
            print("[field]   axe: no violation of any impact")


def test_every_field_page_has_no_serious_axe_violation(survey):
    bad = {f"{role} {path}": [(v["id"], v["impact"], v["nodes"]) for v in serious(r["axe"])]
           for (role, path), r in survey.items() if serious(r["axe"])}
    assert not bad, bad


def test_every_tap_target_on_a_field_page_is_at_least_44_px(survey):
    bad = {f"{role} {path}": [(t["tag"], t["name"], t["w"], t["h"]) for t in small(r["targets"]) if not t["reason"]]
           for (role, path), r in survey.items()}
    bad = {k: v for k, v in bad.items() if v}
    for page, found in bad.items():
        print(f"[field] small targets on {page}: {found}")
    assert not bad, bad
    # The exceptions stay exceptions: a handful of links inside sentences, not a loophole.
    inline = [t for r in survey.values() for t in small(r["targets"]) if t["reason"] == "inline"]
    assert len(inline) <= 5, inline


def test_no_field_page_is_wider_than_the_screen(survey):
    wide = {f"{role} {path}": r["overflow"] for (role, path), r in survey.items() if r["overflow"] > 0}
    assert not wide, wide


# --- Lists: cards on a phone, tables on a tablet ---------------------------------------------------

_TABLES_JS = """() => [...document.querySelectorAll('table')].map(t => ({
    display: getComputedStyle(t).display,
    stack: t.classList.contains('stack'),
    head: t.tHead ? getComputedStyle(t.tHead).display : null,
    rows: [...t.tBodies[0].rows].slice(0, 3).map(r => ({
        display: getComputedStyle(r).display,
        first: r.cells[0].getBoundingClientRect().width,
        label: r.cells[1] ? getComputedStyle(r.cells[1], '::before').content : null}))}))"""


def test_admin_lists_are_cards_on_a_phone_and_tables_on_a_tablet(demo_site, signed_in):
    site, pages = demo_site
    page = signed_in("admin").new_page()
    page.goto(f"{site.url}/structure/members")
    name = page.locator("#members-table tbody tr").first.locator("td").first
    assert "党员" in page.locator("#members-table").inner_text()
    # On a phone: the name is the card's title, the width of the card, not a column a character wide.
    assert name.bounding_box()["width"] > 250
    cards = page.evaluate(_TABLES_JS)
    assert cards[0]["head"] == "none" and cards[0]["rows"][0]["display"] == "block"
    assert cards[0]["rows"][0]["label"] == '"手机号："'  # the cell says what it is
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "ui-members-cards-phone")

    # Every list page reads the same way on a phone, with nothing wider than the screen.
    lists = [p for p in pages.admin.pages if p != "/"]
    for path in lists:
        page.goto(site.url + path)
        for table in page.evaluate(_TABLES_JS):
            assert table["stack"], path
            assert all(r["display"] == "block" and r["first"] > 250 for r in table["rows"]), (path, table)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
    page.goto(f"{site.url}/needs/dashboard")
    screenshot(page, "ui-dashboard-cards-phone")

    # From 768 to 1280 px they stay tables, with their headers (every list at the narrowest).
    for viewport, paths in ((TABLET_PORTRAIT, lists), (TABLET, ["/structure/members"]), (LAPTOP, ["/structure/members"])):
        page.set_viewport_size(viewport)
        for path in paths:
            page.goto(site.url + path)
            for table in page.evaluate(_TABLES_JS):
                assert table["display"] == "table" and table["head"] == "table-header-group", (path, viewport)
                assert all(r["display"] == "table-row" for r in table["rows"]), (path, viewport)
    page.set_viewport_size(TABLET)
    page.goto(f"{site.url}/structure/members")
    assert 40 < name.bounding_box()["width"] < 400
    screenshot(page, "ui-members-table-tablet")
    page.goto(f"{site.url}/needs/dashboard")
    screenshot(page, "ui-dashboard-table-tablet")
    page.close()


# --- Navigation ----------------------------------------------------------------------------------


def test_a_members_more_sheet_shows_every_item_at_360_px_without_javascript(browser, demo_site, signed_in):
    site, pages = demo_site
    member = signed_in("member")
    labels = ["首页", "我的诉求", "服务记录", "民情日记", "我的联系户", "我的签到", "我要自荐"]
    context = _context(browser, PHONE, has_touch=True, is_mobile=True, java_script_enabled=False,
                       storage_state=member.storage_state())
    page = context.new_page()
    page.goto(f"{site.url}/")
    nav = page.get_by_role("navigation", name="主导航")
    bar = [a for a in labels if nav.get_by_role("link", name=a, exact=True).first.is_visible()]
    assert bar == labels[:4]
    more = nav.locator("summary", has_text="更多")
    assert more.is_visible()
    box = more.bounding_box()
    assert box["x"] + box["width"] <= PHONE["width"] and box["y"] + box["height"] <= PHONE["height"]
    more.click()
    sheet = nav.locator(".nav-sheet")
    for label in labels[4:]:
        link = sheet.get_by_role("link", name=label)
        assert link.is_visible(), label
        b = link.bounding_box()
        assert b["height"] >= TAP and b["x"] >= 0 and b["x"] + b["width"] <= PHONE["width"], (label, b)
    screenshot(page, "ui-member-more-sheet-nojs-phone")
    sheet.get_by_role("link", name="我要自荐").click()
    page.wait_for_url("**/nominations/self")
    # On the page it leads to, 更多 shows that it holds the current page.
    assert page.locator("#nav-more a[aria-current=page]").text_content() == "我要自荐"
    context.close()

    # On a tablet the row shows every entry, and there is no 更多.
    page = member.new_page()
    page.set_viewport_size(TABLET)
    page.goto(f"{site.url}/")
    nav = page.get_by_role("navigation", name="主导航")
    assert all(nav.get_by_role("link", name=a, exact=True).first.is_visible() for a in labels)
    assert not nav.locator("summary").is_visible()
    screenshot(page, "ui-member-home-tablet")
    page.close()


def test_a_members_home_leads_to_the_contact_cards_and_the_inbox_has_no_print_button(demo_site, signed_in):
    site, pages = demo_site
    page = signed_in("member").new_page()
    page.goto(f"{site.url}/")
    screenshot(page, "ui-member-home-phone")
    page.get_by_role("link", name="打印联系卡").click()
    page.wait_for_url("**/needs/cards")
    assert page.locator(".contact-card").count() >= 10
    page.goto(f"{site.url}/needs/")
    page.get_by_text("楼道灯坏了三天").wait_for()
    assert page.get_by_text("打印联系卡").count() == 0
    page.close()


def test_a_registered_residents_home_has_raise_a_need_and_my_needs(demo_site, signed_in):
    site, pages = demo_site
    page = signed_in("resident").new_page()
    page.goto(f"{site.url}/")
    home = page.locator("#resident-home")
    screenshot(page, "ui-resident-home-phone")
    for name in ("反映诉求", "我的诉求"):
        box = home.get_by_role("link", name=name, exact=True).bounding_box()
        assert box["height"] >= TAP and box["width"] > 200, (name, box)
    home.get_by_role("link", name="反映诉求", exact=True).click()
    page.get_by_role("heading", name="反映急难愁盼").wait_for()
    page.go_back()
    page.locator("#resident-home").get_by_role("link", name="我的诉求", exact=True).click()
    page.get_by_text("小区门口垃圾堆了一周没人清理").wait_for()
    page.close()


# --- A card on a throttled phone -----------------------------------------------------------------

# A mid-range phone on 3G: 150 ms round trip, 1.6 Mbps down, 750 kbps up, CPU four times slower.
NETWORK = {"offline": False, "latency": 150, "downloadThroughput": 1_600_000 / 8, "uploadThroughput": 750_000 / 8}
CPU_SLOWDOWN = 4
USABLE_TARGET, SUBMITTED_TARGET = 2.0, 60.0  # seconds (issue 13)
TEXT = "老伴腿脚不方便，想问问社区能不能安排上门量血压，谢谢。"


def test_a_card_page_loads_and_submits_in_good_time_on_a_throttled_phone(browser, demo_site):
    site, pages = demo_site
    context = context_for(browser, PHONE)  # a first visit: nothing cached
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", NETWORK)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})

    start = time.monotonic()
    page.goto(f"{site.url}/c/{pages.card_token}", wait_until="commit")
    page.get_by_label("遇到了什么困难？").wait_for()
    page.wait_for_load_state("load")
    # The browser's own clock, from the start of the navigation: the form works without JavaScript,
    # so it is usable once painted with its styles (first contentful paint); DOMContentLoaded is
    # when htmx and the page's script are running too.
    nav = page.evaluate("""() => { const n = performance.getEntriesByType('navigation')[0];
        const fcp = performance.getEntriesByName('first-contentful-paint')[0];
        return {ttfb: n.responseStart, fcp: fcp ? fcp.startTime : null, dcl: n.domContentLoadedEventEnd,
                load: n.loadEventEnd,
                bytes: performance.getEntriesByType('resource').reduce((s, r) => s + r.transferSize, n.transferSize)}; }""")
    usable = nav["fcp"] / 1000

    page.get_by_text("医疗养老").click()  # the demo's need on this card is 设施维修: not a duplicate
    # About three characters a second, as an elderly resident types or dictates.
    page.get_by_label("遇到了什么困难？").press_sequentially(TEXT, delay=300)
    page.get_by_label("联系电话").press_sequentially("13800138000", delay=200)
    page.get_by_label("我同意为办理本诉求使用我的联系方式").check()
    before_submit = time.monotonic()
    page.get_by_role("button", name="提交").click()
    page.get_by_text("已提交，谢谢您！").wait_for(timeout=60_000)
    submitted = time.monotonic() - start
    send = time.monotonic() - before_submit
    screenshot(page, "ui-card-submitted-throttled-phone")
    context.close()

    print(f"\n[field] throttled card page (150 ms RTT, 1.6/0.75 Mbps, CPU ×{CPU_SLOWDOWN}), first visit: "
          f"first byte {nav['ttfb']:.0f} ms, first paint (form usable) {nav['fcp']:.0f} ms (target {USABLE_TARGET:.0f} s), "
          f"DOMContentLoaded (scripts running) {nav['dcl']:.0f} ms, load {nav['load']:.0f} ms, {nav['bytes'] / 1024:.1f} KB; "
          f"submitted {submitted:.1f} s after the navigation started, including {len(TEXT)} characters typed (target {SUBMITTED_TARGET:.0f} s), "
          f"the submit itself {send:.2f} s")
    # Generous bounds: a shared two-core CI box must not make this flaky (three times the targets).
    assert usable <= 3 * USABLE_TARGET and nav["dcl"] / 1000 <= 3 * USABLE_TARGET
    assert submitted <= 3 * SUBMITTED_TARGET
