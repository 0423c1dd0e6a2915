"""Admins: dispatch queue, assigning and hiding, the rates dashboard and its export, SLA."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask import (
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload

from app.authz import admin_required
from app.clock import days_bounds, local_today
from app.extensions import db
from app.models import (
    Member,
    Need,
    NeedBreach,
    NeedCategory,
    NeedSla,
    OrgLevel,
    OrgNode,
    utcnow,
)
from app.needs import bp
from app.needs.forms import (
    NeedAssignForm,
    NeedHideForm,
    NeedSlaForm,
    options,
)
from app.needs.inbox import _assignable_choices, _done, _failed, need_or_404
from app.policy import node_in_scope, scope_condition, scope_roots
from app.services import ledger, needs
from app.services.needs import NeedError
from app.services.privacy import audit

# --- Admins: dispatch, dashboards, SLA -------------------------------------------------------


@bp.route("/needs/dispatch")
@admin_required
def dispatch():
    """The queue (needs held at community or township level: unmatched or escalated) and the
    overdue list (open needs past a deadline or ever breached), in the admin's scope."""
    in_scope = scope_condition(current_user)
    now = utcnow()
    opts = (joinedload(Need.community), joinedload(Need.owner_member), joinedload(Need.owner_node))
    owner_node = sa.orm.aliased(OrgNode)
    queue = db.session.scalars(
        sa.select(Need).join(owner_node, owner_node.id == Need.owner_node_id)
        .where(scope_condition(current_user, owner_node.path), Need.status.in_(needs.OPEN_STATES),
               Need.hidden_at.is_(None)).options(*opts).order_by(Need.submitted_at).limit(100)
    ).all()
    breached = sa.select(NeedBreach.need_id)
    overdue = db.session.scalars(
        sa.select(Need).join(OrgNode, OrgNode.id == Need.node_id)
        .where(in_scope, Need.hidden_at.is_(None), Need.status.in_(needs.OPEN_STATES),
               sa.or_(needs.overdue_condition(now), Need.id.in_(breached)))
        .options(*opts).order_by(Need.submitted_at).limit(100)
    ).all()
    return render_template("needs/dispatch.html", queue=queue, overdue=overdue)


def _parse_period() -> tuple[date, date]:
    today = local_today()
    try:
        start = date.fromisoformat(request.args.get("from", ""))
    except ValueError:
        start = today - timedelta(days=89)
    try:
        end = date.fromisoformat(request.args.get("to", ""))
    except ValueError:
        end = today
    if end < start:
        start, end = end, start
    return start, end


@bp.route("/needs/dashboard")
@admin_required
def dashboard():
    """The three rates of 接诉即办 by member, central household, grid, community or township over a
    chosen period, with their definitions on the page."""
    group = request.args.get("by", "community")
    if group not in needs.GROUPS:
        group = "community"
    start, end = _parse_period()
    s, e = days_bounds(start, end)
    rows, total = needs.rates(scope_condition(current_user), group, s, e)
    return render_template("needs/dashboard.html", rows=rows, total=total, group=group,
                           start=start, end=end, groups=_group_labels())


@bp.route("/needs/dashboard.xlsx")
@admin_required
def dashboard_export():
    """The same rates as a ledger workbook (.xlsx), audited."""
    group = request.args.get("by", "community")
    if group not in needs.GROUPS:
        group = "community"
    start, end = _parse_period()
    s, e = days_bounds(start, end)
    rows, total = needs.rates(scope_condition(current_user), group, s, e)

    def pct(v: float | None) -> str:
        return "—" if v is None else f"{v:.1f}%"

    headers = [_group_labels()[group], _("诉求数"), _("按时接单"), _("响应率"), _("已办结"), _("办结率"),
               _("已评价"), _("满意及基本满意"), _("满意率")]
    body = [
        [r.name, r.submitted, r.accepted_in_time, pct(r.response_rate), r.resolved, pct(r.resolution_rate),
         r.rated, r.satisfied, pct(r.satisfaction_rate)]
        for r in [*rows, total]
    ]
    node_name = "、".join(n.name for n in current_user.admin_nodes)
    period = _("%(start)s 至 %(end)s", start=start.isoformat(), end=end.isoformat())
    data = ledger.build_workbook(_("接诉即办统计台账"), node_name, period, headers, body)
    audit(current_user.id, "export", "needs_rates", detail=f"by={group} {period}", ip=request.remote_addr or "")
    db.session.commit()
    response = make_response(data)
    response.mimetype = ledger.XLSX_MIMETYPE
    response.headers["Content-Disposition"] = (
        f"attachment; filename=needs-rates-{start.isoformat()}-{end.isoformat()}.xlsx")
    return response


def _group_labels() -> dict[str, str]:
    return {"member": _("党员"), "household": _("中心户"), "grid": _("网格"), "community": _("村/社区"),
            "township": _("乡镇/街道")}


@bp.route("/needs/sla", methods=["GET", "POST"])
@admin_required
def sla():
    """Deadlines per org node and category: the nearest node with a setting wins."""
    form = NeedSlaForm()
    nodes = db.session.scalars(
        sa.select(OrgNode).where(scope_condition(current_user), OrgNode.level != OrgLevel.GRID)
        .order_by(OrgNode.path)
    ).all()
    form.node.choices = options([(n.id, f"{'　' * n.level.depth}{n.name}") for n in nodes])
    if form.validate_on_submit():
        node = db.session.get(OrgNode, form.node.data)
        if node is None or not node_in_scope(current_user, node):
            abort(404)
        try:
            needs.set_sla(node, NeedCategory(form.category.data) if form.category.data else None,
                          form.accept_hours.data, form.resolve_hours.data, current_user)
        except NeedError as e:
            db.session.rollback()
            form.accept_hours.errors = [str(e)]
        else:
            db.session.commit()
            flash(_("时限已保存。"), "success")
            return redirect(url_for("needs.sla"), 303)
    rows = db.session.scalars(
        sa.select(NeedSla).join(OrgNode, OrgNode.id == NeedSla.org_node_id)
        .where(scope_condition(current_user)).options(joinedload(NeedSla.org_node)).order_by(OrgNode.path)
    ).all()
    status = 422 if request.method == "POST" else 200
    return render_template("needs/sla.html", form=form, rows=rows, roots=scope_roots(current_user),
                           default=(needs.DEFAULT_ACCEPT_HOURS, needs.DEFAULT_RESOLVE_HOURS)), status

@bp.post("/needs/<int:need_id>/assign")
@admin_required
def assign(need_id: int):
    """An admin in scope assigns (or reassigns) a need to a member in scope."""
    need = need_or_404(need_id)
    if not node_in_scope(current_user, need.node):
        abort(403)
    form = NeedAssignForm(prefix="a")
    form.member.choices = options(_assignable_choices(need))
    if not form.validate_on_submit():
        return _failed(need, _("请选择党员。"), {"assign": form})
    try:
        needs.assign(need, current_user, db.get_or_404(Member, form.member.data))
    except NeedError as e:
        return _failed(need, str(e), {"assign": form})
    return _done(need, _("已指派。"))


@bp.post("/needs/<int:need_id>/hide")
@admin_required
def hide(need_id: int):
    """Hide an abusive need, with a reason; it is kept, not deleted."""
    need = need_or_404(need_id)
    form = NeedHideForm(prefix="h")
    if not form.validate_on_submit():
        return _failed(need, _("请写明屏蔽原因。"), {"hide": form})
    try:
        needs.hide(need, current_user, form.reason.data)
    except NeedError as e:
        return _failed(need, str(e), {"hide": form})
    return _done(need, _("已屏蔽。"))
