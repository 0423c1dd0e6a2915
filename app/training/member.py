"""Training for members: 我的培训 (open sessions of their grid and the nodes above it, and their
record), a session to study, "我已学完" with a 心得, and a session's PDF."""

from __future__ import annotations

from flask import abort, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required

from app import policy
from app.authz import current_member, get_or_404
from app.clock import local_naive, local_today
from app.models import Member, TrainingSession, utcnow
from app.pages import paginate
from app.responses import document_response
from app.services import training as svc
from app.steps import run_step
from app.training import bp, members_only, on_fields, study_or_404
from app.training.forms import CompleteForm


@bp.route("/me")
@members_only
def mine():
    """我的培训: sessions not yet over for the member's grid and above, and this year's record."""
    member = current_member()
    now = utcnow()
    page = paginate(svc.open_for(member, now))
    return render_template("training/mine.html", page=page, states=svc.states(page.items, now),
                           mine=svc.my_training(member, page.items, local_today().year),
                           form=CompleteForm(formdata=None))


def _study_page(session: TrainingSession, member: Member, form: CompleteForm, status: int = 200,
                error: str | None = None):
    """A session as its members see it: what, when, where or what to read, and their completion."""
    return render_template(
        "training/study.html", s=session, state=svc.state_of(session, utcnow()), form=form,
        done=svc.completion_of(session, member), error=None if error is None or form.reflection.errors else error,
    ), status


@bp.route("/me/<int:session_id>")
@members_only
def study(session_id: int):
    """One session for a member of its node: its material and the "我已学完" form."""
    return _study_page(study_or_404(session_id), current_member(), CompleteForm(formdata=None))


def _completed(result: svc.CompletionResult) -> str:
    """What the member is told: done now, or done before (a second press writes nothing)."""
    if result.created:
        return _("已记录学完，感谢您的学习。")
    at = local_naive(result.completion.completed_at)
    return _("您已于 %(at)s 学完本次培训，无需重复提交。", at=f"{at:%Y-%m-%d %H:%M}")


@bp.post("/me/<int:session_id>/complete")
@members_only
def complete(session_id: int):
    """我已学完 on an online session, once, with an optional 心得 (≤ 500 字)."""
    session = study_or_404(session_id)
    member = current_member()
    form = CompleteForm()
    if not form.validate_on_submit():
        return _study_page(session, member, form, 422)
    return run_step(
        on_fields(form, lambda: svc.complete(session, member, form.reflection.data, utcnow())),
        lambda e: _study_page(session, member, form, 422, e),
        url_for("training.mine"), _completed,
    )


@bp.route("/sessions/<int:session_id>/material.pdf")
@login_required
def document(session_id: int):
    """A session's PDF, inline, to the members it is for and those who see its page."""
    session = get_or_404(TrainingSession, session_id, policy.can_open_training_material)
    if session.document is None:
        abort(404)
    return document_response(svc.document_path(session.document), session.document.filename)
