"""Forms of the creation workflow."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from app.forms_choices import IdSelectField, db_id, options
from app.models import CRITERIA, NominationWay
from app.phones import normalize_phone
from app.services.nominations import CANDIDATE_CATEGORIES

REASON_KW = {"rows": 3, "maxlength": 1000}


def _category_choices() -> list:
    return options([("", _l("请选择"))] + [(c.value, c.label) for c in CANDIDATE_CATEGORIES])


class _ReasonsMixin:
    """One text per criterion; at least one is required (checked in ``validate``)."""

    reason_political = TextAreaField(CRITERIA[0][1], validators=[Length(max=1000)], render_kw=REASON_KW)
    reason_organising = TextAreaField(CRITERIA[1][1], validators=[Length(max=1000)], render_kw=REASON_KW)
    reason_service = TextAreaField(CRITERIA[2][1], validators=[Length(max=1000)], render_kw=REASON_KW)
    reason_prestige = TextAreaField(CRITERIA[3][1], validators=[Length(max=1000)], render_kw=REASON_KW)
    reason_role = TextAreaField(CRITERIA[4][1], validators=[Length(max=1000)], render_kw=REASON_KW)
    reason_prosperity = TextAreaField(CRITERIA[5][1], validators=[Length(max=1000)], render_kw=REASON_KW)

    @property
    def reason_fields(self) -> list:
        return [getattr(self, col) for col, _label in CRITERIA]

    def reasons(self) -> dict[str, str]:
        return {col: (getattr(self, col).data or "").strip() for col, _label in CRITERIA}

    def check_reasons(self) -> bool:
        if not any(self.reasons().values()):
            self.form_errors.append(_l("请至少对照一项标准填写推荐理由。"))  # type: ignore[attr-defined]
            return False
        return True


class NominationSelfForm(_ReasonsMixin, FlaskForm):
    category = SelectField(_l("人选类别"), choices=_category_choices,
                           validators=[DataRequired(_l("请选择人选类别"))])
    address = StringField(_l("中心户住址"), validators=[DataRequired(_l("请填写中心户住址")), Length(max=255)],
                          render_kw={"autocomplete": "street-address"})

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        ok = super().validate(extra_validators)
        return self.check_reasons() and ok


class NominationOpenForm(_ReasonsMixin, FlaskForm):
    way = RadioField(_l("推荐方式"), choices=lambda: options([(w.value, w.label) for w in (NominationWay.JOINT, NominationWay.ORGANISATION)]),
                     validators=[InputRequired(_l("请选择推荐方式"))], default=NominationWay.ORGANISATION.value)
    candidate = StringField(_l("候选党员（手机号或姓名）"),
                            validators=[DataRequired(_l("请填写候选党员的手机号或姓名")), Length(max=32)])
    category = SelectField(_l("人选类别"), choices=_category_choices,
                           validators=[DataRequired(_l("请选择人选类别"))])
    address = StringField(_l("中心户住址"), validators=[DataRequired(_l("请填写中心户住址")), Length(max=255)])
    nominator_members = TextAreaField(_l("联名推荐的党员姓名"), validators=[Length(max=1000)], render_kw={"rows": 2})
    nominator_residents = TextAreaField(_l("联名推荐的群众姓名"), validators=[Length(max=1000)], render_kw={"rows": 2})

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        ok = super().validate(extra_validators)
        if self.way.data == NominationWay.JOINT.value and not (
            (self.nominator_members.data or "").strip() or (self.nominator_residents.data or "").strip()
        ):
            self.nominator_members.errors.append(_l("联荐须填写联名推荐的党员、群众姓名"))
            ok = False
        return self.check_reasons() and ok


class ReviewForm(FlaskForm):
    decision = RadioField(_l("审批意见"), choices=lambda: options([("approve", _l("同意")), ("reject", _l("不同意"))]),
                          validators=[InputRequired(_l("请选择同意或不同意"))])
    comment = TextAreaField(_l("意见说明"), validators=[Length(max=1000)], render_kw={"rows": 2})

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        ok = super().validate(extra_validators)
        if self.decision.data == "reject" and not (self.comment.data or "").strip():
            self.comment.errors.append(_l("不同意时请填写理由"))
            ok = False
        return ok


class SignoffForm(FlaskForm):
    department = IdSelectField(_l("联审部门"), coerce=db_id, validators=[InputRequired(_l("请选择部门"))])
    decision = RadioField(_l("部门意见"), choices=lambda: options([("no_objection", _l("无异议")), ("objection", _l("有异议"))]),
                          validators=[InputRequired(_l("请选择无异议或有异议"))])
    note = TextAreaField(_l("说明"), validators=[Length(max=1000)], render_kw={"rows": 2})

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        ok = super().validate(extra_validators)
        if self.decision.data == "objection" and not (self.note.data or "").strip():
            self.note.errors.append(_l("有异议时请填写异议内容"))
            ok = False
        return ok


class EstablishForm(FlaskForm):
    """Only the CSRF token: establishing takes no input."""


class ObjectionForm(FlaskForm):
    phone = StringField(_l("联系电话"), validators=[DataRequired(_l("请填写联系电话"))],
                        render_kw={"inputmode": "tel", "autocomplete": "tel", "maxlength": 20})
    text = TextAreaField(_l("异议内容"), validators=[DataRequired(_l("请填写异议内容")),
                                                    Length(max=1000, message=_l("异议内容不超过1000字"))],
                         render_kw={"rows": 3, "maxlength": 1000})

    def validate_phone(self, field) -> None:  # type: ignore[no-untyped-def]
        if normalize_phone(field.data) is None:
            from wtforms.validators import ValidationError

            raise ValidationError(_l("请填写正确的11位手机号码"))


class ObjectionResolveForm(FlaskForm):
    outcome = RadioField(_l("核实结果"), choices=lambda: options([("dismissed", _l("异议不成立，继续公示")),
                                                       ("upheld", _l("异议成立，提名不通过"))]),
                         validators=[InputRequired(_l("请选择核实结果"))])
    resolution = TextAreaField(_l("核实处理情况"), validators=[DataRequired(_l("请填写核实处理情况")),
                                                            Length(max=1000)], render_kw={"rows": 2})


class TownshipSettingsForm(FlaskForm):
    notice_days = IntegerField(_l("公示天数"), validators=[
        InputRequired(_l("请填写公示天数")), NumberRange(1, 30, _l("公示天数应在 1 到 30 天之间"))])


class DepartmentAddForm(FlaskForm):
    name = StringField(_l("新增联审部门"), validators=[DataRequired(_l("请填写部门名称")), Length(max=32)])


class StatusFilterForm(FlaskForm):
    class Meta:
        csrf = False

    status = SelectField(_l("状态"), validators=[Optional()])
