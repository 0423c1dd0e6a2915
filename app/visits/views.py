"""Regular visits (定期走访): a member's households overdue first; coverage for heads and admins."""

from __future__ import annotations

from flask import Blueprint, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import policy as rules  # ``policy`` is this blueprint's visit-period view
from app.activities.forms import select_choices
from app.authz import admin_required, current_member, get_or_404, roles_required
from app.clock import local_today
from app.models import CentralHousehold, Role
from app.pages import paginate
from app.services import activities as activity_service
from app.services import visits as service
from app.steps import run_step
from app.visits.forms import VisitPolicyEditForm

bp = Blueprint("visits", __name__, url_prefix="/visits")


@bp.route("/")
@roles_required(Role.MEMBER)
def index():
    """我的联系户: overdue households first, each with its last visit."""
    member = current_member()
    today = local_today()
    rows = service.member_households(member, today)
    household = activity_service.headed_household(member)
    return render_template("visits/index.html", rows=rows, today=today, household=household,
                           overdue=sum(1 for r in rows if r.overdue))


@bp.route("/household/<int:household_id>")
@login_required
def household(household_id: int):
    """Each member's visit coverage this period: for the household's head and admins in scope."""
    household = get_or_404(CentralHousehold, household_id, rules.can_oversee_household)
    rows = service.coverage(service.household_members(household), local_today())
    return render_template("visits/coverage.html", rows=rows, household=household, page=None)


@bp.route("/coverage")
@admin_required
def coverage():
    """Every member in the admin's scope with their visit coverage this period (paginated)."""
    page = paginate(service.members_in_scope(current_user), per_page=30,
                    total=service.members_in_scope_total(current_user))
    rows = service.coverage(list(page.items), local_today())
    return render_template("visits/coverage.html", rows=rows, household=None, page=page)


@bp.route("/policy", methods=["GET", "POST"])
@admin_required
def policy():
    """Set how often households should be visited, for a node the admin holds."""
    form = VisitPolicyEditForm()
    nodes = current_user.admin_nodes
    form.node_id.choices = select_choices([(n.id, n.name) for n in nodes])
    policies = service.policy_months()
    current = [(n, service.months_for_path(n.path, policies)) for n in nodes]

    def page(error: str | None = None) -> tuple[str, int]:
        """The form again: 422 for a submission that did not pass (the refusal on the field)."""
        if error:
            form.months.errors = [error]
        status = 422 if form.is_submitted() else 200
        return render_template("visits/policy.html", form=form, current=current), status

    if not form.validate_on_submit():
        return page()
    node = next(n for n in nodes if n.id == form.node_id.data)
    return run_step(lambda: service.set_policy(node, form.months.data, current_user), page,
                    url_for("visits.policy"), _("已保存走访周期。"))
