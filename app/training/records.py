"""Training records for a year: a member's (to themself and admins in scope) and a central
household's (its members' totals, to its head and admins in scope)."""

from __future__ import annotations

from flask import render_template
from flask_login import login_required

from app import policy
from app.authz import get_or_404
from app.clock import local_today
from app.models import CentralHousehold, Member
from app.services import training as svc
from app.training import bp, chosen_year


@bp.route("/members/<int:member_id>")
@login_required
def member_record(member_id: int):
    """A member's training in a year: sessions attended or completed, hours, by kind."""
    member = get_or_404(Member, member_id, policy.can_view_training_record)
    return render_template("training/record.html", record=svc.member_record(member, chosen_year()),
                           years=svc.record_years(local_today()))


@bp.route("/households/<int:household_id>")
@login_required
def household(household_id: int):
    """A central household's training in a year: each member's sessions and hours, and the total."""
    hh = get_or_404(CentralHousehold, household_id, policy.can_view_household_training)
    return render_template("training/household.html", record=svc.household_record(hh, chosen_year()),
                           years=svc.record_years(local_today()))
