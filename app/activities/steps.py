"""The answer to a refused step that is taken from a page of its own (a button on a detail page).

There is no form to show again: the refusal is flashed on the page the step came from. Shared by
the activity and diary views.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect
from werkzeug.wrappers import Response


def flash_back(url: str) -> Callable[[str], Response]:
    """A ``run_step`` rerender: flash the refusal and go back to ``url`` (303)."""

    def rerender(message: str) -> Response:
        flash(message, "error")
        return redirect(url, 303)

    return rerender
