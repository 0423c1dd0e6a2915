"""Residents' own accounts: a resident registers with their phone to see all their needs."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from app.extensions import db
from app.models import Need, Role, RoleAssignment, User
from app.phones import normalize_phone, phone_refusal
from app.services.errors import Refused
from app.services.needs import normalize_code
from app.services.passwords import hash_password


def register(phone: str, code: str, name: str, password: str) -> User:
    """Open a resident account. The code of one need filed with that phone proves the number is
    theirs (we cannot send a verification text); a phone with an account is refused."""
    phone_ = normalize_phone(phone)
    if phone_ is None:  # never compared as NULL: an erased need's phone is one
        raise Refused(phone_refusal(phone))
    owns = db.session.scalar(sa.select(Need.id).where(Need.code == normalize_code(code), Need.contact_phone == phone_))
    if owns is None:
        raise Refused(_("查询码与手机号不匹配。"))
    if db.session.scalar(sa.select(User.id).where(User.phone == phone_)) is not None:
        raise Refused(_("该手机号已有账号，请直接登录。"))
    user = User(phone=phone_, name=name.strip(), password_hash=hash_password(password))
    user.roles.append(RoleAssignment(role=Role.RESIDENT))
    db.session.add(user)
    return user
