"""Forms of the points area: a rule version, a return to the inherited rule, a correction."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, TextAreaField
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from app.clock import local_today
from app.forms_choices import options
from app.models import CapPeriod
from app.services.points.lists import CORRECTION_REASON_MAX
from app.services.points.rules import CAP_MAX, POINTS_MAX, POINTS_MIN


class WholeNumberField(IntegerField):
    """An integer field whose "not a number" message is ours, in the visitor's language."""

    def process_formdata(self, valuelist: list) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as e:
            raise ValueError(str(_l("请填写整数"))) from e


class DayField(DateField):
    """A date field whose "not a date" message is ours, in the visitor's language."""

    def process_formdata(self, valuelist: list) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as e:
            raise ValueError(str(_l("请按“年-月-日”填写日期"))) from e


def _not_in_the_past(form: FlaskForm, field: DateField) -> None:
    if field.data is not None and field.data < local_today():
        raise ValidationError(_l("开始日期不能早于今天（规则调整从开始日期起生效，不改写已记的积分）"))


class RuleVersionForm(FlaskForm):
    points = WholeNumberField(
        _l("每次分值"),
        validators=[InputRequired(_l("请填写分值")),
                    NumberRange(POINTS_MIN, POINTS_MAX, _l("分值应在 -1000 到 1000 之间"))],
        render_kw={"inputmode": "numeric", "min": POINTS_MIN, "max": POINTS_MAX},
    )
    cap_period = SelectField(
        _l("封顶周期"), choices=options([("", _l("不封顶"))] + CapPeriod.choices()), validate_choice=False,
        filters=[lambda value: value or ""],
        validators=[AnyOf(["", *(p.value for p in CapPeriod)], message=_l("请选择封顶周期"))],
    )
    cap_points = WholeNumberField(
        _l("封顶分值"),
        validators=[Optional(), NumberRange(1, CAP_MAX, _l("封顶分值应为 1 到 100000 之间的整数"))],
        render_kw={"inputmode": "numeric", "min": 1, "max": CAP_MAX},
    )
    starts_on = DayField(_l("开始日期"), validators=[InputRequired(_l("请填写开始日期")), _not_in_the_past])

    def validate_cap_period(self, field: SelectField) -> None:
        # Here rather than on cap_points, whose Optional() stops its checks when it is empty.
        if (self.cap_points.data is None) != (not field.data) and not self.cap_points.errors:
            raise ValidationError(_l("封顶周期和封顶分值要同时填写，或同时留空"))

    def period(self) -> CapPeriod | None:
        return CapPeriod(self.cap_period.data) if self.cap_period.data else None


class RuleInheritForm(FlaskForm):
    starts_on = DayField(_l("从哪天起沿用上级规则"),
                          validators=[InputRequired(_l("请填写开始日期")), _not_in_the_past])


class CorrectionForm(FlaskForm):
    reason = TextAreaField(
        _l("更正原因"),
        validators=[DataRequired(_l("请填写更正原因")),
                    Length(max=CORRECTION_REASON_MAX, message=_l("最多 %(n)d 字", n=CORRECTION_REASON_MAX))],
        render_kw={"maxlength": CORRECTION_REASON_MAX, "rows": 3},
    )
