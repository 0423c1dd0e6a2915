"""The evaluation sheets of a node and year, the records behind each figure, outcomes (recorded and
withdrawn), the weights of the formula, and the 后备人才库."""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import policy
from app.authz import admin_required, get_or_404, require
from app.clock import local_today
from app.evaluation import (
    FACTOR,
    SHEET_PER_PAGE,
    SUBJECT,
    bp,
    list_page,
    node_or_404,
    page_asked,
    subject_or_404,
    year_or_404,
)
from app.evaluation.forms import OutcomeRecordForm, OutcomeWithdrawForm, WeightsForm
from app.extensions import client_address
from app.htmx import render
from app.models import ActivityKind, EvaluationFactor, EvaluationOutcome, Member, OrgNode
from app.pages import paginate
from app.policy import scope_roots
from app.responses import xlsx_response
from app.services import evaluation as svc
from app.services.evaluation import outcomes as outcome_svc
from app.services.evaluation import records as records_svc
from app.services.evaluation import sheet as sheet_svc
from app.steps import flash_back, run_step, write_now

RECORDS_PER_PAGE = 50


@bp.route("/")
@admin_required
def index():
    """Where the evaluation starts: the admin's nodes, the years, the 后备人才库 and campaigns."""
    today = local_today()
    years = [today.year - i for i in range(3)]
    return render_template("evaluation/index.html", roots=scope_roots(current_user), years=years,
                           summary=svc.summary(current_user, today.year - 1), last_year=today.year - 1)


# --- the sheet -------------------------------------------------------------------------------


@bp.route(f"/<int:node_id>/<int:year>/{SUBJECT}")
@admin_required
def sheet(node_id: int, year: int, subject: str):
    """The sheet: everyone under the node ranked by the formula written on the page."""
    node, year = node_or_404(node_id), year_or_404(year)
    result = svc.compute(svc.Subject(subject), node, year, page=page_asked(), per_page=SHEET_PER_PAGE)
    return render("evaluation/sheet.html", "evaluation/_sheet_table.html", sheet=result,
                  listing=list_page(result.rows, result.total), kinds=list(ActivityKind),
                  factors=list(EvaluationFactor), children=sheet_svc.children(node), years=_years())


def _years() -> list[int]:
    today = local_today()
    return [today.year - i for i in range(3)]


@bp.route(f"/<int:node_id>/<int:year>/{SUBJECT}.xlsx")
@admin_required
def sheet_export(node_id: int, year: int, subject: str):
    """The sheet as a ledger workbook (.xlsx), audited."""
    node, year = node_or_404(node_id), year_or_404(year)
    data = write_now(lambda: sheet_svc.export_sheet(current_user, svc.Subject(subject), node, year,
                                                    client_address()))
    return xlsx_response(data, f"evaluation-{subject}-{year}.xlsx")


@bp.route(f"/<int:node_id>/<int:year>/{SUBJECT}/<int:subject_id>/{FACTOR}")
@admin_required
def records(node_id: int, year: int, subject: str, subject_id: int, factor: str):
    """The records behind one figure of one member or household."""
    node, year = node_or_404(node_id), year_or_404(year)
    obj = subject_or_404(node, svc.Subject(subject), subject_id)
    kind = request.args.get("kind", "")
    kind_ = ActivityKind(kind) if kind in {k.value for k in ActivityKind} else None
    found = records_svc.records(svc.Subject(subject), obj, year, EvaluationFactor(factor), kind_)
    page = paginate(found.select, per_page=RECORDS_PER_PAGE) if found.select is not None else None
    extra = found.extra(page.items) if page is not None and found.extra else {}
    return render_template("evaluation/records.html", node=node, year=year, subject=subject, obj=obj,
                           factor=EvaluationFactor(factor), kind=kind_, found=found, page=page,
                           extra=extra)


# --- a member's or household's page, and their outcomes -------------------------------------


def _subject_page(node: OrgNode, year: int, subject: str, obj: Any, status: int = 200,
                  form: OutcomeRecordForm | None = None, withdraw: dict | None = None,
                  error: str | None = None):
    """The page of one member or household in the node's evaluation; ``form``/``withdraw`` are
    posted forms shown again with their errors."""
    view = outcome_svc.subject_view(svc.Subject(subject), node, year, obj)
    kinds = svc.MEMBER_KINDS if subject == "members" else svc.HOUSEHOLD_KINDS
    form = form or OutcomeRecordForm(formdata=None)
    withdraw = withdraw or {}
    forms = {o.id: withdraw.get(o.id) or OutcomeWithdrawForm(formdata=None, prefix=f"w{o.id}")
             for o in view.history if o.withdrawn_at is None}
    can_withdraw = {o.id: policy.can_withdraw_outcome(current_user, o) for o in view.history}
    return render_template("evaluation/subject.html", node=node, year=year, subject=subject, obj=obj,
                           view=view, form=form.for_kinds(kinds), withdraw_forms=forms,
                           can_withdraw=can_withdraw, error=error, kinds=list(ActivityKind)), status


@bp.route(f"/<int:node_id>/<int:year>/{SUBJECT}/<int:subject_id>")
@admin_required
def subject_page(node_id: int, year: int, subject: str, subject_id: int):
    """One member or household: every figure with its records, the rank, outcomes live and past."""
    node, year = node_or_404(node_id), year_or_404(year)
    return _subject_page(node, year, subject, subject_or_404(node, svc.Subject(subject), subject_id))


@bp.post(f"/<int:node_id>/<int:year>/{SUBJECT}/<int:subject_id>/outcomes")
@admin_required
def record_outcome(node_id: int, year: int, subject: str, subject_id: int):
    """Record an outcome with its reason (按程序调整 opens the household's adjustment)."""
    node, year = node_or_404(node_id), year_or_404(year)
    obj = subject_or_404(node, svc.Subject(subject), subject_id)
    form = OutcomeRecordForm().for_kinds(svc.MEMBER_KINDS if subject == "members" else svc.HOUSEHOLD_KINDS)
    if not form.validate_on_submit():
        return _subject_page(node, year, subject, obj, 422, form=form)
    record = outcome_svc.record_for_member if isinstance(obj, Member) else outcome_svc.record_for_household
    return run_step(
        lambda: record(current_user, node, year, obj, svc.OutcomeKind(form.kind.data),  # type: ignore[arg-type]
                       form.reason.data, local_today()),
        lambda error: _subject_page(node, year, subject, obj, 422, form=form, error=error),
        url_for("evaluation.subject_page", node_id=node.id, year=year, subject=subject, subject_id=obj.id),
        lambda outcome: _("已记录：%(kind)s。", kind=outcome.kind.label))


@bp.post("/outcomes/<int:outcome_id>/withdraw")
@admin_required
def withdraw_outcome(outcome_id: int):
    """Withdraw an outcome: a recorded step (who, when, why); the outcome itself is kept."""
    outcome = get_or_404(EvaluationOutcome, outcome_id, policy.can_view_outcome)
    require(policy.can_withdraw_outcome(current_user, outcome))
    subject, obj = ("members", outcome.member) if outcome.member_id else ("households", outcome.household)
    node, form = outcome.org_node, OutcomeWithdrawForm(prefix=f"w{outcome.id}")
    page = url_for("evaluation.subject_page", node_id=node.id, year=outcome.year, subject=subject,
                   subject_id=obj.id)  # type: ignore[union-attr]
    if not form.validate_on_submit():
        return _subject_page(node, outcome.year, subject, obj, 422, withdraw={outcome.id: form})
    return run_step(lambda: outcome_svc.withdraw(current_user, outcome, form.reason.data),
                    lambda error: _subject_page(node, outcome.year, subject, obj, 422,
                                                withdraw={outcome.id: form}, error=error),
                    page, _("已撤回。"))


# --- weights ---------------------------------------------------------------------------------


def _weights_page(node: OrgNode, form: WeightsForm, status: int = 200, error: str | None = None):
    """The weights form of a node, with where each weight in force comes from."""
    return render_template("evaluation/weights.html", node=node, form=form, error=error,
                           weights=svc.weights_for(node), defaults=svc.DEFAULT_WEIGHTS,
                           factors=list(EvaluationFactor), years=_years()), status


@bp.route("/<int:node_id>/weights", methods=["GET", "POST"])
@admin_required
def weights(node_id: int):
    """Set the node's weights of the formula (−100…100 each; they apply to the node and below)."""
    node = node_or_404(node_id)
    form = WeightsForm()
    if request.method == "GET":
        form = WeightsForm(formdata=None, data={f.value: w for f, w in svc.weights_for(node).values.items()})
    if not form.validate_on_submit():
        return _weights_page(node, form, 422 if request.method == "POST" else 200)
    return run_step(lambda: sheet_svc.set_weights(current_user, node, form.values()),
                    lambda error: _weights_page(node, form, 422, error),
                    url_for("evaluation.weights", node_id=node.id), _("已保存评分权重。"))


@bp.post("/<int:node_id>/weights/clear")
@admin_required
def weights_clear(node_id: int):
    """Drop the node's own weights: the nearest node above (or the defaults) applies again."""
    node = node_or_404(node_id)
    target = url_for("evaluation.weights", node_id=node.id)
    return run_step(lambda: sheet_svc.clear_weights(current_user, node), flash_back(target), target,
                    _("已恢复沿用上级（或默认）权重。"))


# --- the 后备人才库 ---------------------------------------------------------------------------


@bp.route("/reserve")
@admin_required
def reserve():
    """村级后备人才库: members in the admin's scope with a live 纳入村级后备人才库 outcome."""
    return render("evaluation/reserve.html", "evaluation/_reserve_table.html",
                  listing=paginate(outcome_svc.reserve_pool(current_user)))


@bp.route("/reserve.xlsx")
@admin_required
def reserve_export():
    """The 后备人才库 as a ledger workbook (.xlsx), audited."""
    data = write_now(lambda: outcome_svc.export_reserve_pool(current_user, client_address()))
    return xlsx_response(data, "reserve-pool.xlsx")
