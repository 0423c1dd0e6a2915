"""Forms for recording, editing, verifying and filtering activities."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from app.clock import TZ, local_minute, local_naive
from app.forms_choices import IdMultipleField, IdSelectField, LongSelect, db_id, db_id_or_none
from app.models import MAX_DURATION_MINUTES, Activity, ActivityKind, VerifyState
from app.services.activities import ActivityInput
from app.services.client_keys import normalize_key


def select_choices(pairs: object) -> list[SelectChoice]:
    """WTForms 3.3 wants SelectChoice objects rather than (value, label) tuples."""
    return [SelectChoice(value, label) for value, label in pairs]  # type: ignore[attr-defined]


class ClientKeyField(HiddenField):
    """The key the phone's outbox script puts in a record (crypto.randomUUID()): sent twice, the
    record is stored once. Empty without JavaScript; anything but a UUID is refused."""

    def pre_validate(self, form: object) -> None:
        if self.data:
            key = normalize_key(self.data)
            if key is None:
                raise ValidationError(_l("页面已过期，请刷新后重新填写。"))
            self.data = key
        else:
            self.data = None


class ActivityRecordForm(FlaskForm):
    kind = RadioField(
        _l("服务类型"),
        choices=select_choices(ActivityKind.choices()),
        default=ActivityKind.VISIT.value,
        validators=[InputRequired(_l("请选择服务类型"))],
    )
    started_at = DateTimeLocalField(
        _l("时间"),
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        default=local_minute,
        validators=[InputRequired(_l("请填写时间"))],
    )
    duration_minutes = IntegerField(
        _l("时长（分钟）"),
        default=30,
        validators=[
            InputRequired(_l("请填写时长")),
            NumberRange(1, MAX_DURATION_MINUTES, _l("时长应在 1 到 1440 分钟之间")),
        ],
        render_kw={"inputmode": "numeric", "min": 1, "max": MAX_DURATION_MINUTES},
    )
    station_id = IdSelectField(_l("地点"), coerce=db_id_or_none, validate_choice=False)
    address = StringField(
        _l("地址（不在驿站时填写）"),
        validators=[Length(max=255, message=_l("地址最多 255 个字"))],
        render_kw={"maxlength": 255, "autocomplete": "off"},
    )
    resident_q = StringField(_l("查找联系户"), render_kw={"type": "search", "autocomplete": "off"})
    # Choices are checked by the service against the member's own households and community.
    residents = IdMultipleField(_l("服务的群众户"), coerce=db_id, validate_choice=False)
    member_q = StringField(_l("按姓名查找同行党员"), render_kw={"type": "search", "autocomplete": "off"})
    fellows = IdMultipleField(_l("同行党员"), coerce=db_id, validate_choice=False)
    note = TextAreaField(
        _l("做了什么"),
        validators=[Length(max=1000, message=_l("最多 1000 字"))],
        render_kw={"maxlength": 1000, "rows": 3},
    )
    photos = MultipleFileField(
        _l("照片（最多 6 张）"),
        render_kw={"accept": "image/*", "capture": "environment", "multiple": True},
    )
    on_behalf = BooleanField(_l("代表中心户记录"))
    client_key = ClientKeyField()

    def to_input(self) -> ActivityInput:
        started = self.started_at.data.replace(tzinfo=TZ)
        return ActivityInput(
            kind=ActivityKind(self.kind.data),
            started_at=started,
            duration_minutes=self.duration_minutes.data,
            station_id=self.station_id.data,
            address=self.address.data or "",
            note=self.note.data or "",
            resident_ids=list(self.residents.data or []),
            fellow_ids=list(self.fellows.data or []),
            on_behalf=bool(self.on_behalf.data),
        )

    def validate_address(self, field: StringField) -> None:
        if self.station_id.data is None and not (field.data or "").strip():
            raise ValidationError(_l("请选择驿站或填写地址"))

    def preset(self, kind: str | None, resident_id: int | None) -> None:
        """A fresh form opened from a household's "record a visit" link: its kind and household."""
        if kind in {k.value for k in ActivityKind}:
            self.kind.data = kind
        self.residents.data = [resident_id] if resident_id else []

    def uploads(self) -> list:
        """The files chosen in the photo field (empty inputs included; the service skips them)."""
        return list(self.photos.data or [])


class ActivityEditForm(ActivityRecordForm):
    remove_photos = IdMultipleField(_l("删除照片"), coerce=db_id, validate_choice=False)

    def fill(self, activity: Activity) -> None:
        """The form opened on an activity: what it says now."""
        self.kind.data = activity.kind.value
        self.started_at.data = local_naive(activity.started_at)
        self.duration_minutes.data = activity.duration_minutes
        self.station_id.data = activity.station_id
        self.address.data = activity.address
        self.note.data = activity.note
        self.residents.data = [r.id for r in activity.residents]
        self.fellows.data = [m.id for m in activity.fellows]

    def to_input(self) -> ActivityInput:
        data = super().to_input()
        data.remove_photo_ids = list(self.remove_photos.data or [])
        return data


class ActivityReturnForm(FlaskForm):
    reason = StringField(
        _l("退回原因"),
        validators=[DataRequired(_l("请填写退回原因")), Length(max=255, message=_l("最多 255 字"))],
        render_kw={"maxlength": 255},
    )


class ActivityFilterForm(FlaskForm):
    class Meta:
        csrf = False

    kind = SelectField(_l("类型"), choices=select_choices([("", _l("全部类型")), *ActivityKind.choices()]),
                       validators=[Optional()])
    date_from = DateField(_l("开始日期"), validators=[Optional()])
    date_to = DateField(_l("结束日期"), validators=[Optional()])
    grid = IdSelectField(_l("网格"), coerce=db_id_or_none, validate_choice=False, widget=LongSelect())
    state = SelectField(
        _l("审核状态"),
        choices=select_choices([("", _l("全部状态")), *VerifyState.choices()]),
        validators=[Optional()],
    )

    def validate_date_to(self, field: DateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("结束日期不能早于开始日期"))


class VerifyFilterForm(FlaskForm):
    class Meta:
        csrf = False

    state = SelectField(
        _l("审核状态"),
        choices=select_choices([(VerifyState.PENDING.value, VerifyState.PENDING.label),
                                (VerifyState.VERIFIED.value, VerifyState.VERIFIED.label),
                                (VerifyState.RETURNED.value, VerifyState.RETURNED.label),
                                ("", _l("全部"))]),
        default=VerifyState.PENDING.value,
        validators=[Optional()],
    )
