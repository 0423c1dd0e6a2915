"""Established central households: list and page (with history), profile, mentor, members,
adjustment, plaque; resident households by grid with bulk assignment; the gap finder; mentors;
household types."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app import policy
from app.authz import admin_required, node_or_404
from app.extensions import db
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
    ResidentAssignForm,
    TypeAddForm,
)
from app.models import (
    MENTOR_MAX,
    MENTOR_MIN,
    MIN_HOUSEHOLDS_PER_MEMBER,
    MIN_MEMBERS_PER_HOUSEHOLD,
    AdjustmentOutcome,
    CentralHousehold,
    Duty,
    HouseholdAdjustment,
    HouseholdEvent,
    HouseholdStatus,
    Member,
    MemberStatus,
    Nomination,
    NominationStep,
    OrgLevel,
    OrgNode,
    ResidentHousehold,
    User,
)
from app.phones import normalize_phone
from app.policy import scope_condition, scope_roots
from app.services import entry_tokens, qr
from app.services import households as svc
from app.services.errors import NotAllowed
from app.services.gaps import find_gaps
from app.services.structure import covered_count, linked_member_counts
from app.services.workflow import WorkflowError, administers
from app.steps import run_step

bp = Blueprint("households", __name__, url_prefix="/households")

PER_PAGE = 30
RESIDENTS_PER_PAGE = 100


def household_or_404(hh_id: int) -> CentralHousehold:
    """A household the user may read: admins in scope, its head and its linked members."""
    hh = db.session.get(CentralHousehold, hh_id)
    if hh is None:
        abort(404)
    member = current_user.member
    if administers(current_user, hh.grid) or (member is not None and member.central_household_id == hh.id):
        return hh
    abort(404)


def manageable_or_403(hh_id: int) -> CentralHousehold:
    hh = household_or_404(hh_id)
    if not policy.can_manage_household(current_user, hh):
        abort(403)
    return hh


def _members_in_scope() -> sa.Select[tuple[Member]]:
    return (sa.select(Member).join(OrgNode, OrgNode.id == Member.grid_id)
            .where(scope_condition(current_user), Member.status == MemberStatus.ACTIVE))


def _community_of(grid: OrgNode) -> OrgNode:
    for node_id in reversed(grid.ancestor_ids):
        node = db.session.get(OrgNode, node_id)
        if node is not None and node.level is OrgLevel.COMMUNITY:
            return node
    return grid


# --- list and page -----------------------------------------------------------------------------


@bp.route("/")
@admin_required
def index():
    """Households in scope with their standing against "≥ 10 linked members"."""
    status = request.args.get("status", "")
    stmt = (sa.select(CentralHousehold).join(OrgNode, OrgNode.id == CentralHousehold.grid_id)
            .where(scope_condition(current_user)).order_by(CentralHousehold.id))
    if status in {s.value for s in HouseholdStatus}:
        stmt = stmt.where(CentralHousehold.status == status)
    page = db.paginate(stmt, per_page=PER_PAGE, error_out=False)
    ids = [h.id for h in page.items]
    lm = linked_member_counts()
    counts = dict(db.session.execute(sa.select(lm.c.household_id, lm.c.n).where(lm.c.household_id.in_(ids))).all()) if ids else {}
    mentors = {m.id: m for m in db.session.scalars(
        sa.select(Member).where(Member.id.in_([h.mentor_id for h in page.items if h.mentor_id])))} if ids else {}
    return render_template("households/index.html", page=page, counts=counts, mentors=mentors, status=status,
                           statuses=list(HouseholdStatus), minimum=MIN_MEMBERS_PER_HOUSEHOLD,
                           roots=scope_roots(current_user))


def _linked(hh: CentralHousehold) -> list[tuple[Member, int]]:
    rows = db.session.execute(
        sa.select(Member, covered_count(Member.id))
        .where(Member.central_household_id == hh.id).order_by(Member.id)
    ).unique().all()
    return [(m, n) for m, n in rows]


def _detail(hh: CentralHousehold, status: int = 200, error: str | None = None, **forms: object):
    manage = policy.can_manage_household(current_user, hh)
    linked = _linked(hh)
    linked_count = sum(1 for m, _n in linked if m.id != hh.head_member_id and m.is_active)
    events = list(db.session.scalars(
        sa.select(HouseholdEvent).where(HouseholdEvent.household_id == hh.id).order_by(HouseholdEvent.id)))
    nomination = db.session.scalar(sa.select(Nomination).where(Nomination.household_id == hh.id))
    steps = list(db.session.scalars(sa.select(NominationStep).where(
        NominationStep.nomination_id == nomination.id).order_by(NominationStep.id))) if nomination else []
    open_adj = svc.open_adjustment_of(hh)
    ctx: dict = {"hh": hh, "manage": manage, "linked": linked, "linked_count": linked_count,
                 "events": events, "nomination": nomination, "steps": steps, "error": error,
                 "adjustments": svc.adjustments(hh), "open_adj": open_adj,
                 "minimum": MIN_MEMBERS_PER_HOUSEHOLD, "min_cover": MIN_HOUSEHOLDS_PER_MEMBER}
    if manage:
        profile = forms.get("profile_form") or HouseholdProfileForm(formdata=None, data={
            "duties": [d.value for d in hh.duty_set], "type_id": hh.type_id or 0, "is_model": hh.is_model})
        profile.type_id.choices = options([(0, _("未设置"))] + [(t.id, t.name) for t in svc.types()])
        mentor = forms.get("mentor_form") or MentorForm(formdata=None, data={"mentor_id": hh.mentor_id or 0})
        mentor.mentor_id.choices = _mentor_choices()
        bulk = forms.get("bulk_form") or BulkLinkForm(formdata=None)
        bulk.member_ids.choices = _unlinked_choices(hh)
        decide = forms.get("decide_form") or AdjustmentDecideForm(formdata=None)
        decide.new_head_id.choices = options([(0, "—")] + [(m.id, m.name) for m, _n in linked if m.id != hh.head_member_id])
        ctx.update(
            profile_form=profile, mentor_form=mentor, bulk_form=bulk,
            link_form=forms.get("link_form") or MemberLinkForm(formdata=None),
            open_form=forms.get("open_form") or AdjustmentOpenForm(formdata=None),
            review_form=forms.get("review_form") or AdjustmentReviewForm(formdata=None),
            decide_form=decide,
            can_review=open_adj is not None and open_adj.status.value == "community_review" and policy.can_review_adjustment(current_user, hh),
            can_decide=open_adj is not None and open_adj.status.value == "township_decision" and policy.can_decide_adjustment(current_user, hh),
        )
    return render_template("households/detail.html", **ctx), status


def _mentor_choices() -> list[tuple[int, str]]:
    secretaries = list(db.session.scalars(_members_in_scope().where(Member.is_secretary).order_by(Member.id)).unique())
    counts = svc.mentored_counts(m.id for m in secretaries)
    return options([(0, _("无"))] + [(m.id, _("%(name)s（%(grid)s，已帮带 %(n)d 户）", name=m.name, grid=m.grid.name,
                                           n=counts.get(m.id, 0))) for m in secretaries])


def _unlinked_choices(hh: CentralHousehold) -> list[tuple[int, str]]:
    community = _community_of(hh.grid)
    heads = sa.select(CentralHousehold.head_member_id).where(CentralHousehold.status != HouseholdStatus.REVOKED)
    found = db.session.scalars(
        sa.select(Member).join(OrgNode, OrgNode.id == Member.grid_id)
        .where(OrgNode.under(community.path), Member.status == MemberStatus.ACTIVE,
               Member.central_household_id.is_(None), Member.id.not_in(heads))
        .order_by(OrgNode.id != hh.grid_id, Member.id).limit(200)
    ).unique()
    return options((m.id, f"{m.name}（{m.grid.name}）") for m in found)


@bp.route("/<int:hh_id>")
@login_required
def detail(hh_id: int):
    """The household: standing, profile, linked members, adjustment and its whole history."""
    return _detail(household_or_404(hh_id))


def _run(hh: CentralHousehold, action, form_name: str | None = None, form=None, done: str = ""):  # type: ignore[no-untyped-def]
    return run_step(action, lambda error: _detail(hh, 422, error=error, **({form_name: form} if form_name else {})),
                    url_for("households.detail", hh_id=hh.id), done or _("已保存。"))


@bp.post("/<int:hh_id>/profile")
@admin_required
def profile(hh_id: int):
    """Duties, type and the model flag."""
    hh = manageable_or_403(hh_id)
    svc.ensure_builtin_types()
    form = HouseholdProfileForm()
    form.type_id.choices = options([(0, "")] + [(t.id, t.name) for t in svc.types()])
    if not form.validate_on_submit():
        return _detail(hh, 422, profile_form=form)
    return _run(hh, lambda: svc.set_profile(current_user, hh, [Duty(d) for d in form.duties.data],
                                            form.type_id.data or None, form.is_model.data), "profile_form", form)


@bp.post("/<int:hh_id>/mentor")
@admin_required
def mentor(hh_id: int):
    """Link (or unlink) the secretary who mentors the household."""
    hh = manageable_or_403(hh_id)
    form = MentorForm()
    form.mentor_id.choices = _mentor_choices()
    if not form.validate_on_submit():
        return _detail(hh, 422, mentor_form=form)
    m = db.session.get(Member, form.mentor_id.data) if form.mentor_id.data else None
    return _run(hh, lambda: svc.set_mentor(current_user, hh, m), "mentor_form", form)


@bp.post("/<int:hh_id>/members")
@admin_required
def link_member(hh_id: int):
    """Link one member, found by phone or name, to the household."""
    hh = manageable_or_403(hh_id)
    form = MemberLinkForm()
    if not form.validate_on_submit():
        return _detail(hh, 422, link_form=form)
    phone = normalize_phone(form.member.data)
    cond = User.phone == phone if phone else User.name == form.member.data.strip()
    found = list(db.session.scalars(_members_in_scope().join(User, User.id == Member.user_id).where(cond).limit(3)).unique())
    if len(found) != 1:
        form.member.errors.append(_("在您管辖范围内没有找到这名在册党员") if not found else _("有多名同名党员，请改填手机号"))
        return _detail(hh, 422, link_form=form)
    return _run(hh, lambda: svc.link_members(current_user, hh, found), "link_form", form)


@bp.post("/<int:hh_id>/members/bulk")
@admin_required
def link_members(hh_id: int):
    """Link the ticked members to the household in one go."""
    hh = manageable_or_403(hh_id)
    form = BulkLinkForm()
    form.member_ids.choices = _unlinked_choices(hh)
    if not form.validate_on_submit():
        return _detail(hh, 422, bulk_form=form)
    members = list(db.session.scalars(sa.select(Member).where(Member.id.in_(form.member_ids.data))).unique())
    return _run(hh, lambda: svc.link_members(current_user, hh, members), "bulk_form", form)


@bp.post("/<int:hh_id>/members/<int:member_id>/unlink")
@admin_required
def unlink_member(hh_id: int, member_id: int):
    hh = manageable_or_403(hh_id)
    member = db.session.get(Member, member_id)
    if member is None or member.central_household_id != hh.id:
        abort(404)
    return _run(hh, lambda: svc.unlink_member(current_user, hh, member))


# --- adjustment ------------------------------------------------------------------------------------


@bp.post("/<int:hh_id>/adjustments")
@admin_required
def open_adjustment(hh_id: int):
    """按程序调整: opened by an admin with a reason."""
    hh = manageable_or_403(hh_id)
    form = AdjustmentOpenForm()
    if not form.validate_on_submit():
        return _detail(hh, 422, open_form=form)
    return _run(hh, lambda: svc.open_adjustment(current_user, hh, form.reason.data), "open_form", form)


def adjustment_or_404(adj_id: int) -> HouseholdAdjustment:
    adj = db.session.get(HouseholdAdjustment, adj_id)
    if adj is None or not administers(current_user, adj.household.grid):
        abort(404)
    return adj


@bp.post("/adjustments/<int:adj_id>/review")
@admin_required
def review_adjustment(adj_id: int):
    adj = adjustment_or_404(adj_id)
    form = AdjustmentReviewForm()
    if not form.validate_on_submit():
        return _detail(adj.household, 422, review_form=form)
    return _run(adj.household, lambda: svc.adjustment_community_review(
        current_user, adj, form.decision.data == "approve", form.comment.data), "review_form", form)


@bp.post("/adjustments/<int:adj_id>/decide")
@admin_required
def decide_adjustment(adj_id: int):
    adj = adjustment_or_404(adj_id)
    hh = adj.household
    form = AdjustmentDecideForm()
    form.new_head_id.choices = options([(0, "—")] + [(m.id, m.name) for m, _n in _linked(hh) if m.id != hh.head_member_id])
    if not form.validate_on_submit():
        return _detail(hh, 422, decide_form=form)
    new_head = db.session.get(Member, form.new_head_id.data) if form.new_head_id.data else None
    return _run(hh, lambda: svc.adjustment_decide(current_user, adj, AdjustmentOutcome(form.outcome.data),
                                                  form.comment.data, new_head), "decide_form", form)


# --- plaque ------------------------------------------------------------------------------------


def _plaque_household(hh_id: int) -> tuple[CentralHousehold, str]:
    hh = manageable_or_403(hh_id)
    if hh.status is HouseholdStatus.REVOKED:
        abort(404)
    token = entry_tokens.current_token(hh)
    db.session.commit()
    return hh, entry_tokens.entry_url(token)


@bp.route("/<int:hh_id>/plaque")
@admin_required
def plaque(hh_id: int):
    """The door plaque (挂牌), print-ready: name, number, duties, the QR residents scan."""
    hh, url = _plaque_household(hh_id)
    return render_template("households/plaque.html", hh=hh, url=url, svg=qr.svg(url, ec="H", border=2))


@bp.post("/<int:hh_id>/plaque/reissue")
@admin_required
def plaque_reissue(hh_id: int):
    """Revoke the plaque's QR (a stolen or defaced plaque) and issue a new one to print."""
    hh = manageable_or_403(hh_id)
    if hh.status is HouseholdStatus.REVOKED:
        abort(404)
    entry_tokens.reissue(hh)
    db.session.commit()
    flash(_("旧挂牌二维码已作废，请打印新的挂牌。"), "success")
    return redirect(url_for("households.plaque", hh_id=hh.id), 303)


@bp.route("/<int:hh_id>/plaque.png")
@admin_required
def plaque_png(hh_id: int):
    hh, url = _plaque_household(hh_id)
    return Response(qr.png(url, ec="H", box_size=20), mimetype="image/png", headers={
        "Content-Disposition": f'attachment; filename="plaque-{hh.number or hh.id}.png"'})


@bp.route("/<int:hh_id>/plaque.svg")
@admin_required
def plaque_svg(hh_id: int):
    hh, url = _plaque_household(hh_id)
    return Response(qr.svg(url, ec="H"), mimetype="image/svg+xml", headers={
        "Content-Disposition": f'attachment; filename="plaque-{hh.number or hh.id}.svg"'})


# --- residents, gaps, mentors, types ----------------------------------------------------------------


def _grid_or_404(node_id: int) -> OrgNode:
    node = node_or_404(node_id)
    if node.level is not OrgLevel.GRID:
        abort(404)
    return node


def _grids_in_scope() -> list[OrgNode]:
    return list(db.session.scalars(sa.select(OrgNode).where(
        scope_condition(current_user), OrgNode.level == OrgLevel.GRID).order_by(OrgNode.path).limit(500)))


def _member_choices(grid: OrgNode) -> list[tuple[int, str]]:
    community = _community_of(grid)
    rows = db.session.execute(
        sa.select(Member, covered_count(Member.id)).join(OrgNode, OrgNode.id == Member.grid_id)
        .where(OrgNode.under(community.path), Member.status == MemberStatus.ACTIVE)
        .order_by(OrgNode.id != grid.id, Member.id)
    ).unique().all()
    return [(m.id, _("%(name)s（%(grid)s，%(n)d户）", name=m.name, grid=m.grid.name, n=n)) for m, n in rows]


@bp.route("/residents", methods=["GET", "POST"])
@admin_required
def residents():
    """A grid's resident households: tick a set and pick the member who covers them."""
    grids = _grids_in_scope()
    grid_id = request.values.get("grid", type=int) or (grids[0].id if grids else None)
    if grid_id is None:
        return render_template("households/residents.html", grids=[], grid=None, page=None, form=None)
    grid = _grid_or_404(grid_id)
    only_uncovered = request.values.get("uncovered") == "1"
    form = ResidentAssignForm()
    form.member_id.choices = options([(0, _("（取消联系）"))] + _member_choices(grid))
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            chosen = list(db.session.scalars(sa.select(ResidentHousehold).where(
                ResidentHousehold.id.in_(form.resident_ids.data), ResidentHousehold.grid_id == grid.id)).unique())
            member = db.session.get(Member, form.member_id.data) if form.member_id.data else None
            try:
                n = svc.assign_residents(current_user, chosen, member)
            except NotAllowed:
                db.session.rollback()
                abort(403)
            except WorkflowError as e:
                db.session.rollback()
                form.member_id.errors.append(str(e))
            else:
                db.session.commit()
                flash(_("已调整 %(n)d 户的联系党员。", n=n), "success")
                return redirect(url_for("households.residents", grid=grid.id, uncovered="1" if only_uncovered else None), 303)
        status = 422
    stmt = sa.select(ResidentHousehold).where(ResidentHousehold.grid_id == grid.id)
    if only_uncovered:
        stmt = stmt.where(ResidentHousehold.covering_member_id.is_(None))
    stmt = stmt.order_by(ResidentHousehold.building, ResidentHousehold.unit, ResidentHousehold.room, ResidentHousehold.id)
    page = db.paginate(stmt, per_page=RESIDENTS_PER_PAGE, error_out=False)
    cover_ids = {r.covering_member_id for r in page.items if r.covering_member_id}
    coverers = {m.id: m for m in db.session.scalars(sa.select(Member).where(Member.id.in_(cover_ids))).unique()} if cover_ids else {}
    return render_template("households/residents.html", grids=grids, grid=grid, page=page, form=form,
                           coverers=coverers, only_uncovered=only_uncovered), status


def _gap_nodes() -> list[OrgNode]:
    return list(db.session.scalars(sa.select(OrgNode).where(
        scope_condition(current_user), OrgNode.level.in_([OrgLevel.COMMUNITY, OrgLevel.GRID])
    ).order_by(OrgNode.path).limit(500)))


@bp.route("/gaps")
@admin_required
def gaps():
    """The gap finder for one community or grid, each gap with a fix to apply in one action."""
    nodes = _gap_nodes()
    node_id = request.args.get("node", type=int) or (nodes[0].id if nodes else None)
    if node_id is None:
        return render_template("households/gaps.html", nodes=[], node=None, report=None)
    node = node_or_404(node_id)
    if node.level not in (OrgLevel.COMMUNITY, OrgLevel.GRID):
        abort(404)
    return render_template("households/gaps.html", nodes=nodes, node=node, report=find_gaps(node),
                           form=GapApplyForm(formdata=None))


@bp.post("/gaps/apply")
@admin_required
def apply_gap():
    """Apply one suggested fix: cover residents by a member, or link members to a household."""
    form = GapApplyForm()
    node_id = request.form.get("node", type=int)
    try:
        ids = [int(x) for x in request.form.getlist("ids")]
    except ValueError:
        abort(400)
    if not form.validate_on_submit() or not ids:
        abort(400)
    try:
        if form.kind.data == "cover":
            member = db.session.get(Member, form.target.data)
            if member is None or not administers(current_user, member.grid):
                abort(404)
            # Only households still uncovered: a fix never takes a household from another member.
            chosen = list(db.session.scalars(sa.select(ResidentHousehold).where(
                ResidentHousehold.id.in_(ids), ResidentHousehold.covering_member_id.is_(None))).unique())
            n = svc.assign_residents(current_user, chosen, member)
        else:
            hh = db.session.get(CentralHousehold, form.target.data)
            if hh is None or not administers(current_user, hh.grid):
                abort(404)
            members = list(db.session.scalars(sa.select(Member).where(
                Member.id.in_(ids), Member.central_household_id.is_(None))).unique())
            n = svc.link_members(current_user, hh, members)
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except WorkflowError as e:
        db.session.rollback()
        flash(str(e), "error")
        return redirect(url_for("households.gaps", node=node_id), 303)
    db.session.commit()
    flash(_("已按建议调整 %(n)d 项。", n=n), "success")
    return redirect(url_for("households.gaps", node=node_id), 303)


@bp.route("/mentors")
@admin_required
def mentors():
    """Secretaries in scope and the households they mentor, against the 3–5 rule."""
    secretaries = list(db.session.scalars(_members_in_scope().where(Member.is_secretary).order_by(Member.id)).unique())
    counts = svc.mentored_counts(m.id for m in secretaries)
    return render_template("households/mentors.html", rows=[(m, counts.get(m.id, 0), svc.mentor_flag(counts.get(m.id, 0)))
                                                           for m in secretaries], low=MENTOR_MIN, high=MENTOR_MAX)


@bp.route("/types", methods=["GET", "POST"])
@admin_required
def types():
    """Household types: the three built in, and any a district admin adds."""
    form = TypeAddForm()
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                svc.add_type(current_user, form.name.data)
            except NotAllowed:
                db.session.rollback()
                abort(403)
            except WorkflowError as e:
                db.session.rollback()
                form.name.errors.append(str(e))
            else:
                db.session.commit()
                flash(_("类型已添加。"), "success")
                return redirect(url_for("households.types"), 303)
    return render_template("households/types.html", form=form, types=svc.types(),
                           can_add=any(n.level is OrgLevel.DISTRICT for n in current_user.admin_nodes)), status
