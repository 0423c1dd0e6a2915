"""A member's side of check-in: scanning a station's code, typing it (签到), and "我的签到".

A scan is a GET (the phone's camera opens the URL) that records the check-in. That is safe here:
the token proves presence at the station within the last 60–90 s, and the session cookie is
SameSite=Lax, so another site cannot make a member's browser check in from an <img> or a form.
"""

from __future__ import annotations

import secrets

from flask import (
    Blueprint,
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
from flask_login import current_user, login_required
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from app.authz import current_member, roles_required
from app.checkin.forms import CheckinCodeForm
from app.clock import local_today, parse_month
from app.extensions import limiter
from app.models import CheckinMethod, Role, Station
from app.policy import member_standing
from app.services import checkin as svc
from app.services import checkin_codes as codes
from app.services import checkin_tokens as tokens
from app.services.errors import DomainError
from app.steps import run_step, write_now
from app.web import render_unchanging

bp = Blueprint("checkin", __name__)

# How long a scan made while logged out waits for the login to finish (elderly members typing a
# password on a phone need more than the code's 90 s; the scan itself was checked when it happened).
RESUME_MAX_AGE = 600
RESUME_COOKIE = "dy_scan"


def _resume_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="checkin-resume-v1")


def _refused(message: str, status: int):
    return render_template("checkin/refused.html", message=message), status


def _scan(station: Station | svc.StationRef, method: CheckinMethod, looked: bool = False,
          seen: svc.CheckinResult | None = None):
    """Record the scan for the logged-in member, or send the visitor to log in first (``looked``:
    the caller read ``seen``, their check-in today, already)."""
    if not current_user.is_authenticated:
        # The link that completes the scan after login works once, in this browser only: its
        # nonce must match a cookie set here, so a forwarded link checks nobody else in.
        nonce = secrets.token_urlsafe(16)
        signed = _resume_serializer().dumps({"s": station.id, "m": method.value, "n": nonce})
        flash(_("请先登录，登录后将自动完成签到。"), "info")
        response = redirect(url_for("auth.login", next=url_for("checkin.resume", signed=signed)), 303)
        response.set_cookie(RESUME_COOKIE, nonce, max_age=RESUME_MAX_AGE, httponly=True, samesite="Lax",
                            secure=current_app.config["SESSION_COOKIE_SECURE"], path="/checkin/resume")
        return response
    member_id, active, _secretary = member_standing(current_user)
    if member_id is None:
        return render_template("checkin/not_member.html", station=station), 403
    # A repeat scan writes nothing: read by ids, without ORM objects or the write lock (issue 14).
    result = seen if looked else svc.seen_today(member_id, current_user.name, station.id) if active else None
    if result is None:
        # A first scan with no event running is decided before the write and written in Core.
        first = svc.first_scan(member_id, current_user.name, station.id, method) if active else None
        if first is None:
            member, row = current_user.member, svc.active_station(station.id)
            if row is None:
                return _refused(_("该驿站已停用。"), 422)
        try:
            result = write_now(first.write if first else lambda: svc.check_in(member, row, method))
        except DomainError as e:  # a stopped member (403), a closed station (422)
            return _refused(str(e), e.status)
    # A repeat scan's answer is kept by its data (web.render_unchanging); a new check-in renders.
    return render_unchanging("checkin/result.html", variant=(result, station), result=result, station=station)


@bp.route("/k/<token>")
def kiosk_scan(token: str):
    """The URL in a kiosk's rotating QR code."""
    try:
        checked = tokens.verify_kiosk_token(token)
    except tokens.TokenExpired:
        return _refused(_("二维码已过期，请重新扫描。"), 410)
    except tokens.TokenInvalid:
        return _refused(_("这不是有效的驿站签到二维码，请扫描驿站平板上的二维码。"), 400)
    member_id, active, _secretary = member_standing(current_user) if current_user.is_authenticated else (None, 0, 0)
    station, seen = svc.scan_lookup(checked.station_id, member_id if active else None, current_user.name if active else "")
    if station is None:
        return _refused(_("这不是有效的驿站签到二维码，请扫描驿站平板上的二维码。"), 400)
    return _scan(station, CheckinMethod.KIOSK, looked=True, seen=seen)


@bp.route("/s/<token>")
def poster_scan(token: str):
    """The URL on a station's printed poster."""
    station = tokens.resolve_poster_token(token)
    if station is None:
        return _refused(_("这张海报上的二维码已失效，请联系驿站管理员。"), 404)
    return _scan(station, CheckinMethod.POSTER)


@bp.route("/checkin/resume/<signed>")
@login_required
def resume(signed: str):
    """Where login sends a member who scanned while logged out: the check-in completes here."""
    try:
        data = _resume_serializer().loads(signed, max_age=RESUME_MAX_AGE)
        station = svc.active_station(int(data["s"]))
        method = CheckinMethod(data["m"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return _refused(_("签到链接已失效，请重新扫描驿站二维码。"), 410)
    nonce = request.cookies.get(RESUME_COOKIE)
    if station is None or method is CheckinMethod.MANUAL or not nonce or nonce != data.get("n"):
        return _refused(_("签到链接已失效，请重新扫描驿站二维码。"), 410)
    response = make_response(_scan(station, method))
    response.delete_cookie(RESUME_COOKIE, path="/checkin/resume")
    return response


@bp.route("/me/checkins")
@login_required
def mine():
    """My check-ins, month by month, with station, event and how I checked in."""
    member = current_member()
    year, month = parse_month(request.args.get("month"), local_today())
    return render_template(
        "checkin/mine.html",
        rows=svc.member_history(member.id, year, month),
        months=svc.member_months(member.id),
        year=year,
        month=month,
    )


# Typing the code (签到) ----------------------------------------------------------------------------


def _wrong_code(response: Response) -> bool:
    return request.method == "POST" and response.status_code == 422


def _member_key() -> str:
    return f"checkin-code-member:{current_user.get_id() or 'anonymous'}"


# Six digits can be guessed: every try by a member counts, and wrong tries from one address
# (a station's Wi-Fi serves many members at once). The lock after wrong codes is the service's.
code_member_limit = limiter.limit(lambda: current_app.config["CHECKIN_CODE_LIMIT_PER_MEMBER"],
                                  key_func=_member_key, methods=["POST"])
code_ip_limit = limiter.limit(lambda: current_app.config["CHECKIN_CODE_LIMIT_PER_IP"], methods=["POST"],
                              deduct_when=_wrong_code)


def _code_page(form: CheckinCodeForm, status: int = 200, error: str | None = None,  # type: ignore[no-untyped-def]
               on_station: bool = False):
    """The 签到 form as typed; ``error`` is shown next to the code (or the station) field."""
    if error:
        (form.station_id if on_station else form.code).errors = [error]
    return render_template("checkin/code.html", form=form), status


def _code_answer(form: CheckinCodeForm):  # type: ignore[no-untyped-def]
    """After the try is committed: the member's check-in, or the form again with the message."""

    def answer(attempt: codes.CodeAttempt):  # type: ignore[no-untyped-def]
        if attempt.result is None:
            return _code_page(form, 422, attempt.error)
        row = attempt.result.checkin
        return redirect(url_for("checkin.done", checkin_id=row.id, new=int(attempt.result.created)), 303)

    return answer


def _prefill(form: CheckinCodeForm, stations: list) -> None:
    """A fresh form: the station named in the link (a kiosk's), else the member's nearest."""
    form.set_stations(stations)
    if request.method == "GET":
        asked = request.args.get("station", type=int)
        ids = [s.id for s, _own in stations]
        form.station_id.data = asked if asked in ids else (ids[0] if ids else None)


@bp.route("/checkin/code", methods=["GET", "POST"])
@code_member_limit
@code_ip_limit
@roles_required(Role.MEMBER)
def code():
    """签到 by typing the six digits under a kiosk's QR, for when the phone cannot scan."""
    member = current_member()
    form = CheckinCodeForm()
    _prefill(form, codes.stations_for(member))
    if not form.validate_on_submit():
        return _code_page(form, 422 if form.is_submitted() else 200)
    return run_step(lambda: codes.check_in_by_code(member, form.station_id.data, form.code.data),
                    lambda message: _code_page(form, 422, message, on_station=True), None,
                    show=_code_answer(form))


@bp.route("/checkin/done/<int:checkin_id>")
@roles_required(Role.MEMBER)
def done(checkin_id: int):
    """The member's check-in just made by a typed code, as a scan shows it."""
    row = codes.member_checkin(current_member(), checkin_id)
    if row is None:
        abort(404)
    result = svc.CheckinResult(row, created=request.args.get("new") == "1")
    return render_template("checkin/result.html", result=result, station=row.station)
