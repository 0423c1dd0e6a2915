"""The page chrome — the head's assets, the header with its nav, the member's outbox status, footer — rendered once and kept
(issue 14).

What ``base.html`` draws around every page's content is the same for everyone of a language, type
size, login state and set of nav entries, but for four values: the CSRF token, the user's name and
id, and the page to come back to after switching language (``page_next``). Rendering it through
Jinja cost some 0.4 ms of a page's 1.5–3.5 ms; here each part (``templates/_chrome/<part>.html``)
is rendered once per key with markers in place of those values, kept in the process, and each page
gets a copy with its own values put in, escaped as the template would have. The nav's current entry
(``aria-current``) is part of the key: the path when it is one of the nav's links, else none.
"""

from __future__ import annotations

from flask import current_app, render_template, request
from flask_login import current_user
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

MAX_KEPT = 2048

# Markers put where a page's own value goes: plain ASCII letters and digits, so escaping leaves
# them as they are and no text a page shows can hold one by chance.
_MARK = {
    "page_csrf": "CHROMECSRF4b7e1d9a",
    "user_name": "CHROMENAME8c2f6a0e",
    "user_id": "CHROMEUSER1d5b9e3c",
    "page_next": "CHROMENEXT7a3c0f5d",
}

def _key(context: Context, part: str, main_nav) -> tuple[tuple, dict]:  # type: ignore[no-untyped-def]
    """What the part depends on (the key it is kept under) and the context it renders with."""
    user = bool(context.get("page_user"))
    locale, large = context.get("current_locale"), bool(context.get("large_type"))
    csrf_on = current_app.config.get("WTF_CSRF_ENABLED", True)
    base = (part, locale, large, user, request.script_root, csrf_on)
    if part == "head":
        resident = bool(context.get("resident_page"))
        return (*base, resident), {"resident_page": resident}
    if part != "header":
        return base, {}
    items, bar = main_nav() if user else ((), 0)
    path = context.get("page_path")
    current = path if any(href == path for href, _label in items) else None
    return (*base, items, bar, current), {"nav_items": items, "nav_bar_size": bar, "current_href": current}


def _values(context: Context) -> dict[str, str]:
    """The page's own values, escaped for an HTML text or attribute as Jinja would; worked out
    once per page (the three parts ask) and kept in the page's context."""
    found = context.vars.get("_chrome_values")
    if found is None:
        user = context.get("page_user")
        found = context.vars["_chrome_values"] = {
            "page_csrf": str(escape(context.get("page_csrf") or "")),
            "user_name": str(escape(current_user.name)) if user else "",
            "user_id": str(current_user.id) if user else "",
            "page_next": str(escape(context.get("page_next") or "")),
        }
    return found


@pass_context
def page_chrome(context: Context, part: str) -> Markup:
    """``part`` of the chrome ("head", "header", "outbox" or "footer") for this page."""
    main_nav = context["main_nav"]
    key, extra = _key(context, part, main_nav)
    _kept: dict[tuple, str] = current_app.extensions.setdefault("kept_chrome", {})  # per app, as its config
    kept = _kept.get(key)
    if kept is None or current_app.debug:
        kept = render_template(f"_chrome/{part}.html", **extra, **_MARK,
                               current_locale=context.get("current_locale"),
                               large_type=context.get("large_type"), page_user=context.get("page_user"))
        if len(_kept) >= MAX_KEPT:
            _kept.clear()
        _kept[key] = kept
    for name, value in _values(context).items():
        mark = _MARK[name]
        if mark in kept:
            kept = kept.replace(mark, value)
    return Markup(kept)


def init_app(app) -> None:  # type: ignore[no-untyped-def]
    app.jinja_env.globals["page_chrome"] = page_chrome
