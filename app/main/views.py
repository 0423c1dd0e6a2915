"""Home pages per role, the language switch, pages for areas still to come, and the PWA files."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app import assets
from app.clock import utcnow
from app.services import today
from app.web import DISPLAY_COOKIE, LOCALE_COOKIE, SUPPORTED, render_unchanging, safe_next

bp = Blueprint("main", __name__)

# Areas of the product that are planned but not built yet, and what they will do.
COMING = {
    "training": (_l("培训"), _l("微实训、微党课、微分享、微实践、微朗读，线上线下出勤。")),
    "points": (_l("积分与评先"), _l("党员积分台账与年度评先选优。")),
}


@bp.route("/")
def index():
    """The public landing page, or the home page of the logged-in user's roles."""
    if not current_user.is_authenticated:
        return render_unchanging("main/landing.html")
    # Kept by what it shows (web.render_unchanging) when that is plain data: a member's to-do lists.
    shown = today.home(current_user, utcnow())
    return render_unchanging("main/home.html", variant=shown, **shown)


@bp.route("/coming/<area>")
@login_required
def coming(area: str):
    """Say what an area not yet built will do — no invented numbers."""
    if area not in COMING:
        abort(404)
    title, text = COMING[area]
    return render_template("main/coming.html", title=title, text=text)


def _remember_and_return(cookie: str, value: str):  # type: ignore[no-untyped-def]
    """Keep a display preference for a year (no account needed) and go back where the form was."""
    target = safe_next(request.form.get("next")) or url_for("main.index")
    response = redirect(target, 303)
    response.set_cookie(
        cookie,
        value,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    return response


@bp.post("/lang/<code>")
def set_language(code: str):
    """Switch the interface language (a cookie, so it works before logging in too)."""
    if code not in SUPPORTED:
        abort(404)
    return _remember_and_return(LOCALE_COOKIE, code)


@bp.post("/display/<mode>")
def set_display(mode: str):
    """Large type for elderly readers."""
    if mode not in ("large", "normal"):
        abort(404)
    return _remember_and_return(DISPLAY_COOKIE, mode)


@bp.route("/offline")
def offline():
    """Shown by the service worker when there is no network."""
    return render_unchanging("main/offline.html")


@bp.route("/manifest.webmanifest")
def manifest():
    """The PWA manifest, with the media type browsers expect."""
    response = send_from_directory(current_app.static_folder, "manifest.webmanifest")
    response.mimetype = "application/manifest+json"
    return response


@bp.route("/sw.js")
def service_worker():
    """Served from the root so that its scope is the whole app, naming the hashed shell files."""
    return assets.service_worker()


@bp.route("/healthz")
def healthz():
    """For load balancers and the run script."""
    return {"ok": True}
