"""Forms of the structure pages: the roster upload and its confirmation."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Regexp

from app.services.importer import SPECS

TOKEN_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"


class RosterUploadForm(FlaskForm):
    kind = SelectField(
        _l("名册类型"),
        choices=[SelectChoice(k, s.label) for k, s in SPECS.items()],
        validators=[DataRequired(message=_l("请选择名册类型"))],
    )
    file = FileField(
        _l("名册文件（.xlsx 或 .csv）"),
        validators=[FileRequired(message=_l("请选择要上传的文件"))],
    )


class RosterConfirmForm(FlaskForm):
    kind = HiddenField(validators=[DataRequired()])
    token = HiddenField(validators=[DataRequired(), Regexp(TOKEN_PATTERN)])
