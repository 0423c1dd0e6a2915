"""Forms for logging in and managing one's password."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from app.services.passwords import MIN_LENGTH


class LoginForm(FlaskForm):
    phone = StringField(
        _l("手机号"),
        validators=[DataRequired(_l("请输入手机号"))],
        render_kw={"inputmode": "tel", "autocomplete": "username", "maxlength": 20},
    )
    password = PasswordField(
        _l("密码"),
        validators=[DataRequired(_l("请输入密码"))],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField(_l("在本机保持登录（14天）"))
    next = HiddenField()


class PasswordChangeForm(FlaskForm):
    current = PasswordField(
        _l("当前密码"),
        validators=[DataRequired(_l("请输入当前密码"))],
        render_kw={"autocomplete": "current-password"},
    )
    new = PasswordField(
        _l("新密码"),
        validators=[
            DataRequired(_l("请输入新密码")),
            Length(min=MIN_LENGTH, max=128, message=_l("密码至少 %(n)d 位", n=MIN_LENGTH)),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("再次输入新密码"),
        validators=[DataRequired(_l("请再次输入新密码")), EqualTo("new", _l("两次输入的新密码不一致"))],
        render_kw={"autocomplete": "new-password"},
    )
