"""The 签到 form: a station and the six digits its kiosk shows under the QR."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import InputRequired, ValidationError

from app.forms_choices import choice_id, options
from app.models import Station
from app.services.checkin_tokens import normalize_code


class CheckinCodeForm(FlaskForm):
    station_id = SelectField(_l("驿站"), coerce=choice_id, validate_choice=False,
                             validators=[InputRequired(_l("请选择驿站"))])
    code = StringField(
        _l("签到码"),
        validators=[InputRequired(_l("请输入签到码"))],
        # Digits keypad on phones; up to 12 characters so "123 456" or full-width digits still fit.
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 12,
                   "class": "code-input", "placeholder": "000000"},
    )

    def set_stations(self, stations: list[tuple[Station, bool]]) -> None:
        """The member's stations first (grouped as 我的驿站), then the others of the township."""
        mine, other = _l("我的驿站"), _l("本镇（街道）其他驿站")
        self.station_id.choices = options([])
        for station, own in stations:
            self.station_id.choices.append(options([(station.id, station.name)])[0])
            self.station_id.choices[-1].optgroup = mine if own else other  # type: ignore[attr-defined]

    def validate_station_id(self, field: SelectField) -> None:
        if field.data is None or not 0 < field.data < 2**31:  # an id the database can hold
            raise ValidationError(_l("请选择驿站"))

    def validate_code(self, field: StringField) -> None:
        normalised = normalize_code(field.data)
        if normalised is None:
            raise ValidationError(_l("请输入签到屏二维码下方的 6 位数字"))
        field.data = normalised
