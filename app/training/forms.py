"""Forms for training: planning a session, marking attendance, completing one, the list filter."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    DateField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from app.clock import TZ, local_naive
from app.forms_choices import LongSelect, choice_id, options
from app.models import (
    REFLECTION_MAX,
    AttendanceMarkKind,
    TrainingKind,
    TrainingMode,
    TrainingSession,
)
from app.services.training import ACTIVE, SessionInput, SessionState

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


class SessionPlanForm(FlaskForm):
    title = StringField(
        _l("培训名称"),
        validators=[DataRequired(_l("请填写培训名称")), Length(max=64, message=_l("培训名称最多 64 个字"))],
        render_kw={"maxlength": 64, "autocomplete": "off"},
    )
    kind = SelectField(_l("培训类型"), choices=options(TrainingKind.choices()),
                       default=TrainingKind.CONCENTRATED.value)
    org_node_id = SelectField(_l("面向组织"), coerce=choice_id, validate_choice=False,
                              validators=[InputRequired(_l("请选择面向的组织"))])
    description = TextAreaField(
        _l("培训内容"), validators=[Length(max=1000, message=_l("培训内容最多 1000 字"))],
        render_kw={"maxlength": 1000, "rows": 3},
    )
    starts_at = DateTimeLocalField(_l("开始时间"), format=DATETIME_FORMATS,
                                   validators=[InputRequired(_l("请填写开始时间（年-月-日 时:分）"))])
    ends_at = DateTimeLocalField(_l("结束时间"), format=DATETIME_FORMATS,
                                 validators=[InputRequired(_l("请填写结束时间（年-月-日 时:分）"))])
    duration_minutes = IntegerField(
        _l("计入学时（分钟）"), default=120,
        validators=[InputRequired(_l("请填写计入学时")),
                    NumberRange(1, 1440, _l("计入学时应在 1 到 1440 分钟之间"))],
        render_kw={"inputmode": "numeric", "min": 1, "max": 1440},
    )
    mode = RadioField(_l("方式"), choices=options(TrainingMode.choices()), default=TrainingMode.OFFLINE.value,
                      validators=[InputRequired(_l("请选择线下或线上"))])
    station_id = SelectField(_l("驿站（线下）"), coerce=choice_id, validate_choice=False)
    link_url = StringField(
        _l("学习链接（线上）"), validators=[Length(max=500, message=_l("网址最多 500 个字符"))],
        render_kw={"maxlength": 500, "inputmode": "url", "placeholder": "https://", "autocomplete": "off"},
    )
    document = FileField(_l("或上传 PDF 材料（线上，10 MB 以内）"), render_kw={"accept": "application/pdf,.pdf"})

    def validate_ends_at(self, field: DateTimeLocalField) -> None:
        if self.starts_at.data and field.data and field.data <= self.starts_at.data:
            raise ValidationError(_l("结束时间必须晚于开始时间"))

    def validate_station_id(self, field: SelectField) -> None:
        if self.mode.data == TrainingMode.OFFLINE.value and field.data is None:
            raise ValidationError(_l("线下培训请选择驿站"))

    def upload(self) -> object | None:
        """The chosen PDF, or None when the field was left empty."""
        data = self.document.data
        return data if data is not None and getattr(data, "filename", "") else None

    def to_input(self) -> SessionInput:
        """The form as plain values; the wall-clock times typed are Asia/Shanghai."""
        return SessionInput(
            title=self.title.data or "",
            kind=self.kind.data or "",
            org_node_id=self.org_node_id.data if self.org_node_id else None,
            description=self.description.data or "",
            starts_at=self.starts_at.data.replace(tzinfo=TZ) if self.starts_at.data else None,
            ends_at=self.ends_at.data.replace(tzinfo=TZ) if self.ends_at.data else None,
            duration_minutes=self.duration_minutes.data,
            mode=self.mode.data or "",
            station_id=self.station_id.data if self.mode.data == TrainingMode.OFFLINE.value else None,
            link_url=self.link_url.data or "",
        )


class SessionEditForm(SessionPlanForm):
    """Changing a planned session: the same fields but its organisation and its mode, which stay
    (the mode is set by the view from the session, whatever the request says)."""

    org_node_id = None
    mode = HiddenField()

    @staticmethod
    def filled_from(session: TrainingSession) -> dict:
        """The session's details as the form's starting values (Shanghai wall-clock times)."""
        return {
            "title": session.title, "kind": session.kind.value, "description": session.description,
            "starts_at": local_naive(session.starts_at), "ends_at": local_naive(session.ends_at),
            "duration_minutes": session.duration_minutes, "link_url": session.link_url,
            "station_id": session.station_event.station_id if session.station_event else None,
        }


class MarkForm(FlaskForm):
    member_id = SelectField(_l("党员"), coerce=choice_id, validate_choice=False, widget=LongSelect(),
                            validators=[InputRequired(_l("请选择党员"))])
    kind = RadioField(_l("标记"), choices=options(AttendanceMarkKind.choices()),
                      default=AttendanceMarkKind.LATE.value, validators=[InputRequired(_l("请选择迟到或早退"))])
    note = StringField(_l("备注"), validators=[Length(max=255, message=_l("备注最多 255 字"))],
                       render_kw={"maxlength": 255, "autocomplete": "off", "placeholder": _l("如：迟到20分钟")})


class CompleteForm(FlaskForm):
    # Checked by the service (which says how long it is): a longer text is refused with a
    # message and kept, never cut off by the browser.
    reflection = TextAreaField(_l("学习心得（选填，%(n)d 字以内）", n=REFLECTION_MAX), render_kw={"rows": 4})


class SessionFilterForm(FlaskForm):
    """Read from the query string: a GET form, no CSRF token."""

    class Meta:
        csrf = False

    date_from = DateField(_l("开始日期"), validators=[Optional()])
    date_to = DateField(_l("结束日期"), validators=[Optional()])
    kind = SelectField(_l("类型"), choices=options([("", _l("全部类型")), *TrainingKind.choices()]),
                       validators=[Optional()])
    mode = SelectField(_l("方式"), choices=options([("", _l("全部方式")), *TrainingMode.choices()]),
                       validators=[Optional()])
    state = SelectField(_l("状态"), choices=options([("", _l("全部状态")), (ACTIVE, _l("未取消")),
                                                    *SessionState.choices()]), validators=[Optional()])

    def validate_date_to(self, field: DateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("结束日期不能早于开始日期"))
