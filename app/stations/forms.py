"""Forms for stations: the station itself, its admins, its events, manual check-in, the ledger filter."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from app.forms_choices import IdSelectField, bounded_id, db_id, options
from app.models import CheckinMethod, CheckinMode, StationEventKind, StationKind


class StationEditForm(FlaskForm):
    name = StringField(_l("驿站名称"), validators=[DataRequired(_l("请填写驿站名称")), Length(max=64)])
    kind = SelectField(_l("类型"), choices=options(StationKind.choices()), validators=[DataRequired()])
    org_node_id = IdSelectField(_l("所属组织"), coerce=db_id, validators=[InputRequired(_l("请选择所属组织"))])
    address = StringField(_l("地址"), validators=[Optional(), Length(max=255)])
    checkin_mode = RadioField(_l("签到方式"), choices=options(CheckinMode.choices()), default=CheckinMode.KIOSK.value)
    opening_hours = StringField(
        _l("开放时间"), validators=[Optional(), Length(max=64)],
        render_kw={"placeholder": "周一至周五 08:30-17:30"},
    )
    active = BooleanField(_l("启用"), default=True)


class StationAdminAddForm(FlaskForm):
    phone = StringField(
        _l("管理员手机号"), validators=[DataRequired(_l("请输入手机号"))],
        render_kw={"inputmode": "tel", "maxlength": 20},
    )


class EventEditForm(FlaskForm):
    title = StringField(_l("活动名称"), validators=[DataRequired(_l("请填写活动名称")), Length(max=64)])
    kind = SelectField(_l("类型"), choices=options(StationEventKind.choices()), default=StationEventKind.THEME_DAY.value)
    starts_at = DateTimeLocalField(
        _l("开始时间"), format="%Y-%m-%dT%H:%M",
        validators=[DataRequired(_l("请填写开始时间（年-月-日 时:分）"))],
    )
    ends_at = DateTimeLocalField(
        _l("结束时间"), format="%Y-%m-%dT%H:%M",
        validators=[DataRequired(_l("请填写结束时间（年-月-日 时:分）"))],
    )

    def validate_ends_at(self, field: DateTimeLocalField) -> None:
        if self.starts_at.data and field.data and field.data <= self.starts_at.data:
            raise ValidationError(_l("结束时间必须晚于开始时间"))


class ManualCheckinForm(FlaskForm):
    member_id = IntegerField(validators=[InputRequired(_l("请选择党员")), bounded_id(_l("请选择党员"))])
    q = HiddenField()


class LedgerFilterForm(FlaskForm):
    """Read from the query string: a GET form, no CSRF token."""

    class Meta:
        csrf = False

    start = DateField(_l("开始日期"), validators=[Optional()])
    end = DateField(_l("结束日期"), validators=[Optional()])
    method = SelectField(
        _l("签到方式"), choices=options([("", _l("全部")), *CheckinMethod.choices()]), validators=[Optional()]
    )
    event = SelectField(_l("活动"), coerce=str, validators=[Optional()])

    def validate_end(self, field: DateField) -> None:
        if self.start.data and field.data and field.data < self.start.data:
            raise ValidationError(_l("结束日期不能早于开始日期"))
