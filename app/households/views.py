"""Established central households: list and page (with history), profile, mentor, members,
adjustment, plaque; resident households by grid with bulk assignment; the gap finder; mentors;
household types.

Each view parses the request, checks access with the predicates of ``app/policy.py``, hands one
step to ``app/services/households.py`` (or ``gaps.py``) through ``run_step`` and renders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from app import policy
from app.authz import admin_required, get_or_404, require
from app.clock import local_today
from app.extensions import client_address
from app.forms_choices import options
from app.households.forms import (
    AdjustmentDecideForm,
    AdjustmentOpenForm,
    AdjustmentReviewForm,
    BulkLinkForm,
    GapApplyForm,
    HouseholdProfileForm,
    MemberLinkForm,
    MentorForm,
    ModelTitleGrantForm,
    ModelTitleRevokeForm,
    ResidentAssignForm,
    TypeAddForm,
)
from app.models import (
    MENTOR_MAX,
    MENTOR_MIN,
    MIN_HOUSEHOLDS_PER_MEMBER,
    MIN_MEMBERS_PER_HOUSEHOLD,
    CentralHousehold,
    Duty,
    HouseholdAdjustment,
    HouseholdStatus,
    Member,
    OrgLevel,
    OrgNode,
)
from app.pages import paginate
from app.policy import scope_roots
from app.responses import qr_response, xlsx_response
from app.services import entry_tokens, model_titles, qr
from app.services import gaps as gaps_svc
from app.services import households as svc
from app.services.evaluation import campaigns
from app.steps import flash_back, run_step, write_now

bp = Blueprint("households", __name__, url_prefix="/households")

PER_PAGE = 30
RESIDENTS_PER_PAGE = 100

T = TypeVar("T")


def manageable_or_403(hh_id: int) -> CentralHousehold:
    """A household the user may read (else 404) and manage (else 403)."""
    hh = get_or_404(CentralHousehold, hh_id, policy.can_view_household)
    require(policy.can_manage_household(current_user, hh))
    return hh


# --- list and page -----------------------------------------------------------------------------


@bp.route("/")
@admin_required
def index():
    """Households in scope with their standing against "≥ 10 linked members"."""
    status = request.args.get("status", "")
    page = paginate(svc.in_scope(current_user, status), per_page=PER_PAGE)
    extras = svc.list_extras(page.items)
    return render_template("households/index.html", page=page, counts=extras.counts, mentors=extras.mentors,
                           status=status, statuses=list(HouseholdStatus), minimum=MIN_MEMBERS_PER_HOUSEHOLD,
                           roots=scope_roots(current_user))


@bp.route("/export.xlsx")
@admin_required
def export():
    """The households list (the same status filter) as a ledger workbook (.xlsx), audited."""
    status = request.args.get("status", "")
    data = write_now(lambda: svc.export_list(current_user, status, client_address()))
    return xlsx_response(data, f"households-{status or 'all'}-{local_today().isoformat()}.xlsx")


def _detail(hh: CentralHousehold, status: int = 200, error: str | None = None, **forms: Any):
    """The household's page; ``forms`` are posted forms shown again with their errors."""
    view = svc.overview(hh)
    manage = policy.can_manage_household(current_user, hh)
    ctx: dict[str, Any] = {
        "hh": hh, "manage": manage, "linked": view.linked, "linked_count": view.linked_count,
        "events": view.events, "nomination": view.nomination, "steps": view.steps, "error": error,
        "adjustments": view.adjustments, "open_adj": view.open_adj, "titles": view.titles,
        "guidance": policy.can_view_guidance(current_user, hh),
        "minimum": MIN_MEMBERS_PER_HOUSEHOLD, "min_cover": MIN_HOUSEHOLDS_PER_MEMBER,
        # 创建示范中心户: the head sees the campaigns covering the household (evaluation area).
        "campaigns": campaigns.for_household(hh) if policy.heads(current_user, hh) else []}
    if manage:
        ctx.update(_manage_forms(hh, view, forms))
    return render_template("households/detail.html", **ctx), status


def _manage_forms(hh: CentralHousehold, view: svc.Overview, forms: dict[str, Any]) -> dict[str, Any]:
    """The forms of the page's management part (only for admins who manage the household)."""
    profile = forms.get("profile_form") or HouseholdProfileForm(formdata=None, data={
        "duties": [d.value for d in hh.duty_set], "type_id": hh.type_id or 0})
    profile.type_id.choices = _type_choices()
    mentor = forms.get("mentor_form") or MentorForm(formdata=None, data={"mentor_id": hh.mentor_id or 0})
    mentor.mentor_id.choices = _mentor_choices()
    bulk = forms.get("bulk_form") or BulkLinkForm(formdata=None)
    bulk.member_ids.choices = _unlinked_choices(hh)
    decide = forms.get("decide_form") or AdjustmentDecideForm(formdata=None)
    decide.new_head_id.choices = _new_head_choices(hh, view.linked)
    open_adj = view.open_adj
    return {
        "profile_form": profile, "mentor_form": mentor, "bulk_form": bulk, "decide_form": decide,
        "link_form": forms.get("link_form") or MemberLinkForm(formdata=None),
        "grant_form": forms.get("grant_form") or ModelTitleGrantForm(formdata=None, data={"year": local_today().year}),
        "revoke_form": forms.get("revoke_form") or ModelTitleRevokeForm(formdata=None),
        "revoking": forms.get("revoking"),
        "open_form": forms.get("open_form") or AdjustmentOpenForm(formdata=None),
        "review_form": forms.get("review_form") or AdjustmentReviewForm(formdata=None),
        "can_review": open_adj is not None and open_adj.status.value == "community_review"
        and policy.can_review_adjustment(current_user, hh),
        "can_decide": open_adj is not None and open_adj.status.value == "township_decision"
        and policy.can_decide_adjustment(current_user, hh),
    }


def _type_choices() -> list:
    return options([(0, _("未设置"))] + [(t.id, t.name) for t in svc.types()])


def _mentor_choices() -> list:
    return options([(0, _("无"))] + [(m.id, _("%(name)s（%(grid)s，已帮带 %(n)d 户）", name=m.name, grid=m.grid.name, n=n))
                                    for m, n in svc.secretaries(current_user)])


def _unlinked_choices(hh: CentralHousehold) -> list:
    return options((m.id, f"{m.name}（{m.grid.name}）") for m in svc.unlinked_near(hh))


def _new_head_choices(hh: CentralHousehold, linked: list[tuple[Member, int]]) -> list:
    return options([(0, "—")] + [(m.id, m.name) for m, _n in linked if m.id != hh.head_member_id])


@bp.route("/<int:hh_id>")
@login_required
def detail(hh_id: int):
    """The household: standing, profile, linked members, adjustment and its whole history."""
    return _detail(get_or_404(CentralHousehold, hh_id, policy.can_view_household))


def _run(hh: CentralHousehold, action: Callable[[], object], form_name: str | None = None,
         form: FlaskForm | None = None):
    """Take one step on the household; a refusal shows its page again (422) with the posted form."""
    return run_step(action, lambda error: _detail(hh, 422, error=error, **({form_name: form} if form_name else {})),
                    url_for("households.detail", hh_id=hh.id), _("已保存。"))


def _submit(hh: CentralHousehold, form_name: str, form: FlaskForm, action: Callable[[], object]):
    """Validate the posted ``form`` (invalid: the page again, 422), then take the step."""
    if not form.validate_on_submit():
        return _detail(hh, 422, **{form_name: form})
    return _run(hh, action, form_name, form)


@bp.post("/<int:hh_id>/profile")
@admin_required
def profile(hh_id: int):
    """Duties and type."""
    hh = manageable_or_403(hh_id)
    svc.ensure_builtin_types()  # the type choices below must hold the built-in types
    form = HouseholdProfileForm()
    form.type_id.choices = _type_choices()
    return _submit(hh, "profile_form", form, lambda: svc.set_profile(
        current_user, hh, [Duty(d) for d in form.duties.data], form.type_id.data or None))


@bp.post("/<int:hh_id>/titles")
@admin_required
def grant_title(hh_id: int):
    """评为示范中心户 for a year (this year unless another is given); one title per year."""
    hh = manageable_or_403(hh_id)
    form = ModelTitleGrantForm()
    return _submit(hh, "grant_form", form, lambda: model_titles.grant_model_title(hh, form.year.data, current_user))


@bp.post("/<int:hh_id>/titles/<int:title_id>/revoke")
@admin_required
def revoke_title(hh_id: int, title_id: int):
    """Revoke a title with a reason; it stays on the page with who, when and why."""
    hh = manageable_or_403(hh_id)
    title = model_titles.title_for(hh, title_id)
    if title is None:
        abort(404)
    form = ModelTitleRevokeForm()
    if not form.validate_on_submit():
        return _detail(hh, 422, revoke_form=form, revoking=title.id)
    return run_step(lambda: model_titles.revoke_model_title(title, current_user, form.reason.data),
                    lambda error: _detail(hh, 422, error=error, revoke_form=form, revoking=title.id),
                    url_for("households.detail", hh_id=hh.id), _("示范称号已撤销。"))


@bp.post("/<int:hh_id>/mentor")
@admin_required
def mentor(hh_id: int):
    """Link (or unlink) the secretary who mentors the household."""
    hh = manageable_or_403(hh_id)
    form = MentorForm()
    form.mentor_id.choices = _mentor_choices()
    return _submit(hh, "mentor_form", form, lambda: svc.set_mentor_by_id(current_user, hh, form.mentor_id.data))


@bp.post("/<int:hh_id>/members")
@admin_required
def link_member(hh_id: int):
    """Link one member, found by phone or name, to the household."""
    hh = manageable_or_403(hh_id)
    form = MemberLinkForm()
    member, why = svc.find_member(current_user, form.member.data) if form.validate_on_submit() else (None, None)
    if member is None:
        if why:
            form.member.errors.append(why)
        return _detail(hh, 422, link_form=form)
    return _run(hh, lambda: svc.link_members(current_user, hh, [member]), "link_form", form)


@bp.post("/<int:hh_id>/members/bulk")
@admin_required
def link_members(hh_id: int):
    """Link the ticked members to the household in one go."""
    hh = manageable_or_403(hh_id)
    form = BulkLinkForm()
    form.member_ids.choices = _unlinked_choices(hh)
    return _submit(hh, "bulk_form", form, lambda: svc.link_members_by_id(current_user, hh, form.member_ids.data))


@bp.post("/<int:hh_id>/members/<int:member_id>/unlink")
@admin_required
def unlink_member(hh_id: int, member_id: int):
    """Take a member off the household (the head only by adjustment)."""
    hh = manageable_or_403(hh_id)
    member = get_or_404(Member, member_id, lambda _user, m: m.central_household_id == hh.id)
    return _run(hh, lambda: svc.unlink_member(current_user, hh, member))


# --- adjustment ------------------------------------------------------------------------------------


@bp.post("/<int:hh_id>/adjustments")
@admin_required
def open_adjustment(hh_id: int):
    """按程序调整: opened by an admin with a reason."""
    hh = manageable_or_403(hh_id)
    form = AdjustmentOpenForm()
    return _submit(hh, "open_form", form, lambda: svc.open_adjustment(current_user, hh, form.reason.data))


@bp.post("/adjustments/<int:adj_id>/review")
@admin_required
def review_adjustment(adj_id: int):
    """村党组织审查: keep the household, or send the adjustment on to the township."""
    adj = get_or_404(HouseholdAdjustment, adj_id, policy.can_view_adjustment)
    form = AdjustmentReviewForm()
    return _submit(adj.household, "review_form", form, lambda: svc.adjustment_community_review(
        current_user, adj, form.decision.data == "approve", form.comment.data))


@bp.post("/adjustments/<int:adj_id>/decide")
@admin_required
def decide_adjustment(adj_id: int):
    """乡镇决定: revoke, change the head, or keep."""
    adj = get_or_404(HouseholdAdjustment, adj_id, policy.can_view_adjustment)
    hh = adj.household
    form = AdjustmentDecideForm()
    form.new_head_id.choices = _new_head_choices(hh, svc.linked(hh))
    return _submit(hh, "decide_form", form, lambda: svc.adjustment_decide_by_id(
        current_user, adj, form.outcome.data, form.comment.data, form.new_head_id.data))


# --- plaque ------------------------------------------------------------------------------------


def _live_or_404(hh_id: int) -> CentralHousehold:
    """A household the user manages that still stands (a revoked one has no plaque)."""
    hh = manageable_or_403(hh_id)
    if hh.status is HouseholdStatus.REVOKED:
        abort(404)
    return hh


def _plaque_url(hh: CentralHousehold) -> str:
    """The URL the plaque's QR holds; its token is made (and kept) the first time it is asked for."""
    return entry_tokens.entry_url(write_now(lambda: entry_tokens.current_token(hh)))


@bp.route("/<int:hh_id>/plaque")
@admin_required
def plaque(hh_id: int):
    """The door plaque (挂牌), print-ready: name, number, duties, the QR residents scan."""
    hh = _live_or_404(hh_id)
    url = _plaque_url(hh)
    return render_template("households/plaque.html", hh=hh, url=url, svg=qr.svg(url, ec="H", border=2))


@bp.post("/<int:hh_id>/plaque/reissue")
@admin_required
def plaque_reissue(hh_id: int):
    """Revoke the plaque's QR (a stolen or defaced plaque) and issue a new one to print."""
    hh = _live_or_404(hh_id)
    return run_step(lambda: entry_tokens.reissue(hh), lambda error: _detail(hh, 422, error=error),
                    url_for("households.plaque", hh_id=hh.id), _("旧挂牌二维码已作废，请打印新的挂牌。"))


def _plaque_image(hh_id: int, fmt: str):
    """The plaque's QR alone, as a download for a print shop."""
    hh = _live_or_404(hh_id)
    return qr_response(_plaque_url(hh), fmt, ec="H", box_size=20, download=f"plaque-{hh.number or hh.id}")


@bp.route("/<int:hh_id>/plaque.png")
@admin_required
def plaque_png(hh_id: int):
    """The plaque's QR as PNG."""
    return _plaque_image(hh_id, "png")


@bp.route("/<int:hh_id>/plaque.svg")
@admin_required
def plaque_svg(hh_id: int):
    """The plaque's QR as SVG."""
    return _plaque_image(hh_id, "svg")


# --- residents, gaps, mentors, types ----------------------------------------------------------------


def _residents_page(grids: list[OrgNode], grid: OrgNode, form: ResidentAssignForm, only_uncovered: bool,
                    status: int = 200, error: str | None = None):
    """One page of the grid's resident households with the assignment form."""
    if error:
        form.member_id.errors.append(error)
    page = paginate(svc.residents_of(grid, only_uncovered), per_page=RESIDENTS_PER_PAGE)
    return render_template("households/residents.html", grids=grids, grid=grid, page=page, form=form,
                           coverers=svc.covering_members(page.items), only_uncovered=only_uncovered), status


@bp.route("/residents", methods=["GET", "POST"])
@admin_required
def residents():
    """A grid's resident households: tick a set and pick the member who covers them."""
    grids = svc.grids_in_scope(current_user)
    grid_id = request.values.get("grid", type=int) or (grids[0].id if grids else None)
    if grid_id is None:
        return render_template("households/residents.html", grids=[], grid=None, page=None, form=None)
    grid = get_or_404(OrgNode, grid_id, policy.node_at_level_in_scope(OrgLevel.GRID))
    only_uncovered = request.values.get("uncovered") == "1"
    form = ResidentAssignForm()
    form.member_id.choices = options([(0, _("（取消联系）"))] + [
        (m.id, _("%(name)s（%(grid)s，%(n)d户）", name=m.name, grid=m.grid.name, n=n)) for m, n in svc.coverers_near(grid)])
    if request.method == "GET" or not form.validate_on_submit():
        return _residents_page(grids, grid, form, only_uncovered, 200 if request.method == "GET" else 422)
    back = url_for("households.residents", grid=grid.id, uncovered="1" if only_uncovered else None)
    return run_step(
        lambda: svc.assign_residents_in(current_user, grid, form.resident_ids.data, form.member_id.data),
        lambda error: _residents_page(grids, grid, form, only_uncovered, 422, error),
        back, lambda n: _("已调整 %(n)d 户的联系党员。", n=n))


@bp.route("/gaps")
@admin_required
def gaps():
    """The gap finder for one community or grid, each gap with a fix to apply in one action."""
    nodes = gaps_svc.nodes_in_scope(current_user)
    node_id = request.args.get("node", type=int) or (nodes[0].id if nodes else None)
    if node_id is None:
        return render_template("households/gaps.html", nodes=[], node=None, report=None)
    node = get_or_404(OrgNode, node_id, policy.node_at_level_in_scope(OrgLevel.COMMUNITY, OrgLevel.GRID))
    return render_template("households/gaps.html", nodes=nodes, node=node, report=gaps_svc.find_gaps(node),
                           form=GapApplyForm(formdata=None))


@bp.post("/gaps/apply")
@admin_required
def apply_gap():
    """Apply one suggested fix: cover residents by a member, or link members to a household."""
    form = GapApplyForm()
    try:
        ids = [int(x) for x in request.form.getlist("ids")]
    except ValueError:
        abort(400)
    if not form.validate_on_submit() or not ids:
        abort(400)
    if form.kind.data == "cover":
        target: Member | CentralHousehold = get_or_404(Member, form.target.data, policy.member_in_scope)
    else:
        target = get_or_404(CentralHousehold, form.target.data, policy.can_manage_household)
    back = url_for("households.gaps", node=request.form.get("node", type=int))
    return run_step(lambda: gaps_svc.apply_fix(current_user, target, ids),
                    flash_back(back),
                    back, lambda n: _("已按建议调整 %(n)d 项。", n=n))


@bp.route("/mentors")
@admin_required
def mentors():
    """Secretaries in scope and the households they mentor, against the 3–5 rule."""
    rows = [(m, n, svc.mentor_flag(n)) for m, n in svc.secretaries(current_user)]
    return render_template("households/mentors.html", rows=rows, low=MENTOR_MIN, high=MENTOR_MAX)


def _types_page(form: TypeAddForm, status: int = 200, error: str | None = None):
    if error:
        form.name.errors.append(error)
    return render_template("households/types.html", form=form, types=svc.types(),
                           can_add=policy.can_add_household_type(current_user)), status


@bp.route("/types", methods=["GET", "POST"])
@admin_required
def types():
    """Household types: the three built in, and any a district admin adds."""
    form = TypeAddForm()
    if request.method == "GET" or not form.validate_on_submit():
        return _types_page(form, 200 if request.method == "GET" else 422)
    return run_step(lambda: svc.add_type(current_user, form.name.data),
                    lambda error: _types_page(form, 422, error), url_for("households.types"), _("类型已添加。"))
