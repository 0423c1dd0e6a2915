"""Mentoring (帮带): 我的帮带 for a mentor, a household's guidance history (its mentor records
there), the admins' hub for mentoring and posts, and their list of mentors with its ledger.

Importing this module registers the posts' views too (``app/mentoring/posts.py``)."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import policy
from app.authz import admin_required, get_or_404, node_or_404, require, roles_required
from app.clock import local_today
from app.extensions import client_address
from app.mentoring import bp, posts  # noqa: F401  (posts registers its views on bp)
from app.mentoring.forms import GuidanceContactForm
from app.models import MENTOR_MAX, MENTOR_MIN, CentralHousehold, OrgNode, Role
from app.pages import paginate
from app.responses import xlsx_response
from app.services import mentoring as svc
from app.services import posts as posts_svc
from app.steps import run_step, write_now

__all__ = ["bp"]

HISTORY_PER_PAGE = 20
MENTORS_PER_PAGE = 30


@bp.route("/")
@roles_required(Role.MEMBER)
def mine():
    """我的帮带: the mentor's households, the last contact with each, and those not guided this
    quarter flagged."""
    require(policy.is_mentor(current_user))
    view = svc.mentor_page(current_user.member, local_today())
    return render_template("mentoring/mine.html", view=view, low=MENTOR_MIN, high=MENTOR_MAX)


def _household_page(hh: CentralHousehold, form: GuidanceContactForm | None = None, status: int = 200,
                    error: str | None = None):
    """A household's guidance history; its mentor also gets the form to record a contact."""
    can_record = policy.can_record_guidance(current_user, hh)
    if can_record and form is None:
        form = GuidanceContactForm(formdata=None, data={"contact_date": local_today()})
    quarter, this_quarter = svc.household_quarter(hh, local_today())
    return render_template(
        "mentoring/household.html", hh=hh, form=form if can_record else None, error=error,
        listing=paginate(svc.history(hh), per_page=HISTORY_PER_PAGE), quarter=quarter,
        this_quarter=this_quarter, is_mentor=policy.mentors_household(current_user, hh)), status


@bp.route("/households/<int:hh_id>")
@login_required
def household(hh_id: int):
    """The household's guidance history: its mentor, its head (to read) and admins in scope."""
    return _household_page(get_or_404(CentralHousehold, hh_id, policy.can_view_guidance))


@bp.post("/households/<int:hh_id>/contacts")
@login_required
def record(hh_id: int):
    """The mentor records a guidance contact: date, way, what was discussed, follow-up."""
    hh = get_or_404(CentralHousehold, hh_id, policy.can_view_guidance)
    require(policy.can_record_guidance(current_user, hh))
    form = GuidanceContactForm()
    if not form.validate_on_submit():
        return _household_page(hh, form, 422)
    return run_step(
        lambda: svc.record_contact(current_user, hh, form.contact_date.data, form.way.data,
                                   form.discussed.data, form.follow_up.data or "", local_today()),
        lambda error: _household_page(hh, form, 422, error),
        url_for("mentoring.mine"), _("已记录对 %(name)s 的帮带。", name=hh.name))


# --- the admins' side ------------------------------------------------------------------------------


@bp.route("/admin")
@admin_required
def admin():
    """帮带与设岗: this quarter's mentoring in the admin's scope and the members' posts."""
    quarter = svc.Quarter.of(local_today())
    return render_template("mentoring/admin.html", quarter=quarter, summary=svc.summary(current_user, quarter),
                           posts=posts_svc.post_summary(current_user))


def _mentor_filters() -> tuple[OrgNode | None, svc.Quarter]:
    """The node (in the admin's scope, else 404) and quarter asked for; the scope and this
    quarter by default."""
    node_id = request.args.get("node", type=int)
    return (node_or_404(node_id) if node_id else None,
            svc.Quarter.parse(request.args.get("quarter"), local_today()))


@bp.route("/mentors")
@admin_required
def mentors():
    """The mentors of the admin's node for a quarter: households, contacts, households not guided."""
    node, quarter = _mentor_filters()
    page = paginate(svc.mentors_query(current_user, node), per_page=MENTORS_PER_PAGE)
    stats = svc.mentor_stats([m.id for m in page.items], quarter.first, quarter.last)
    args = {k: v for k, v in {"node": node.id if node else None, "quarter": quarter.key}.items() if v}
    return render_template("mentoring/mentors.html", page=page, stats=stats, node=node, quarter=quarter,
                           quarters=_recent_quarters(), nodes=svc.filter_nodes(current_user), args=args,
                           low=MENTOR_MIN, high=MENTOR_MAX)


def _recent_quarters(n: int = 8) -> list[svc.Quarter]:
    """This quarter and the ones before it, for the period filter."""
    quarters = [svc.Quarter.of(local_today())]
    while len(quarters) < n:
        quarters.append(quarters[-1].previous())
    return quarters


@bp.route("/mentors.xlsx")
@admin_required
def mentors_export():
    """The same list as an .xlsx ledger (node, period, Chinese headers); the export is audited."""
    node, quarter = _mentor_filters()
    data, filename = write_now(lambda: svc.export_mentors(current_user, node, quarter, client_address()))
    return xlsx_response(data, filename)
