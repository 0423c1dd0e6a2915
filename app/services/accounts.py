"""Accounts: logging in, changing one's password, and the initial password an admin hands out.

Each function is one user action; the caller's step commits it. Sessions are ended by rotating the
user's session token (``User.end_sessions``), which every cookie issued so far carries.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from app.clock import utcnow
from app.extensions import db
from app.models import Member, Notification, Role, User
from app.phones import mask_phone, normalize_phone
from app.services.errors import Refused
from app.services.notify import notify
from app.services.passwords import hash_password, needs_rehash, verify_password
from app.services.privacy import audit

# No 0/O, 1/l/I: the password is read out or copied by hand from the admin's screen.
_PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class AccountError(Refused):
    """A password change the rules do not allow; the message is for the person asking."""


def authenticate(phone: str | None, password: str, ip: str = "") -> User | None:
    """The active user with this mobile number and password, else None (every failure alike).

    A successful login upgrades an outdated password hash and records the time; a failed one is
    written to the audit log (the number masked), so an admin can see who is being tried.
    """
    number = normalize_phone(phone)
    user = db.session.scalar(sa.select(User).where(User.phone == number)) if number else None
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        audit(None, "login.failed", "user", user.id if user else None, detail=mask_phone(number), ip=ip)
        return None
    if needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def change_password(user: User, current: str, new: str, ip: str = "") -> None:
    """Replace the user's password after checking the current one; every session ends."""
    if not verify_password(user.password_hash, current):
        raise AccountError(_("当前密码不正确"))
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    user.end_sessions()
    audit(user.id, "password.change", "user", user.id, ip=ip)


def set_initial_password(actor: User, member: Member, ip: str = "", length: int = 10) -> str:
    """Give ``member``'s account a random password (shown once) and end its sessions; audited.

    Accounts holding an admin role are refused: an org admin must not take over another admin's
    account (possibly one with a wider scope) through this button.
    """
    user = member.user
    if any(r.role in (Role.ORG_ADMIN, Role.STATION_ADMIN) for r in user.roles):
        raise AccountError(_("该账号是管理员账号，不能在这里设置密码。"))
    password = "".join(secrets.choice(_PASSWORD_ALPHABET) for _i in range(length))
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.end_sessions()
    audit(actor.id, "password.initial", "user", member.user_id, detail=f"member {member.id}", ip=ip)
    return password


def note_lockout(phone: str | None, ip: str = "") -> None:
    """An account has met the bound on failed logins from all addresses: audit it and tell its
    owner (once an hour), who may be the target of someone guessing."""
    number = normalize_phone(phone)
    user = db.session.scalar(sa.select(User).where(User.phone == number)) if number else None
    audit(None, "login.locked", "user", user.id if user else None, detail=mask_phone(number), ip=ip)
    if user is None:
        return
    recent = db.session.scalar(sa.select(Notification.id).where(
        Notification.user_id == user.id, Notification.kind == "login-locked",
        Notification.created_at > utcnow() - timedelta(hours=1)).limit(1))
    if recent is None:
        notify(user.id, _("您的账号登录失败次数过多"),
               _("有人多次用错误的密码登录您的账号，已暂时停止登录。如果不是您本人，请联系管理员。"),
               kind="login-locked")
