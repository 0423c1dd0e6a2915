"""The in-app notification centre and the unread badge in the header (polled by htmx)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.auth.views import safe_next
from app.extensions import db
from app.models import Notification, utcnow

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


def unread_count() -> int:
    if not current_user.is_authenticated:
        return 0
    return db.session.scalar(
        sa.select(sa.func.count(Notification.id)).where(
            Notification.user_id == current_user.id, Notification.read_at.is_(None)
        )
    ) or 0


@bp.app_context_processor
def _badge_context() -> dict:
    return {"unread_notifications": unread_count}


@bp.route("/")
@login_required
def index():
    """My notifications, newest first."""
    stmt = (sa.select(Notification).where(Notification.user_id == current_user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc()))
    page = db.paginate(stmt, per_page=30, error_out=False)
    return render_template("notifications/index.html", page=page)


@bp.route("/badge")
@login_required
def badge():
    """The unread count, swapped into the header every 30 seconds."""
    return render_template("notifications/_badge.html")


@bp.route("/<int:note_id>")
@login_required
def open_note(note_id: int):
    """Mark one notification read and go where it points."""
    note = db.session.get(Notification, note_id)
    if note is None or note.user_id != current_user.id:
        return render_template("errors/error.html", code=404, title=_("页面不存在"), message=None), 404
    if note.read_at is None:
        note.read_at = utcnow()
        db.session.commit()
    return redirect(safe_next(note.url) or url_for("notifications.index"), 303)


@bp.post("/read")
@login_required
def read_all():
    """Mark all my notifications read."""
    db.session.execute(
        sa.update(Notification)
        .where(Notification.user_id == current_user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.commit()
    return redirect(url_for("notifications.index"), 303)
