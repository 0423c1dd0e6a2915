"""Logging in and out, and changing one's password."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
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

from app.auth.forms import LoginForm, PasswordChangeForm
from app.extensions import db, limiter
from app.models import User
from app.phones import normalize_phone
from app.services.passwords import hash_password, needs_rehash, verify_password
from app.services.privacy import audit

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "手机号或密码不正确。"


def safe_next(target: str | None) -> str | None:
    """Only same-site paths may be redirected to after login (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def _login_failed(response: Response) -> bool:
    # Only failed attempts count against the limits; a success answers 303.
    return request.method == "POST" and response.status_code != 303


def _account_key() -> str:
    return "login-account:" + (normalize_phone(request.form.get("phone")) or "invalid")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"], deduct_when=_login_failed
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_login_failed,
)
def login():
    """Log in with a mobile number and password. Every kind of failure answers the same."""
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        if current_user.is_authenticated and safe_next(form.next.data):
            return redirect(safe_next(form.next.data), 303)
    if form.validate_on_submit():
        phone = normalize_phone(form.phone.data)
        user = db.session.scalar(sa.select(User).where(User.phone == phone)) if phone else None
        ok = verify_password(user.password_hash if user else None, form.password.data or "")
        if user is not None and ok and user.is_active:
            if needs_rehash(user.password_hash or ""):
                user.password_hash = hash_password(form.password.data)
            user.last_login_at = datetime.now(UTC)
            session.clear()
            login_user(user, remember=form.remember.data)
            session.permanent = True
            db.session.commit()
            return redirect(safe_next(form.next.data) or url_for("main.index"), 303)
        form.phone.errors = []
        form.password.data = ""
        return render_template("auth/login.html", form=form, error=_(LOGIN_FAILED)), 422
    status = 422 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form, error=None), status


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


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's password; every other session of the account ends."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        if not verify_password(current_user.password_hash, form.current.data):
            form.current.errors.append(_("当前密码不正确"))
        else:
            current_user.password_hash = hash_password(form.new.data)
            current_user.password_changed_at = datetime.now(UTC)
            current_user.end_sessions()
            audit(current_user.id, "password.change", "user", current_user.id, ip=request.remote_addr or "")
            db.session.commit()
            # Keep this device signed in with the new token.
            login_user(current_user._get_current_object())
            flash(_("密码已修改，其他设备上的登录已失效。"), "success")
            return redirect(url_for("main.index"), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("auth/password.html", form=form), status
