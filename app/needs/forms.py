"""Forms for residents (submit, track, rate, register) and for those who handle needs."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from app.forms_choices import IdSelectField, db_id, options
from app.models import TEXT_MAX, NeedCategory, NeedOutcome, NeedRating
from app.phones import normalize_phone, phone_refusal
from app.services.needs import NOTE_MAX, RATING_COMMENT_MAX
from app.services.passwords import MIN_LENGTH

PHOTO_HINT = _l("可不传。只接受照片（JPG、PNG、WebP），不超过 10 MB。")
VOICE_HINT = _l("不想打字可以说话：点“录音”，说完点“停止”；也可以选手机里的录音。最长 60 秒。")


def mobile(form: FlaskForm, field: StringField) -> None:
    """A mainland mobile number, when one is given (read by ``app.phones``, the one reader)."""
    if field.data and normalize_phone(field.data) is None:
        raise ValidationError(phone_refusal(field.data))


def chosen(field: FileField) -> bool:
    """Whether a file was chosen in ``field``."""
    return bool(field.data and getattr(field.data, "filename", ""))


def voice_field() -> FileField:
    """A recording: the phone's recorder (``capture``) or a file; the page's script records into it."""
    return FileField(_l("语音留言"), render_kw={"accept": "audio/*", "capture": True, "data-voice-input": True})


class NeedSubmitForm(FlaskForm):
    """What a resident fills in. Card pages may leave the contact empty (the household's
    registered contact is used); plaque and public pages ask for a phone."""

    category = RadioField(_l("是哪方面的事？"), choices=options(NeedCategory.choices()),
                          validators=[InputRequired(_l("请选择一类"))])
    text = TextAreaField(
        _l("遇到了什么困难？"),
        validators=[Length(max=TEXT_MAX, message=_l("内容不能超过 %(max)d 字，请精简后再提交。"))],
        render_kw={"rows": 5, "maxlength": TEXT_MAX},
    )
    voice = voice_field()
    photo = FileField(_l("照片"), render_kw={"accept": "image/*"})
    contact_name = StringField(_l("怎么称呼您"), validators=[Optional(), Length(max=32, message=_l("称呼太长了"))],
                               render_kw={"autocomplete": "name", "maxlength": 32})
    contact_phone = StringField(
        _l("联系电话"),
        validators=[DataRequired(_l("请留下联系电话，方便党员联系您。")), mobile],
        render_kw={"inputmode": "tel", "autocomplete": "tel", "maxlength": 20},
    )
    consent = BooleanField(
        _l("我同意为办理本诉求使用我的联系方式"),
        validators=[DataRequired(_l("请勾选同意，否则党员无法联系您。"))],
    )
    confirm_duplicate = HiddenField()

    def validate_text(self, field: TextAreaField) -> None:
        """Words or a recording: either fills the need."""
        if not (field.data or "").strip() and not chosen(self.voice):
            raise ValidationError(_l("请写下遇到了什么困难，或录一段语音。"))


class CardNeedForm(NeedSubmitForm):
    """A contact card of a household with no phone on record: the phone is required (as on the
    plaque and public forms), and the page says why."""


class CardNeedFormPhoneOnRecord(CardNeedForm):
    """A contact card of a household with a phone on record: the phone may be left empty."""

    contact_phone = StringField(
        _l("联系电话"),
        validators=[Optional(), mobile],
        render_kw={"inputmode": "tel", "autocomplete": "tel", "maxlength": 20},
    )


def card_form(phone_on_record: bool) -> CardNeedForm:
    """The card's form, with the phone optional only when the household has one on record."""
    return CardNeedFormPhoneOnRecord() if phone_on_record else CardNeedForm()


class PlaqueNeedForm(NeedSubmitForm):
    address = StringField(_l("您家住址（可不填）"), validators=[Optional(), Length(max=120, message=_l("住址太长了"))],
                          render_kw={"maxlength": 120})


class PublicNeedForm(NeedSubmitForm):
    community = IdSelectField(_l("所在村/社区"), coerce=db_id, validate_choice=True,
                            validators=[InputRequired(_l("请选择所在村/社区"))])
    address = StringField(
        _l("您家住址"),
        validators=[DataRequired(_l("请填写住址，例如：3栋2单元501室")), Length(max=120, message=_l("住址太长了"))],
        render_kw={"maxlength": 120, "placeholder": _l("例如：3栋2单元501室")},
    )


class TrackForm(FlaskForm):
    code = StringField(_l("查询码"), validators=[DataRequired(_l("请输入查询码"))],
                       render_kw={"autocomplete": "off", "maxlength": 12, "autocapitalize": "characters"})
    phone = StringField(_l("提交时留的手机号"), validators=[DataRequired(_l("请输入手机号")), mobile],
                        render_kw={"inputmode": "tel", "maxlength": 20})


class RightsProofForm(TrackForm):
    """Residents' rights without an account: the tracking code and the phone given with it."""


class EraseConfirmForm(FlaskForm):
    """The second step of an erasure: the proof again (hidden, for residents without an account)
    and the box that says they mean it."""

    code = HiddenField()
    phone = HiddenField()
    confirm = BooleanField(_l("我已了解，确认删除"))


class NeedRateForm(FlaskForm):
    rating = RadioField(_l("您对办理结果满意吗？"), choices=options(NeedRating.choices()),
                        validators=[InputRequired(_l("请选择满意程度"))])
    comment = TextAreaField(_l("还想说的话（可不填）"),
                            validators=[Optional(), Length(max=RATING_COMMENT_MAX, message=_l("不能超过 %(max)d 字"))],
                            render_kw={"rows": 3, "maxlength": RATING_COMMENT_MAX})


class NeedProgressForm(FlaskForm):
    text = TextAreaField(_l("办理进展"), validators=[Length(max=NOTE_MAX, message=_l("不能超过 %(max)d 字"))],
                         render_kw={"rows": 3, "maxlength": NOTE_MAX})
    internal = BooleanField(_l("内部备注（群众看不到）"))
    voice = voice_field()
    photo = FileField(_l("照片"), render_kw={"accept": "image/*"})

    def validate_text(self, field: TextAreaField) -> None:
        """Words or a voice note: either is a progress step."""
        if not (field.data or "").strip() and not chosen(self.voice):
            raise ValidationError(_l("请填写进展情况，或录一段语音。"))


class NeedResolveForm(FlaskForm):
    outcome = RadioField(_l("办理结果"), choices=options(NeedOutcome.choices()), validators=[InputRequired(_l("请选择办理结果"))])
    referred_to = StringField(_l("转交给哪个部门"), validators=[Optional(), Length(max=64)],
                              render_kw={"maxlength": 64})
    note = TextAreaField(_l("情况说明"), validators=[DataRequired(_l("请写明办理结果。")),
                         Length(max=NOTE_MAX, message=_l("不能超过 %(max)d 字"))],
                         render_kw={"rows": 3, "maxlength": NOTE_MAX})
    photo = FileField(_l("照片"), render_kw={"accept": "image/*"})

    def validate_referred_to(self, field: StringField) -> None:
        if self.outcome.data == NeedOutcome.REFERRED.value and not (field.data or "").strip():
            raise ValidationError(_l("请写明转交给了哪个部门。"))


class NeedPassOnForm(FlaskForm):
    member = IdSelectField(_l("转交给"), coerce=db_id, validators=[InputRequired(_l("请选择党员"))])


class NeedAssignForm(FlaskForm):
    member = IdSelectField(_l("指派给"), coerce=db_id, validators=[InputRequired(_l("请选择党员"))])


class NeedHideForm(FlaskForm):
    reason = StringField(_l("屏蔽原因"), validators=[DataRequired(_l("请写明屏蔽原因。")), Length(max=255)],
                         render_kw={"maxlength": 255})


class NeedSlaForm(FlaskForm):
    node = IdSelectField(_l("适用范围"), coerce=db_id, validators=[InputRequired()])
    category = SelectField(_l("诉求类别"), choices=options([("", _l("全部类别"))] + NeedCategory.choices()))
    accept_hours = IntegerField(_l("接单时限（小时）"), validators=[
        InputRequired(_l("请填写接单时限")), NumberRange(1, 720, _l("应在 1 到 720 小时之间"))])
    resolve_hours = IntegerField(_l("办结时限（小时）"), validators=[
        InputRequired(_l("请填写办结时限")), NumberRange(1, 8760, _l("应在 1 到 8760 小时之间"))])

    def validate_resolve_hours(self, field: IntegerField) -> None:
        if self.accept_hours.data and field.data and field.data < self.accept_hours.data:
            raise ValidationError(_l("办结时限不能短于接单时限"))


class ResidentRegisterForm(FlaskForm):
    phone = StringField(_l("手机号"), validators=[DataRequired(_l("请输入手机号")), mobile],
                        render_kw={"inputmode": "tel", "autocomplete": "username", "maxlength": 20})
    code = StringField(_l("任一诉求的查询码"), validators=[DataRequired(_l("请输入查询码"))],
                       render_kw={"autocomplete": "off", "maxlength": 12})
    name = StringField(_l("怎么称呼您"), validators=[DataRequired(_l("请填写称呼")), Length(max=32)],
                       render_kw={"maxlength": 32})
    password = PasswordField(_l("设置密码"), validators=[
        DataRequired(_l("请设置密码")),
        Length(min=MIN_LENGTH, max=128, message=_l("密码至少 %(n)d 位", n=MIN_LENGTH))],
        render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("再次输入密码"), validators=[
        DataRequired(_l("请再次输入密码")), EqualTo("password", _l("两次输入的密码不一致"))],
        render_kw={"autocomplete": "new-password"})
