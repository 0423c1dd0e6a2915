"""Submitting a need and every later step: the state machine.

Every change goes through a function here; an illegal one raises :class:`NeedError`, whose text is
the Chinese message for the user. Functions add to the session and never commit."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO

import sqlalchemy as sa
from flask_babel import gettext as _

from app.clock import utcnow
from app.extensions import db
from app.models import (
    TEXT_MAX,
    VOICE_ONLY,
    CentralHousehold,
    DiaryEntry,
    EventKind,
    Member,
    Need,
    NeedCategory,
    NeedEvent,
    NeedHandler,
    NeedOrigin,
    NeedOutcome,
    NeedRating,
    NeedStatus,
    Notification,
    OrgNode,
    OwnerLevel,
    Photo,
    ResidentHousehold,
    User,
    VoiceClip,
)
from app.phones import normalize_phone, phone_refusal
from app.policy import node_in_scope
from app.services import aggregates, notify, photos, stamps, voice
from app.services.needs.common import (
    CLOSED_STATES,
    CODE_ALPHABET,
    CODE_LENGTH,
    DUPLICATE_WINDOW,
    NOTE_MAX,
    OPEN_STATES,
    RATING_COMMENT_MAX,
    RESIDENT,
    SYSTEM,
    NeedError,
    owner_label,
)
from app.services.needs.notifications import add_event, notify_owner
from app.services.needs.routing import (
    HouseholdTarget,
    destination,
    household_target,
    member_level,
    move_owner,
    route_address,
    route_plaque,
    route_target,
)
from app.services.points import sources as points_sources

# --- Submission ------------------------------------------------------------------------------
#
# A submission is decided first — the input checked, the need routed, its deadlines, code and
# token chosen, the duplicate looked for: reads only — and then written: the need, its two
# timeline lines, its first handler and its owner's notifications, four Core inserts and no read
# (issue 14: SQLite's write lock is held for the write alone). Nothing counts these rows: no
# counter or aggregate listens to them (``tests/test_speed_writes.py`` holds it).

# Built once (issue 14).
_CODE_TAKEN = sa.select(Need.id).where(Need.code == sa.bindparam("code"))
_DUPLICATE = (sa.select(Need.id).where(Need.category == sa.bindparam("category"),
                                       Need.submitted_at > sa.bindparam("since"), Need.hidden_at.is_(None)).limit(1))
_DUPLICATE_BY_HOUSEHOLD = _DUPLICATE.where(Need.resident_household_id == sa.bindparam("who"))
_DUPLICATE_BY_PHONE = _DUPLICATE.where(Need.contact_phone == sa.bindparam("who"))
_INSERT_NEED = sa.insert(Need.__table__)  # type: ignore[arg-type]
_INSERT_EVENT = sa.insert(NeedEvent.__table__)  # type: ignore[arg-type]
_INSERT_HANDLER = sa.insert(NeedHandler.__table__)  # type: ignore[arg-type]
_INSERT_NOTIFICATION = sa.insert(Notification.__table__)  # type: ignore[arg-type]


def _new_code() -> str:
    conn = db.session.connection()
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if conn.execute(_CODE_TAKEN, {"code": code}).first() is None:
            return code


def normalize_code(raw: str) -> str:
    return re.sub(r"[\s\-]", "", (raw or "")).upper()


def clean_text(text: str | None, has_voice: bool = False) -> str:
    """The need's words, trimmed; they may be empty only when a recording says it."""
    cleaned = (text or "").strip()
    if not cleaned and not has_voice:
        raise NeedError(_("请写下遇到了什么困难，或录一段语音。"))
    if len(cleaned) > TEXT_MAX:
        raise NeedError(_("内容不能超过 %(n)d 字，请精简后再提交。", n=TEXT_MAX))
    return cleaned


def find_duplicate(category: NeedCategory, now: datetime, household_id: int | None = None,
                   phone: str | None = None) -> Need | None:
    """An open need of the same category from the same household (or, without a household, the
    same phone) in the last day — the form warns and asks to confirm; it does not refuse. Looked
    for in Core (nearly always there is none); the one found is loaded."""
    if household_id is None and not phone:
        return None
    stmt = _DUPLICATE_BY_HOUSEHOLD if household_id else _DUPLICATE_BY_PHONE
    found = db.session.connection().execute(stmt, {
        "who": household_id or phone, "category": category, "since": now - DUPLICATE_WINDOW}).scalar()
    return db.session.get(Need, found) if found is not None else None


@dataclass
class NeedPlan:
    """A need decided and not yet written (:func:`plan_need`): its row, its timeline lines, the
    member who holds it first and the notification its owner gets, as plain values."""

    row: dict[str, object]
    events: list[dict[str, object]]
    handler: int | None
    told: tuple[int, ...]
    title: str
    body: str


@dataclass(frozen=True)
class FiledNeed:
    """A need just written (:func:`file_need`): what the answer to the resident needs."""

    id: int
    token: str
    code: str


def plan_need(
    category: NeedCategory,
    text: str,
    *,
    origin: NeedOrigin,
    target: HouseholdTarget | None = None,
    central: CentralHousehold | None = None,
    community: OrgNode | None = None,
    address: str = "",
    contact_name: str = "",
    contact_phone: str | None = None,
    consent: bool = False,
    has_voice: bool = False,
    submitted_by: User | None = None,
    now: datetime | None = None,
) -> NeedPlan:
    """Check a need and decide where it goes, reading only. Residents come with a card's
    household, a plaque's central household, or a community and an address; a member files on a
    resident's behalf with ``origin=NeedOrigin.MEMBER`` and the household (the diary's "turn into
    a need"). For a known household, a missing contact falls back to the household's registered
    head name and phone, so a card page never has to show them."""
    now = now or utcnow()
    text = clean_text(text, has_voice=has_voice)
    phone = None
    if contact_phone:
        phone = normalize_phone(contact_phone)
        if phone is None:
            raise NeedError(phone_refusal(contact_phone))
    if target is not None:
        phone = phone or target.phone
        contact_name = contact_name or target.head_name
    if origin is not NeedOrigin.MEMBER:
        if phone is None:
            raise NeedError(_("请留下联系电话，方便党员联系您。"))
        if not consent:
            raise NeedError(_("请勾选同意我们为办理本诉求使用您的联系方式。"))
    if target is not None:
        to = route_target(target, category)
    elif central is not None:
        to = destination(route_plaque(central), category, central)
    elif community is not None:
        to = route_address(community, address, category)
    else:
        raise NeedError(_("请选择所在村/社区。"))
    accept_h, resolve_h = to.hours
    row = {
        "token": secrets.token_urlsafe(16), "code": _new_code(), "category": category, "text": text,
        "address": (address or "").strip()[:255], "photo_id": None, "voice_clip_id": None, "origin": origin,
        "status": NeedStatus.SUBMITTED, "contact_name": (contact_name or "").strip()[:32], "contact_phone": phone,
        "consent_at": now if consent else None, "submitted_by_id": submitted_by.id if submitted_by else None,
        "resident_household_id": to.household_id, "grid_id": to.grid_id, "community_id": to.community_id,
        "township_id": to.township_id, "node_id": to.node_id, "member_id": to.member_id,
        "central_household_id": to.central_household_id, "owner_level": to.level,
        "owner_member_id": to.owner_member_id, "owner_node_id": to.owner_node_id, "accept_hours": accept_h,
        "resolve_hours": resolve_h, "first_accept_due_at": now + timedelta(hours=accept_h),
        "accept_due_at": now + timedelta(hours=accept_h), "resolve_due_at": now + timedelta(hours=resolve_h),
        "submitted_at": now,
    }
    line = {"at": now, "actor_id": None, "text": "", "internal": False, "photo_id": None, "voice_clip_id": None,
            "to_level": None, "to_label": ""}
    events = [
        {**line, "kind": EventKind.SUBMITTED, "actor_id": row["submitted_by_id"],
         "actor_label": (submitted_by.name if submitted_by else RESIDENT)[:64], "text": str(origin.label)[:500]},
        {**line, "kind": EventKind.ROUTED, "actor_label": SYSTEM, "to_level": to.level, "to_label": to.label[:64]},
    ]
    summary = text or str(VOICE_ONLY)
    return NeedPlan(row, events, to.owner_member_id, to.told, _("新诉求：%(cat)s", cat=category.label)[:128],
                    summary[:80])


def file_need(plan: NeedPlan, photo: Photo | None = None, voice_clip: VoiceClip | None = None) -> FiledNeed:
    """Write a planned need: four Core inserts (the need, its timeline, its first handler, its
    owner's notifications), and a flush before them only for a photo or recording just stored."""
    if photo is not None or voice_clip is not None:
        db.session.flush()  # their ids
    attached = {"photo_id": photo.id if photo else None, "voice_clip_id": voice_clip.id if voice_clip else None}
    conn = db.session.connection()
    need_id = conn.execute(_INSERT_NEED, {**plan.row, **attached}).inserted_primary_key[0]
    events = [{**e, "need_id": need_id} for e in plan.events]
    events[0].update(attached)  # the submission's line shows what the resident sent
    conn.execute(_INSERT_EVENT, events)
    if plan.handler is not None:
        conn.execute(_INSERT_HANDLER, {"need_id": need_id, "member_id": plan.handler})
    if plan.told:
        conn.execute(_INSERT_NOTIFICATION, [
            {"user_id": uid, "title": plan.title, "body": plan.body, "url": f"/needs/{need_id}", "kind": "need",
             "read_at": None} for uid in plan.told])
    # Core inserts: the ORM's flush counts nothing, so the need counts itself in its years.
    aggregates.need_filed(conn, plan.row["member_id"], plan.row["central_household_id"], plan.row["submitted_at"])
    if plan.row.get("owner_member_id") is not None:
        stamps.note(db.session, [plan.row["owner_member_id"]])  # the owner's home shows it
    return FiledNeed(need_id, str(plan.row["token"]), str(plan.row["code"]))


def submit_need(
    category: NeedCategory,
    text: str,
    *,
    origin: NeedOrigin,
    household: ResidentHousehold | None = None,
    central: CentralHousehold | None = None,
    community: OrgNode | None = None,
    address: str = "",
    contact_name: str = "",
    contact_phone: str | None = None,
    consent: bool = False,
    photo: Photo | None = None,
    voice_clip: VoiceClip | None = None,
    submitted_by: User | None = None,
    now: datetime | None = None,
) -> Need:
    """File a need and route it (:func:`plan_need`, then :func:`file_need`) from ORM objects, and
    return it loaded (the diary's "turn into a need", scripts, tests)."""
    db.session.flush()  # what the caller changed is what the plan reads
    target = None
    if household is not None:
        target = household_target(household.id)
        if target is None:
            raise NeedError(_("请选择所在村/社区。"))
    plan = plan_need(category, text, origin=origin, target=target, central=central, community=community,
                     address=address, contact_name=contact_name, contact_phone=contact_phone, consent=consent,
                     has_voice=voice_clip is not None, submitted_by=submitted_by, now=now)
    filed = file_need(plan, photo=photo, voice_clip=voice_clip)
    need = db.session.get(Need, filed.id)
    assert need is not None
    return need


@dataclass
class NeedInput:
    """What a resident typed into the form, as plain values."""

    category: NeedCategory
    text: str
    contact_name: str = ""
    contact_phone: str = ""
    consent: bool = False
    address: str = ""
    # The resident saw the duplicate warning and sends it anyway.
    confirm_duplicate: bool = False


@dataclass
class Entry:
    """Where the resident came in: a card's household (``target``, read in Core; or the ORM
    ``household``), a plaque's central household, or a community (the public form, or a
    station's poster)."""

    origin: NeedOrigin
    household: ResidentHousehold | None = None
    central: CentralHousehold | None = None
    community: OrgNode | None = None
    target: HouseholdTarget | None = None


@dataclass
class DuplicateFound:
    """Not filed: an open need like it came in the last day; the form asks to confirm."""

    need: Need


@dataclass
class Submission:
    """A resident's need checked and decided (:func:`submit`), waiting for its write: ``file``
    stores the photo and the recording and writes the need (the caller commits)."""

    plan: NeedPlan
    photo: photos.ProcessedPhoto | None = None
    recording: voice.ProcessedVoice | None = None
    by_id: int | None = None

    def file(self) -> FiledNeed:
        photo = photos.store(self.photo, None) if self.photo is not None else None
        clip = voice.store(self.recording, self.by_id) if self.recording is not None else None
        return file_need(self.plan, photo=photo, voice_clip=clip)


def stored_upload(upload: IO[bytes] | None, by: User | None) -> Photo | None:
    """The uploaded photo processed and stored (PhotoError, a Refused, for anything else)."""
    if upload is None:
        return None
    return photos.store(photos.process(upload), by.id if by else None)


def submit(entry: Entry, data: NeedInput, upload: IO[bytes] | None, by: User | None,
           now: datetime | None = None, *, voice_upload: IO[bytes] | None = None) -> Submission | DuplicateFound:
    """A resident's need from a card, a plaque or the public form, decided without writing: check
    the photo and the recording, warn of a duplicate (unless confirmed), route the need. The
    caller writes it (``Submission.file``) in its write transaction; a refused photo or recording
    (PhotoError, VoiceError) or input (NeedError) stores nothing."""
    now = now or utcnow()
    processed = photos.process(upload) if upload is not None else None
    recording = voice.process(voice_upload) if voice_upload is not None else None
    clean_text(data.text, has_voice=recording is not None)
    phone = normalize_phone(data.contact_phone) if data.contact_phone else None
    target = entry.target
    if target is None and entry.household is not None:
        db.session.flush()
        target = household_target(entry.household.id)
    if not data.confirm_duplicate:
        duplicate = find_duplicate(data.category, now, household_id=target.id if target else None, phone=phone)
        if duplicate is not None:
            return DuplicateFound(duplicate)
    plan = plan_need(data.category, data.text, origin=entry.origin, target=target, central=entry.central,
                     community=entry.community, address=data.address, contact_name=data.contact_name,
                     contact_phone=phone, consent=data.consent, has_voice=recording is not None,
                     submitted_by=by, now=now)
    return Submission(plan, processed, recording, by.id if by else None)


# --- The state machine -----------------------------------------------------------------------

# action → states it may start from. Anything else raises.
ALLOWED: dict[str, tuple[NeedStatus, ...]] = {
    "accept": (NeedStatus.SUBMITTED,),
    "progress": (NeedStatus.ACCEPTED, NeedStatus.IN_PROGRESS),
    "note": OPEN_STATES + CLOSED_STATES,
    "resolve": (NeedStatus.ACCEPTED, NeedStatus.IN_PROGRESS),
    "rate": (NeedStatus.RESOLVED,),
    "pass_on": OPEN_STATES,
    "assign": OPEN_STATES,
}


def _check(need: Need, action: str) -> None:
    if need.hidden_at is not None:
        raise NeedError(_("该诉求已被屏蔽，不能再操作。"))
    if need.status not in ALLOWED[action]:
        raise NeedError(_("该诉求当前为“%(s)s”，不能进行此操作。", s=need.status.label))


def accept(need: Need, actor: User, now: datetime | None = None) -> None:
    now = now or utcnow()
    _check(need, "accept")
    need.status = NeedStatus.ACCEPTED
    need.accepted_at = now
    add_event(need, EventKind.ACCEPTED, now, actor=actor)
    notify.queue_sms(need.contact_phone, _("【党员中心户】您反映的诉求（%(code)s）已由%(who)s接单，我们会尽快办理。",
                       code=need.code, who=actor.name))


def add_progress(need: Need, actor: User, text: str, internal: bool = False,
                 photo: Photo | None = None, now: datetime | None = None, *,
                 upload: IO[bytes] | None = None, voice_upload: IO[bytes] | None = None) -> None:
    """A progress note (moves 已接单 to 办理中) or, with ``internal``, a note the resident never sees.
    ``upload``: a photo as uploaded; ``voice_upload``: a voice note (both checked and stored here).
    The note is its text, its voice note, or both."""
    now = now or utcnow()
    recording = voice.process(voice_upload) if voice_upload is not None else None
    text = (text or "").strip()
    if not text and recording is None:
        raise NeedError(_("请填写进展情况，或录一段语音。"))
    if len(text) > NOTE_MAX:
        raise NeedError(_("内容不能超过 %(n)d 字。", n=NOTE_MAX))
    _check(need, "note" if internal else "progress")
    photo = photo or stored_upload(upload, actor)
    clip = voice.store(recording, actor.id) if recording is not None else None
    if internal:
        add_event(need, EventKind.NOTE, now, actor=actor, text=text, internal=True,
                  photo=photo, voice_clip=clip)
        return
    need.status = NeedStatus.IN_PROGRESS
    add_event(need, EventKind.PROGRESS, now, actor=actor, text=text, photo=photo, voice_clip=clip)


def resolve(need: Need, actor: User, outcome: NeedOutcome, note: str, referred_to: str = "",
            photo: Photo | None = None, now: datetime | None = None, *,
            upload: IO[bytes] | None = None) -> None:
    """Close the need, saying what happened; every outcome needs a note, a referral its addressee.
    ``upload``: a photo as uploaded (processed and stored here)."""
    now = now or utcnow()
    photo = photo or stored_upload(upload, actor)
    _check(need, "resolve")
    note = (note or "").strip()
    referred_to = (referred_to or "").strip()
    if not note:
        raise NeedError(_("请写明办理结果。"))
    if len(note) > NOTE_MAX:
        raise NeedError(_("办理结果不能超过 %(n)d 字。", n=NOTE_MAX))
    if outcome is NeedOutcome.REFERRED and not referred_to:
        raise NeedError(_("请写明转交给了哪个部门。"))
    need.status = NeedStatus.RESOLVED
    need.outcome = outcome
    need.outcome_note = note
    need.referred_to = referred_to[:64] if outcome is NeedOutcome.REFERRED else ""
    need.resolved_at = now
    text = f"{outcome.label}：{note}"
    if need.referred_to:
        text = f"{outcome.label}（{need.referred_to}）：{note}"
    add_event(need, EventKind.RESOLVED, now, actor=actor, text=text, photo=photo)
    points_sources.for_need_resolved(need, actor, now)
    notify.queue_sms(need.contact_phone, _("【党员中心户】您反映的诉求（%(code)s）已办结：%(outcome)s。欢迎通过查询链接评价。",
                       code=need.code, outcome=outcome.label))


def rate(need: Need, rating: NeedRating, comment: str = "", now: datetime | None = None) -> None:
    """The resident's rating. 不满意 reopens the need to the same owner and counts the reopening."""
    now = now or utcnow()
    _check(need, "rate")
    comment = (comment or "").strip()
    if len(comment) > RATING_COMMENT_MAX:
        raise NeedError(_("评价内容不能超过 %(n)d 字。", n=RATING_COMMENT_MAX))
    need.rating = rating
    need.rating_comment = comment
    need.rated_at = now
    add_event(need, EventKind.RATED, now, label=RESIDENT,
           text=f"{rating.label}{'：' + comment if comment else ''}")
    points_sources.for_need_rated(need, now)
    if rating is NeedRating.UNSATISFIED:
        need.status = NeedStatus.IN_PROGRESS
        need.outcome = None
        need.outcome_note = ""
        need.referred_to = ""
        need.resolved_at = None
        need.reopen_count += 1
        need.resolve_due_at = now + timedelta(hours=need.resolve_hours)
        add_event(need, EventKind.REOPENED, now, label=SYSTEM,
               text=_("群众不满意，重新办理（第 %(n)d 次）", n=need.reopen_count))
        notify_owner(need, _("群众不满意，诉求已退回重办"), need.summary[:80])
    else:
        need.status = NeedStatus.RATED


def _hand_to(need: Need, to: Member, kind: EventKind, by: User, now: datetime) -> None:
    """Give the need to member ``to``, who it is now attributed to, and say so on the timeline."""
    level = member_level(to)
    move_owner(need, level, to, None, now)
    need.member_id = to.id
    need.central_household_id = to.central_household_id
    add_event(need, kind, now, actor=by, to_level=level, to_label=owner_label(level, to, None))


def pass_on(need: Need, head: User, to: Member, now: datetime | None = None) -> None:
    """A central household's head hands a need to one of the household's members."""
    now = now or utcnow()
    _check(need, "pass_on")
    if need.owner_level is not OwnerLevel.HEAD or head.member is None or head.member.id != need.owner_member_id:
        raise NeedError(_("只有持有该诉求的中心户户长可以转交。"))
    household_id = head.member.central_household_id
    if to.central_household_id != household_id or not to.is_active or to.id == head.member.id:
        raise NeedError(_("只能转交给本中心户联系的党员。"))
    _hand_to(need, to, EventKind.PASSED, head, now)
    notify_owner(need, _("户长转交给您一件诉求：%(cat)s", cat=need.category.label), need.summary[:80])


def assign(need: Need, admin: User, to: Member, now: datetime | None = None) -> None:
    """A dispatching admin gives a need (queue or escalated) to a member in their scope."""
    now = now or utcnow()
    _check(need, "assign")
    if not to.is_active or not node_in_scope(admin, to.grid):
        raise NeedError(_("只能指派给您管辖范围内的在册党员。"))
    if need.grid_id is None and to.grid.parent_id == need.community_id:
        need.grid_id = to.grid_id
        need.node_id = to.grid_id
    _hand_to(need, to, EventKind.ASSIGNED, admin, now)
    notify_owner(need, _("您有一件新指派的诉求：%(cat)s", cat=need.category.label), need.summary[:80])


def hide(need: Need, admin: User, reason: str, now: datetime | None = None) -> None:
    """Hide an abusive need: kept with its reason, out of every list, rate and escalation."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise NeedError(_("请写明屏蔽原因。"))
    if need.hidden_at is not None:
        raise NeedError(_("该诉求已被屏蔽。"))
    need.hidden_at, need.hidden_reason, need.hidden_by_id = now, reason[:255], admin.id
    add_event(need, EventKind.HIDDEN, now, actor=admin, text=reason[:255], internal=True)



def submit_from_diary(entry: DiaryEntry, now: datetime | None = None) -> Need:
    """The diary's "turn into a need": the member files what they heard on the resident's behalf,
    routed like a contact-card need (to the member covering the household). The diary entry keeps
    the need's id and the need's first timeline entry names the diary, so the link reads both ways."""
    author = entry.member
    need = submit_need(
        NeedCategory.OTHER,
        _("（民情日记 %(date)s）%(text)s", date=entry.entry_date.isoformat(), text=entry.text),
        origin=NeedOrigin.MEMBER,
        household=entry.resident,
        consent=True,
        submitted_by=author.user,
        now=now,
    )
    entry.need_id = need.id
    return need
