"""Members: the inbox, one need's page and the steps its owner takes."""

from __future__ import annotations

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
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from app import policy
from app.authz import roles_required
from app.extensions import db
from app.htmx import hx_target, is_partial, trigger
from app.models import (
    Member,
    MemberStatus,
    Need,
    NeedBreach,
    NeedOutcome,
    NeedStatus,
    OrgNode,
    OwnerLevel,
    Photo,
    Role,
    User,
    utcnow,
)
from app.needs import bp
from app.needs.forms import (
    PHOTO_HINT,
    NeedAssignForm,
    NeedHideForm,
    NeedPassOnForm,
    NeedProgressForm,
    NeedResolveForm,
    options,
)
from app.policy import node_in_scope, scope_condition
from app.responses import photo_response
from app.services import needs, photos
from app.services.needs import NeedError

PAGE_SIZE = 20


# --- Helpers ---------------------------------------------------------------------------------


@bp.app_template_global()
def sla_left(need: Need) -> tuple[str, bool] | None:
    """("剩 5 小时", False) or ("超时 3 小时", True) for the deadline now running; None when closed."""
    if need.status is NeedStatus.SUBMITTED:
        due = need.accept_due_at
    elif need.status in (NeedStatus.ACCEPTED, NeedStatus.IN_PROGRESS):
        due = need.resolve_due_at
    else:
        return None
    delta = due - utcnow()
    late = delta.total_seconds() < 0
    hours = int(abs(delta.total_seconds()) // 3600)
    span = _("%(d)d 天 %(h)d 小时", d=hours // 24, h=hours % 24) if hours >= 24 else _("%(h)d 小时", h=hours)
    if hours == 0:
        span = _("不到 1 小时")
    return (_("超时 %(span)s", span=span) if late else _("剩 %(span)s", span=span)), late


def need_or_404(need_id: int) -> Need:
    """A need the user may read, else 404. Hidden needs stay readable to admins in scope only."""
    need = db.session.get(Need, need_id)
    if need is None or not policy.can_view_need(current_user, need):
        abort(404)
    if need.hidden_at is not None and not node_in_scope(current_user, need.node):
        abort(404)
    return need


def _act_or_403(need: Need) -> None:
    if not policy.can_act_on_need(current_user, need):
        abort(403)


def _read_photo(form_field) -> tuple[photos.ProcessedPhoto | None, str | None]:  # type: ignore[no-untyped-def]
    upload = form_field.data
    if not upload or not getattr(upload, "filename", ""):
        return None, None
    try:
        return photos.process(upload.stream), None
    except photos.PhotoError as e:
        return None, str(e)


# --- Members: inbox, detail, actions ---------------------------------------------------------

INBOX_STATES = {
    "submitted": (NeedStatus.SUBMITTED,),
    "accepted": (NeedStatus.ACCEPTED,),
    "in_progress": (NeedStatus.IN_PROGRESS,),
    "closed": (NeedStatus.RESOLVED, NeedStatus.RATED),
}


@bp.route("/needs/")
@roles_required(Role.MEMBER)
def inbox():
    """My needs by state, each with the time left on its deadline; accept in one tap."""
    member = current_user.member
    state = request.args.get("state", "submitted")
    if state not in INBOX_STATES and state != "household":
        state = "submitted"
    mine = sa.and_(Need.owner_member_id == member.id, Need.hidden_at.is_(None))
    counts = dict(db.session.execute(
        sa.select(Need.status, sa.func.count(Need.id)).where(mine).group_by(Need.status)).all())
    is_head = member.central_household is not None and member.central_household.head_member_id == member.id
    if state == "household" and is_head:
        cond = sa.and_(needs.member_needs_condition(member), Need.owner_member_id != member.id,
                       Need.hidden_at.is_(None), Need.status.in_(needs.OPEN_STATES))
    else:
        cond = sa.and_(mine, Need.status.in_(INBOX_STATES.get(state, INBOX_STATES["submitted"])))
    stmt = (sa.select(Need).where(cond).options(joinedload(Need.owner_member), joinedload(Need.owner_node))
            .order_by(Need.status, Need.accept_due_at))
    page = db.paginate(stmt, per_page=PAGE_SIZE, error_out=False)
    state_counts = {k: sum(counts.get(s, 0) for s in v) for k, v in INBOX_STATES.items()}
    return render_template("needs/inbox.html", page=page, state=state, counts=state_counts,
                           is_head=is_head, labels=_state_labels())


def _state_labels() -> dict[str, str]:
    return {"submitted": _("待响应"), "accepted": _("已接单"), "in_progress": _("办理中"),
            "closed": _("已办结"), "household": _("本户党员")}


@bp.route("/needs/<int:need_id>")
@login_required
def detail(need_id: int):
    """One need with its whole timeline (internal notes included) and what the user may do."""
    need = need_or_404(need_id)
    return _detail_page(need)


def _forms_for(need: Need) -> dict:
    forms: dict = {}
    if policy.can_act_on_need(current_user, need) and need.hidden_at is None:
        forms["progress"] = NeedProgressForm(prefix="p")
        forms["resolve"] = NeedResolveForm(prefix="r")
        if need.owner_level is OwnerLevel.HEAD and need.status.is_open:
            f = NeedPassOnForm(prefix="pass")
            f.member.choices = options(_household_member_choices(current_user.member))
            forms["pass"] = f
    if node_in_scope(current_user, need.node) and current_user.has_role(Role.ORG_ADMIN):
        if need.status.is_open and need.hidden_at is None:
            f = NeedAssignForm(prefix="a")
            f.member.choices = options(_assignable_choices(need))
            forms["assign"] = f
        if need.hidden_at is None:
            forms["hide"] = NeedHideForm(prefix="h")
    return forms


def _household_member_choices(member: Member | None) -> list[tuple[int, str]]:
    if member is None or member.central_household_id is None:
        return []
    rows = db.session.execute(
        sa.select(Member.id, User.name).join(User, User.id == Member.user_id)
        .where(Member.central_household_id == member.central_household_id, Member.id != member.id,
               Member.status == MemberStatus.ACTIVE).order_by(User.name)
    ).all()
    return [(i, n) for i, n in rows]


def _assignable_choices(need: Need) -> list[tuple[int, str]]:
    rows = db.session.execute(
        sa.select(Member.id, User.name, OrgNode.name).join(User, User.id == Member.user_id)
        .join(OrgNode, OrgNode.id == Member.grid_id)
        .where(OrgNode.under(need.community.path), scope_condition(current_user),
               Member.status == MemberStatus.ACTIVE).order_by(OrgNode.name, User.name)
    ).all()
    return [(i, f"{g} · {n}") for i, n, g in rows]


def _detail_page(need: Need, status: int = 200, forms: dict | None = None, error: str | None = None):  # type: ignore[no-untyped-def]
    merged = _forms_for(need)
    merged.update(forms or {})
    context = {
        "need": need, "forms": merged, "error": error, "events": needs.timeline(need, public=False),
        "phone": needs.shown_phone(current_user, need), "can_act": policy.can_act_on_need(current_user, need),
        "owner": needs.owner_label(need.owner_level, need.owner_member, need.owner_node),
        "photo_hint": PHOTO_HINT,
        "breaches": db.session.scalar(sa.select(sa.func.count(NeedBreach.id)).where(NeedBreach.need_id == need.id)),
    }
    if is_partial() and hx_target() == f"need-{need.id}":
        return render_template("needs/_need_row.html", need=need), status
    if is_partial() and hx_target() == "need-panel":
        return render_template("needs/_need_panel.html", **context), status
    return render_template("needs/detail.html", **context), status


def _done(need: Need, message: str):  # type: ignore[no-untyped-def]
    """After a successful action: the row or the panel for htmx (with ``need-updated``), else 303."""
    db.session.commit()
    if is_partial():
        response = make_response(_detail_page(need)[0])
        return trigger(response, "need-updated")
    flash(message, "success")
    target = request.form.get("next")
    if target != "inbox":
        return redirect(url_for("needs.detail", need_id=need.id), 303)
    return redirect(url_for("needs.inbox", state=request.form.get("state", "submitted")), 303)


def _failed(need: Need, message: str, forms: dict | None = None):  # type: ignore[no-untyped-def]
    db.session.rollback()
    return _detail_page(need, 422, forms, message)


@bp.post("/needs/<int:need_id>/accept")
@login_required
def accept(need_id: int):
    """接单 — the current owner takes the need on (one tap)."""
    need = need_or_404(need_id)
    _act_or_403(need)
    try:
        needs.accept(need, current_user)
    except NeedError as e:
        return _failed(need, str(e))
    return _done(need, _("已接单。"))


@bp.post("/needs/<int:need_id>/progress")
@login_required
def progress(need_id: int):
    """A progress note (the resident sees it) or an internal note, with an optional photo."""
    need = need_or_404(need_id)
    _act_or_403(need)
    form = NeedProgressForm(prefix="p")
    return _with_photo(need, form, "progress", _("已记录。"), lambda photo: needs.add_progress(
        need, current_user, form.text.data, bool(form.internal.data), photo))


@bp.post("/needs/<int:need_id>/resolve")
@login_required
def resolve(need_id: int):
    """办结 — close the need with what happened and a note."""
    need = need_or_404(need_id)
    _act_or_403(need)
    form = NeedResolveForm(prefix="r")
    return _with_photo(need, form, "resolve", _("已办结。"), lambda photo: needs.resolve(
        need, current_user, NeedOutcome(form.outcome.data), form.note.data,
        form.referred_to.data or "", photo))


def _with_photo(need: Need, form, key: str, done: str, step):  # type: ignore[no-untyped-def]
    """Validate a step's form and its optional photo, store the photo, then take the step; any
    refusal re-renders the need with the form (and nothing stored in the database)."""
    if not form.validate_on_submit():
        return _failed(need, _("请修改下面标红的内容后再提交。"), {key: form})
    processed, photo_error = _read_photo(form.photo)
    if photo_error:
        form.photo.errors = [photo_error]
        return _failed(need, photo_error, {key: form})
    try:
        photo = photos.store(processed, current_user.id) if processed else None
        if photo is not None:
            db.session.flush()
        step(photo)
    except NeedError as e:
        return _failed(need, str(e), {key: form})
    return _done(need, done)


@bp.post("/needs/<int:need_id>/pass")
@login_required
def pass_on(need_id: int):
    """A central household's head passes a need to one of the household's members."""
    need = need_or_404(need_id)
    _act_or_403(need)
    form = NeedPassOnForm(prefix="pass")
    form.member.choices = options(_household_member_choices(current_user.member))
    if not form.validate_on_submit():
        return _failed(need, _("请选择党员。"), {"pass": form})
    try:
        needs.pass_on(need, current_user, db.get_or_404(Member, form.member.data))
    except NeedError as e:
        return _failed(need, str(e), {"pass": form})
    return _done(need, _("已转交。"))



@bp.route("/needs/<int:need_id>/photo/<int:photo_id>")
@login_required
def photo(need_id: int, photo_id: int):
    need = need_or_404(need_id)
    if photo_id not in needs.need_photo_ids(need, public=False):
        abort(404)
    return photo_response(db.get_or_404(Photo, photo_id), thumb=request.args.get("thumb") == "1")
