"""The public-sentiment diary (民情日记): a member's short notes about the households they cover."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import policy
from app.activities.forms import select_choices
from app.authz import current_member, get_or_404, require, roles_required
from app.clock import local_today
from app.diary.forms import DiaryEntryCreateForm
from app.htmx import render
from app.models import CentralHousehold, DiaryEntry, Role
from app.pages import paginate
from app.services import activities as activity_service
from app.services import diary as service
from app.steps import flash_back, run_step

bp = Blueprint("diary", __name__, url_prefix="/diary")


def entry_or_404(entry_id: int) -> DiaryEntry:
    """A diary entry the current user may see, else 404."""
    return get_or_404(DiaryEntry, entry_id, policy.can_view_diary_entry)


@bp.route("/")
@roles_required(Role.MEMBER)
def index():
    """The member's diary, newest first."""
    member = current_member()
    return render("diary/index.html", "diary/_entries.html", listing=paginate(service.mine(member)),
                  household=activity_service.headed_household(member),
                  list_endpoint="diary.index", list_args={})


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.MEMBER)
def new():
    """Write a diary entry about one of the member's households."""
    member = current_member()
    form = DiaryEntryCreateForm()
    form.resident_id.choices = select_choices(service.resident_choices(member))
    today = local_today()
    if request.method == "GET":
        form.entry_date.data = today
        form.resident_id.data = request.args.get("resident", type=int)
    if not form.validate_on_submit():
        return render_template("diary/new.html", form=form), 422 if form.is_submitted() else 200
    return run_step(
        lambda: service.create(member, form.resident_id.data, form.entry_date.data, form.text.data, today,
                               client_key=form.client_key.data),
        lambda error: (render_template("diary/new.html", form=form, error=error), 422),
        url_for("diary.index"),
        _("已记入民情日记。"),
    )


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
    require(current_member().id == entry.member_id)
    back = url_for("diary.detail", entry_id=entry.id)
    return run_step(lambda: service.to_need(entry), flash_back(back), back, _("已转为诉求。"))


@bp.route("/household/<int:household_id>")
@login_required
def household(household_id: int):
    """The diary entries of a central household's members: for its head and admins in scope."""
    household = get_or_404(CentralHousehold, household_id, policy.can_oversee_household)
    return render("diary/household.html", "diary/_entries.html",
                  listing=paginate(service.of_household(household)), household=household,
                  list_endpoint="diary.household", list_args={"household_id": household.id})
