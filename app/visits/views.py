"""Regular visits (定期走访): a member's households overdue first; coverage for heads and admins."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.activities.forms import select_choices
from app.authz import admin_required, current_member, roles_required
from app.clock import local_today
from app.extensions import db
from app.models import CentralHousehold, Member, MemberStatus, OrgNode, Role, User
from app.policy import node_in_scope, scope_condition
from app.services import activities as activity_service
from app.services import visits as service
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
    household = db.session.get(CentralHousehold, household_id)
    member = current_user.member
    is_head = (household is not None and member is not None and member.is_active
               and household.head_member_id == member.id)
    if household is None or not (is_head or node_in_scope(current_user, household.grid)):
        abort(404)
    members = list(db.session.scalars(
        sa.select(Member).join(User, User.id == Member.user_id)
        .where(sa.or_(Member.central_household_id == household.id,
                      Member.id == household.head_member_id),
               Member.status == MemberStatus.ACTIVE)
        .order_by(User.name, Member.id)
    ))
    rows = service.coverage(members, local_today())
    return render_template("visits/coverage.html", rows=rows, household=household, page=None)


@bp.route("/coverage")
@admin_required
def coverage():
    """Every member in the admin's scope with their visit coverage this period (paginated)."""
    stmt = (sa.select(Member).join(OrgNode, OrgNode.id == Member.grid_id)
            .join(User, User.id == Member.user_id)
            .where(scope_condition(current_user), Member.status == MemberStatus.ACTIVE)
            .order_by(OrgNode.path, User.name, Member.id))
    page = db.paginate(stmt, per_page=30, error_out=False)
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
    if form.validate_on_submit():
        node = next(n for n in nodes if n.id == form.node_id.data)
        try:
            service.set_policy(node, form.months.data, current_user)
        except service.PolicyError as e:
            form.months.errors = [str(e)]
        else:
            db.session.commit()
            flash(_("已保存走访周期。"), "success")
            return redirect(url_for("visits.policy"), 303)
    status = 422 if form.is_submitted() else 200
    return render_template("visits/policy.html", form=form, current=current), status
