"""A station's QR codes: the kiosk screen with its rotating code, and the printed poster."""

from __future__ import annotations

import hashlib

from flask import Response, abort, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.authz import station_or_404
from app.clock import utcnow
from app.extensions import client_address
from app.htmx import is_partial
from app.models import PosterToken, Role, Station
from app.responses import qr_response
from app.services import checkin, qr
from app.services import checkin_tokens as tokens
from app.services import stations as svc
from app.services.checkin_tokens import kiosk_url, poster_url
from app.stations import bp, station_roles
from app.steps import run_step, write_now

PRINT_LEVELS = ("Q", "H")
QR_BOX = 10  # pixels per module in the PNGs


# Kiosk -------------------------------------------------------------------------------------------


def _kiosk_context(station: Station) -> dict:
    now = utcnow()
    return {
        "station": station,
        "qr_svg": qr.inline_svg(kiosk_url(station.id), "M"),
        "typed_code": tokens.kiosk_code(station.id),
        "checkins": checkin.todays_checkins(station.id, now),
        "events": checkin.todays_events(station.id, now),
        "running": checkin.running_event(station.id, now),
        "now": now,
    }


NO_STORE = "no-store"  # the kiosk's code changes every 30 s: nothing of the kiosk is ever cached
FOR_A_YEAR = "private, max-age=31536000, immutable"  # a poster image never changes under its URL


def _cached(response: Response, control: str) -> Response:
    response.headers["Cache-Control"] = control
    return response


@bp.route("/<int:station_id>/kiosk")
@station_roles
def kiosk(station_id: int):
    """The station tablet's screen: name, rotating QR, clock, today's events, live check-ins."""
    station = station_or_404(station_id)
    return _cached(make_response(render_template("stations/kiosk.html", **_kiosk_context(station))), NO_STORE)


@bp.route("/<int:station_id>/kiosk/live")
def kiosk_live(station_id: int):
    """The kiosk's live part (QR, events, check-ins), polled every 5 s — one request per poll."""
    if not current_user.is_authenticated:
        # A signed-out kiosk must not swap the login page into its live region: reload instead.
        target = url_for("auth.login", next=url_for("stations.kiosk", station_id=station_id))
        if is_partial():
            return "", 204, {"HX-Redirect": target}
        return redirect(target)
    if not current_user.role_set & {Role.STATION_ADMIN, Role.ORG_ADMIN}:
        abort(403)
    station = station_or_404(station_id)
    return _cached(make_response(render_template("stations/_kiosk_live.html", **_kiosk_context(station))), NO_STORE)


@bp.route("/<int:station_id>/kiosk/qr.<fmt>")
@station_roles
def kiosk_qr(station_id: int, fmt: str):
    """The current kiosk code as an image (screen: level M). Changes every 30 s: never cached."""
    station = station_or_404(station_id)
    return _cached(qr_response(kiosk_url(station.id), fmt, "M", box_size=QR_BOX), NO_STORE)


# Poster ------------------------------------------------------------------------------------------


def _poster_token(station: Station) -> PosterToken:
    """The live poster token; the first one is issued (and committed) on first use."""
    return tokens.live_poster_token(station) or write_now(lambda: tokens.poster_token(station))


@bp.route("/<int:station_id>/poster")
@station_roles
def poster(station_id: int):
    """A printable A4 poster: the station's name, its long-lived QR and how to use it."""
    station = station_or_404(station_id)
    token = _poster_token(station)
    link = poster_url(token)
    return render_template("stations/poster.html", station=station, token=token, poster_link=link,
                           qr_svg=qr.inline_svg(link, "Q"))


@bp.route("/<int:station_id>/poster/qr-<ec>.<fmt>")
@station_roles
def poster_qr(station_id: int, ec: str, fmt: str):
    """The poster code for print (Q or H). The URL names the token version (?v=), so the image
    never changes under it: cached privately for a year, with an ETag for revalidation."""
    station = station_or_404(station_id)
    if ec not in PRINT_LEVELS or fmt not in ("png", "svg"):
        abort(404)
    token = _poster_token(station)
    if request.args.get("v") != str(token.id):
        return redirect(url_for("stations.poster_qr", station_id=station.id, ec=ec, fmt=fmt, v=token.id))
    etag = hashlib.sha256(f"{token.token}:{ec}:{fmt}".encode()).hexdigest()[:32]
    if request.if_none_match.contains(etag):
        response = make_response("", 304)
    else:
        response = qr_response(poster_url(token), fmt, ec, box_size=QR_BOX)
    response.set_etag(etag)
    return _cached(response, FOR_A_YEAR)


@bp.post("/<int:station_id>/poster/regenerate")
@station_roles
def regenerate_poster(station_id: int):
    """Revoke the poster code (a poster that leaked) and issue a new one to print."""
    station = station_or_404(station_id)
    return run_step(lambda: svc.regenerate_poster(station, current_user, client_address()),
                    lambda e: abort(422), url_for("stations.poster", station_id=station.id),
                    _("已生成新的海报二维码，旧海报已失效，请重新打印。"))
