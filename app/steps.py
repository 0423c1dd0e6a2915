"""Running one user action from a view: every area's POST goes through :func:`run_step`.

The view hands over the service call; the runner commits it or rolls it back, and answers the way
the conventions say: 403 for :class:`NotAllowed`; 422 with the page re-rendered around the message
for :class:`Refused`; on success, the fragment for a targeted htmx request (with its ``HX-Trigger``
events) or a flash and a 303 redirect for everything else. Texts queued by the step are sent by
the commit hook in ``app/sms.py``, never for a step that was rolled back.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from flask import abort, flash, make_response, redirect
from werkzeug.wrappers import Response

from app.database import reading, writing
from app.extensions import db
from app.htmx import is_partial, trigger
from app.services.errors import NotAllowed, Refused

T = TypeVar("T")


def run_step(
    action: Callable[[], T],
    rerender: Callable[[str], object],
    target: str | Callable[[T], str] | None,
    done: str | Callable[[T], str] | None = None,
    *,
    partial: Callable[[T], object] | None = None,
    events: tuple[str, ...] = (),
    show: Callable[[T], object] | None = None,
) -> object:
    """Take one step and commit it.

    ``rerender(message)`` renders the page again with the refusal (it returns a 422 response);
    ``target`` is where the browser goes afterwards and ``done`` the message flashed there (either
    may be a function of the step's result); ``partial(result)``, when given, answers a targeted
    htmx request instead of redirecting. ``show(result)`` answers every request with the result
    itself — for what is shown once and must not travel through a redirect (a revealed phone
    number, a new password).
    """
    try:
        result = action()
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except Refused as e:
        db.session.rollback()
        return rerender(str(e))
    db.session.commit()
    if show is not None:
        return show(result)
    if partial is not None and is_partial():
        response = make_response(partial(result))
        return trigger(response, *events) if events else response
    if done:
        flash(done(result) if callable(done) else done, "success")
    url = target(result) if callable(target) else target
    assert url is not None, "run_step needs a target unless it shows the result"
    response_: Response = redirect(url, 303)
    return response_


def flash_back(url: str) -> Callable[[str], Response]:
    """A ``run_step`` rerender for a step taken from a button on a page of its own: there is no
    form to show again, so the refusal is flashed and the browser goes back to ``url`` (303)."""

    def rerender(message: str) -> Response:
        flash(message, "error")
        return redirect(url, 303)

    return rerender


def write_now(action: Callable[[], T]) -> T:
    """Run ``action`` from a GET request that must write (a scan, a first token, an export's audit
    line) in a write transaction of its own, and commit it; roll it back and re-raise on failure.

    A POST begins its transaction with SQLite's write lock (``app/database.py``); a GET does not,
    and a read transaction that later writes fails at once with "database is locked" when another
    writer holds the lock. So the read transaction ends first, and the write takes the lock when
    it begins. What the read transaction loaded is kept (it is a moment old, and nothing was
    written): the action needs not read it again while it holds the lock. What the write
    transaction loaded and wrote is kept past its commit too: the page that answers shows it
    without reading it all back (issue 14: a scan read check-in, member and station again).
    """
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
        try:
            with writing():
                result = action()
                session.commit()
        except Exception:
            session.rollback()
            raise
    finally:
        session.expire_on_commit = True
    return result


def reads_first(view: Callable[..., T]) -> Callable[..., T]:
    """For a POST view that reads — an entry's lookup, the form's checks, a photo or a recording
    processed — before one write that it runs through :func:`write_now`: its reads run in a plain
    read transaction, so SQLite's write lock is held only for the write itself (issue 14: a need
    submission held it from the card's lookup to its commit)."""

    @functools.wraps(view)
    def wrapped(*args: object, **kwargs: object) -> T:
        with reading():
            return view(*args, **kwargs)

    return wrapped
