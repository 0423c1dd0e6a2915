"""What the field tests measure on a page: axe-core's violations and the size of every tap target.

axe-core is vendored for the tests only (``tests/browser/vendor/axe.min.js``, from the npm package
``axe-core``; licence beside it): it is evaluated in the page by the test, never served by the app.
"""

from __future__ import annotations

from pathlib import Path

AXE_PATH = Path(__file__).parent / "vendor" / "axe.min.js"
AXE_VERSION = "4.14.1"
SERIOUS = ("serious", "critical")
TAP = 44  # px, WCAG 2.5.5 (AAA) and the design's smallest touch target
TAP_MIN = 24  # px, WCAG 2.5.8 (AA)

# The only small targets the target test accepts, each with its reason. The JS below names the
# reason of each small target it excuses; anything else below 44 px fails.
JUSTIFIED = {
    "inline": "a link inside a sentence, sized by the line of text around it (WCAG 2.5.8's inline exception)",
    "equivalent": "a bar or point of a chart whose link is also in the chart's data table "
                  "(WCAG 2.5.8's equivalent exception)",
}

_axe_source: str | None = None


def run_axe(page) -> list[dict]:  # type: ignore[no-untyped-def]
    """axe-core's violations on the page as it is now: id, impact, help and the nodes' selectors."""
    global _axe_source
    if not page.evaluate("typeof window.axe === 'object'"):
        if _axe_source is None:
            _axe_source = AXE_PATH.read_text(encoding="utf-8")
        # Evaluated through the DevTools protocol, not a <script>: the app's CSP forbids inline
        # scripts, and this bypasses it without weakening the page under test.
        page.evaluate(_axe_source + "\n;void 0")
    return page.evaluate("""async () => {
        // target-size (WCAG 2.5.8, 24 px) is off by default in axe 4.14: on here.
        const r = await axe.run(document, {resultTypes: ['violations'], rules: {'target-size': {enabled: true}}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 6), count: v.nodes.length}));
    }""")


def serious(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in SERIOUS]


# Every visible interactive element, measured as the user's finger meets it: a checkbox or radio
# inside its <label> is the label's box (the label toggles it). An element scrolled away inside a
# scroller is still measured (it is a target once scrolled to).
_TARGETS_JS = """() => {
  const SEL = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], [tabindex]:not([tabindex="-1"])';
  const out = [];
  const name = el => (el.getAttribute('aria-label') || el.innerText || el.value || el.name || el.id || '').trim().replace(/\\s+/g, ' ').slice(0, 30);
  const inSentence = el => {
    // An inline link with text of its own block around it, on the same line box.
    if (el.tagName !== 'A' || getComputedStyle(el).display !== 'inline') return false;
    const p = el.parentElement;
    if (!p || !['inline', 'block', 'list-item'].includes(getComputedStyle(p).display) && getComputedStyle(p).display !== 'table-cell') return false;
    return [...p.childNodes].some(n => n !== el && n.nodeType === 3 && n.textContent.trim().length > 1);
  };
  const inTable = el => {
    // A chart's mark whose link the chart's own data table offers too.
    const fig = el.closest('figure.chart');
    const href = el.getAttribute('href');
    return !!fig && !!el.closest('svg') && [...fig.querySelectorAll('table a')].some(a => a.getAttribute('href') === href);
  };
  for (const el of document.querySelectorAll(SEL)) {
    if (!el.checkVisibility({checkVisibilityCSS: true})) continue;
    if (el.closest('[inert], [aria-hidden="true"]')) continue;
    let box = el;
    if (el.matches('input[type=checkbox], input[type=radio]') && el.closest('label')) box = el.closest('label');
    const r = box.getBoundingClientRect();
    if (r.width < 1 && r.height < 1) continue;
    if (r.right <= 0 || r.bottom + window.scrollY <= 0) continue;  // parked off-screen (a skip link)
    out.push({tag: el.tagName.toLowerCase() + (el.type && el.tagName === 'INPUT' ? '[' + el.type + ']' : ''),
              name: name(el), id: el.id || '', cls: String(box.className || ''),
              w: Math.round(r.width * 10) / 10, h: Math.round(r.height * 10) / 10,
              reason: inSentence(el) ? 'inline' : inTable(el) ? 'equivalent' : null});
  }
  return out;
}"""


def targets(page) -> list[dict]:  # type: ignore[no-untyped-def]
    """Every visible interactive element with its size and, when one applies, its justification."""
    return page.evaluate(_TARGETS_JS)


def small(found: list[dict], size: int = TAP) -> list[dict]:
    """The targets narrower or shorter than ``size`` (half a pixel of rounding allowed)."""
    return [t for t in found if t["w"] < size - 0.5 or t["h"] < size - 0.5]
