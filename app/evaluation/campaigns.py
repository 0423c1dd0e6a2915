"""The model-household campaign (创建示范中心户): the list, opening one, its page (criteria,
candidates with their figures), applying, proposing, deciding and closing."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import policy
from app.authz import admin_required, get_or_404, require
from app.clock import local_today
from app.evaluation import bp
from app.evaluation.forms import (
    CampaignApplyForm,
    CampaignCreateForm,
    CampaignProposeForm,
    CandidateDecideForm,
)
from app.extensions import client_address
from app.forms_choices import options
from app.models import CampaignCandidate, CandidacyDecision, ModelCampaign
from app.pages import paginate
from app.responses import xlsx_response
from app.services.evaluation import campaigns as svc
from app.services.evaluation import sheet as sheet_svc
from app.services.evaluation.sheet import FIRST_YEAR
from app.steps import flash_back, run_step, write_now


def campaign_or_404(campaign_id: int) -> ModelCampaign:
    """A campaign the user may see (admins over it, heads of households it covers), else 404."""
    return get_or_404(ModelCampaign, campaign_id, policy.can_view_campaign)


def managed_or_403(campaign_id: int) -> ModelCampaign:
    """A campaign the user may see (else 404) and run (else 403)."""
    campaign = campaign_or_404(campaign_id)
    require(policy.can_manage_campaign(current_user, campaign))
    return campaign


def _year() -> int | None:
    """``?year=`` when it is a plausible year (anything else: every year)."""
    year = request.args.get("year", type=int)
    return year if year is not None and FIRST_YEAR <= year <= 9999 else None


@bp.route("/campaigns")
@admin_required
def campaigns():
    """The campaigns at or below the admin's nodes (``?year=``: of one year), newest year first."""
    year = _year()
    return render_template("evaluation/campaigns.html", page=paginate(svc.in_scope(current_user, year)),
                           year=year, years=svc.years_in_scope(current_user))


@bp.route("/campaigns.xlsx")
@admin_required
def campaigns_export():
    """The same list (the same year filter) as a ledger workbook (.xlsx), audited."""
    year = _year()
    data = write_now(lambda: svc.export_list(current_user, year, client_address()))
    return xlsx_response(data, f"campaigns-{year or 'all'}-{local_today().isoformat()}.xlsx")


def _new_form(form: CampaignCreateForm) -> CampaignCreateForm:
    form.node_id.choices = options((n.id, "　" * n.level.depth + n.name)
                                   for n in sheet_svc.nodes_in_scope(current_user))
    return form


@bp.route("/campaigns/new", methods=["GET", "POST"])
@admin_required
def campaign_new():
    """Open a campaign for a node and year, with the criteria the admin writes."""
    form = _new_form(CampaignCreateForm())
    if not form.is_submitted():
        form.year.data = local_today().year

    def page(error: str | None = None):
        """The form again (422 after a post that did not pass), the refusal at the top."""
        status = 422 if form.is_submitted() else 200
        return render_template("evaluation/campaign_new.html", form=form, error=error), status

    if not form.validate_on_submit():
        return page()
    node = next(n for n in sheet_svc.nodes_in_scope(current_user) if n.id == form.node_id.data)
    return run_step(lambda: svc.create(current_user, node, form.year.data, form.title.data,
                                       form.criteria.data, local_today()),
                    page, lambda c: url_for("evaluation.campaign", campaign_id=c.id), _("创建活动已开展。"))


def _page(campaign: ModelCampaign, status: int = 200, error: str | None = None, **posted):  # type: ignore[no-untyped-def]
    """The campaign's page; ``posted`` are forms shown again with their errors."""
    manage = policy.can_manage_campaign(current_user, campaign)
    household = svc.headed_household(current_user)
    ctx: dict = {"campaign": campaign, "manage": manage, "error": error, "titles": svc.titles(campaign),
                 "apply_form": posted.get("apply_form") or CampaignApplyForm(formdata=None)}
    if manage:
        candidates, sheet = svc.with_figures(campaign)
        propose = posted.get("propose_form") or CampaignProposeForm(formdata=None)
        propose.household_id.choices = options(
            [(0, "—")] + [(h.id, f"{h.grid.name} · {h.name}（{h.number or '—'}）") for h in svc.proposable(campaign)])
        decide = posted.get("decide_forms") or {}
        ctx.update(candidates=candidates, sheet=sheet, propose_form=propose, decide_forms={
            c.candidacy.id: decide.get(c.candidacy.id) or CandidateDecideForm(formdata=None, prefix=f"d{c.candidacy.id}")
            for c in candidates})
    if household is not None and policy.can_apply_to_campaign(current_user, campaign, household):
        ctx.update(household=household, mine=svc.candidacy(campaign, household))
    return render_template("evaluation/campaign.html", **ctx), status


@bp.route("/campaigns/<int:campaign_id>")
@login_required
def campaign(campaign_id: int):
    """A campaign: its criteria; for admins the candidates with their figures; for a head, applying."""
    return _page(campaign_or_404(campaign_id))


def _to(campaign: ModelCampaign) -> str:
    return url_for("evaluation.campaign", campaign_id=campaign.id)


@bp.post("/campaigns/<int:campaign_id>/apply")
@login_required
def campaign_apply(campaign_id: int):
    """The head of a household the campaign covers applies, with a statement."""
    campaign = campaign_or_404(campaign_id)
    household = svc.headed_household(current_user)
    require(policy.can_apply_to_campaign(current_user, campaign, household))
    form = CampaignApplyForm()
    if not form.validate_on_submit():
        return _page(campaign, 422, apply_form=form)
    return run_step(lambda: svc.apply(current_user, campaign, household, form.statement.data),
                    lambda error: _page(campaign, 422, error, apply_form=form), _to(campaign), _("已申报。"))


@bp.post("/campaigns/<int:campaign_id>/propose")
@admin_required
def campaign_propose(campaign_id: int):
    """An admin over the campaign proposes a household under its node."""
    campaign = managed_or_403(campaign_id)
    form, proposable = CampaignProposeForm(), svc.proposable(campaign)
    form.household_id.choices = options((h.id, h.name) for h in proposable)
    if not form.validate_on_submit():
        return _page(campaign, 422, propose_form=form)
    household = next(h for h in proposable if h.id == form.household_id.data)
    return run_step(lambda: svc.propose(current_user, campaign, household, form.statement.data or ""),
                    lambda error: _page(campaign, 422, error, propose_form=form), _to(campaign), _("已推荐。"))


@bp.post("/campaigns/<int:campaign_id>/candidates/<int:candidate_id>/decide")
@admin_required
def campaign_decide(campaign_id: int, candidate_id: int):
    """评为示范 or 未评上, with a reason, for one candidate."""
    campaign = managed_or_403(campaign_id)
    candidate = get_or_404(CampaignCandidate, candidate_id, lambda u, c: c.campaign_id == campaign.id)
    form = CandidateDecideForm(prefix=f"d{candidate.id}")
    if not form.validate_on_submit():
        return _page(campaign, 422, decide_forms={candidate.id: form})
    return run_step(lambda: svc.decide(current_user, candidate, CandidacyDecision(form.decision.data),
                                       form.reason.data),
                    lambda error: _page(campaign, 422, error, decide_forms={candidate.id: form}),
                    _to(campaign), _("已评定。"))


@bp.post("/campaigns/<int:campaign_id>/close")
@admin_required
def campaign_close(campaign_id: int):
    """Close the campaign (every candidate decided): the households 评为示范 get the year's title."""
    campaign = managed_or_403(campaign_id)
    return run_step(lambda: svc.close(current_user, campaign), flash_back(_to(campaign)), _to(campaign),
                    lambda titles: _("活动已结束，%(n)d 户评为示范中心户。", n=len(titles)))

