"""The htmx side of "one URL, two representations" — the helper is small enough to own."""

from __future__ import annotations

import json

from flask import Response, render_template, request


def is_partial() -> bool:
    """True only for a targeted htmx request: not a boosted navigation, not a history restore."""
    h = request.headers
    return (
        h.get("HX-Request") == "true"
        and h.get("HX-Boosted") != "true"
        and h.get("HX-History-Restore-Request") != "true"
    )


def hx_target() -> str | None:
    """The id of the element htmx will swap into (htmx 4 may send ``tag#id``)."""
    raw = request.headers.get("HX-Target")
    if not raw:
        return None
    return raw.rpartition("#")[2]


def render(page: str, fragment: str, status: int = 200, **context: object) -> tuple[str, int]:
    """Render the fragment for a targeted htmx request, the whole page otherwise."""
    return render_template(fragment if is_partial() else page, **context), status


def trigger(response: Response, *events: str, **detailed: object) -> Response:
    """Add ``HX-Trigger`` events (kebab-case) for regions listening with ``from:body``."""
    if detailed:
        payload: dict[str, object] = dict.fromkeys(events)
        payload.update(detailed)
        response.headers["HX-Trigger"] = json.dumps(payload, ensure_ascii=False)
    else:
        response.headers["HX-Trigger"] = ", ".join(events)
    return response
