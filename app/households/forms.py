"""Forms for managing established households and the 1+10+15 links."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange
from wtforms.widgets import CheckboxInput, ListWidget

from app.forms_choices import IdMultipleField, IdSelectField, bounded_id, db_id, options
from app.models import AdjustmentOutcome, Duty
from app.services.model_titles import FIRST_YEAR, MAX_REASON


class MultiCheckboxField(IdMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class HouseholdProfileForm(FlaskForm):
    duties = MultiCheckboxField(_l("职责（七员）"), choices=lambda: options(Duty.choices()), validate_choice=True)
    type_id = IdSelectField(_l("类型"), coerce=db_id)


class ModelTitleGrantForm(FlaskForm):
    year = IntegerField(_l("年度"), validators=[InputRequired(_l("请填写年度")),
                                               NumberRange(min=FIRST_YEAR, max=9999, message=_l("请填写有效的年度"))])


class ModelTitleRevokeForm(FlaskForm):
    reason = TextAreaField(_l("撤销理由"), validators=[
        DataRequired(_l("请填写撤销理由")), Length(max=MAX_REASON, message=_l("不超过%(n)d字", n=MAX_REASON))],
        render_kw={"rows": 2, "maxlength": MAX_REASON})


class MentorForm(FlaskForm):
    mentor_id = IdSelectField(_l("帮带书记"), coerce=db_id)


class MemberLinkForm(FlaskForm):
    member = StringField(_l("联系党员（手机号或姓名）"),
                         validators=[DataRequired(_l("请填写党员的手机号或姓名")), Length(max=32)])


class BulkLinkForm(FlaskForm):
    member_ids = MultiCheckboxField(_l("本社区未联系中心户的党员"), coerce=db_id,
                                    validators=[DataRequired(_l("请至少勾选一名党员"))])


class AdjustmentOpenForm(FlaskForm):
    reason = TextAreaField(_l("调整理由"), validators=[DataRequired(_l("请填写调整理由")), Length(max=1000)],
                           render_kw={"rows": 3})


class AdjustmentReviewForm(FlaskForm):
    decision = RadioField(_l("审查意见"), choices=lambda: options([("approve", _l("同意调整，报乡镇决定")),
                                                        ("reject", _l("不需调整，保留"))]),
                          validators=[InputRequired(_l("请选择审查意见"))])
    comment = TextAreaField(_l("意见说明"), validators=[DataRequired(_l("请填写审查意见")), Length(max=1000)],
                            render_kw={"rows": 2})


class AdjustmentDecideForm(FlaskForm):
    outcome = RadioField(_l("决定"), choices=lambda: options(AdjustmentOutcome.choices()),
                         validators=[InputRequired(_l("请选择决定"))])
    new_head_id = IdSelectField(_l("新户主（更换户主时）"), coerce=db_id)
    comment = TextAreaField(_l("决定意见"), validators=[DataRequired(_l("请填写决定意见")), Length(max=1000)],
                            render_kw={"rows": 2})

    def validate_new_head_id(self, field) -> None:  # type: ignore[no-untyped-def]
        from wtforms.validators import ValidationError

        if self.outcome.data == AdjustmentOutcome.NEW_HEAD.value and not field.data:
            raise ValidationError(_l("更换户主时请选择新户主"))


class ResidentAssignForm(FlaskForm):
    resident_ids = MultiCheckboxField(_l("群众户"), coerce=db_id, validate_choice=False,
                                      validators=[DataRequired(_l("请至少勾选一户"))])
    member_id = IdSelectField(_l("联系党员"), coerce=db_id, validators=[InputRequired(_l("请选择联系党员"))])


class GapApplyForm(FlaskForm):
    kind = SelectField(choices=lambda: options([("cover", "cover"), ("link", "link")]))
    target = IntegerField(validators=[InputRequired(), bounded_id(_l("编号无效，请重新选择。"))])
    # The suggested ids arrive as repeated hidden "ids" inputs, read with request.form.getlist.


class TypeAddForm(FlaskForm):
    name = StringField(_l("新类型名称"), validators=[DataRequired(_l("请填写类型名称")),
                                                    Length(max=32, message=_l("不超过32个字"))])
