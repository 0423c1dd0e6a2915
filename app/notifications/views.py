"""The in-app notification centre and the unread badge in the header (polled by htmx)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.auth.views import safe_next
from app.authz import get_or_404
from app.models import Notification
from app.pages import paginate
from app.policy import owns_notification
from app.services import notify
from app.steps import run_step

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

PER_PAGE = 30


def _back_to_list(error: str):  # type: ignore[no-untyped-def]
    """Marking read refuses nothing; should it ever, the list is where to go."""
    return redirect(url_for("notifications.index"), 303)


@bp.route("/")
@login_required
def index():
    """My notifications, newest first."""
    page = paginate(notify.inbox(current_user.id), per_page=PER_PAGE)
    return render_template("notifications/index.html", page=page)


@bp.route("/badge")
@login_required
def badge():
    """The unread count, asked for by the header's link when a page loads and every 60 s after:
    pages themselves count nothing (issue 14)."""
    return render_template("notifications/_badge.html", n=notify.unread_count(current_user.id))


@bp.route("/<int:note_id>")
@login_required
def open_note(note_id: int):
    """Mark one notification read and go where it points."""
    note = get_or_404(Notification, note_id, owns_notification)
    return run_step(lambda: notify.mark_read(note), _back_to_list,
                    lambda n: safe_next(n.url) or url_for("notifications.index"))


@bp.post("/read")
@login_required
def read_all():
    """Mark all my notifications read."""
    return run_step(lambda: notify.mark_all_read(current_user.id), _back_to_list,
                    url_for("notifications.index"))
