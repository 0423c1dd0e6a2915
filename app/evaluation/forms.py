"""Forms of the evaluation area: outcomes and their withdrawal, the weights, the campaign."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from app.forms_choices import choice_id, options
from app.models import CandidacyDecision, EvaluationFactor, OutcomeKind
from app.services.evaluation.campaigns import CRITERIA_MAX, STATEMENT_MAX, TITLE_MAX
from app.services.evaluation.outcomes import REASON_MAX
from app.services.evaluation.sheet import FIRST_YEAR, WEIGHT_MAX, WEIGHT_MIN


class WholeNumberField(IntegerField):
    """An integer field whose "not a number" message is the product's own (Chinese) sentence."""

    def __init__(self, *args, invalid: object = _l("请填写整数"), **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.invalid = invalid

    def process_formdata(self, valuelist: list) -> None:
        if not valuelist or valuelist[0] in ("", None):
            self.data = None
            return
        try:
            self.data = int(str(valuelist[0]).strip().replace("−", "-"))
        except ValueError:
            self.data = None
            raise ValueError(str(self.invalid)) from None


def one_of_the_choices(message: object):  # type: ignore[no-untyped-def]
    """A validator: the value is one of the field's choices (a forged value gets ``message``,
    in Chinese, rather than WTForms' own sentence)."""

    def check(form: FlaskForm, field) -> None:  # type: ignore[no-untyped-def]
        if field.data not in {c[0] if isinstance(c, tuple) else c.value for c in field.choices or []}:
            raise ValidationError(str(message))

    return check


def _reason(label: object, empty: object) -> TextAreaField:
    return TextAreaField(label, validators=[DataRequired(empty), Length(max=REASON_MAX, message=_l(
        "不能超过 %(n)d 个字", n=REASON_MAX))], render_kw={"maxlength": REASON_MAX, "rows": 3})


class OutcomeRecordForm(FlaskForm):
    kind = RadioField(_l("评定结果"), validate_choice=False, validators=[
        InputRequired(_l("请选择评定结果")), one_of_the_choices(_l("请选择评定结果"))])
    reason = _reason(_l("理由"), _l("请填写评定理由"))

    def for_kinds(self, kinds: tuple[OutcomeKind, ...]) -> OutcomeRecordForm:
        self.kind.choices = options((k.value, k.label) for k in kinds)
        return self


class OutcomeWithdrawForm(FlaskForm):
    reason = _reason(_l("撤回理由"), _l("请填写撤回理由"))


def _weight(factor: EvaluationFactor) -> WholeNumberField:
    return WholeNumberField(factor.labels()[factor], validators=[
        InputRequired(_l("请填写权重（整数）")),
        NumberRange(WEIGHT_MIN, WEIGHT_MAX, _l("权重须在 −100 到 100 之间"))],
        render_kw={"inputmode": "numeric", "maxlength": 5})


class WeightsForm(FlaskForm):
    points = _weight(EvaluationFactor.POINTS)
    activities = _weight(EvaluationFactor.ACTIVITIES)
    visit_coverage = _weight(EvaluationFactor.VISIT_COVERAGE)
    needs_rates = _weight(EvaluationFactor.NEEDS_RATES)
    training_hours = _weight(EvaluationFactor.TRAINING_HOURS)
    mentoring = _weight(EvaluationFactor.MENTORING)
    complaints = _weight(EvaluationFactor.COMPLAINTS)

    def fields_by_factor(self) -> list:
        return [self[f.value] for f in EvaluationFactor]

    def values(self) -> dict[EvaluationFactor, int]:
        return {f: self[f.value].data for f in EvaluationFactor}


class CampaignCreateForm(FlaskForm):
    node_id = SelectField(_l("组织"), coerce=choice_id, validate_choice=False, validators=[
        InputRequired(_l("请选择组织")), one_of_the_choices(_l("请选择您管辖的组织"))])
    year = WholeNumberField(_l("年度"), validators=[
        InputRequired(_l("请填写年度")), NumberRange(FIRST_YEAR, 2100, _l("年度不正确"))],
        render_kw={"inputmode": "numeric", "maxlength": 4})
    title = StringField(_l("活动名称"), validators=[
        DataRequired(_l("请填写活动名称")), Length(max=TITLE_MAX, message=_l("不能超过 %(n)d 个字", n=TITLE_MAX))],
        render_kw={"maxlength": TITLE_MAX})
    criteria = TextAreaField(_l("评选标准"), validators=[
        DataRequired(_l("请填写评选标准")),
        Length(max=CRITERIA_MAX, message=_l("不能超过 %(n)d 个字", n=CRITERIA_MAX))],
        render_kw={"maxlength": CRITERIA_MAX, "rows": 6})


class CampaignApplyForm(FlaskForm):
    statement = TextAreaField(_l("申报理由"), validators=[
        DataRequired(_l("请填写申报理由")),
        Length(max=STATEMENT_MAX, message=_l("不能超过 %(n)d 个字", n=STATEMENT_MAX))],
        render_kw={"maxlength": STATEMENT_MAX, "rows": 4})


class CampaignProposeForm(FlaskForm):
    household_id = SelectField(_l("推荐中心户"), coerce=choice_id, validate_choice=False, validators=[
        InputRequired(_l("请选择中心户")), one_of_the_choices(_l("请选择本活动范围内的中心户"))])
    statement = TextAreaField(_l("推荐理由（选填）"), validators=[
        Optional(), Length(max=STATEMENT_MAX, message=_l("不能超过 %(n)d 个字", n=STATEMENT_MAX))],
        render_kw={"maxlength": STATEMENT_MAX, "rows": 2})


class CandidateDecideForm(FlaskForm):
    decision = RadioField(_l("评定"), choices=options(CandidacyDecision.choices()), validate_choice=False,
                          validators=[InputRequired(_l("请选择评定结果")), one_of_the_choices(_l("请选择评定结果"))])
    reason = _reason(_l("理由"), _l("请填写评定理由"))
