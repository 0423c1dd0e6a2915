"""工作看板 views: the charts page and the scope-wide check-in list (with its ledger)."""

from __future__ import annotations

from datetime import date

from flask import render_template, request
from flask_login import current_user

from app.authz import admin_required, node_or_404
from app.clock import local_today, parse_month
from app.extensions import client_address
from app.overview import bp
from app.overview import charts as c
from app.pages import paginate
from app.policy import scope_roots
from app.responses import xlsx_response
from app.services import overview as svc
from app.services.points import lists as points
from app.steps import write_now


def _period() -> tuple[date, date]:
    """``?from=`` and ``?to=`` (ISO dates; this month so far by default), in order."""
    today = local_today()
    try:
        start = date.fromisoformat(request.args.get("from", ""))
    except ValueError:
        start = today.replace(day=1)
    try:
        end = date.fromisoformat(request.args.get("to", ""))
    except ValueError:
        end = today
    return (end, start) if end < start else (start, end)


@bp.route("/")
@admin_required
def index():
    """Charts of the admin's scope: check-ins per week, services per month and by kind this
    month, 1+10+15 coverage by community, training, and this year's points distribution of each
    node the admin holds; each bar links to the list it counts."""
    today = local_today()
    first, last = today.replace(day=1), c._month_last(today)
    coverage = svc.coverage_by_community(current_user)
    roots = scope_roots(current_user)
    year = points.period_of(f"y:{today.year}", None, None, today)
    return render_template(
        "overview/index.html", coverage=coverage, roots=roots, month=today,
        charts=[c.checkins_chart(svc.weekly_checkins(current_user, today)),
                c.activities_chart(svc.monthly_activities(current_user, today)),
                c.kinds_chart(svc.activities_by_kind(current_user, first, last), first, last),
                c.coverage_chart(coverage),
                c.training_chart(svc.monthly_training(current_user, today)),
                *(c.points_chart(n, year, points.distribution(n, year)) for n in roots)])


@bp.route("/checkins")
@admin_required
def checkins():
    """Check-ins at every station in the admin's scope over a period, newest first."""
    start, end = _period()
    page = paginate(svc.checkins_query(current_user, start, end), per_page=30)
    return render_template("overview/checkins.html", page=page, start=start, end=end)


@bp.route("/checkins.xlsx")
@admin_required
def checkins_export():
    """The same list as a ledger workbook (.xlsx), audited."""
    start, end = _period()
    data = write_now(lambda: svc.export_checkins(current_user, start, end, client_address()))
    return xlsx_response(data, f"checkins-{start.isoformat()}-{end.isoformat()}.xlsx")


@bp.route("/monthly.xlsx")
@admin_required
def monthly_export():
    """The month's ledger of one node in the admin's scope (``?node=``, default their first;
    ``?month=YYYY-MM``, default this month): one sheet per area, audited."""
    node_id = request.args.get("node", type=int)
    node = node_or_404(node_id) if node_id else scope_roots(current_user)[0]
    year, month = parse_month(request.args.get("month"), local_today())
    data = write_now(lambda: svc.export_monthly(current_user, node, year, month, client_address()))
    return xlsx_response(data, f"monthly-{node.id}-{year}-{month:02d}.xlsx")
