"""The public-sentiment diary (民情日记): a member's short notes about the households they cover."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import policy
from app.activities.forms import select_choices
from app.activities.views import paginate_rows
from app.authz import current_member, roles_required
from app.clock import local_today
from app.diary.forms import DiaryEntryCreateForm
from app.extensions import db
from app.htmx import render
from app.models import CentralHousehold, DiaryEntry, Role
from app.policy import node_in_scope
from app.services import activities as activity_service
from app.services import diary as service

bp = Blueprint("diary", __name__, url_prefix="/diary")


def entry_or_404(entry_id: int) -> DiaryEntry:
    entry = db.session.get(DiaryEntry, entry_id)
    if entry is None or not policy.can_view_diary_entry(current_user, entry):
        abort(404)
    return entry


@bp.route("/")
@roles_required(Role.MEMBER)
def index():
    """The member's diary, newest first."""
    member = current_member()
    page = paginate_rows(service.mine(member))
    return render("diary/index.html", "diary/_entries.html", listing=page,
                  household=activity_service.headed_household(member),
                  list_endpoint="diary.index", list_args={})


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.MEMBER)
def new():
    """Write a diary entry about one of the member's households."""
    member = current_member()
    form = DiaryEntryCreateForm()
    residents = list(db.session.scalars(activity_service.covered_residents(member)))
    form.resident_id.choices = select_choices(
        [(r.id, f"{r.address} · {r.head_name}") for r in residents])
    today = local_today()
    if request.method == "GET":
        form.entry_date.data = today
        form.resident_id.data = request.args.get("resident", type=int)
    if form.validate_on_submit():
        try:
            service.create(member, form.resident_id.data, form.entry_date.data, form.text.data, today)
        except service.DiaryError as e:
            db.session.rollback()
            return render_template("diary/new.html", form=form, error=str(e)), 422
        db.session.commit()
        flash(_("已记入民情日记。"), "success")
        return redirect(url_for("diary.index"), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("diary/new.html", form=form), status


@bp.route("/<int:entry_id>")
@login_required
def detail(entry_id: int):
    """One entry, with the action that turns it into a need."""
    entry = entry_or_404(entry_id)
    return render_template("diary/detail.html", entry=entry,
                           is_author=current_user.member is not None
                           and current_user.member.id == entry.member_id)


@bp.post("/<int:entry_id>/to-need")
@roles_required(Role.MEMBER)
def to_need(entry_id: int):
    """Turn the entry into a need on the resident's behalf (the author only)."""
    entry = entry_or_404(entry_id)
    if current_member().id != entry.member_id:
        abort(403)
    try:
        service.to_need(entry)
    except service.DiaryError as e:
        db.session.rollback()
        flash(str(e), "error")
        return redirect(url_for("diary.detail", entry_id=entry.id), 303)
    db.session.commit()
    flash(_("已转为诉求。"), "success")
    return redirect(url_for("diary.detail", entry_id=entry.id), 303)


@bp.route("/household/<int:household_id>")
@login_required
def household(household_id: int):
    """The diary entries of a central household's members: for its head and admins in scope."""
    household = db.session.get(CentralHousehold, household_id)
    member = current_user.member
    is_head = (household is not None and member is not None and member.is_active
               and household.head_member_id == member.id)
    if household is None or not (is_head or node_in_scope(current_user, household.grid)):
        abort(404)
    page = paginate_rows(service.of_household(household))
    return render("diary/household.html", "diary/_entries.html", listing=page, household=household,
                  list_endpoint="diary.household", list_args={"household_id": household.id})
