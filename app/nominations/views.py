"""The creation workflow's pages: nominating (self on the phone; joint/organisation by admins),
the review steps, the township's settings, and the public notice page with its objection form.

Each view parses the request, checks access with the predicates of ``app/policy.py``, hands one
step to ``app/services/nominations.py`` through ``run_step`` and renders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from app import policy
from app.authz import admin_required, current_member, get_or_404, roles_required
from app.clock import local_today
from app.extensions import client_address, limiter
from app.forms_choices import options
from app.models import (
    Member,
    MemberCategory,
    Nomination,
    NominationStatus,
    NominationWay,
    NoticeObjection,
    OrgLevel,
    OrgNode,
    Role,
    User,
)
from app.nominations.forms import (
    DepartmentAddForm,
    EstablishForm,
    NominationOpenForm,
    NominationSelfForm,
    ObjectionForm,
    ObjectionResolveForm,
    ReviewForm,
    SignoffForm,
    TownshipSettingsForm,
)
from app.pages import paginate
from app.responses import xlsx_response
from app.services import nominations as svc
from app.services.households import find_member
from app.services.privacy import audit
from app.steps import run_step, write_now

bp = Blueprint("nominations", __name__, url_prefix="/nominations")

PER_PAGE = 30


def _objection_limit() -> str:
    return current_app.config.get("OBJECTION_LIMIT_PER_IP", "5 per hour")


# --- lists and opening ---------------------------------------------------------------------------


@bp.route("/")
@admin_required
def index():
    """Nominations in the admin's scope, newest first, filterable by status."""
    status = request.args.get("status", "open")
    page = paginate(svc.in_scope(current_user, status), per_page=PER_PAGE)
    townships = [n for n in current_user.admin_nodes if n.level is OrgLevel.TOWNSHIP]
    return render_template("nominations/index.html", page=page, status=status,
                           statuses=list(NominationStatus), townships=townships, today=local_today())


@bp.route("/export.xlsx")
@admin_required
def export():
    """The list, with the same status filter, as a ledger workbook (.xlsx), audited."""
    status = request.args.get("status", "open")
    data = write_now(lambda: svc.export_list(current_user, status, client_address()))
    return xlsx_response(data, f"nominations-{local_today().isoformat()}.xlsx")


def _self_page(member: Member, form: NominationSelfForm, status: int = 200, error: str | None = None):
    """The member's own page: the form and every nomination of theirs."""
    if error:
        form.form_errors.append(error)
    mine = svc.of_candidate(member)
    return render_template("nominations/self.html", form=form, mine=mine,
                           busy=any(n.is_open for n in mine)), status


@bp.route("/self", methods=["GET", "POST"])
@roles_required(Role.MEMBER)
def self_nominate():
    """自荐: a member nominates themselves from the phone and follows the nomination here."""
    member = current_member()
    form = NominationSelfForm()
    if request.method == "GET":
        form.category.data = member.category.value if member.category is not MemberCategory.OTHER else ""
        return _self_page(member, form)
    if not form.validate_on_submit():
        return _self_page(member, form, 422)
    return run_step(
        lambda: svc.open_nomination(current_user, svc.NominationInput(
            way=NominationWay.SELF, candidate=member, category=MemberCategory(form.category.data),
            address=form.address.data, reasons=form.reasons())),
        lambda error: _self_page(member, form, 422, error),
        _to_detail, _("自荐已提交，等待村党组织审定。"))


def _new_page(form: NominationOpenForm, status: int = 200, error: str | None = None):
    if error:
        form.form_errors.append(error)
    return render_template("nominations/new.html", form=form), status


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def new():
    """联荐 or 组织推荐, entered by an admin of the candidate's community or grid."""
    form = NominationOpenForm()
    if request.method == "GET" or not form.validate_on_submit():
        return _new_page(form, 200 if request.method == "GET" else 422)
    candidate, why = find_member(current_user, form.candidate.data)
    if candidate is None:
        form.candidate.errors.append(why)
        return _new_page(form, 422)
    return run_step(
        lambda: svc.open_nomination(current_user, svc.NominationInput(
            way=NominationWay(form.way.data), candidate=candidate,
            category=MemberCategory(form.category.data), address=form.address.data,
            reasons=form.reasons(), nominator_members=form.nominator_members.data or "",
            nominator_residents=form.nominator_residents.data or "")),
        lambda error: _new_page(form, 422, error),
        _to_detail, _("提名已登记，等待村党组织审定。"))


def _to_detail(nom: Nomination) -> str:
    return url_for("nominations.detail", nom_id=nom.id)


# --- the record and its steps ------------------------------------------------------------------------


def _signoff_form(nom: Nomination, form: SignoffForm | None = None) -> SignoffForm:
    form = form or SignoffForm(formdata=None)
    form.department.choices = options((d.id, d.name) for d in svc.pending_departments(nom))
    return form


def _detail(nom: Nomination, status: int = 200, error: str | None = None, **forms: Any):
    """The nomination's page; ``forms`` are posted forms shown again with their errors."""
    is_admin = policy.can_community_review(current_user, nom)
    context = {
        "nom": nom, "steps": svc.steps(nom), "error": error, "is_admin": is_admin,
        "can_community": nom.status is NominationStatus.COMMUNITY_REVIEW and policy.can_community_review(current_user, nom),
        "can_township": nom.status is NominationStatus.TOWNSHIP_REVIEW and policy.can_township_review(current_user, nom),
        "can_establish": nom.status is NominationStatus.NOTICE and policy.can_township_review(current_user, nom),
        "establish_ready": svc.can_establish(nom),
        "notice_running": svc.notice_running(nom),
        "signoffs": svc.signoffs(nom) if nom.status is not NominationStatus.COMMUNITY_REVIEW else [],
        "pending": svc.pending_departments(nom) if nom.status is NominationStatus.TOWNSHIP_REVIEW else [],
        "objections": svc.objections(nom) if is_admin else [],
        "community_form": forms.get("community_form") or ReviewForm(formdata=None),
        "township_form": forms.get("township_form") or ReviewForm(formdata=None),
        "signoff_form": _signoff_form(nom, forms.get("signoff_form")),
        "establish_form": EstablishForm(formdata=None),
        "resolve_forms": forms.get("resolve_forms") or {},
        "resolve_form_for": lambda oid: ObjectionResolveForm(formdata=None, prefix=f"r{oid}"),
    }
    return render_template("nominations/detail.html", **context), status


@bp.route("/<int:nom_id>")
@login_required
def detail(nom_id: int):
    """The nomination, its reasons and every recorded step; the next step's form for who may act."""
    return _detail(get_or_404(Nomination, nom_id, policy.can_view_nomination))


def _submit(nom: Nomination, form: FlaskForm, action: Callable[[], object], **shown: Any):
    """Validate the posted ``form``, then take the step; an invalid form or a refused step shows the
    page again (422) with ``shown`` (the posted form under its name in the page)."""
    if not form.validate_on_submit():
        return _detail(nom, 422, **shown)
    return run_step(action, lambda error: _detail(nom, 422, error=error, **shown), _to_detail(nom), _("已记录。"))


def _review(nom_id: int, step: Callable[[User, Nomination, bool, str], None], form_name: str):
    """A review step (approve or reject with a comment) of the community or the township."""
    nom = get_or_404(Nomination, nom_id, policy.can_view_nomination)
    form = ReviewForm()
    return _submit(nom, form, lambda: step(current_user, nom, form.decision.data == "approve", form.comment.data),
                   **{form_name: form})


@bp.post("/<int:nom_id>/community-review")
@admin_required
def community_review(nom_id: int):
    """村党组织审定."""
    return _review(nom_id, svc.community_review, "community_form")


@bp.post("/<int:nom_id>/signoff")
@admin_required
def signoff(nom_id: int):
    """联审: a township admin records one department's sign-off."""
    nom = get_or_404(Nomination, nom_id, policy.can_view_nomination)
    form = _signoff_form(nom, SignoffForm())
    return _submit(nom, form, lambda: svc.record_signoff(
        current_user, nom, form.department.data, form.decision.data == "no_objection", form.note.data),
        signoff_form=form)


@bp.post("/<int:nom_id>/township-review")
@admin_required
def township_review(nom_id: int):
    """乡镇审核: approving starts the public notice; refused until every department signed off."""
    return _review(nom_id, svc.township_review, "township_form")


@bp.post("/<int:nom_id>/establish")
@admin_required
def establish(nom_id: int):
    """创建: after a clean notice, the household gets its number and plaque."""
    nom = get_or_404(Nomination, nom_id, policy.can_view_nomination)
    if not EstablishForm().validate_on_submit():
        abort(400)
    return run_step(lambda: svc.establish(current_user, nom), lambda error: _detail(nom, 422, error=error),
                    lambda hh: url_for("households.detail", hh_id=hh.id),
                    lambda hh: _("党员中心户已创建，编号 %(number)s。", number=hh.number))


def objection_or_404(objection_id: int) -> tuple[NoticeObjection, Nomination]:
    """An objection the admin checks (its community's admins or above), with its nomination."""
    objection = get_or_404(NoticeObjection, objection_id, policy.can_handle_objection)
    return objection, get_or_404(Nomination, objection.nomination_id)


@bp.post("/objections/<int:objection_id>/resolve")
@admin_required
def resolve_objection(objection_id: int):
    """Record the outcome of checking an objection."""
    objection, nom = objection_or_404(objection_id)
    form = ObjectionResolveForm(prefix=f"r{objection.id}")
    return _submit(nom, form, lambda: svc.resolve_objection(
        current_user, objection, form.outcome.data == "upheld", form.resolution.data),
        resolve_forms={objection.id: form})


@bp.route("/objections/<int:objection_id>/phone")
@admin_required
def reveal_phone(objection_id: int):
    """Show an objector's full number to the admin who must call back; the reveal is audited."""
    objection, _nom = objection_or_404(objection_id)
    write_now(lambda: audit(current_user.id, "objection.phone.reveal", "notice_objection", objection.id,
                            ip=client_address()))
    return render_template("nominations/_phone.html", objection=objection)


# --- township settings -----------------------------------------------------------------------------


def _settings_page(township: OrgNode, days_form: TownshipSettingsForm, dept_form: DepartmentAddForm,
                   status: int = 200, error: str | None = None, dept_error: str | None = None):
    if dept_error:
        dept_form.name.errors.append(dept_error)
    return render_template("nominations/settings.html", township=township, days_form=days_form,
                           dept_form=dept_form, departments=svc.departments(township), error=error), status


@bp.route("/townships/<int:node_id>/settings", methods=["GET", "POST"])
@admin_required
def settings(node_id: int):
    """The township's notice days and its joint-review departments (two forms, one page)."""
    township = get_or_404(OrgNode, node_id, policy.node_at_level_in_scope(OrgLevel.TOWNSHIP))
    days_form = TownshipSettingsForm(prefix="s")
    dept_form = DepartmentAddForm(prefix="d")
    if request.method == "GET":
        days_form.notice_days.data = svc.notice_days(township)
        return _settings_page(township, days_form, dept_form)
    if "s-notice_days" in request.form and days_form.validate_on_submit():
        return run_step(lambda: svc.set_notice_days(current_user, township, days_form.notice_days.data),
                        lambda error: _settings_page(township, days_form, dept_form, 422, error=error),
                        request.path, _("公示天数已保存。"))
    if "d-name" in request.form and dept_form.validate_on_submit():
        return run_step(lambda: svc.add_department(current_user, township, dept_form.name.data),
                        lambda error: _settings_page(township, days_form, dept_form, 422, dept_error=error),
                        request.path, _("联审部门已添加。"))
    return _settings_page(township, days_form, dept_form, 422)


# --- the public notice ---------------------------------------------------------------------------


@bp.route("/notice")
def notice():
    """村级公示: no login; name, grid, category and end date only — no phones, no addresses."""
    return _notice_page(done=request.args.get("done"))


def _notice_page(status: int = 200, posted: ObjectionForm | None = None, posted_id: int | None = None,
                 done: str | None = None, error: str | None = None):
    """The notice page; a posted objection form is shown again with its errors."""
    noms = svc.on_notice()
    # One form per candidate, prefixed so that field ids stay unique on the page.
    forms = {n.id: ObjectionForm(formdata=None, prefix=f"o{n.id}") for n in noms}
    if posted is not None and posted_id is not None:
        if error:
            posted.text.errors.append(error)
        forms[posted_id] = posted
    return render_template("nominations/notice.html", noms=noms, forms=forms, done=done), status


@bp.post("/notice/<int:nom_id>/objection")
@limiter.limit(_objection_limit)
def object_to(nom_id: int):
    """Anyone may lodge an objection with a contact phone; it holds the notice until resolved."""
    nom = get_or_404(Nomination, nom_id, lambda _user, n: svc.notice_running(n))
    form = ObjectionForm(prefix=f"o{nom.id}")
    if not form.validate_on_submit():
        return _notice_page(422, form, nom.id)
    return run_step(lambda: svc.lodge_objection(nom, form.phone.data, form.text.data),
                    lambda error: _notice_page(422, form, nom.id, error=error),
                    url_for("nominations.notice", done=nom.id))
