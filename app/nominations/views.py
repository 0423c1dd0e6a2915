"""The creation workflow's pages: nominating (self on the phone; joint/organisation by admins),
the review steps, the township's settings, and the public notice page with its objection form."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import policy
from app.authz import admin_required, current_member, node_or_404, roles_required
from app.clock import local_today
from app.extensions import db, limiter
from app.forms_choices import options
from app.models import (
    Member,
    MemberCategory,
    MemberStatus,
    Nomination,
    NominationStatus,
    NominationStep,
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
from app.phones import normalize_phone
from app.policy import scope_condition
from app.services import nominations as svc
from app.services.errors import NotAllowed
from app.services.privacy import audit
from app.services.workflow import WorkflowError, administers
from app.steps import run_step

bp = Blueprint("nominations", __name__, url_prefix="/nominations")

PER_PAGE = 30


def nomination_or_404(nom_id: int) -> Nomination:
    """A nomination the current user may read (admin in scope, the candidate, the opener), else 404."""
    nom = db.session.get(Nomination, nom_id)
    if nom is None or not policy.can_view_nomination(current_user, nom):
        abort(404)
    return nom


def _objection_limit() -> str:
    return current_app.config.get("OBJECTION_LIMIT_PER_IP", "5 per hour")


# --- lists and opening ---------------------------------------------------------------------------


@bp.route("/")
@admin_required
def index():
    """Nominations in the admin's scope, newest first, filterable by status."""
    status = request.args.get("status", "open")
    stmt = (sa.select(Nomination).join(OrgNode, OrgNode.id == Nomination.community_id)
            .where(scope_condition(current_user)).order_by(Nomination.id.desc()))
    if status == "open":
        stmt = stmt.where(Nomination.status.in_(NominationStatus.open_values()))
    elif status in {s.value for s in NominationStatus}:
        stmt = stmt.where(Nomination.status == status)
    page = db.paginate(stmt, per_page=PER_PAGE, error_out=False)
    townships = [n for n in current_user.admin_nodes if n.level in (OrgLevel.TOWNSHIP,)]
    return render_template("nominations/index.html", page=page, status=status,
                           statuses=list(NominationStatus), townships=townships, today=local_today())


@bp.route("/self", methods=["GET", "POST"])
@roles_required(Role.MEMBER)
def self_nominate():
    """自荐: a member nominates themselves from the phone and follows the nomination here."""
    member = current_member()
    form = NominationSelfForm()
    if request.method == "GET":
        form.category.data = member.category.value if member.category is not MemberCategory.OTHER else ""
    mine = list(db.session.scalars(
        sa.select(Nomination).where(Nomination.candidate_id == member.id).order_by(Nomination.id.desc())))
    if form.validate_on_submit():
        try:
            nom = svc.open_nomination(current_user, svc.NominationInput(
                way=NominationWay.SELF, candidate=member, category=MemberCategory(form.category.data),
                address=form.address.data, reasons=form.reasons()))
        except WorkflowError as e:
            db.session.rollback()
            form.form_errors.append(str(e))
        else:
            db.session.commit()
            flash(_("自荐已提交，等待村党组织审定。"), "success")
            return redirect(url_for("nominations.detail", nom_id=nom.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("nominations/self.html", form=form, mine=mine,
                           busy=any(n.is_open for n in mine)), status


def _find_candidate(text: str) -> tuple[Member | None, str | None]:
    """The active member in the admin's scope matching a phone number or an exact name."""
    phone = normalize_phone(text)
    cond = User.phone == phone if phone else User.name == text.strip()
    found = list(db.session.scalars(
        sa.select(Member).join(User, User.id == Member.user_id).join(OrgNode, OrgNode.id == Member.grid_id)
        .where(cond, Member.status == MemberStatus.ACTIVE, scope_condition(current_user)).limit(3)
    ).unique())
    if not found:
        return None, _("在您管辖范围内没有找到这名在册党员")
    if len(found) > 1:
        return None, _("有多名同名党员，请改填手机号")
    return found[0], None


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def new():
    """联荐 or 组织推荐, entered by an admin of the candidate's community or grid."""
    form = NominationOpenForm()
    if form.validate_on_submit():
        candidate, error = _find_candidate(form.candidate.data)
        if candidate is None:
            form.candidate.errors.append(error)
        else:
            try:
                nom = svc.open_nomination(current_user, svc.NominationInput(
                    way=NominationWay(form.way.data), candidate=candidate,
                    category=MemberCategory(form.category.data), address=form.address.data,
                    reasons=form.reasons(), nominator_members=form.nominator_members.data or "",
                    nominator_residents=form.nominator_residents.data or ""))
            except WorkflowError as e:
                db.session.rollback()
                form.form_errors.append(str(e))
            else:
                db.session.commit()
                flash(_("提名已登记，等待村党组织审定。"), "success")
                return redirect(url_for("nominations.detail", nom_id=nom.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("nominations/new.html", form=form), status


# --- the record and its steps ------------------------------------------------------------------------


def _signoff_form(nom: Nomination, form: SignoffForm | None = None) -> SignoffForm:
    form = form or SignoffForm(formdata=None)
    form.department.choices = options((d.id, d.name) for d in svc.pending_departments(nom))
    return form


def _detail(nom: Nomination, status: int = 200, error: str | None = None, **forms: object):
    steps = list(db.session.scalars(
        sa.select(NominationStep).where(NominationStep.nomination_id == nom.id).order_by(NominationStep.id)))
    is_admin = administers(current_user, nom.community)
    context = {
        "nom": nom, "steps": steps, "error": error, "is_admin": is_admin,
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
        "signoff_form": _signoff_form(nom, forms.get("signoff_form")),  # type: ignore[arg-type]
        "establish_form": EstablishForm(formdata=None),
        "resolve_forms": forms.get("resolve_forms") or {},
        "resolve_form_for": lambda oid: ObjectionResolveForm(formdata=None, prefix=f"r{oid}"),
    }
    return render_template("nominations/detail.html", **context), status


@bp.route("/<int:nom_id>")
@login_required
def detail(nom_id: int):
    """The nomination, its reasons and every recorded step; the next step's form for who may act."""
    return _detail(nomination_or_404(nom_id))


def _act(nom: Nomination, action, form_name: str, form) -> object:  # type: ignore[no-untyped-def]
    """Run a service step; a refused step re-renders the page with the reason (403 / 422)."""
    return run_step(action, lambda error: _detail(nom, 422, error=error, **{form_name: form}),
                    url_for("nominations.detail", nom_id=nom.id), _("已记录。"))


@bp.post("/<int:nom_id>/community-review")
@admin_required
def community_review(nom_id: int):
    """村党组织审定."""
    nom = nomination_or_404(nom_id)
    form = ReviewForm()
    if not form.validate_on_submit():
        return _detail(nom, 422, community_form=form)
    return _act(nom, lambda: svc.community_review(current_user, nom, form.decision.data == "approve",
                                                  form.comment.data), "community_form", form)


@bp.post("/<int:nom_id>/signoff")
@admin_required
def signoff(nom_id: int):
    """联审: a township admin records one department's sign-off."""
    nom = nomination_or_404(nom_id)
    form = _signoff_form(nom, SignoffForm())
    if not form.validate_on_submit():
        return _detail(nom, 422, signoff_form=form)
    return _act(nom, lambda: svc.record_signoff(current_user, nom, form.department.data,
                                                form.decision.data == "no_objection", form.note.data),
                "signoff_form", form)


@bp.post("/<int:nom_id>/township-review")
@admin_required
def township_review(nom_id: int):
    """乡镇审核: approving starts the public notice; refused until every department signed off."""
    nom = nomination_or_404(nom_id)
    form = ReviewForm()
    if not form.validate_on_submit():
        return _detail(nom, 422, township_form=form)
    return _act(nom, lambda: svc.township_review(current_user, nom, form.decision.data == "approve",
                                                 form.comment.data), "township_form", form)


@bp.post("/<int:nom_id>/establish")
@admin_required
def establish(nom_id: int):
    """创建: after a clean notice, the household gets its number and plaque."""
    nom = nomination_or_404(nom_id)
    form = EstablishForm()
    if not form.validate_on_submit():
        abort(400)
    result: dict = {}

    def run() -> None:
        result["hh"] = svc.establish(current_user, nom)

    try:
        run()
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except WorkflowError as e:
        db.session.rollback()
        return _detail(nom, 422, error=str(e))
    db.session.commit()
    flash(_("党员中心户已创建，编号 %(number)s。", number=result["hh"].number), "success")
    return redirect(url_for("households.detail", hh_id=result["hh"].id), 303)


def objection_or_404(objection_id: int) -> tuple[NoticeObjection, Nomination]:
    objection = db.session.get(NoticeObjection, objection_id)
    if objection is None:
        abort(404)
    nom = db.session.get(Nomination, objection.nomination_id)
    if nom is None or not administers(current_user, nom.community):
        abort(404)
    return objection, nom


@bp.post("/objections/<int:objection_id>/resolve")
@admin_required
def resolve_objection(objection_id: int):
    """Record the outcome of checking an objection."""
    objection, nom = objection_or_404(objection_id)
    form = ObjectionResolveForm(prefix=f"r{objection.id}")
    if not form.validate_on_submit():
        return _detail(nom, 422, resolve_forms={objection.id: form})
    return _act(nom, lambda: svc.resolve_objection(current_user, objection, form.outcome.data == "upheld",
                                                   form.resolution.data),
                "resolve_forms", {objection.id: form})


@bp.route("/objections/<int:objection_id>/phone")
@admin_required
def reveal_phone(objection_id: int):
    """Show an objector's full number to the admin who must call back; the reveal is audited."""
    objection, _nom = objection_or_404(objection_id)
    audit(current_user.id, "objection.phone.reveal", "notice_objection", objection.id,
          ip=request.remote_addr or "")
    db.session.commit()
    return render_template("nominations/_phone.html", objection=objection)


# --- township settings -----------------------------------------------------------------------------


@bp.route("/townships/<int:node_id>/settings", methods=["GET", "POST"])
@admin_required
def settings(node_id: int):
    """The township's notice days and its joint-review departments."""
    township = node_or_404(node_id)
    if township.level is not OrgLevel.TOWNSHIP:
        abort(404)
    days_form = TownshipSettingsForm(prefix="s")
    dept_form = DepartmentAddForm(prefix="d")
    error = None
    if request.method == "GET":
        days_form.notice_days.data = svc.notice_days(township)
    elif "s-notice_days" in request.form and days_form.validate_on_submit():
        try:
            svc.set_notice_days(current_user, township, days_form.notice_days.data)
        except WorkflowError as e:
            db.session.rollback()
            error = str(e)
        else:
            db.session.commit()
            flash(_("公示天数已保存。"), "success")
            return redirect(request.path, 303)
    elif "d-name" in request.form and dept_form.validate_on_submit():
        try:
            svc.add_department(current_user, township, dept_form.name.data)
        except WorkflowError as e:
            db.session.rollback()
            dept_form.name.errors.append(str(e))
        else:
            db.session.commit()
            flash(_("联审部门已添加。"), "success")
            return redirect(request.path, 303)
    status = 422 if request.method == "POST" else 200
    return render_template("nominations/settings.html", township=township, days_form=days_form,
                           dept_form=dept_form, departments=svc.departments(township), error=error), status


# --- the public notice ---------------------------------------------------------------------------


@bp.route("/notice")
def notice():
    """村级公示: no login; name, grid, category and end date only — no phones, no addresses."""
    return _notice_page(done=request.args.get("done"))


def _notice_page(status: int = 200, posted: ObjectionForm | None = None, posted_id: int | None = None,
                 done: str | None = None):
    noms = list(db.session.scalars(svc.public_notices()).unique())
    # One form per candidate, prefixed so that field ids stay unique on the page.
    forms = {n.id: ObjectionForm(formdata=None, prefix=f"o{n.id}") for n in noms}
    if posted is not None and posted_id is not None:
        forms[posted_id] = posted
    return render_template("nominations/notice.html", noms=noms, forms=forms, done=done), status


@bp.post("/notice/<int:nom_id>/objection")
@limiter.limit(_objection_limit)
def object_to(nom_id: int):
    """Anyone may lodge an objection with a contact phone; it holds the notice until resolved."""
    nom = db.session.get(Nomination, nom_id)
    if nom is None or not svc.notice_running(nom):
        abort(404)
    form = ObjectionForm(prefix=f"o{nom.id}")
    if form.validate_on_submit():
        try:
            svc.lodge_objection(nom, form.phone.data, form.text.data)
        except WorkflowError as e:
            db.session.rollback()
            form.text.errors.append(str(e))
        else:
            db.session.commit()
            return redirect(url_for("nominations.notice", done=nom.id), 303)
    return _notice_page(422, form, nom.id)
