"""Forms of the public-sentiment diary."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from app.activities.forms import ClientKeyField
from app.forms_choices import IdSelectField, db_id
from app.services.diary import MAX_TEXT


class DiaryEntryCreateForm(FlaskForm):
    resident_id = IdSelectField(_l("群众户"), coerce=db_id,
                              validators=[InputRequired(_l("请选择群众户"))])
    entry_date = DateField(_l("日期"), validators=[InputRequired(_l("请填写日期"))])
    text = TextAreaField(
        _l("听到了什么"),
        validators=[DataRequired(_l("请填写日记内容")),
                    Length(max=MAX_TEXT, message=_l("最多 %(n)d 字", n=MAX_TEXT))],
        render_kw={"maxlength": MAX_TEXT, "rows": 4},
    )
    client_key = ClientKeyField()
