"""Residents' needs: the public entry points and tracking, the member's inbox, dispatch and
dashboards for admins, printable contact cards and QR codes."""

from __future__ import annotations

import base64
from datetime import date, timedelta

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user
from sqlalchemy.orm import joinedload

from app import policy
from app.authz import admin_required, roles_required
from app.clock import days_bounds, local_today
from app.extensions import db, limiter
from app.htmx import hx_target, is_partial, trigger
from app.models import (
    CentralHousehold,
    EntryKind,
    Member,
    MemberStatus,
    Need,
    NeedBreach,
    NeedCategory,
    NeedOrigin,
    NeedOutcome,
    NeedRating,
    NeedSla,
    NeedStatus,
    OrgLevel,
    OrgNode,
    OwnerLevel,
    Photo,
    ResidentHousehold,
    Role,
    RoleAssignment,
    Station,
    User,
    utcnow,
)
from app.needs.forms import (
    PHOTO_HINT,
    CardNeedForm,
    NeedAssignForm,
    NeedHideForm,
    NeedPassOnForm,
    NeedProgressForm,
    NeedRateForm,
    NeedResolveForm,
    NeedSlaForm,
    NeedSubmitForm,
    PlaqueNeedForm,
    PublicNeedForm,
    ResidentRegisterForm,
    TrackForm,
    options,
)
from app.phones import normalize_phone
from app.policy import node_in_scope, scope_condition, scope_roots
from app.responses import photo_response
from app.services import entry_tokens, ledger, needs, photos, qr
from app.services.needs import NeedError
from app.services.passwords import hash_password
from app.services.privacy import audit, mask_phone

bp = Blueprint("needs", __name__)

PAGE_SIZE = 20
CARDS_PER_SHEET = 8


# --- Limits on the public pages --------------------------------------------------------------


def _saved(response: Response) -> bool:
    return response.status_code == 303


def _phone_key() -> str:
    return "need-phone:" + (normalize_phone(request.form.get("contact_phone")) or "none")


def _limit_ip() -> str:
    return current_app.config.get("NEEDS_LIMIT_PER_IP", "20 per hour")


def _limit_phone() -> str:
    return current_app.config.get("NEEDS_LIMIT_PER_PHONE", "5 per day")


def _limit_track() -> str:
    return current_app.config.get("TRACK_LIMIT_PER_IP", "20 per 10 minutes")


submit_ip_limit = limiter.shared_limit(_limit_ip, scope="need-submit-ip", methods=["POST"])
submit_phone_limit = limiter.shared_limit(
    _limit_phone, scope="need-submit-phone", key_func=_phone_key, methods=["POST"], deduct_when=_saved
)


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


# --- Public entry points ---------------------------------------------------------------------


def _submit(form: NeedSubmitForm, origin: NeedOrigin, context: dict, *, household=None,  # type: ignore[no-untyped-def]
            central=None, community=None, require_community: bool = False):
    """Shared by the card, plaque and public pages: validate, warn of a duplicate, save, and send
    the resident to the tracking page at once."""
    duplicate = None
    error = None
    valid = form.validate_on_submit()
    if request.method == "POST" and require_community and community is None:
        form.community.errors = [_("请选择所在村/社区")]
        valid = False
    if valid:
        processed, photo_error = _read_photo(form.photo)
        if photo_error:
            form.photo.errors = [photo_error]
        else:
            category = NeedCategory(form.category.data)
            phone = normalize_phone(form.contact_phone.data) if form.contact_phone.data else None
            if form.confirm_duplicate.data != "1":
                duplicate = needs.find_duplicate(
                    category, utcnow(), household_id=household.id if household else None, phone=phone)
            if duplicate is None:
                try:
                    photo = photos.store(processed, None) if processed else None
                    if photo is not None:
                        db.session.flush()
                    need = needs.submit_need(
                        category, form.text.data, origin=origin, household=household, central=central,
                        community=community, address=getattr(form, "address", None) and form.address.data or "",
                        contact_name=form.contact_name.data or "", contact_phone=phone,
                        consent=bool(form.consent.data), photo=photo,
                        submitted_by=current_user if current_user.is_authenticated else None,
                    )
                    db.session.commit()
                except NeedError as e:
                    db.session.rollback()
                    error = str(e)
                else:
                    return redirect(url_for("needs.track_token", token=need.token, new=1), 303)
            else:
                form.confirm_duplicate.data = "1"
    status = 422 if request.method == "POST" else 200
    return render_template("needs/submit.html", form=form, duplicate=duplicate, error=error,
                           photo_hint=PHOTO_HINT, **context), status


@bp.route("/c/<token>", methods=["GET", "POST"])
@submit_ip_limit
@submit_phone_limit
def card(token: str):
    """A contact card's QR: submit a need that goes straight to the member covering the household.
    The page shows the member's name and nothing about the household."""
    found = entry_tokens.resolve(EntryKind.CARD, token)
    if found is None:
        return render_template("needs/bad_token.html"), 404
    household = db.session.get(ResidentHousehold, found.resident_household_id)
    member = household.covering_member if household else None
    form = CardNeedForm()
    context = {"entry": "card", "member_name": member.name if member and member.is_active else None,
               "action": url_for("needs.card", token=token)}
    return _submit(form, NeedOrigin.CARD, context, household=household)


@bp.route("/p/<token>", methods=["GET", "POST"])
@submit_ip_limit
@submit_phone_limit
def plaque(token: str):
    """A door plaque's QR: submit a need to that central household's head."""
    found = entry_tokens.resolve(EntryKind.PLAQUE, token)
    if found is None:
        return render_template("needs/bad_token.html"), 404
    central = db.session.get(CentralHousehold, found.central_household_id)
    form = PlaqueNeedForm()
    context = {"entry": "plaque", "member_name": central.head.name if central else None,
               "action": url_for("needs.plaque", token=token)}
    return _submit(form, NeedOrigin.PLAQUE, context, central=central)


def _community_choices() -> list[tuple[int, str]]:
    parent = sa.orm.aliased(OrgNode)
    rows = db.session.execute(
        sa.select(OrgNode.id, OrgNode.name, parent.name)
        .join(parent, parent.id == OrgNode.parent_id)
        .where(OrgNode.level == OrgLevel.COMMUNITY)
        .order_by(parent.name, OrgNode.name)
    ).all()
    return [(i, f"{p} · {name}") for i, name, p in rows]


@bp.route("/needs/new", methods=["GET", "POST"])
@submit_ip_limit
@submit_phone_limit
def new():
    """The public form (home page, station poster ``?station=<id>``): the address is matched to a
    resident household of the chosen community, else the need waits in its dispatch queue."""
    form = PublicNeedForm()
    form.community.choices = options([(0, _("请选择"))] + _community_choices())
    station_id = request.args.get("station", type=int)
    station = db.session.get(Station, station_id) if station_id else None
    if request.method == "GET" and station is not None:
        community = needs.community_of(station.org_node)
        if community is not None:
            form.community.data = community.id
    community = None
    if request.method == "POST" and form.community.data:
        community = db.session.get(OrgNode, form.community.data)
        if community is not None and community.level is not OrgLevel.COMMUNITY:
            community = None
    origin = NeedOrigin.POSTER if station is not None else NeedOrigin.PUBLIC
    action = url_for("needs.new", station=station.id) if station else url_for("needs.new")
    context = {"entry": "public", "member_name": None, "action": action}
    return _submit(form, origin, context, community=community, require_community=True)


@bp.route("/t/<token>")
def track_token(token: str):
    """The tracking link: this need's status and public timeline, and the rating once it is done."""
    need = _need_by_token(token)
    return _track_page(need, NeedRateForm())


def _need_by_token(token: str) -> Need:
    if not token or len(token) > 32:
        abort(404)
    need = db.session.scalar(sa.select(Need).where(Need.token == token))
    if need is None or need.hidden_at is not None:
        abort(404)
    return need


def _track_page(need: Need, rate_form: NeedRateForm, status: int = 200, error: str | None = None):  # type: ignore[no-untyped-def]
    owner = need.owner_member.name if need.owner_member else _("%(node)s工作人员", node=need.owner_node.name)
    return render_template("needs/track.html", need=need, owner=owner, rate_form=rate_form, error=error,
                           events=needs.timeline(need, public=True), new=request.args.get("new") == "1",
                           masked_phone=mask_phone(need.contact_phone)), status


@bp.post("/t/<token>/rate")
def rate(token: str):
    """The resident rates the outcome through the tracking link; 不满意 reopens the need."""
    need = _need_by_token(token)
    form = NeedRateForm()
    if form.validate_on_submit():
        try:
            needs.rate(need, NeedRating(form.rating.data), form.comment.data or "")
        except NeedError as e:
            db.session.rollback()
            return _track_page(need, form, 422, str(e))
        db.session.commit()
        flash(_("谢谢您的评价。") if need.rating is not NeedRating.UNSATISFIED
              else _("已收到，诉求已退回重新办理。"), "success")
        return redirect(url_for("needs.track_token", token=token), 303)
    return _track_page(need, form, 422)


@bp.route("/t/<token>/photo/<int:photo_id>")
def track_photo(token: str, photo_id: int):
    """A photo of this need that the resident may see (not those of internal notes)."""
    need = _need_by_token(token)
    if photo_id not in needs.need_photo_ids(need, public=True):
        abort(404)
    return photo_response(db.get_or_404(Photo, photo_id), thumb=request.args.get("thumb") == "1")


@bp.route("/track", methods=["GET", "POST"])
@limiter.limit(_limit_track, methods=["POST"])
def track():
    """The short code and the phone given with it open the tracking page; either alone shows nothing."""
    form = TrackForm()
    error = None
    if form.validate_on_submit():
        code = needs.normalize_code(form.code.data)
        phone = normalize_phone(form.phone.data)
        need = db.session.scalar(sa.select(Need).where(Need.code == code, Need.contact_phone == phone,
                                                       Need.hidden_at.is_(None)))
        if need is not None:
            return redirect(url_for("needs.track_token", token=need.token), 303)
        error = _("没有找到：请核对查询码和手机号。")
    status = 422 if request.method == "POST" else 200
    return render_template("needs/track_form.html", form=form, error=error), status


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_limit_track, methods=["POST"])
def register():
    """A resident opens an account with their phone to see all their needs. The code of one need
    filed with that phone proves the number is theirs (we cannot send a verification text)."""
    form = ResidentRegisterForm()
    error = None
    if form.validate_on_submit():
        phone = normalize_phone(form.phone.data)
        code = needs.normalize_code(form.code.data)
        owns = db.session.scalar(sa.select(Need.id).where(Need.code == code, Need.contact_phone == phone))
        if owns is None:
            error = _("查询码与手机号不匹配。")
        elif db.session.scalar(sa.select(User.id).where(User.phone == phone)) is not None:
            error = _("该手机号已有账号，请直接登录。")
        else:
            user = User(phone=phone, name=form.name.data.strip(), password_hash=hash_password(form.password.data))
            db.session.add(user)
            db.session.flush()
            db.session.add(RoleAssignment(user_id=user.id, role=Role.RESIDENT))
            db.session.commit()
            login_user(user)
            return redirect(url_for("needs.mine"), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("needs/register.html", form=form, error=error), status


@bp.route("/needs/mine")
@roles_required(Role.RESIDENT)
def mine():
    """A registered resident's needs: every need filed with their phone."""
    stmt = (sa.select(Need).where(Need.contact_phone == current_user.phone, Need.hidden_at.is_(None))
            .order_by(Need.submitted_at.desc()))
    page = db.paginate(stmt, per_page=PAGE_SIZE, error_out=False)
    return render_template("needs/mine.html", page=page)


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


@bp.route("/needs/<int:need_id>/photo/<int:photo_id>")
@login_required
def photo(need_id: int, photo_id: int):
    need = need_or_404(need_id)
    if photo_id not in needs.need_photo_ids(need, public=False):
        abort(404)
    return photo_response(db.get_or_404(Photo, photo_id), thumb=request.args.get("thumb") == "1")


# --- Contact cards and QR codes --------------------------------------------------------------


def _qr_data_uri(url: str) -> str:
    svg = qr.svg(url, ec="Q", border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


@bp.route("/needs/cards")
@roles_required(Role.MEMBER)
def cards():
    """Contact cards for all my households, 8 to an A4 sheet: my name, masked phone, central
    household, the QR (level Q: paper gets dirty) and how to use it."""
    member = current_user.member
    households = db.session.scalars(
        sa.select(ResidentHousehold).where(ResidentHousehold.covering_member_id == member.id)
        .order_by(ResidentHousehold.building, ResidentHousehold.unit, ResidentHousehold.room)
    ).all()
    tokens = entry_tokens.current_card_tokens(households)
    items = [
        {"household": h, "qr": _qr_data_uri(entry_tokens.entry_url(tokens[h.id]))} for h in households
    ]
    if db.session.new:  # tokens created on first print are kept (only then: a commit expires
        db.session.commit()  # every household and the template would load each one again)
    sheets = [items[i:i + CARDS_PER_SHEET] for i in range(0, len(items), CARDS_PER_SHEET)]
    return render_template("needs/cards.html", sheets=sheets, member=member,
                           central=member.central_household)


def _card_household_or_404(household_id: int) -> ResidentHousehold:
    household = db.session.get(ResidentHousehold, household_id)
    if household is None:
        abort(404)
    member = current_user.member
    if member is not None and household.covering_member_id == member.id:
        return household
    if node_in_scope(current_user, household.grid):
        return household
    abort(404)


def _plaque_or_404(central_id: int) -> CentralHousehold:
    central = db.session.get(CentralHousehold, central_id)
    if central is None:
        abort(404)
    member = current_user.member
    if member is not None and central.head_member_id == member.id:
        return central
    if node_in_scope(current_user, central.grid):
        return central
    abort(404)


def _qr_response(url: str, fmt: str, ec: str) -> Response:
    if fmt == "svg":
        response = make_response(qr.svg(url, ec=ec))
        response.mimetype = "image/svg+xml"
    elif fmt == "png":
        response = make_response(qr.png(url, ec=ec, box_size=12))
        response.mimetype = "image/png"
    else:
        abort(404)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/needs/qr/card/<int:household_id>.<fmt>")
@login_required
def card_qr(household_id: int, fmt: str):
    """The QR of a household's contact card (its covering member and admins in scope)."""
    household = _card_household_or_404(household_id)
    url = entry_tokens.entry_url(entry_tokens.current_token(household))
    db.session.commit()
    return _qr_response(url, fmt, "Q")


@bp.route("/needs/qr/plaque/<int:central_id>.<fmt>")
@login_required
def plaque_qr(central_id: int, fmt: str):
    """The QR of a central household's door plaque (its head and admins in scope); level H, since
    a plaque hangs outdoors for years."""
    central = _plaque_or_404(central_id)
    url = entry_tokens.entry_url(entry_tokens.current_token(central))
    db.session.commit()
    return _qr_response(url, fmt, "H")


@bp.post("/needs/qr/card/<int:household_id>/reissue")
@login_required
def card_reissue(household_id: int):
    """Revoke a lost or misused card's code and issue a new one."""
    household = _card_household_or_404(household_id)
    entry_tokens.reissue(household)
    db.session.commit()
    flash(_("已作废旧联系卡二维码，请重新打印该户的联系卡。"), "success")
    return redirect(url_for("needs.cards"), 303)


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
