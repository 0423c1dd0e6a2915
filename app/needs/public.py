"""Residents' pages: the card, plaque and public forms, tracking, rating, registration."""

from __future__ import annotations

import sqlalchemy as sa
from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user

from app.authz import roles_required
from app.extensions import db, limiter
from app.models import (
    CentralHousehold,
    EntryKind,
    Need,
    NeedCategory,
    NeedOrigin,
    NeedRating,
    OrgLevel,
    OrgNode,
    Photo,
    ResidentHousehold,
    Role,
    RoleAssignment,
    Station,
    User,
    utcnow,
)
from app.needs import bp
from app.needs.forms import (
    PHOTO_HINT,
    CardNeedForm,
    NeedRateForm,
    NeedSubmitForm,
    PlaqueNeedForm,
    PublicNeedForm,
    ResidentRegisterForm,
    TrackForm,
    options,
)
from app.needs.inbox import _read_photo
from app.phones import normalize_phone
from app.responses import photo_response
from app.services import entry_tokens, needs, photos
from app.services.needs import NeedError
from app.services.passwords import hash_password
from app.services.privacy import mask_phone

PAGE_SIZE = 20

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
