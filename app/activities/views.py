"""Recording service: record, see, edit and verify activities; the lists and the ledger export."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app import policy
from app.activities.forms import (
    ActivityEditForm,
    ActivityFilterForm,
    ActivityRecordForm,
    ActivityReturnForm,
    VerifyFilterForm,
    select_choices,
)
from app.authz import admin_required, current_member, get_or_404, require, roles_required
from app.clock import local_today, parse_month
from app.extensions import client_address
from app.htmx import render
from app.models import (
    MAX_PHOTOS,
    Activity,
    ActivityKind,
    CentralHousehold,
    Member,
    Role,
    VerifyState,
    utcnow,
)
from app.pages import paginate
from app.responses import photo_response, xlsx_response
from app.services import activities as service
from app.services import photos
from app.steps import flash_back, run_step, write_now

bp = Blueprint("activities", __name__, url_prefix="/activities")

# Six photos of up to 10 MB each, plus the form's fields.
UPLOAD_MAX_BYTES = MAX_PHOTOS * photos.MAX_BYTES + 2 * 1024 * 1024
# The browser never sends chosen files back with a page that refused them.
PHOTOS_AGAIN = _l("其他内容已保留；出于安全原因，照片需要重新选择。")


@bp.before_request
def _allow_photo_uploads() -> None:
    """The app-wide limit is sized for one photo; the activity forms take up to six."""
    if request.endpoint in ("activities.new", "activities.edit"):
        request.max_content_length = UPLOAD_MAX_BYTES


def activity_or_404(activity_id: int) -> Activity:
    """An activity the current user may see, else 404 (its existence is not revealed)."""
    return get_or_404(Activity, activity_id, policy.can_view_activity)


def _listing(stmt: sa.Select, total: int | None = None) -> dict[str, object]:
    """A page of activities and their counts, as the list templates take them (``total``: the
    list's length when the maintained aggregates know it)."""
    page = paginate(stmt, total=total)
    return {"listing": page, "counts": service.counts([a.id for a in page.items])}


# --- recording and editing ---------------------------------------------------------------


def _prepare(form: ActivityRecordForm, member: Member, activity: Activity | None = None) -> dict:
    """Choices and the picker lists for the form of ``member`` (the author)."""
    stations = service.stations_for(member)
    form.station_id.choices = select_choices(
        [("", _("其他地址（在下方填写）"))] + [(s.id, s.name) for s in stations])
    chosen_residents = set(form.residents.data or [])
    chosen_fellows = set(form.fellows.data or [])
    return {
        "form": form,
        "member": member,
        "resident_options": service.resident_options(member, form.resident_q.data or "", chosen_residents),
        "fellow_options": service.fellow_options(member, form.member_q.data or "", chosen_fellows),
        "chosen_residents": chosen_residents,
        "chosen_fellows": chosen_fellows,
        "can_on_behalf": activity is None and service.headed_household(member) is not None,
        "activity": activity,
        "max_photos": MAX_PHOTOS,
    }


def _form_page(template: str, form: ActivityRecordForm, author: Member, activity: Activity | None = None,
               error: str | None = None, status: int | None = None) -> tuple[str, int]:
    """The record or edit form as typed: 422 for a POST that did not pass, 200 for the search
    buttons (which work without JavaScript and keep everything typed) and a fresh form."""
    if status is None:
        status = 422 if request.method == "POST" and not request.form.get("find") else 200
    return render_template(template, error=error, **_prepare(form, author, activity)), status


def _refused(template: str, form: ActivityRecordForm, author: Member,
             activity_id: int | None = None) -> Callable[[str], tuple[str, int]]:
    """The ``run_step`` rerender of a refused record or edit: the form as typed with the message."""

    def rerender(message: str) -> tuple[str, int]:
        if any(form.uploads()):
            form.photos.errors = [str(PHOTOS_AGAIN)]
        # The rollback expired the activity: load it again with its photos for the form.
        activity = service.load_for_edit(activity_id) if activity_id is not None else None
        return _form_page(template, form, author, activity, error=message, status=422)

    return rerender


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.MEMBER)
def new():
    """Record an activity: on a phone, in under a minute."""
    member = current_member()
    form = ActivityRecordForm()
    if request.method == "GET":
        form.preset(request.args.get("kind"), request.args.get("resident", type=int))
    if request.form.get("find") or not form.validate_on_submit():
        return _form_page("activities/new.html", form, member)
    return run_step(
        lambda: service.record(member, form.to_input(), form.uploads(), current_user, utcnow(),
                               client_key=form.client_key.data),
        _refused("activities/new.html", form, member),
        lambda activity: url_for("activities.detail", activity_id=activity.id),
        _("已记录。"),
    )


@bp.route("/<int:activity_id>/edit", methods=["GET", "POST"])
@login_required
def edit(activity_id: int):
    """Change an activity: its author within 24 hours, an admin in scope at any time."""
    now = utcnow()
    require(policy.can_edit_activity(current_user, activity_or_404(activity_id), now))
    activity = service.load_for_edit(activity_id)
    form = ActivityEditForm()
    if request.method == "GET":
        form.fill(activity)
    if request.form.get("find") or not form.validate_on_submit():
        return _form_page("activities/edit.html", form, activity.author, activity)
    return run_step(
        lambda: service.edit(activity, current_user, form.to_input(), form.uploads(), now),
        _refused("activities/edit.html", form, activity.author, activity_id),
        url_for("activities.detail", activity_id=activity_id),
        _("已保存修改。"),
    )


def _picker(field: str, query: str, find: Callable[[Member, str, set[int]], list], name: str) -> str:
    """A picker's options for what was typed into ``query``, the ticked ``field`` values kept."""
    chosen = set(request.args.getlist(field, type=int))
    options = find(current_member(), request.args.get(query, ""), chosen)
    return render_template(f"activities/_{name}_options.html",
                           **{f"{name}_options": options, f"chosen_{field}": chosen})


@bp.route("/pick/residents")
@roles_required(Role.MEMBER)
def pick_residents():
    """The resident-household picker, filtered by what was typed (htmx active search)."""
    return _picker("residents", "resident_q", service.resident_options, "resident")


@bp.route("/pick/members")
@roles_required(Role.MEMBER)
def pick_members():
    """Fellow members of the community by name (htmx active search)."""
    return _picker("fellows", "member_q", service.fellow_options, "fellow")


# --- seeing ------------------------------------------------------------------------------


@bp.route("/")
@roles_required(Role.MEMBER)
def mine():
    """The member's own activities (recorded or taken part in), newest first; ``?month=YYYY-MM``
    keeps one month (the home page's figure links here)."""
    member = current_member()
    raw = request.args.get("month")
    month = parse_month(raw, local_today()) if raw else None
    return render("activities/mine.html", "activities/_items.html",
                  **_listing(service.mine(member, month)), household=service.headed_household(member),
                  list_endpoint="activities.mine", list_args={"month": raw} if month else {},
                  month=month)


@bp.route("/household/<int:household_id>")
@login_required
def household(household_id: int):
    """A central household's activities: its members' and those recorded on its behalf."""
    household = get_or_404(CentralHousehold, household_id, policy.can_oversee_household)
    return render("activities/household.html", "activities/_items.html",
                  **_listing(service.of_household(household)), household=household,
                  list_endpoint="activities.household", list_args={"household_id": household.id})


@bp.route("/<int:activity_id>")
@login_required
def detail(activity_id: int):
    """One activity with its photos, state and history."""
    return _detail_page(activity_or_404(activity_id), ActivityReturnForm())


def _detail_page(activity: Activity, return_form: ActivityReturnForm, status: int = 200) -> tuple[str, int]:
    """The detail page; ``return_form`` carries what was typed into a refused return."""
    return render_template(
        "activities/detail.html",
        activity=service.load_for_edit(activity.id),
        revisions=service.revisions(activity),
        can_edit=policy.can_edit_activity(current_user, activity, utcnow()),
        can_verify=policy.can_verify_activity(current_user, activity)
        and activity.verify_state is VerifyState.PENDING,
        return_form=return_form,
    ), status


@bp.route("/<int:activity_id>/photos/<int:photo_id>")
@bp.route("/<int:activity_id>/photos/<int:photo_id>/thumb", endpoint="photo_thumb")
@login_required
def photo(activity_id: int, photo_id: int):
    """A photo of an activity, only to those who may see the activity."""
    found = service.activity_photo(activity_or_404(activity_id), photo_id)
    if found is None:
        abort(404)
    return photo_response(found, thumb=request.endpoint == "activities.photo_thumb")


# --- verifying ---------------------------------------------------------------------------


def _to_decide(activity_id: int) -> Activity:
    """An activity the user may see and verify (404 when not seen, 403 when not theirs to decide)."""
    activity = activity_or_404(activity_id)
    require(policy.can_verify_activity(current_user, activity))
    return activity


@bp.post("/<int:activity_id>/verify")
@login_required
def verify(activity_id: int):
    """The station's administrator confirms the activity took place."""
    activity = _to_decide(activity_id)
    return run_step(lambda: service.verify(activity, current_user, utcnow()),
                    flash_back(url_for("activities.detail", activity_id=activity_id)),
                    url_for("activities.verify_queue"), _("已核实。"))


@bp.post("/<int:activity_id>/return")
@login_required
def return_(activity_id: int):
    """The station's administrator sends the activity back with a reason."""
    activity = _to_decide(activity_id)
    form = ActivityReturnForm()
    if not form.validate_on_submit():
        return _detail_page(activity, form, 422)
    return run_step(lambda: service.return_(activity, current_user, form.reason.data, utcnow()),
                    flash_back(url_for("activities.detail", activity_id=activity_id)),
                    url_for("activities.verify_queue"), _("已退回。"))


@bp.route("/verify")
@roles_required(Role.STATION_ADMIN, Role.ORG_ADMIN)
def verify_queue():
    """Activities held at the user's stations, pending first by default."""
    form = VerifyFilterForm(request.args)
    state = VerifyState(form.state.data) if form.validate() and form.state.data else None
    return render("activities/verify.html", "activities/_items.html",
                  **_listing(service.to_verify(current_user, state)), form=form,
                  list_endpoint="activities.verify_queue", list_args={"state": form.state.data or ""})


# --- the ledger --------------------------------------------------------------------------


def _ledger_filter() -> tuple[ActivityFilterForm, service.LedgerFilter]:
    """The ledger's filter form from the query string, and the filter it stands for."""
    form = ActivityFilterForm(request.args)
    if not request.args:
        # A ledger is kept by the month: open on this month rather than counting two years.
        form.date_from.data = local_today().replace(day=1)
    grids = service.grids_in_scope(current_user)
    form.grid.choices = select_choices([("", _("全部网格"))] + [(g.id, g.name) for g in grids])
    flt = service.LedgerFilter()
    if form.validate():
        flt.kind = ActivityKind(form.kind.data) if form.kind.data else None
        flt.state = VerifyState(form.state.data) if form.state.data else None
        flt.date_from, flt.date_to = form.date_from.data, form.date_to.data
        if form.grid.data in {g.id for g in grids}:
            flt.grid_id = form.grid.data
    return form, flt


@bp.route("/ledger")
@admin_required
def ledger_view():
    """服务台账: the activities in the admin's scope, filtered."""
    form, flt = _ledger_filter()
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render("activities/ledger.html", "activities/_ledger_table.html",
                  **_listing(service.in_scope(current_user, flt), service.ledger_total(current_user, flt)),
                  form=form,
                  list_endpoint="activities.ledger_view", list_args=args)


@bp.route("/ledger.xlsx")
@admin_required
def ledger_export():
    """The same list as a ledger workbook (.xlsx), audited."""
    _form, flt = _ledger_filter()
    data = write_now(lambda: service.export_ledger(current_user, flt, request.query_string.decode(),
                                                   client_address()))  # audited
    return xlsx_response(data, "activities.xlsx")


HISTORY_LABELS = {
    "kind": _l("类型"),
    "started_at": _l("时间"),
    "duration_minutes": _l("时长"),
    "station_id": _l("驿站"),
    "address": _l("地址"),
    "note": _l("内容"),
    "resident_ids": _l("群众户"),
    "fellow_ids": _l("同行党员"),
    "photo_ids": _l("照片"),
    "verify_state": _l("审核状态"),
}


@bp.app_template_filter("history_label")
def history_label(key: str) -> str:
    """The name of a changed field, as the history shows it."""
    return str(HISTORY_LABELS.get(key, key))
