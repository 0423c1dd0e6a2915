"""Residents' pages: the card, plaque and public forms, tracking, rating, registration."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from werkzeug.wrappers import Response

from app.authz import roles_required
from app.extensions import limiter
from app.models import Need, NeedCategory, NeedOrigin, NeedRating, NeedStatus, Role, User
from app.needs import bp
from app.needs.forms import (
    PHOTO_HINT,
    VOICE_HINT,
    NeedRateForm,
    NeedSubmitForm,
    PlaqueNeedForm,
    PublicNeedForm,
    ResidentRegisterForm,
    TrackForm,
    card_form,
    options,
)
from app.needs.helpers import need_photo, need_voice, upload_of, validated
from app.pages import paginate
from app.phones import normalize_phone
from app.services import entry_tokens, needs, residents
from app.services.errors import Refused
from app.services.photos import PhotoError
from app.services.privacy import mask_phone
from app.services.voice import VoiceError
from app.steps import reads_first, run_step, write_now
from app.web import render_unchanging

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
# /track and the residents' rights pages take the same proof (code + phone): one budget for both.
track_limit = limiter.shared_limit(_limit_track, scope="need-track", methods=["POST"])
submit_phone_limit = limiter.shared_limit(
    _limit_phone, scope="need-submit-phone", key_func=_phone_key, methods=["POST"], deduct_when=_saved
)


# --- Submitting ------------------------------------------------------------------------------


def _need_input(form: NeedSubmitForm) -> needs.NeedInput:
    """The form's values as plain data for the service."""
    return needs.NeedInput(
        category=NeedCategory(form.category.data), text=form.text.data,
        contact_name=form.contact_name.data or "", contact_phone=form.contact_phone.data or "",
        consent=bool(form.consent.data), address=getattr(form, "address", None) and form.address.data or "",
        confirm_duplicate=form.confirm_duplicate.data == "1",
    )


def _submit_page(form: NeedSubmitForm, entry: needs.Entry, context: dict, require_community: bool = False):  # type: ignore[no-untyped-def]
    """Shared by the card, plaque and public pages: file the need and send the resident to its
    tracking page at once, or show the form again with the refusal or the duplicate warning."""
    duplicate = error = None
    valid = form.validate_on_submit()
    if request.method == "POST" and require_community and entry.community is None:
        form.community.errors = [_("请选择所在村/社区")]
        valid = False
    if valid:
        try:  # decided in a read transaction (reads_first); only its write takes the lock
            result = needs.submit(entry, _need_input(form), upload_of(form.photo),
                                  current_user if current_user.is_authenticated else None,
                                  voice_upload=upload_of(form.voice))
            if isinstance(result, needs.Submission):
                result = write_now(result.file)
        except PhotoError as e:
            form.photo.errors = [str(e)]
        except VoiceError as e:
            form.voice.errors = [str(e)]
        except Refused as e:
            error = str(e)
        else:
            if isinstance(result, needs.FiledNeed):
                return redirect(url_for("needs.track_token", token=result.token, new=1), 303)
            duplicate, form.confirm_duplicate.data = result.need, "1"
    if context["entry"] in ("card", "plaque"):  # the same for every card but the member's name
        name = context.pop("member_name")
        return render_unchanging("needs/submit.html", slots={"member_name": name},
                                 variant=(context.get("phone_on_record"),), form=form, duplicate=duplicate,
                                 error=error, photo_hint=PHOTO_HINT, voice_hint=VOICE_HINT,
                                 **context), 422 if request.method == "POST" else 200
    return render_template("needs/submit.html", form=form, duplicate=duplicate, error=error, photo_hint=PHOTO_HINT,
                           voice_hint=VOICE_HINT, **context), 422 if request.method == "POST" else 200


def _bad_token():  # type: ignore[no-untyped-def]
    return render_template("needs/bad_token.html"), 404


def _entry_page(found: entry_tokens.Entry, endpoint: str, token: str, make_form) -> object:  # type: ignore[no-untyped-def]
    """A card's or plaque's form as first shown: the page kept by render_unchanging, the member's
    name put in; the form object is built only when the page is rendered (issue 14)."""
    entry = "card" if endpoint == "needs.card" else "plaque"
    return render_unchanging(
        "needs/submit.html", slots={"member_name": found.member_name}, variant=(found.phone_on_record,),
        build=lambda: {"form": make_form()}, duplicate=None, error=None, photo_hint=PHOTO_HINT,
        voice_hint=VOICE_HINT, entry=entry, action=url_for(endpoint, token=token),
        phone_on_record=found.phone_on_record)


@bp.route("/c/<token>", methods=["GET", "POST"])
@submit_ip_limit
@submit_phone_limit
@reads_first
def card(token: str):
    """A contact card's QR: submit a need that goes straight to the member covering the household.
    The page shows the member's name and nothing about the household — only whether it has a phone
    on record (never the number), which decides whether the phone may be left empty."""
    if request.method == "GET":  # the kept page: one Core lookup, no ORM object, no form built
        found = entry_tokens.card_entry(token)
        return _entry_page(found, "needs.card", token, lambda: card_form(found.phone_on_record)) if found else _bad_token()
    target = needs.card_target(token)  # one Core row: the household, its member, the grid's path
    if target is None:
        return _bad_token()
    on_record = target.phone is not None
    context = {"entry": "card", "member_name": target.shown_member_name,
               "action": url_for("needs.card", token=token), "phone_on_record": on_record}
    return _submit_page(card_form(on_record), needs.Entry(NeedOrigin.CARD, target=target), context)


@bp.route("/p/<token>", methods=["GET", "POST"])
@submit_ip_limit
@submit_phone_limit
@reads_first
def plaque(token: str):
    """A door plaque's QR: submit a need to that central household's head."""
    if request.method == "GET":  # the kept page, as the card's
        found = entry_tokens.plaque_entry(token)
        return _entry_page(found, "needs.plaque", token, PlaqueNeedForm) if found else _bad_token()
    central = entry_tokens.plaque_household(token)
    if central is None:
        return _bad_token()
    context = {"entry": "plaque", "member_name": central.head.name, "action": url_for("needs.plaque", token=token)}
    return _submit_page(PlaqueNeedForm(), needs.Entry(NeedOrigin.PLAQUE, central=central), context)


@bp.route("/needs/new", methods=["GET", "POST"])
@submit_ip_limit
@submit_phone_limit
@reads_first
def new():
    """The public form (home page, station poster ``?station=<id>``): the address is matched to a
    resident household of the chosen community, else the need waits in its dispatch queue."""
    form = PublicNeedForm()
    form.community.choices = options([(0, _("请选择"))] + needs.community_choices())
    station = needs.poster_station(request.args.get("station", type=int))
    if request.method == "GET" and station is not None:
        community = needs.community_of(station.org_node)
        if community is not None:
            form.community.data = community.id
    community = needs.community_by_id(form.community.data) if request.method == "POST" else None
    entry = needs.Entry(NeedOrigin.POSTER if station is not None else NeedOrigin.PUBLIC, community=community)
    action = url_for("needs.new", station=station.id) if station else url_for("needs.new")
    context = {"entry": "public", "member_name": None, "action": action}
    return _submit_page(form, entry, context, require_community=True)


# --- Tracking and rating ---------------------------------------------------------------------


def _tracked_or_404(token: str) -> Need:
    """The need behind a tracking link, else 404 (unknown, malformed or hidden)."""
    need = needs.need_by_token(token)
    if need is None:
        abort(404)
    return need


def _track_page(need: Need | needs.TrackedNeed, rate_form: NeedRateForm | None, status: int = 200, error: str | None = None):  # type: ignore[no-untyped-def]
    """The tracking page: the owner by name (or the node's staff), the public timeline, the rating."""
    owner = need.owner_member.name if need.owner_member else _("%(node)s工作人员", node=need.owner_node.name)
    events = needs.public_timeline(need.id) if isinstance(need, needs.TrackedNeed) else needs.timeline(need, public=True)
    # Kept by its data (the need and its timeline as Core rows): the rating form is made only
    # when the page is rendered, for a resolved need.
    form = (lambda: {"rate_form": rate_form or NeedRateForm()}) if need.status is NeedStatus.RESOLVED else None
    return render_unchanging("needs/track.html", variant=(need, events), build=form, need=need, owner=owner,
                             error=error, events=events, new=request.args.get("new") == "1",
                             masked_phone=mask_phone(need.contact_phone)), status


@bp.route("/t/<token>")
def track_token(token: str):
    """The tracking link: this need's status and public timeline, and the rating once it is done
    (read as Core rows: two statements, no ORM object; the page kept by that data)."""
    need = needs.tracked_by_token(token)
    if need is None:
        abort(404)
    return _track_page(need, None)


def _rated(need: Need) -> str:
    """Thank the resident (or tell them the need goes back) on their tracking page."""
    flash(_("谢谢您的评价。") if need.rating is not NeedRating.UNSATISFIED
          else _("已收到，诉求已退回重新办理。"), "success")
    return url_for("needs.track_token", token=need.token)


@bp.post("/t/<token>/rate")
def rate(token: str):
    """The resident rates the outcome through the tracking link; 不满意 reopens the need."""
    need = _tracked_or_404(token)
    form = NeedRateForm()
    rating = validated(form, lambda: needs.rate(need, NeedRating(form.rating.data), form.comment.data or ""))
    return run_step(rating, lambda message: _track_page(need, form, 422, message or None), lambda _r: _rated(need))


@bp.route("/t/<token>/photo/<int:photo_id>")
def track_photo(token: str, photo_id: int):
    """A photo of this need that the resident may see (not those of internal notes)."""
    return need_photo(_tracked_or_404(token), photo_id, public=True)


@bp.route("/t/<token>/voice/<int:clip_id>")
def track_voice(token: str, clip_id: int):
    """A recording of this need that the resident may hear: their own, and the public replies."""
    return need_voice(_tracked_or_404(token), clip_id, public=True)


@bp.route("/track", methods=["GET", "POST"])
@track_limit
def track():
    """The short code and the phone given with it open the tracking page; either alone shows nothing."""
    form = TrackForm()
    error = None
    if form.validate_on_submit():
        need = needs.tracked_need(form.code.data, form.phone.data)
        if need is not None:
            return redirect(url_for("needs.track_token", token=need.token), 303)
        error = _("没有找到：请核对查询码和手机号。")
    status = 422 if request.method == "POST" else 200
    return render_template("needs/track_form.html", form=form, error=error), status


# --- Residents' accounts ---------------------------------------------------------------------


def _logged_in(user: User) -> str:
    """Log the new resident in and show them their needs."""
    login_user(user)
    return url_for("needs.mine")


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_limit_track, methods=["POST"])
def register():
    """A resident opens an account with their phone to see all their needs (the code of one need
    filed with that phone proves the number is theirs)."""
    form = ResidentRegisterForm()

    def page(error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
        return render_template("needs/register.html", form=form, error=error), status

    if request.method != "POST":
        return page()
    opened = validated(form, lambda: residents.register(form.phone.data, form.code.data, form.name.data,
                                                         form.password.data))
    return run_step(opened, lambda message: page(message or None, 422), _logged_in)


@bp.route("/needs/mine")
@roles_required(Role.RESIDENT)
def mine():
    """A registered resident's needs: every need filed with their phone."""
    return render_template("needs/mine.html", page=paginate(needs.mine_select(current_user)))
