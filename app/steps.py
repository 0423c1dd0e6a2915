"""Running one workflow step from a view: the nominations and households areas share it."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect
from werkzeug.wrappers import Response

from app.extensions import db
from app.services.workflow import NotAllowed, WorkflowError


def run_step(
    action: Callable[[], object],
    rerender: Callable[[str], object],
    target: str,
    done: str,
) -> object:
    """Run a service step and commit it, then redirect to ``target`` (303). A step the user may
    not take answers 403; a step the workflow refuses re-renders the page with the reason (422,
    via ``rerender``). Either way nothing of the step is kept."""
    try:
        action()
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except WorkflowError as e:
        db.session.rollback()
        return rerender(str(e))
    db.session.commit()
    flash(done, "success")
    response: Response = redirect(target, 303)
    return response
