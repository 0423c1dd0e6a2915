"""Training for admins: the session list, planning a session, its page with the attendance list,
late/early marks, the .xlsx export, cancelling."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app import policy
from app.authz import require
from app.extensions import client_address
from app.forms_choices import options
from app.htmx import render
from app.models import TrainingKind, TrainingMode, TrainingSession, utcnow
from app.pages import paginate, paginate_rows
from app.responses import xlsx_response
from app.services import training as svc
from app.steps import flash_back, run_step, write_now
from app.training import (
    PER_PAGE,
    bp,
    field_error_shown,
    on_fields,
    org_admin,
    session_or_404,
    staff,
)
from app.training.forms import MarkForm, SessionEditForm, SessionFilterForm, SessionPlanForm

# The browser never sends a chosen file back with a page that refused it.
FILE_AGAIN = _l("其他内容已保留；出于安全原因，PDF 文件需要重新选择。")


def _filter() -> tuple[SessionFilterForm, svc.SessionFilter]:
    """The list's filter from the query string (anything invalid is left out and shown)."""
    form = SessionFilterForm(request.args)
    flt = svc.SessionFilter()
    if form.validate():
        flt.date_from, flt.date_to = form.date_from.data, form.date_to.data
        flt.kind = TrainingKind(form.kind.data) if form.kind.data else None
        flt.mode = TrainingMode(form.mode.data) if form.mode.data else None
        flt.state = form.state.data or ""
    flt.at = utcnow()
    return form, flt


@bp.route("/")
@staff
def index():
    """The sessions of the admin's nodes (and at the stations they run), filtered, a page at a time."""
    form, flt = _filter()
    page = paginate(svc.sessions_for(current_user, flt), per_page=PER_PAGE)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render("training/index.html", "training/_sessions.html", 422 if form.errors else 200,
                  form=form, listing=page, states=svc.states(page.items, utcnow()),
                  taken=svc.participation_counts(page.items), expected=svc.expected_counts(page.items),
                  list_args=args, can_plan=policy.can_plan_training(current_user))


@bp.route("/sessions.xlsx")
@staff
def sessions_export():
    """The same list (the same filters; anything invalid left out) as an .xlsx ledger, audited."""
    _form, flt = _filter()
    content = write_now(lambda: svc.export_sessions(current_user, flt, utcnow(), client_address()))
    return xlsx_response(content, "training-sessions.xlsx")


@bp.route("/participations")
@staff
def participations():
    """Who took part in the sessions the admin sees (attended offline or completed online), one
    line per session and member, filtered as the session list is: what 参训人次 counts."""
    form, flt = _filter()
    total, minutes = svc.participation_totals(current_user, flt)
    page = paginate_rows(svc.participations_for(current_user, flt), svc.Participation, per_page=PER_PAGE,
                         total=total)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render("training/participations.html", "training/_participations.html", 422 if form.errors else 200,
                  form=form, listing=page, minutes=minutes, list_args=args)


@bp.route("/participations.xlsx")
@staff
def participations_export():
    """The participation list (the same filters; anything invalid left out) as an .xlsx ledger, audited."""
    _form, flt = _filter()
    content = write_now(lambda: svc.export_participations(current_user, flt, client_address()))
    return xlsx_response(content, "training-participations.xlsx")


# --- planning ---------------------------------------------------------------------------------


def _plan_page(form: SessionPlanForm, error: str | None = None, status: int = 200,
               session: TrainingSession | None = None):
    """The planning form (or, with ``session``, the form changing it) with the nodes and stations
    the admin may choose; a refusal that names no field is shown on top."""
    if form.org_node_id:
        form.org_node_id.choices = options([("", _("请选择"))] + [
            (n.id, "　" * n.level.depth + n.name) for n in svc.nodes_for(current_user)])
    form.station_id.choices = options([("", _("请选择"))] + [
        (s.id, f"{s.name}（{s.org_node.name}）") for s in svc.stations_for(current_user)])
    shown = error if error and not field_error_shown(form) else None
    if status == 422 and form.upload() is not None:
        form.document.errors = [*form.document.errors, str(FILE_AGAIN)]
    return render_template("training/new.html", form=form, error=shown, session=session), status


@bp.route("/new", methods=["GET", "POST"])
@org_admin
def new():
    """Plan a session: offline at a station (its event is created with it) or online."""
    form = SessionPlanForm()
    if request.method == "GET":
        return _plan_page(form)
    if not form.validate_on_submit():
        return _plan_page(form, status=422)
    return run_step(
        on_fields(form, lambda: svc.plan_session(current_user, form.to_input(), form.upload(), utcnow())),
        lambda e: _plan_page(form, e, 422),
        lambda s: url_for("training.detail", session_id=s.id),
        _("培训已安排。"),
    )


@bp.route("/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@staff
def edit(session_id: int):
    """Change a session that has not started; offline, its station event moves with it."""
    session = session_or_404(session_id)
    require(policy.can_administer_session(current_user, session))
    form = SessionEditForm(data=SessionEditForm.filled_from(session))
    form.mode.data = session.mode.value  # the mode stays, whatever the request says
    back = url_for("training.detail", session_id=session.id)
    if svc.state_of(session, utcnow()) is not svc.SessionState.UPCOMING:
        return flash_back(back)(_("培训已经开始、结束或取消，不能修改。"))
    if request.method == "GET":
        return _plan_page(form, session=session)
    if not form.validate_on_submit():
        return _plan_page(form, status=422, session=session)
    return run_step(
        on_fields(form, lambda: svc.edit_session(session, current_user, form.to_input(), form.upload(), utcnow())),
        lambda e: _plan_page(form, e, 422, session),
        back,
        _("培训已修改。"),
    )


# --- a session --------------------------------------------------------------------------------


def _detail_page(session: TrainingSession, mark_form: MarkForm, status: int = 200, error: str | None = None):
    """The session's page: its facts, attendance (with the mark form) or completions."""
    view = svc.session_page(session, utcnow())
    mark_form.member_id.choices = options([("", _("请选择已签到的党员"))] + [
        (c.member_id, f"{c.name}（{c.grid}）") for c in view.checkins])
    return render_template(
        "training/detail.html", view=view, s=session, mark_form=mark_form,
        error=None if error is None or field_error_shown(mark_form) else error,
        can_mark=policy.can_mark_attendance(current_user, session),
        can_cancel=policy.can_administer_session(current_user, session) and view.state is svc.SessionState.UPCOMING,
    ), status


@bp.route("/sessions/<int:session_id>")
@staff
def detail(session_id: int):
    """A session and who attended (offline: the station check-ins) or completed it (online)."""
    return _detail_page(session_or_404(session_id), MarkForm(formdata=None))


@bp.route("/sessions/<int:session_id>/attendance.xlsx")
@staff
def export(session_id: int):
    """The attendance list as .xlsx: node, period, Chinese headers, formula-safe; audited."""
    session = session_or_404(session_id)
    content = write_now(lambda: svc.export_attendance(session, current_user, client_address()))
    return xlsx_response(content, f"training-{session.id}-attendance.xlsx")


@bp.post("/sessions/<int:session_id>/cancel")
@staff
def cancel(session_id: int):
    """Cancel a session that has not started (offline: its station event goes with it)."""
    session = session_or_404(session_id)
    require(policy.can_administer_session(current_user, session))
    back = url_for("training.detail", session_id=session.id)
    return run_step(lambda: svc.cancel_session(session, current_user, utcnow()), flash_back(back), back,
                    _("培训已取消。"))


@bp.post("/sessions/<int:session_id>/marks")
@staff
def mark(session_id: int):
    """Mark an attendee as late or as having left early, with a note."""
    session = session_or_404(session_id)
    require(policy.can_mark_attendance(current_user, session))
    form = MarkForm()
    if not form.validate_on_submit():
        return _detail_page(session, form, 422)
    action = lambda: svc.add_mark(session, form.member_id.data, form.kind.data, form.note.data,  # noqa: E731
                                  current_user, utcnow())
    return run_step(on_fields(form, action), lambda e: _detail_page(session, form, 422, e),
                    url_for("training.detail", session_id=session.id) + "#attendance", _("已标记。"))


@bp.post("/sessions/<int:session_id>/marks/<int:mark_id>/delete")
@staff
def unmark(session_id: int, mark_id: int):
    """Remove a late/early mark."""
    session = session_or_404(session_id)
    require(policy.can_mark_attendance(current_user, session))
    back = url_for("training.detail", session_id=session.id) + "#attendance"
    return run_step(lambda: svc.remove_mark(session, mark_id, current_user), flash_back(back), back,
                    _("已删除标记。"))
