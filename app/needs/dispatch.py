"""Admins: the dispatch queue, assigning and hiding, the rates dashboard and its export, SLA."""

from __future__ import annotations

from datetime import date, timedelta

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import policy
from app.authz import admin_required, get_or_404, node_or_404, require
from app.clock import local_today, utcnow
from app.extensions import client_address
from app.models import Member, NeedCategory
from app.needs import bp
from app.needs.charts import monthly_charts
from app.needs.forms import NeedHideForm, NeedSlaForm, options
from app.needs.helpers import need_or_404, validated
from app.needs.inbox import assign_form, step
from app.policy import scope_roots
from app.responses import xlsx_response
from app.services import needs
from app.steps import run_step, write_now
from app.web import render_unchanging


@bp.route("/needs/dispatch")
@admin_required
def dispatch():
    """The queue (needs held at community or township level: unmatched or escalated) and the
    overdue list (open needs past a deadline or ever breached), in the admin's scope."""
    now = utcnow()
    return render_template("needs/dispatch.html", queue=needs.dispatch_queue(current_user),
                           overdue=needs.overdue_needs(current_user, now),
                           queue_total=needs.queue_count(current_user),
                           overdue_total=needs.overdue_count(current_user, now))


@bp.route("/needs/dispatch.xlsx")
@admin_required
def dispatch_export():
    """The queue and the overdue list as a ledger workbook (.xlsx), audited."""
    data = write_now(lambda: needs.export_dispatch(current_user, utcnow(), client_address()))
    return xlsx_response(data, f"needs-dispatch-{local_today().isoformat()}.xlsx")


@bp.post("/needs/<int:need_id>/assign")
@admin_required
def assign(need_id: int):
    """An admin in scope assigns (or reassigns) a need to a member in scope."""
    need = need_or_404(need_id)
    require(policy.can_administer_need(current_user, need))
    form = assign_form(need)
    return step(need, lambda: needs.assign(need, current_user, get_or_404(Member, form.member.data)),
                _("已指派。"), "assign", form, _("请选择党员。"))


@bp.post("/needs/<int:need_id>/hide")
@admin_required
def hide(need_id: int):
    """Hide an abusive need, with a reason; it is kept, not deleted."""
    need = need_or_404(need_id)
    form = NeedHideForm(prefix="h")
    return step(need, lambda: needs.hide(need, current_user, form.reason.data),
                _("已屏蔽。"), "hide", form, _("请写明屏蔽原因。"))


def _period() -> tuple[date, date]:
    """``?from=`` and ``?to=`` (ISO dates; the last 90 days by default), in order."""
    today = local_today()
    try:
        start = date.fromisoformat(request.args.get("from", ""))
    except ValueError:
        start = today - timedelta(days=89)
    try:
        end = date.fromisoformat(request.args.get("to", ""))
    except ValueError:
        end = today
    return (end, start) if end < start else (start, end)


def _group() -> str:
    """``?by=``: what the rates are grouped by (村/社区 by default)."""
    group = request.args.get("by", "community")
    return group if group in needs.GROUPS else "community"


@bp.route("/needs/dashboard")
@admin_required
def dashboard():
    """The three rates of 接诉即办 by member, central household, grid, community or township over a
    chosen period, with their definitions on the page."""
    group, (start, end) = _group(), _period()
    rows, total = needs.period_rates(current_user, group, start, end)
    months = needs.monthly_rates(current_user, local_today())
    # Kept by its figures (web.render_unchanging); the charts are drawn only when it renders.
    charts = lambda: dict(zip(("counts_chart", "rates_chart"), monthly_charts(months, group), strict=True))  # noqa: E731
    return render_unchanging("needs/dashboard.html", variant=(group, start, end, rows, total, months), build=charts,
                             rows=rows, total=total, group=group, start=start, end=end, groups=needs.group_labels())


@bp.route("/needs/dashboard.xlsx")
@admin_required
def dashboard_export():
    """The same rates as a ledger workbook (.xlsx), audited."""
    group, (start, end) = _group(), _period()
    data = write_now(lambda: needs.export_rates(current_user, group, start, end, client_address()))
    return xlsx_response(data, f"needs-rates-{start.isoformat()}-{end.isoformat()}.xlsx")


def _sla_page(form: NeedSlaForm, error: str | None = None):  # type: ignore[no-untyped-def]
    """The settings in scope and the form; a refusal is shown under the accept hours."""
    if error:
        form.accept_hours.errors = [error]
    return render_template("needs/sla.html", form=form, rows=needs.sla_rows(current_user),
                           roots=scope_roots(current_user),
                           default=(needs.DEFAULT_ACCEPT_HOURS, needs.DEFAULT_RESOLVE_HOURS)), \
        422 if request.method == "POST" else 200


@bp.route("/needs/sla", methods=["GET", "POST"])
@admin_required
def sla():
    """Deadlines per org node and category: the nearest node with a setting wins."""
    form = NeedSlaForm()
    nodes = needs.sla_nodes(current_user)
    form.node.choices = options([(n.id, f"{'　' * n.level.depth}{n.name}") for n in nodes])
    if request.method != "POST":
        return _sla_page(form)
    saved = validated(form, lambda: needs.set_sla(
        node_or_404(form.node.data), NeedCategory(form.category.data) if form.category.data else None,
        form.accept_hours.data, form.resolve_hours.data, current_user))
    return run_step(saved, lambda message: _sla_page(form, message), url_for("needs.sla"), _("时限已保存。"))
