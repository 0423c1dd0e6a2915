"""Residents' rights under PIPL (个人信息保护法 §45, §47): a copy of their data, and its erasure.

A resident proves who they are in one of two ways: a registered resident's account (every need
filed with its phone), or a tracking code with the phone given with it — the proof ``/track`` and
registration use, which opens every need filed with that phone. Either way the same needs are
concerned (hidden ones included: they are the resident's data too).

Erasure removes what identifies the resident and keeps the statistical record of each need
(category, dates, node, owner, status, rating value, breaches), so the district's three rates of
接诉即办 do not move. Nothing here commits; photo files go only once the erasure is committed.

What staff wrote about the resident is erased too. Personal information is whatever relates to an
identified or identifiable person (PIPL §4), whoever wrote it down: a progress note ("独居，腿脚
不便"), an internal note, the resolution's note, the reason a need was hidden, the photos staff
attached to the need, and a 民情日记 entry that became one of the needs or that names the resident
(their phone number anywhere; the name they gave, in the entries about the household the needs
were filed for). Once the need is anonymised these texts are all that could still identify the
resident, and the statistics do not need them. Kept: that a step happened, when and by whom (the
staff member's own record of their work, and what the deadlines and rates are computed from), the
outcome and the department referred to; a diary entry that does not name them stays as the
member's record of a visit to a household on the community's roster, which the community keeps
under its own duties and corrects on request.

The download holds what the erasure would erase, so the resident sees all of it first: besides
their own words, photos and recordings, the internal notes, the reason a need was hidden, every
photo and voice reply staff attached to a step (as files), and the diary entries about them. Who
did which step when is given as the tracking page shows it (the public steps); an internal note
comes with its time and text, not its author.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from flask_babel import gettext as _

from app import policy
from app.clock import local_naive, utcnow
from app.extensions import db
from app.models import (
    ActivityPhoto,
    DiaryEntry,
    EventKind,
    Need,
    NeedEvent,
    NeedOrigin,
    Notification,
    Photo,
    Role,
    User,
    VoiceClip,
)
from app.services import photos, voice
from app.services.errors import NotAllowed, Refused
from app.services.needs.common import RESIDENT
from app.services.needs.lists import timeline, tracked_need
from app.services.privacy import audit, mask_phone
from app.settings import setting

ERASED_TEXT = "（已应居民要求删除）"
CLOSED_ACCOUNT_NAME = "（已注销）"
# An erased account's phone: "10" + the id. It passes the column's CHECK and is unique, and no
# mainland mobile number starts with 10, so nobody can ever log in with it or register it.
CLOSED_PHONE_PREFIX = "10"
EXPORT_FORMAT = 1


class RightsError(Refused):
    """The proof does not match, or the request cannot be carried out; ``str()`` is the message."""


@dataclass
class Subject:
    """Whose data: a phone, and the resident account that holds it (if they came logged in)."""

    phone: str
    account: User | None = None
    needs: list[Need] = field(default_factory=list)

    @property
    def via(self) -> str:
        return "account" if self.account is not None else "code"


@dataclass
class Erased:
    needs: int
    photos: int
    account_closed: bool
    voice_clips: int = 0
    diary: int = 0


# --- Proof -----------------------------------------------------------------------------------


def _needs_of(phone: str) -> list[Need]:
    return list(db.session.scalars(sa.select(Need).where(policy.resident_needs_condition(phone))
                                   .order_by(Need.submitted_at, Need.id)))


def subject_of_account(user: User) -> Subject:
    """A logged-in resident: every need filed with their account's phone."""
    if not policy.can_use_resident_rights(user):
        raise NotAllowed()
    return Subject(user.phone, user, _needs_of(user.phone))


def subject_of_code(code: str, phone: str) -> Subject:
    """A tracking code and the phone given with it (as ``/track``): every need filed with that
    phone. Either alone, or a pair that does not match, opens nothing."""
    need = tracked_need(code or "", phone or "")
    if need is None or need.contact_phone is None:
        raise RightsError(_("没有找到：请核对查询码和手机号。"))
    return Subject(need.contact_phone, None, _needs_of(need.contact_phone))


# --- Download --------------------------------------------------------------------------------


def _when(at: datetime | None) -> str | None:
    return local_naive(at).isoformat(timespec="minutes") + "+08:00" if at else None


def _label(value: object) -> str | None:
    return str(value.label) if value is not None else None  # type: ignore[attr-defined]


def _photo_name(need: Need, step: int | None = None) -> str:
    """``photos/<code>.jpg`` for the resident's photo, ``photos/<code>-<step>.jpg`` for one
    attached to the need's ``step``-th step (counted over every step, internal ones too)."""
    return f"photos/{need.code}{f'-{step}' if step else ''}.jpg"


def _voice_name(need: Need, clip: VoiceClip | None = None, step: int | None = None) -> str:
    clip = clip or need.voice_clip
    suffix = f"-{step}" if step else ""
    return f"voice/{need.code}{suffix}.{voice.EXTENSIONS.get(clip.mime, 'bin')}" if clip else ""


def _steps(need: Need) -> list[tuple[int, NeedEvent]]:
    """Every step of the need, internal notes included, numbered from 1 (the files' names)."""
    return list(enumerate(timeline(need, public=False), start=1))


def _step_photo(need: Need, event: NeedEvent) -> bool:
    """Whether the step has a photo of its own (the submission's is the need's photo)."""
    return event.photo_id is not None and event.photo_id != need.photo_id


def _step_voice(need: Need, event: NeedEvent) -> bool:
    return event.voice_clip_id is not None and event.voice_clip_id != need.voice_clip_id


def _step_files(need: Need, n: int, event: NeedEvent) -> dict:
    photo = _photo_name(need, n) if _step_photo(need, event) else _photo_name(need) if event.photo_id else None
    spoken = (_voice_name(need, event.voice_clip, n) if _step_voice(need, event)
              else _voice_name(need) if event.voice_clip_id else None)
    return {"photo": photo, "voice": spoken}


def _need_data(need: Need) -> dict:
    steps = _steps(need)
    return {
        "code": need.code,
        "category": _label(need.category),
        "text": need.text,
        "address": need.address,
        "contact_name": need.contact_name,
        "contact_phone": need.contact_phone,
        "origin": _label(need.origin),
        "community": need.community.name if need.community else None,
        "status": _label(need.status),
        "submitted_at": _when(need.submitted_at),
        "accepted_at": _when(need.accepted_at),
        "resolved_at": _when(need.resolved_at),
        "outcome": _label(need.outcome),
        "outcome_note": need.outcome_note,
        "rating": _label(need.rating),
        "rating_comment": need.rating_comment,
        "rated_at": _when(need.rated_at),
        "consent_at": _when(need.consent_at),
        "photo": _photo_name(need) if need.photo_id else None,
        "voice": _voice_name(need) or None,
        "timeline": [
            {"at": _when(e.at), "kind": _label(e.kind), "by": e.actor_label, "text": e.text,
             "to": e.to_label or None, **_step_files(need, n, e)}
            for n, e in steps if not e.internal
        ],
        "internal_notes": [
            {"at": _when(e.at), "text": e.text, **_step_files(need, n, e)} for n, e in steps if e.internal
        ],
        "hidden_reason": need.hidden_reason if need.hidden_at is not None else None,
    }


def _recordings(subject: Subject) -> list[dict]:
    """The recordings in the file: the resident's own, then the voice replies on each step."""
    found = []
    for need in subject.needs:
        if need.voice_clip is not None:
            found.append({"need": need.code, "file": _voice_name(need), "seconds": _seconds(need.voice_clip),
                          "type": need.voice_clip.mime})
        for n, event in _steps(need):
            if _step_voice(need, event) and event.voice_clip is not None:
                found.append({"need": need.code, "file": _voice_name(need, event.voice_clip, n),
                              "seconds": _seconds(event.voice_clip), "type": event.voice_clip.mime,
                              "reply": True})
    return found


def _seconds(clip: VoiceClip) -> float:
    return round(clip.duration_ms / 1000, 1)


def export_data(subject: Subject) -> dict:
    """Everything the platform holds about the resident, as plain data (the file's data.json)."""
    account = subject.account
    return {
        "format": EXPORT_FORMAT,
        "generated_at": _when(utcnow()),
        "phone": subject.phone,
        "account": {"name": account.name, "phone": account.phone, "created_at": _when(account.created_at)}
        if account is not None else None,
        "needs": [_need_data(n) for n in subject.needs],
        "voice": _recordings(subject),
        "diary": [{"date": e.entry_date.isoformat(), "text": e.text} for e in _diary_about(subject)],
        "notes": [
            _("照片在 photos 文件夹里，语音在 voice 文件夹里，文件名是诉求的查询码；工作人员在办理中"
              "拍的照片、录的语音回复，文件名后加上是第几步。"),
            _("工作人员写下的关于您的内容也是您的个人信息，都在这里：办理进展、内部备注"
              "（internal_notes）、办结说明、屏蔽原因（hidden_reason）、民情日记中关于您的记录"
              "（diary），以及他们拍的照片和语音回复。申请删除时，这些会一并删除。"),
            _("哪一步在什么时间由谁办理，是工作人员的工作记录，不属于您的个人信息，删除后仍保留；"
              "这里按查询页的样子列出公开的办理步骤，内部备注只列时间和内容。时间均为北京时间。"),
        ],
    }


def _files(need: Need) -> list[tuple[str, Path, str]]:
    """(name in the zip, stored file, "photo" | "voice") for every photo and recording of the need
    and of its steps: what the erasure deletes."""
    found = []
    if need.photo is not None:
        found.append((_photo_name(need), photos.photo_path(need.photo), "photo"))
    if need.voice_clip is not None:
        found.append((_voice_name(need), voice.voice_path(need.voice_clip), "voice"))
    for n, event in _steps(need):
        if _step_photo(need, event) and event.photo is not None:
            found.append((_photo_name(need, n), photos.photo_path(event.photo), "photo"))
        if _step_voice(need, event) and event.voice_clip is not None:
            found.append((_voice_name(need, event.voice_clip, n), voice.voice_path(event.voice_clip), "voice"))
    return found


def export_zip(subject: Subject, user_id: int | None, ip: str) -> bytes:
    """The resident's data as one .zip: ``data.json`` (UTF-8), and the photos and recordings of
    their needs — theirs, and those staff attached to a step. The download is audited."""
    buffer = io.BytesIO()
    written = spoken = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(export_data(subject), ensure_ascii=False, indent=2))
        for need in subject.needs:
            for name, path, kind in _files(need):
                if path.exists():
                    archive.write(path, name)
                    written += kind == "photo"
                    spoken += kind == "voice"
    audit(user_id, "pipl.export", "resident", subject.account.id if subject.account else None,
          detail=f"via={subject.via} phone={mask_phone(subject.phone)} needs={len(subject.needs)} "
                 f"photos={written} voice={spoken}", ip=ip)
    return buffer.getvalue()


# --- Erasure ---------------------------------------------------------------------------------


# Events whose text is a person's words about the need (the rest are generated: routing, passing on).
_WRITTEN = {EventKind.PROGRESS, EventKind.NOTE, EventKind.HIDDEN}


def _erase_need(need: Need) -> tuple[set[int], set[int]]:
    """Blank one need's personal fields, the resident's and what staff wrote about it; the photo
    ids and voice clip ids it let go of."""
    released = {need.photo_id} if need.photo_id else set()
    spoken = {need.voice_clip_id} if need.voice_clip_id else set()
    need.voice_clip_id = None
    need.contact_name = ""
    need.contact_phone = None
    need.address = ""
    need.text = ERASED_TEXT
    need.rating_comment = ""
    need.photo_id = None
    need.resident_household_id = None
    if need.origin is not NeedOrigin.MEMBER:  # the resident's own account, not a member's
        need.submitted_by_id = None
    if need.outcome_note:
        need.outcome_note = ERASED_TEXT
    if need.hidden_reason is not None:
        need.hidden_reason = ERASED_TEXT
    for event in db.session.scalars(sa.select(NeedEvent).where(NeedEvent.need_id == need.id)):
        if event.photo_id is not None:  # the resident's, or one staff took of their home
            released.add(event.photo_id)
            event.photo_id = None
        if event.voice_clip_id is not None:  # the resident's, or a member's spoken reply about them
            spoken.add(event.voice_clip_id)
            event.voice_clip_id = None
        if event.kind in _WRITTEN:
            event.text = ERASED_TEXT
        if event.kind is EventKind.RESOLVED:  # "已解决：note" → "已解决" (the referral stays)
            event.text = event.text.split("：", 1)[0]
        if event.kind is EventKind.SUBMITTED and need.origin is not NeedOrigin.MEMBER:
            event.actor_label, event.actor_id = RESIDENT, None
        if event.kind is EventKind.RATED:  # "满意：comment" → "满意"
            event.text = event.text.split("：", 1)[0]
    db.session.execute(sa.update(Notification).where(Notification.kind == "need",
                                                     Notification.url == f"/needs/{need.id}")
                       .values(body=ERASED_TEXT))
    return released, spoken


def _diary_about(subject: Subject) -> list[DiaryEntry]:
    """The 民情日记 entries about the resident (see the module's docstring): that became one of
    the needs, hold their phone, or name them (the name they gave) about the household the needs
    were filed for. The download lists them; the erasure blanks them."""
    households = {n.resident_household_id for n in subject.needs if n.resident_household_id}
    names = {n.contact_name for n in subject.needs if len(n.contact_name) >= 2}
    naming = [DiaryEntry.text.contains(subject.phone, autoescape=True)]
    if households and names:
        naming.append(sa.and_(DiaryEntry.resident_household_id.in_(households),
                              sa.or_(*(DiaryEntry.text.contains(name, autoescape=True) for name in names))))
    if subject.needs:
        naming.append(DiaryEntry.need_id.in_([n.id for n in subject.needs]))
    return list(db.session.scalars(sa.select(DiaryEntry).where(sa.or_(*naming), DiaryEntry.text != ERASED_TEXT)
                                   .order_by(DiaryEntry.entry_date, DiaryEntry.id)))


def _erase_diary(subject: Subject) -> int:
    """Blank the 民情日记 entries about the resident; how many."""
    entries = _diary_about(subject)
    for entry in entries:
        entry.text = ERASED_TEXT
    return len(entries)


def _in_use(photo_id: int) -> bool:
    """Whether any record still links the photo (a photo is stored once per content)."""
    return any(db.session.scalar(sa.select(sa.exists().where(column == photo_id)))
               for column in (Need.photo_id, NeedEvent.photo_id, ActivityPhoto.photo_id))


def _voice_in_use(clip_id: int) -> bool:
    """Whether any record still links the clip (a clip is stored once per content)."""
    return any(db.session.scalar(sa.select(sa.exists().where(column == clip_id)))
               for column in (Need.voice_clip_id, NeedEvent.voice_clip_id))


def _close_account(user: User) -> bool:
    """Deactivate a resident-only account and clear its name and phone; an account that also
    works, or did (member — even a former one —, admin), is left as it is."""
    if user.role_set != {Role.RESIDENT} or user.member is not None:
        return False
    user.active = False
    user.name = CLOSED_ACCOUNT_NAME
    user.phone = f"{CLOSED_PHONE_PREFIX}{user.id:09d}"
    user.password_hash = None
    user.end_sessions()
    return True


def erase(subject: Subject, confirmed: bool, user_id: int | None, ip: str) -> Erased:
    """Erase the resident's personal data (see the module's docstring), close their account when
    they came with one, and audit it with the counts. Refused unless ``confirmed``."""
    if not confirmed:
        raise RightsError(_("请勾选“确认删除”后再提交。"))
    db.session.flush()
    diary = _erase_diary(subject)
    released: set[int] = set()
    spoken: set[int] = set()
    for need in subject.needs:
        photo_ids, clip_ids = _erase_need(need)
        released |= photo_ids
        spoken |= clip_ids
    db.session.flush()
    removed = 0
    for photo_id in sorted(released):
        if not _in_use(photo_id):
            photo = db.session.get(Photo, photo_id)
            if photo is not None:
                photos.discard(photo)
                removed += 1
    silenced = 0
    for clip_id in sorted(spoken):
        if not _voice_in_use(clip_id):
            clip = db.session.get(VoiceClip, clip_id)
            if clip is not None:
                voice.discard(clip)
                silenced += 1
    closed = _close_account(subject.account) if subject.account is not None else False
    audit(user_id, "pipl.erase", "resident", subject.account.id if subject.account else None,
          detail=f"via={subject.via} phone={mask_phone(subject.phone)} needs={len(subject.needs)} "
                 f"ids={','.join(str(n.id) for n in subject.needs)} photos={removed} voice={silenced} "
                 f"diary={diary} "
                 f"account={'closed' if closed else 'none' if subject.account is None else 'kept'}", ip=ip)
    return Erased(len(subject.needs), removed, closed, voice_clips=silenced, diary=diary)


def audit_kept_days() -> int:
    """How long the audit log keeps an entry (``flask prune-audit`` deletes what is older)."""
    return int(setting("AUDIT_RETENTION_DAYS", 3 * 365))  # type: ignore[arg-type]
