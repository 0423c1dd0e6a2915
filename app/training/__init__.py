"""Training (培训) for admins and members: planning sessions, their attendance, "我的培训", records.

One blueprint, ``training``, whose views live in the modules of this package by who uses them:
``views`` (org and station admins: the list, planning, a session's page, marks, export, cancel),
``member`` (members: 我的培训, a session to study, "我已学完", the PDF) and ``records`` (a
member's and a central household's record for a year). A session outside the user's reach is 404;
one they may see but not change is 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, request
from flask_wtf import FlaskForm

from app import policy
from app.authz import get_or_404, roles_required
from app.clock import local_today
from app.models import Role, TrainingSession
from app.services import training as svc

bp = Blueprint("training", __name__, url_prefix="/training")

staff = roles_required(Role.STATION_ADMIN, Role.ORG_ADMIN)
org_admin = roles_required(Role.ORG_ADMIN)
members_only = roles_required(Role.MEMBER)
PER_PAGE = 20
T = TypeVar("T")


@bp.app_template_filter("hours")
def hours(minutes: int | None) -> str:
    """Minutes as hours for people: 45 → "0.75", 90 → "1.5", 120 → "2"."""
    return f"{(minutes or 0) / 60:.2f}".rstrip("0").rstrip(".")


def session_or_404(session_id: int) -> TrainingSession:
    """A session whose page the user may see (its admins, its station's admins), else 404."""
    return get_or_404(TrainingSession, session_id, policy.can_view_session_attendance)


def study_or_404(session_id: int) -> TrainingSession:
    """A session for the logged-in member's node (their grid or above), else 404."""
    return get_or_404(TrainingSession, session_id, policy.is_session_member)


def chosen_year() -> int:
    """``?year=`` when it is one of the years a record offers, else this year."""
    year = request.args.get("year", type=int)
    return year if year in svc.record_years(local_today()) else local_today().year


def on_fields(form: FlaskForm, action: Callable[[], T]) -> Callable[[], T]:
    """``action`` for ``run_step``, showing a refusal that names a field under that field."""

    def run() -> T:
        try:
            return action()
        except svc.TrainingError as e:
            field = getattr(form, e.field, None) if e.field else None
            if field is not None:
                field.errors = [*field.errors, str(e)]
            raise

    return run


def field_error_shown(form: FlaskForm) -> bool:
    """Whether some field of ``form`` shows an error (else the page shows the message on top)."""
    return any(f.errors for f in form)


# The views register themselves on import.
from app.training import member, records, views  # noqa: E402,F401
