"""The visit-period setting form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import InputRequired

from app.activities.forms import select_choices
from app.forms_choices import IdSelectField, db_id
from app.models import VISIT_PERIOD_MONTHS


class VisitPolicyEditForm(FlaskForm):
    node_id = IdSelectField(_l("组织"), coerce=db_id, validators=[InputRequired(_l("请选择组织"))])
    months = SelectField(
        _l("走访周期"),
        coerce=int,
        choices=select_choices([(m, _l("%(n)d 个月", n=m)) for m in VISIT_PERIOD_MONTHS]),
        validators=[InputRequired(_l("请选择走访周期"))],
    )
