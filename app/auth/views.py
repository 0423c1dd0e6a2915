"""Logging in and out, and changing one's password."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from app.auth import attempts
from app.auth.forms import LoginForm, PasswordChangeForm
from app.extensions import client_address, db, limiter
from app.services import accounts
from app.steps import run_step
from app.web import render_unchanging, safe_next

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "手机号或密码不正确。"


def _login_failed(response: Response) -> bool:
    # Only failed attempts count against the limits; a success answers 303.
    return request.method == "POST" and response.status_code != 303


def _refused(bound: str):  # type: ignore[no-untyped-def]
    """An attempt past a limit: 429. The account-wide bound is audited and told to the owner."""
    if bound == attempts.PER_ACCOUNT:
        accounts.note_lockout(request.form.get("phone"), client_address())
        db.session.commit()
    abort(429)


# Failed logins lock an account for one client quickly, and for everyone only at a much higher
# bound (app/auth/attempts.py, taken before the password is checked so that a burst cannot
# overshoot): one person guessing from afar cannot keep the district admin out.
@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"], deduct_when=_login_failed
)
def login():
    """Log in with a mobile number and password. Every kind of failure answers the same."""
    if request.method == "GET" and not request.args:  # the kept page builds no form (issue 14)
        return render_unchanging("auth/login.html", build=lambda: {"form": LoginForm(), "error": None})
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        if current_user.is_authenticated and safe_next(form.next.data):
            return redirect(safe_next(form.next.data), 303)
    if not form.validate_on_submit():
        return render_unchanging("auth/login.html", form=form, error=None), 422 if request.method == "POST" else 200
    try:
        user = attempts.attempt(form.phone.data, client_address(), lambda: accounts.authenticate(
            form.phone.data, form.password.data or "", client_address()))
    except attempts.Refused as refused:
        return _refused(refused.bound)
    db.session.commit()  # the login time, an upgraded hash, or the failure in the audit log
    if user is None:
        form.phone.errors = []
        form.password.data = ""
        return render_template("auth/login.html", form=form, error=_(LOGIN_FAILED)), 422
    session.clear()  # a new session for the new login (no fixation)
    login_user(user, remember=form.remember.data)
    session.permanent = True
    return redirect(safe_next(form.next.data) or url_for("main.index"), 303)


@bp.post("/logout")
@login_required
def logout():
    """End the session here and everywhere: the old cookies stop working."""
    current_user.end_sessions()
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("已退出登录。"), "info")
    return redirect(url_for("auth.login"), 303)


def _password_page(form: PasswordChangeForm, error: str | None = None):  # type: ignore[no-untyped-def]
    if error:
        form.current.errors.append(error)
    status = 422 if request.method == "POST" else 200
    return render_template("auth/password.html", form=form), status


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's password; every other session of the account ends, this one is kept."""
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        return _password_page(form)
    user = current_user._get_current_object()

    def step() -> None:
        accounts.change_password(user, form.current.data, form.new.data, ip=client_address())
        login_user(user)  # this device signs in again with the new session token

    return run_step(step, lambda error: _password_page(form, error), url_for("main.index"),
                    _("密码已修改，其他设备上的登录已失效。"))
