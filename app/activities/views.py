"""Recording service: record, see, edit and verify activities; the lists and the ledger export."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
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
from app.authz import admin_required, current_member, roles_required
from app.clock import local_naive, local_today
from app.extensions import db
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
from app.policy import node_in_scope
from app.responses import photo_response
from app.services import activities as service
from app.services import ledger, photos
from app.services.privacy import audit

bp = Blueprint("activities", __name__, url_prefix="/activities")

PER_PAGE = 20
# Six photos of up to 10 MB each, plus the form's fields.
UPLOAD_MAX_BYTES = MAX_PHOTOS * photos.MAX_BYTES + 2 * 1024 * 1024


@bp.before_request
def _allow_photo_uploads() -> None:
    """The app-wide limit is sized for one photo; the activity forms take up to six."""
    if request.endpoint in ("activities.new", "activities.edit"):
        request.max_content_length = UPLOAD_MAX_BYTES


@dataclass
class Page:
    items: list
    page: int
    pages: int
    total: int


def paginate_rows(stmt: sa.Select, per_page: int = PER_PAGE) -> Page:
    """Pages of a multi-column select (db.paginate keeps only the first column): two queries."""
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    rows = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items=rows, page=page, pages=max(ceil((total or 0) / per_page), 1), total=total or 0)


def activity_or_404(activity_id: int) -> Activity:
    """An activity the current user may see, else 404 (its existence is not revealed)."""
    activity = db.session.get(Activity, activity_id)
    if activity is None or not policy.can_view_activity(current_user, activity):
        abort(404)
    return activity


def _prepare(form: ActivityRecordForm, member: Member, activity: Activity | None = None) -> dict:
    """Choices and the picker lists for the form of ``member`` (the author)."""
    stations = service.stations_for(member)
    form.station_id.choices = select_choices(
        [("", _("其他地址（在下方填写）"))] + [(s.id, s.name) for s in stations])
    chosen_residents = set(form.residents.data or [])
    chosen_fellows = set(form.fellows.data or [])
    resident_list = _resident_options(member, form.resident_q.data or "", chosen_residents)
    fellow_list = _fellow_options(member, form.member_q.data or "", chosen_fellows)
    return {
        "form": form,
        "member": member,
        "resident_options": resident_list,
        "fellow_options": fellow_list,
        "chosen_residents": chosen_residents,
        "chosen_fellows": chosen_fellows,
        "can_on_behalf": activity is None and service.headed_household(member) is not None,
        "activity": activity,
        "max_photos": MAX_PHOTOS,
    }


def _resident_options(member: Member, q: str, chosen: set[int]) -> list:
    """Households matching ``q`` with the ones already ticked kept (and listed first)."""
    matches = list(db.session.scalars(service.covered_residents(member, q.strip())))
    if chosen:
        ids = {r.id for r in matches}
        extra = [r for r in db.session.scalars(service.covered_residents(member)) if r.id in chosen
                 and r.id not in ids]
        matches = extra + matches
    return sorted(matches, key=lambda r: r.id not in chosen)


def _fellow_options(member: Member, q: str, chosen: set[int]) -> list:
    matches = list(db.session.scalars(service.fellow_candidates(member, q.strip())))
    if chosen:
        ids = {m.id for m in matches}
        missing = chosen - ids
        if missing:
            extra = db.session.scalars(
                sa.select(Member).where(Member.id.in_(missing))
            ).all()
            matches = list(extra) + matches
    return sorted(matches, key=lambda m: m.id not in chosen)


def _photo_error(form: ActivityRecordForm, message: str) -> None:
    form.photos.errors = [
        message,
        _("其他内容已保留；出于安全原因，照片需要重新选择。"),
    ]


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.MEMBER)
def new():
    """Record an activity: on a phone, in under a minute."""
    member = current_member()
    form = ActivityRecordForm()
    if request.method == "GET":
        form.kind.data = request.args.get("kind") if request.args.get("kind") in {
            k.value for k in ActivityKind} else form.kind.data
        form.residents.data = [request.args.get("resident", type=int)] if request.args.get(
            "resident", type=int) else []
    if request.method == "POST" and request.form.get("find"):
        # The search buttons without JavaScript: show the matches, keep everything typed.
        return render_template("activities/new.html", **_prepare(form, member))
    valid = form.validate_on_submit()
    processed: list = []
    if request.method == "POST":
        try:
            processed = photos.process_many(request.files.getlist(form.photos.name), MAX_PHOTOS)
        except photos.PhotoError as e:
            _photo_error(form, str(e))
            valid = False
    if valid:
        try:
            activity = service.record(member, form.to_input(), processed, current_user, utcnow())
        except service.ActivityError as e:
            db.session.rollback()
            return render_template("activities/new.html", error=str(e), **_prepare(form, member)), 422
        db.session.commit()
        flash(_("已记录。"), "success")
        return redirect(url_for("activities.detail", activity_id=activity.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("activities/new.html", **_prepare(form, member)), status


@bp.route("/pick/residents")
@roles_required(Role.MEMBER)
def pick_residents():
    """The resident-household picker, filtered by what was typed (htmx active search)."""
    member = current_member()
    chosen = set(request.args.getlist("residents", type=int))
    options = _resident_options(member, request.args.get("resident_q", ""), chosen)
    return render_template("activities/_resident_options.html", resident_options=options,
                           chosen_residents=chosen)


@bp.route("/pick/members")
@roles_required(Role.MEMBER)
def pick_members():
    """Fellow members of the community by name (htmx active search)."""
    member = current_member()
    chosen = set(request.args.getlist("fellows", type=int))
    options = _fellow_options(member, request.args.get("member_q", ""), chosen)
    return render_template("activities/_fellow_options.html", fellow_options=options,
                           chosen_fellows=chosen)


@bp.route("/")
@roles_required(Role.MEMBER)
def mine():
    """The member's own activities (recorded or taken part in), newest first."""
    member = current_member()
    page = paginate_rows(service.mine(member))
    household = service.headed_household(member)
    return render("activities/mine.html", "activities/_items.html", listing=page, household=household,
                  list_endpoint="activities.mine", list_args={})


def _household_or_404(household_id: int) -> CentralHousehold:
    """A central household whose activities the user may see: its head, or an admin in scope."""
    household = db.session.get(CentralHousehold, household_id)
    if household is None:
        abort(404)
    member = current_user.member
    if member is not None and member.is_active and household.head_member_id == member.id:
        return household
    if node_in_scope(current_user, household.grid):
        return household
    abort(404)


@bp.route("/household/<int:household_id>")
@login_required
def household(household_id: int):
    """A central household's activities: its members' and those recorded on its behalf."""
    household = _household_or_404(household_id)
    page = paginate_rows(service.of_household(household))
    return render("activities/household.html", "activities/_items.html", listing=page,
                  household=household, list_endpoint="activities.household",
                  list_args={"household_id": household.id})


@bp.route("/<int:activity_id>")
@login_required
def detail(activity_id: int):
    """One activity with its photos, state and history."""
    activity = activity_or_404(activity_id)
    return _detail_page(activity, ActivityReturnForm())


def _detail_page(activity: Activity, return_form: ActivityReturnForm, status: int = 200):
    loaded = service.load_for_edit(activity.id)
    return render_template(
        "activities/detail.html",
        activity=loaded,
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
    activity = activity_or_404(activity_id)
    found = service.activity_photo(activity, photo_id)
    if found is None:
        abort(404)
    return photo_response(found, thumb=request.endpoint == "activities.photo_thumb")


@bp.route("/<int:activity_id>/edit", methods=["GET", "POST"])
@login_required
def edit(activity_id: int):
    """Change an activity: its author within 24 hours, an admin in scope at any time."""
    activity = activity_or_404(activity_id)
    now = utcnow()
    if not policy.can_edit_activity(current_user, activity, now):
        abort(403)
    activity = service.load_for_edit(activity.id)
    author = activity.author
    form = ActivityEditForm(obj=None)
    if request.method == "GET":
        _fill(form, activity)
    if request.method == "POST" and request.form.get("find"):
        return render_template("activities/edit.html", **_prepare(form, author, activity))
    valid = form.validate_on_submit()
    processed: list = []
    if request.method == "POST":
        try:
            processed = photos.process_many(request.files.getlist(form.photos.name), MAX_PHOTOS)
        except photos.PhotoError as e:
            _photo_error(form, str(e))
            valid = False
    if valid:
        try:
            service.edit(activity, form.to_input(), processed, form.remove_photos.data or [],
                         current_user, now)
        except service.ActivityError as e:
            db.session.rollback()
            activity = service.load_for_edit(activity_id)
            return render_template("activities/edit.html", error=str(e),
                                   **_prepare(form, activity.author, activity)), 422
        db.session.commit()
        flash(_("已保存修改。"), "success")
        return redirect(url_for("activities.detail", activity_id=activity_id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("activities/edit.html", **_prepare(form, author, activity)), status


def _fill(form: ActivityEditForm, activity: Activity) -> None:
    form.kind.data = activity.kind.value
    form.started_at.data = local_naive(activity.started_at)
    form.duration_minutes.data = activity.duration_minutes
    form.station_id.data = activity.station_id
    form.address.data = activity.address
    form.note.data = activity.note
    form.residents.data = [r.id for r in activity.residents]
    form.fellows.data = [m.id for m in activity.fellows]


@bp.post("/<int:activity_id>/verify")
@login_required
def verify(activity_id: int):
    """The station's administrator confirms the activity took place."""
    activity = activity_or_404(activity_id)
    if not policy.can_verify_activity(current_user, activity):
        abort(403)
    try:
        service.verify(activity, current_user, utcnow())
    except service.ActivityError as e:
        db.session.rollback()
        flash(str(e), "error")
        return redirect(url_for("activities.detail", activity_id=activity_id), 303)
    db.session.commit()
    flash(_("已核实。"), "success")
    return redirect(url_for("activities.verify_queue"), 303)


@bp.post("/<int:activity_id>/return")
@login_required
def return_(activity_id: int):
    """The station's administrator sends the activity back with a reason."""
    activity = activity_or_404(activity_id)
    if not policy.can_verify_activity(current_user, activity):
        abort(403)
    form = ActivityReturnForm()
    if not form.validate_on_submit():
        return _detail_page(activity, form, 422)
    try:
        service.return_(activity, current_user, form.reason.data, utcnow())
    except service.ActivityError as e:
        db.session.rollback()
        flash(str(e), "error")
        return redirect(url_for("activities.detail", activity_id=activity_id), 303)
    db.session.commit()
    flash(_("已退回。"), "success")
    return redirect(url_for("activities.verify_queue"), 303)


@bp.route("/verify")
@roles_required(Role.STATION_ADMIN, Role.ORG_ADMIN)
def verify_queue():
    """Activities held at the user's stations, pending first by default."""
    form = VerifyFilterForm(request.args)
    state = VerifyState(form.state.data) if form.state.data else None
    page = paginate_rows(service.to_verify(current_user, state))
    return render("activities/verify.html", "activities/_items.html", listing=page, form=form,
                  list_endpoint="activities.verify_queue",
                  list_args={"state": form.state.data or ""})


def _ledger_filter() -> tuple[ActivityFilterForm, service.LedgerFilter]:
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
    page = paginate_rows(service.in_scope(current_user, flt))
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render("activities/ledger.html", "activities/_ledger_table.html", listing=page, form=form,
                  list_endpoint="activities.ledger_view", list_args=args)


@bp.route("/ledger.xlsx")
@admin_required
def ledger_export():
    """The same list as a ledger workbook (.xlsx), audited."""
    form, flt = _ledger_filter()
    stmt = service.in_scope(current_user, flt)
    ids = sa.select(stmt.order_by(None).subquery().c.id)
    rows = db.session.execute(stmt).all()
    served = service.resident_addresses(ids)
    fellows = service.fellow_names(ids)
    headers = [_("时间"), _("类型"), _("时长（分钟）"), _("地点"), _("记录党员"), _("网格"),
               _("服务群众户"), _("同行党员"), _("照片数"), _("审核状态"), _("退回原因"), _("内容")]
    body = (
        [a.started_at, a.kind.label, a.duration_minutes, a.place, a.author.name, a.grid.name,
         "、".join(served.get(a.id, [])), "、".join(fellows.get(a.id, [])), n_photos,
         a.verify_state.label, a.return_reason, a.note]
        for a, _n_residents, n_photos in rows
    )
    node_name = "、".join(n.name for n in current_user.admin_nodes)
    data = ledger.build_workbook(_("服务活动台账"), node_name, flt.period_label(), headers, body)
    audit(current_user.id, "export", "activities", detail=f"{len(rows)} rows; {request.query_string.decode()[:200]}",
          ip=request.remote_addr or "")
    db.session.commit()
    response = Response(data, mimetype=ledger.XLSX_MIMETYPE)
    response.headers["Content-Disposition"] = "attachment; filename=activities.xlsx"
    return response


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
