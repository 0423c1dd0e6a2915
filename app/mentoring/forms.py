"""Forms of mentoring (a guidance contact) and of posts (a post, giving a member a post)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from app.forms_choices import options
from app.models import ActivityKind, GuidanceWay
from app.services.mentoring import MAX_TEXT
from app.services.posts import MAX_DUTY, MAX_NAME


def _int_or_zero(value: object) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0


class GuidanceContactForm(FlaskForm):
    contact_date = DateField(_l("帮带日期"), validators=[InputRequired(_l("请填写帮带日期"))])
    way = SelectField(_l("帮带方式"), choices=lambda: options(GuidanceWay.choices()),
                      validators=[InputRequired(_l("请选择帮带方式"))])
    discussed = TextAreaField(_l("指导了什么"), validators=[
        DataRequired(_l("请填写帮带内容")), Length(max=MAX_TEXT, message=_l("不超过%(n)d字", n=MAX_TEXT))],
        render_kw={"rows": 4, "maxlength": MAX_TEXT})
    follow_up = TextAreaField(_l("后续跟进"), validators=[
        Length(max=MAX_TEXT, message=_l("不超过%(n)d字", n=MAX_TEXT))],
        render_kw={"rows": 2, "maxlength": MAX_TEXT})


def _kind_choices() -> list:
    return options([("", _l("不关联（不计岗位工作）"))] + ActivityKind.choices())


class PostTypeEditForm(FlaskForm):
    name = StringField(_l("岗位名称"), validators=[
        DataRequired(_l("请填写岗位名称")), Length(max=MAX_NAME, message=_l("不超过%(n)d字", n=MAX_NAME))],
        render_kw={"maxlength": MAX_NAME})
    duty = TextAreaField(_l("岗位职责"), validators=[Length(max=MAX_DUTY, message=_l("不超过%(n)d字", n=MAX_DUTY))],
                         render_kw={"rows": 2, "maxlength": MAX_DUTY})
    activity_kind = SelectField(_l("计入岗位工作的服务类型"), choices=_kind_choices)


class PostTypeAddForm(PostTypeEditForm):
    node_id = SelectField(_l("所属组织"), coerce=_int_or_zero, validators=[InputRequired(_l("请选择组织"))])


class PostAssignForm(FlaskForm):
    # Any id is taken: the service says why a post does not fit (another branch, stopped).
    post_type_id = SelectField(_l("岗位"), coerce=_int_or_zero, validate_choice=False)
    duty = TextAreaField(_l("岗位职责（不填则用岗位的职责）"),
                         validators=[Length(max=MAX_DUTY, message=_l("不超过%(n)d字", n=MAX_DUTY))],
                         render_kw={"rows": 2, "maxlength": MAX_DUTY})
