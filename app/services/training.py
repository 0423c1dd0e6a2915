"""Training (提能力育"户"): planning sessions, their attendance, online completion, and the records
and hours built from them.

An offline session *is* a station event (``StationEvent``, kind TRAINING) created in the same
step: a member's check-in at the station while it runs is the attendance (``Checkin.event_id``,
set by ``services.checkin``), so there is nothing new to scan. An online session is a link or an
uploaded PDF that members of the node mark "我已学完", once, with an optional 心得.

A session counts toward a member's training hours (``duration_minutes``) when they attended it
(offline: a check-in with the session's event) or completed it (online). The year is the
Asia/Shanghai year of the check-in day or of the completion. :func:`training_hours` and
:func:`training_breakdown` are what the yearly evaluation reads.

Plain functions; the view's step runner commits. Refusals raise :class:`TrainingError` (a
``Refused``) naming the form field they concern.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Protocol
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, SessionTransaction, aliased, lazyload

from app import policy
from app.clock import days_bounds, local_day, local_naive
from app.extensions import db
from app.models import (
    DOCUMENT_MAX_BYTES,
    REFLECTION_MAX,
    AttendanceMark,
    AttendanceMarkKind,
    CentralHousehold,
    Checkin,
    CheckinMethod,
    Member,
    MemberStatus,
    OrgNode,
    RuleCode,
    Station,
    StationEvent,
    StationEventKind,
    TrainingCompletion,
    TrainingDocument,
    TrainingKind,
    TrainingMode,
    TrainingSession,
    User,
    utcnow,
)
from app.models.base import LabeledEnum
from app.services import checkin, ledger, points, stored_files
from app.services.activities import household_member_condition
from app.services.errors import NotAllowed, Refused
from app.services.privacy import audit
from app.settings import setting

TITLE_MAX = 64
DESCRIPTION_MAX = 1000
LINK_MAX = 500
NOTE_MAX = 255
DURATION_MAX = 1440  # the schema's bound: a day
OFFLINE_MAX_SPAN = timedelta(days=7)  # a station event's longest (services.checkin)
ONLINE_MAX_SPAN = timedelta(days=366)
FILENAME_MAX = 128


class TrainingError(Refused):
    """A training step the rules refuse; ``str()`` is the message, ``field`` the form field it
    concerns (None: the form as a whole)."""

    def __init__(self, message: object, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class SessionState(LabeledEnum):
    """Where a session stands at a moment (not stored: it follows from its times)."""

    UPCOMING = "upcoming"
    ONGOING = "ongoing"
    ENDED = "ended"
    CANCELLED = "cancelled"

    @classmethod
    def labels(cls) -> dict:
        return {cls.UPCOMING: _l("未开始"), cls.ONGOING: _l("进行中"), cls.ENDED: _l("已结束"),
                cls.CANCELLED: _l("已取消")}


def state_of(session: TrainingSession, now: datetime) -> SessionState:
    """The session's state at ``now``."""
    if session.cancelled_at is not None:
        return SessionState.CANCELLED
    if now < session.starts_at:
        return SessionState.UPCOMING
    return SessionState.ONGOING if now < session.ends_at else SessionState.ENDED


def states(sessions: Iterable[TrainingSession], now: datetime) -> dict[int, SessionState]:
    """Each session's state at ``now``, by id."""
    return {s.id: state_of(s, now) for s in sessions}


# --- PDF materials ------------------------------------------------------------------------------

PDF_MISSING = _l("请选择要上传的 PDF 文件。")
PDF_TOO_BIG = _l("PDF 文件不能超过 10 MB，请压缩或拆分后再传。")
NOT_A_PDF = _l("这个文件不是 PDF（只改扩展名的图片或文本也不行），请上传 PDF 格式的学习材料。")
PDF_ENCRYPTED = _l("这个 PDF 设置了密码或加密，党员无法直接打开，请上传未加密的文件。")
PDF_BROKEN = _l("这个 PDF 文件已损坏或不完整，无法打开，请重新导出后再传。")


class Upload(Protocol):
    """An uploaded file as the form hands it over (a werkzeug ``FileStorage``, say)."""

    filename: str | None
    stream: IO[bytes]


@dataclass(frozen=True)
class CheckedPdf:
    """A PDF that passed the checks, ready to store."""

    data: bytes
    sha256: str
    pages: int
    filename: str


def _clean_filename(name: str | None) -> str:
    """The uploaded file's name as shown to members: no path, no control or quoting characters,
    ending in .pdf, at most 128 characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '"<>:|?*;').strip()
    if not base.lower().endswith(".pdf"):
        base = (base or "material") + ".pdf"
    if len(base) > FILENAME_MAX:
        base = base[: FILENAME_MAX - 4] + ".pdf"
    return base


def check_pdf(upload: Upload) -> CheckedPdf:
    """Read an uploaded file and accept it only if it is a PDF by its content: at most 10 MB,
    starting with ``%PDF-``, and opened by pypdf, unencrypted, with at least one page. The file
    name and the declared type prove nothing."""
    data = upload.stream.read(DOCUMENT_MAX_BYTES + 1)
    if not data:
        raise TrainingError(PDF_MISSING, "document")
    if len(data) > DOCUMENT_MAX_BYTES:
        raise TrainingError(PDF_TOO_BIG, "document")
    if not data.startswith(b"%PDF-"):
        raise TrainingError(NOT_A_PDF, "document")
    with warnings.catch_warnings():
        # pypdf warns about the damage it works around; a file it cannot open raises below.
        warnings.simplefilter("ignore")
        try:
            from pypdf import PdfReader  # only when a PDF arrives: 7 MB a worker need not hold

            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                raise TrainingError(PDF_ENCRYPTED, "document")
            pages = len(reader.pages)
        except TrainingError:
            raise
        except Exception as e:  # noqa: BLE001 — any failure to parse means "broken"
            raise TrainingError(PDF_BROKEN, "document") from e
    if pages < 1:
        raise TrainingError(PDF_BROKEN, "document")
    return CheckedPdf(data, hashlib.sha256(data).hexdigest(), pages, _clean_filename(upload.filename))


def document_dir() -> Path:
    return Path(str(setting("UPLOAD_DIR"))) / "training"


def document_path(document: TrainingDocument) -> Path:
    """Where a stored PDF lives (under instance/, by content hash)."""
    return document_dir() / document.sha256[:2] / f"{document.sha256}.pdf"


_WRITTEN = "training_documents_written"


def store_document(pdf: CheckedPdf, uploaded_by_id: int | None) -> TrainingDocument:
    """Write the file (once per content) and return its row (added, not committed). A file
    written here is removed again if the transaction rolls back."""
    document = db.session.scalar(sa.select(TrainingDocument).where(TrainingDocument.sha256 == pdf.sha256))
    if document is None:
        document = TrainingDocument(sha256=pdf.sha256, filename=pdf.filename, size_bytes=len(pdf.data),
                                    pages=pdf.pages, uploaded_by_id=uploaded_by_id)
        db.session.add(document)
    path = document_path(document)
    if stored_files.write_once(path, pdf.data):
        db.session.info.setdefault(_WRITTEN, []).append(path)
    return document


def _keep_files(session: Session) -> None:
    session.info.pop(_WRITTEN, None)


def _remove_files(session: Session, previous: SessionTransaction) -> None:
    if not previous.nested:
        for path in session.info.pop(_WRITTEN, []):
            path.unlink(missing_ok=True)


if not sa.event.contains(Session, "after_commit", _keep_files):
    sa.event.listen(Session, "after_commit", _keep_files)
    sa.event.listen(Session, "after_soft_rollback", _remove_files)


# --- planning -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionInput:
    """What the planning form says, as plain values; times are aware instants."""

    title: str
    kind: str
    org_node_id: int | None
    description: str
    starts_at: datetime | None
    ends_at: datetime | None
    duration_minutes: int | None
    mode: str
    station_id: int | None = None
    link_url: str = ""


def nodes_for(user: User) -> list[OrgNode]:
    """The org nodes ``user`` may plan a session for (their nodes and below), in tree order."""
    return list(db.session.scalars(
        sa.select(OrgNode).where(policy.scope_condition(user)).order_by(OrgNode.path)
    ))


def stations_for(user: User) -> list[Station]:
    """The open stations ``user`` may hold an offline session at, in tree order."""
    return list(db.session.scalars(
        sa.select(Station).join(OrgNode, OrgNode.id == Station.org_node_id)
        .where(Station.active, policy.scope_condition(user))
        .order_by(OrgNode.path, Station.name)
    ))


def clean_link(raw: str | None) -> str:
    """An http(s) address with a host, or "" when none was given; anything else is refused."""
    link = (raw or "").strip()
    if not link:
        return ""
    bad = TrainingError(_l("请填写以 http:// 或 https:// 开头的完整网址。"), "link_url")
    if len(link) > LINK_MAX:
        raise TrainingError(_l("网址最多 500 个字符。"), "link_url")
    if any(ch.isspace() or not ch.isprintable() for ch in link):
        raise bad
    try:
        parts = urlsplit(link)
        host = parts.hostname
    except ValueError as e:
        raise bad from e
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise bad
    return link


def _node(user: User, node_id: int | None) -> OrgNode:
    node = db.session.get(OrgNode, node_id) if node_id is not None else None
    if node is None or not policy.node_in_scope(user, node):
        raise TrainingError(_l("请选择您管理范围内的组织。"), "org_node_id")
    return node


def _times(data: SessionInput, mode: TrainingMode, now: datetime) -> tuple[datetime, datetime, int]:
    if data.starts_at is None:
        raise TrainingError(_l("请填写开始时间。"), "starts_at")
    if data.ends_at is None:
        raise TrainingError(_l("请填写结束时间。"), "ends_at")
    if data.ends_at <= data.starts_at:
        raise TrainingError(_l("结束时间必须晚于开始时间。"), "ends_at")
    if data.ends_at <= now:
        raise TrainingError(_l("结束时间已过：只能安排尚未结束的培训。"), "ends_at")
    span = data.ends_at - data.starts_at
    if mode is TrainingMode.OFFLINE and span > OFFLINE_MAX_SPAN:
        raise TrainingError(_l("线下培训最长 7 天。"), "ends_at")
    if span > ONLINE_MAX_SPAN:
        raise TrainingError(_l("线上学习的开放时间最长一年。"), "ends_at")
    minutes = data.duration_minutes
    if minutes is None or not 1 <= minutes <= DURATION_MAX:
        raise TrainingError(_l("计入学时应在 1 到 1440 分钟之间。"), "duration_minutes")
    if minutes > span.total_seconds() / 60:
        raise TrainingError(_l("计入学时不能超过培训时长（%(n)d 分钟）。", n=int(span.total_seconds() // 60)),
                            "duration_minutes")
    return data.starts_at, data.ends_at, minutes


def _station(user: User, node: OrgNode, station_id: int | None, starts_at: datetime,
             ends_at: datetime, besides: StationEvent | None = None) -> Station:
    station = db.session.get(Station, station_id) if station_id is not None else None
    if station is None:
        raise TrainingError(_l("线下培训请选择驿站。"), "station_id")
    if not station.active or not policy.node_in_scope(user, station.org_node):
        raise TrainingError(_l("请选择您管理范围内、正在使用的驿站。"), "station_id")
    if not (node.path.startswith(station.org_node.path) or station.org_node.path.startswith(node.path)):
        # Members go to a station of their own area or of an organisation above it.
        raise TrainingError(_l("请选择该组织或其上级组织的驿站。"), "station_id")
    overlapping = (sa.select(StationEvent)
                   .where(StationEvent.station_id == station.id,
                          StationEvent.starts_at < ends_at, StationEvent.ends_at > starts_at))
    if besides is not None:  # the session's own event, being moved
        overlapping = overlapping.where(StationEvent.id != besides.id)
    clash = db.session.scalar(overlapping.order_by(StationEvent.starts_at).limit(1))
    if clash is not None:
        # Two events at once would split the check-ins between them.
        raise TrainingError(_l("该驿站在这段时间已安排“%(title)s”（%(at)s 开始），请换个时间或驿站。",
                               title=clash.title, at=f"{local_naive(clash.starts_at):%m-%d %H:%M}"),
                            "station_id")
    return station


@dataclass(frozen=True)
class _Checked:
    """A session's details once every check has passed (nothing written yet)."""

    title: str
    kind: TrainingKind
    description: str
    starts_at: datetime
    ends_at: datetime
    minutes: int
    link: str
    station: Station | None
    pdf: CheckedPdf | None


def _check(user: User, data: SessionInput, mode: TrainingMode, node: OrgNode, upload: Upload | None,
           now: datetime, event: StationEvent | None = None, has_document: bool = False) -> _Checked:
    """Every check a planned (or changed) session must pass, in the order a person reads the form."""
    title = (data.title or "").strip()
    if not title:
        raise TrainingError(_l("请填写培训名称。"), "title")
    if len(title) > TITLE_MAX:
        raise TrainingError(_l("培训名称最多 64 个字。"), "title")
    try:
        kind = TrainingKind(data.kind)
    except ValueError as e:
        raise TrainingError(_l("请选择培训类型和方式。"), "kind") from e
    description = (data.description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        raise TrainingError(_l("培训内容最多 1000 字。"), "description")
    starts_at, ends_at, minutes = _times(data, mode, now)
    link = clean_link(data.link_url)
    chosen = upload is not None and bool(getattr(upload, "filename", ""))
    station = (_station(user, node, data.station_id, starts_at, ends_at, besides=event)
               if mode is TrainingMode.OFFLINE else None)
    if mode is TrainingMode.ONLINE and not link and not chosen and not has_document:
        raise TrainingError(_l("线上学习请填写学习链接或上传 PDF 材料。"), "link_url")
    pdf = check_pdf(upload) if chosen else None  # type: ignore[arg-type]
    return _Checked(title, kind, description, starts_at, ends_at, minutes, link, station, pdf)


def plan_session(user: User, data: SessionInput, upload: Upload | None = None,
                 now: datetime | None = None) -> TrainingSession:
    """Plan a session for a node in ``user``'s scope. Offline: its station event is created in
    the same step. Online: a link or a PDF (checked by content) is required. Every check runs
    before anything is written; the PDF is written last."""
    now = now or utcnow()
    if not policy.is_org_admin(user):
        raise NotAllowed(_l("只有组织管理员可以安排培训。"))
    try:
        mode = TrainingMode(data.mode)
    except ValueError as e:
        raise TrainingError(_l("请选择培训类型和方式。"), "kind") from e
    node = _node(user, data.org_node_id)
    checked = _check(user, data, mode, node, upload, now)
    session = TrainingSession(
        org_node_id=node.id, title=checked.title, kind=checked.kind, mode=mode,
        description=checked.description, starts_at=checked.starts_at, ends_at=checked.ends_at,
        duration_minutes=checked.minutes, link_url=checked.link, created_by_id=user.id, created_at=now,
    )
    if checked.station is not None:
        session.station_event = checkin.save_event(checked.station, checked.title, StationEventKind.TRAINING,
                                                   checked.starts_at, checked.ends_at, by=user)
    if checked.pdf is not None:
        session.document = store_document(checked.pdf, user.id)
    db.session.add(session)
    db.session.flush()
    return session


def edit_session(session: TrainingSession, user: User, data: SessionInput, upload: Upload | None = None,
                 now: datetime | None = None) -> TrainingSession:
    """Change a session that has not started: its name, type, content, times and hours, and its
    station (offline, the station event moves with it) or its link and PDF (online). The
    organisation and the way it is held stay: for another audience or mode, cancel and plan anew."""
    now = now or utcnow()
    if not policy.can_administer_session(user, session):
        raise NotAllowed(_l("只有培训所属组织的管理员可以修改培训。"))
    if session.cancelled_at is not None:
        raise TrainingError(_l("这次培训已经取消了。"))
    if session.starts_at <= now:
        raise TrainingError(_l("培训已经开始或结束，不能修改。"))
    event = session.station_event
    if event is not None and db.session.scalar(
            sa.select(sa.func.count(Checkin.id)).where(Checkin.event_id == event.id)):
        raise TrainingError(_l("已有党员签到，不能修改。"))
    checked = _check(user, data, session.mode, session.org_node, upload, now, event=event,
                     has_document=session.document_id is not None)
    session.title, session.kind, session.description = checked.title, checked.kind, checked.description
    session.starts_at, session.ends_at = checked.starts_at, checked.ends_at
    session.duration_minutes, session.link_url = checked.minutes, checked.link
    if checked.station is not None:
        session.station_event = checkin.save_event(checked.station, checked.title, StationEventKind.TRAINING,
                                                   checked.starts_at, checked.ends_at, by=user, event=event)
    if checked.pdf is not None:
        session.document = store_document(checked.pdf, user.id)
    db.session.flush()
    return session


def cancel_session(session: TrainingSession, user: User, now: datetime | None = None) -> TrainingSession:
    """Cancel a session that has not started. Offline, its station event is deleted with it: the
    kiosk stops showing it and no check-in can count for it (none can have yet)."""
    now = now or utcnow()
    if not policy.can_administer_session(user, session):
        raise NotAllowed(_l("只有培训所属组织的管理员可以取消培训。"))
    if session.cancelled_at is not None:
        raise TrainingError(_l("这次培训已经取消了。"))
    if session.starts_at <= now:
        raise TrainingError(_l("培训已经开始或结束，不能取消。"))
    event = session.station_event
    session.cancelled_at = now
    if event is not None:
        if db.session.scalar(sa.select(sa.func.count(Checkin.id)).where(Checkin.event_id == event.id)):
            raise TrainingError(_l("已有党员签到，不能取消。"))
        session.station_event = None
        db.session.flush()
        db.session.delete(event)
    return session


# --- attendance (offline) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Attendee:
    """A check-in that counts for an offline session, as its page and export show it."""

    member_id: int
    name: str
    grid: str  # the member's grid's name
    checked_in_at: datetime
    method: CheckinMethod
    recorded_by: str | None  # who recorded it for the member (补签), if anyone
    station_id: int
    day: date


@dataclass(frozen=True)
class Completer:
    """A completion of an online session, as its page and export show it."""

    member_id: int
    name: str
    grid: str
    completed_at: datetime
    reflection: str


def attendance(session: TrainingSession) -> list[Attendee]:
    """Who attended an offline session: the station's check-ins that count for its event (a
    check-in while it ran, or that day's earlier one renewed by a scan while it ran), oldest
    first — the columns shown, in one query (a township's session lists hundreds)."""
    if session.station_event_id is None:
        return []
    recorder = aliased(User)
    return [Attendee(*row) for row in db.session.execute(
        sa.select(Checkin.member_id, User.name, OrgNode.name, Checkin.checked_in_at, Checkin.method, recorder.name,
                  Checkin.station_id, Checkin.day)
        .join(Member, Member.id == Checkin.member_id).join(User, User.id == Member.user_id)
        .join(OrgNode, OrgNode.id == Member.grid_id)
        .outerjoin(recorder, recorder.id == Checkin.recorded_by_id)
        .where(Checkin.event_id == session.station_event_id)
        .order_by(Checkin.checked_in_at, Checkin.id))]


def marks_of(session: TrainingSession) -> dict[int, list[AttendanceMark]]:
    """The session's late/early marks by member id."""
    found: dict[int, list[AttendanceMark]] = {}
    for mark in db.session.scalars(
        sa.select(AttendanceMark).where(AttendanceMark.session_id == session.id)
        .order_by(AttendanceMark.kind, AttendanceMark.id)
    ).unique():
        found.setdefault(mark.member_id, []).append(mark)
    return found


def _attended(session: TrainingSession, member_id: int) -> bool:
    if session.station_event_id is None:
        return False
    return db.session.scalar(sa.select(sa.func.count(Checkin.id)).where(
        Checkin.event_id == session.station_event_id, Checkin.member_id == member_id)) > 0


def add_mark(session: TrainingSession, member_id: int | None, kind: str, note: str, by: User,
             now: datetime | None = None) -> AttendanceMark:
    """Mark an attendee of an offline session as late or as having left early, with a note."""
    now = now or utcnow()
    if not policy.can_mark_attendance(by, session):
        raise NotAllowed(_l("只有驿站管理员或组织管理员可以标记迟到、早退。"))
    if now < session.starts_at:
        raise TrainingError(_l("培训还没开始，不能标记迟到、早退。"))
    if member_id is None or not _attended(session, member_id):
        raise TrainingError(_l("只能标记已签到的党员。"), "member_id")
    try:
        mark_kind = AttendanceMarkKind(kind)
    except ValueError as e:
        raise TrainingError(_l("请选择迟到或早退。"), "kind") from e
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise TrainingError(_l("备注最多 255 字。"), "note")
    exists = db.session.scalar(sa.select(AttendanceMark).where(
        AttendanceMark.session_id == session.id, AttendanceMark.member_id == member_id,
        AttendanceMark.kind == mark_kind))
    if exists is not None:
        raise TrainingError(_l("已经标记过%(kind)s，如需修改请先删除原标记。", kind=mark_kind.label), "kind")
    mark = AttendanceMark(session_id=session.id, member_id=member_id, kind=mark_kind, note=note,
                          marked_by_id=by.id, marked_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(mark)
    except sa.exc.IntegrityError as e:  # the same mark sent twice at once
        raise TrainingError(_l("已经标记过%(kind)s，如需修改请先删除原标记。", kind=mark_kind.label),
                            "kind") from e
    return mark


def remove_mark(session: TrainingSession, mark_id: int, by: User) -> AttendanceMark:
    """Remove one of the session's marks."""
    if not policy.can_mark_attendance(by, session):
        raise NotAllowed(_l("只有驿站管理员或组织管理员可以标记迟到、早退。"))
    mark = db.session.get(AttendanceMark, mark_id)
    if mark is None or mark.session_id != session.id:
        raise TrainingError(_l("没有找到这条标记，可能已被删除。"))
    db.session.delete(mark)
    return mark


# --- completion (online) ------------------------------------------------------------------------


@dataclass
class CompletionResult:
    completion: TrainingCompletion
    created: bool  # False: the member had already completed it


def completion_of(session: TrainingSession, member: Member) -> TrainingCompletion | None:
    """The member's completion of the session, if any."""
    return db.session.scalar(sa.select(TrainingCompletion).where(
        TrainingCompletion.session_id == session.id, TrainingCompletion.member_id == member.id))


def complete(session: TrainingSession, member: Member, reflection: str | None,
             now: datetime | None = None) -> CompletionResult:
    """The member's "我已学完" on an online session of their node, once, with an optional 心得
    (≤ 500 字). The first one awards the TRAINING_COMPLETED points in the same transaction; a
    second press (or two at once: the UNIQUE constraint) returns the first."""
    now = now or utcnow()
    if not policy.session_is_for(member, session):
        raise NotAllowed(_l("这次培训不面向您所在的组织。"))
    if session.mode is not TrainingMode.ONLINE:
        raise TrainingError(_l("线下培训以在驿站扫码签到计出勤。"))
    found = completion_of(session, member)
    if found is not None:
        return CompletionResult(found, False)
    if session.cancelled_at is not None:
        raise TrainingError(_l("这次培训已经取消了。"))
    if now < session.starts_at:
        raise TrainingError(_l("学习还没开始（%(at)s 开放）。", at=f"{local_naive(session.starts_at):%Y-%m-%d %H:%M}"))
    if now >= session.ends_at:
        raise TrainingError(_l("学习已于 %(at)s 截止。", at=f"{local_naive(session.ends_at):%Y-%m-%d %H:%M}"))
    text = (reflection or "").strip()
    if len(text) > REFLECTION_MAX:
        raise TrainingError(_l("学习心得最多 500 字（现在 %(n)d 字），请删减后再提交。", n=len(text)),
                            "reflection")
    row = TrainingCompletion(session_id=session.id, member_id=member.id, completed_at=now, reflection=text)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except sa.exc.IntegrityError:
        found = completion_of(session, member)
        if found is None:  # not the double press: some other constraint failed
            raise
        return CompletionResult(found, False)
    points.award(member, RuleCode.TRAINING_COMPLETED, "training_completion", row.id, local_day(now))
    return CompletionResult(row, True)


def completions(session: TrainingSession) -> list[Completer]:
    """Who completed an online session, in order — the columns shown, in one query."""
    return [Completer(*row) for row in db.session.execute(
        sa.select(TrainingCompletion.member_id, User.name, OrgNode.name, TrainingCompletion.completed_at,
                  TrainingCompletion.reflection)
        .join(Member, Member.id == TrainingCompletion.member_id).join(User, User.id == Member.user_id)
        .join(OrgNode, OrgNode.id == Member.grid_id)
        .where(TrainingCompletion.session_id == session.id)
        .order_by(TrainingCompletion.completed_at, TrainingCompletion.id))]


# --- lists --------------------------------------------------------------------------------------


# The list's state filter: a session's state (``SessionState``) or every one not cancelled.
ACTIVE = "active"
STATE_FILTERS = (ACTIVE, *(s.value for s in SessionState))


@dataclass
class SessionFilter:
    """The admin list's filters: a period (local dates, both included), kind, mode and state
    (one of ``STATE_FILTERS``, "" for any; ``at`` the moment a state is judged at, now if None)."""

    date_from: date | None = None
    date_to: date | None = None
    kind: TrainingKind | None = None
    mode: TrainingMode | None = None
    state: str = ""
    at: datetime | None = None


def _state_condition(state: str, now: datetime) -> sa.ColumnElement[bool]:
    """Sessions in ``state`` at ``now`` (as ``state_of`` judges one session)."""
    live = TrainingSession.cancelled_at.is_(None)
    return {
        ACTIVE: live,
        SessionState.UPCOMING.value: sa.and_(live, TrainingSession.starts_at > now),
        SessionState.ONGOING.value: sa.and_(live, TrainingSession.starts_at <= now, TrainingSession.ends_at > now),
        SessionState.ENDED.value: sa.and_(live, TrainingSession.ends_at <= now),
        SessionState.CANCELLED.value: TrainingSession.cancelled_at.is_not(None),
    }[state]


def sessions_for(user: User, flt: SessionFilter) -> sa.Select[tuple[TrainingSession]]:
    """The sessions an admin sees: those of nodes in their scope, and those held at stations they
    run; newest first."""
    node_ids = sa.select(OrgNode.id).where(policy.scope_condition(user))
    reach = TrainingSession.org_node_id.in_(node_ids)
    station_ids = [s.id for s in user.admin_stations]
    if station_ids:
        events = sa.select(StationEvent.id).where(StationEvent.station_id.in_(station_ids))
        reach = sa.or_(reach, TrainingSession.station_event_id.in_(events))
    stmt = sa.select(TrainingSession).where(reach)
    if flt.date_from is not None or flt.date_to is not None:
        first, last = days_bounds(flt.date_from or date(1970, 1, 1), flt.date_to or date(9998, 12, 31))
        stmt = stmt.where(TrainingSession.starts_at >= first, TrainingSession.starts_at < last)
    if flt.kind is not None:
        stmt = stmt.where(TrainingSession.kind == flt.kind)
    if flt.mode is not None:
        stmt = stmt.where(TrainingSession.mode == flt.mode)
    if flt.state:
        stmt = stmt.where(_state_condition(flt.state, flt.at or utcnow()))
    return stmt.order_by(TrainingSession.starts_at.desc(), TrainingSession.id.desc())


def _taken_in(user: User, flt: SessionFilter) -> sa.Subquery:
    """(sid, mid): each member who took part in a session of the admin's list (its filters;
    cancelled sessions left out), once per session — the pairs ``SessionParticipants`` counts
    (a check-in counted for the session's event, or an online completion)."""
    ids = (sessions_for(user, flt).where(TrainingSession.cancelled_at.is_(None))
           .with_only_columns(TrainingSession.id).order_by(None))
    attended = (sa.select(TrainingSession.id.label("sid"), Checkin.member_id.label("mid"))
                .join(Checkin, Checkin.event_id == TrainingSession.station_event_id)
                .where(TrainingSession.id.in_(ids)))
    completed = (sa.select(TrainingCompletion.session_id, TrainingCompletion.member_id)
                 .where(TrainingCompletion.session_id.in_(ids)))
    return sa.union(attended, completed).subquery()  # UNION: each pair once


@dataclass(frozen=True)
class Participation:
    """A line of the participation list: a member's part in a session (one Core row)."""

    session_id: int
    title: str
    kind: TrainingKind
    mode: TrainingMode
    starts_at: datetime
    duration_minutes: int
    node: str  # the session's organisation
    member: str
    grid: str
    at: datetime | None  # the member's first check-in for the session, or their completion


def participations_for(user: User, flt: SessionFilter) -> sa.Select:
    """The participation list's columns (read as ``Participation``): one row per session and
    member who took part, newest session first. Its length is what the admin home's and the
    工作看板's 参训人次 show."""
    taken = _taken_in(user, flt)
    node, grid = aliased(OrgNode), aliased(OrgNode)
    first_checkin = (sa.select(sa.func.min(Checkin.checked_in_at))
                     .where(Checkin.event_id == TrainingSession.station_event_id, Checkin.member_id == taken.c.mid)
                     .scalar_subquery())
    return (
        sa.select(TrainingSession.id, TrainingSession.title, TrainingSession.kind, TrainingSession.mode,
                  TrainingSession.starts_at, TrainingSession.duration_minutes, node.name, User.name, grid.name,
                  sa.func.coalesce(TrainingCompletion.completed_at, first_checkin))
        .select_from(taken)
        .join(TrainingSession, TrainingSession.id == taken.c.sid)
        .join(node, node.id == TrainingSession.org_node_id)
        .join(Member, Member.id == taken.c.mid)
        .join(User, User.id == Member.user_id)
        .join(grid, grid.id == Member.grid_id)
        .outerjoin(TrainingCompletion, sa.and_(TrainingCompletion.session_id == taken.c.sid,
                                               TrainingCompletion.member_id == taken.c.mid))
        .order_by(TrainingSession.starts_at.desc(), TrainingSession.id.desc(), taken.c.mid)
    )


def participation_totals(user: User, flt: SessionFilter) -> tuple[int, int]:
    """How many lines the participation list has, and the minutes they credit (one query)."""
    taken = _taken_in(user, flt)
    n, minutes = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(TrainingSession.duration_minutes), 0))
        .select_from(taken).join(TrainingSession, TrainingSession.id == taken.c.sid)).one()
    return int(n or 0), int(minutes or 0)


def participation_counts(sessions: Collection[TrainingSession]) -> dict[int, int]:
    """How many members attended (offline) or completed (online) each session (one query: the
    participants maintained per session, app/services/aggregates.py — an offline session has
    check-ins and no completions, an online one the reverse, each member once)."""
    from app.models import SessionParticipants

    ids = [s.id for s in sessions]
    if not ids:
        return {}
    counts = dict.fromkeys(ids, 0)
    counts.update(dict(db.session.execute(
        sa.select(SessionParticipants.session_id, SessionParticipants.participants)
        .where(SessionParticipants.session_id.in_(ids))).all()))
    return counts


def expected_counts(sessions: Collection[TrainingSession]) -> dict[int, int]:
    """How many active members each session's node has (one query): who should take part."""
    node_ids = {s.org_node_id for s in sessions}
    if not node_ids:
        return {}
    grid = aliased(OrgNode)
    per_node = dict(db.session.execute(
        sa.select(OrgNode.id, sa.func.count(Member.id))
        .join(grid, grid.path.startswith(OrgNode.path))
        .join(Member, Member.grid_id == grid.id)
        .where(OrgNode.id.in_(node_ids), Member.status == MemberStatus.ACTIVE)
        .group_by(OrgNode.id)
    ).all())
    return {s.id: per_node.get(s.org_node_id, 0) for s in sessions}


def open_for(member: Member, now: datetime | None = None) -> sa.Select[tuple[TrainingSession]]:
    """Sessions for the member's grid and the nodes above it that have not ended and are not
    cancelled, soonest first: what "我的培训" offers."""
    now = now or utcnow()
    return (
        sa.select(TrainingSession)
        .where(TrainingSession.org_node_id.in_(member.grid.ancestor_ids),
               TrainingSession.cancelled_at.is_(None), TrainingSession.ends_at > now)
        .order_by(TrainingSession.starts_at, TrainingSession.id)
    )


def member_progress(member: Member, sessions: Collection[TrainingSession]) -> dict[int, datetime]:
    """For the listed sessions, when the member attended (offline) or completed (online) each
    one they did (two queries)."""
    ids = [s.id for s in sessions]
    if not ids:
        return {}
    done = dict(db.session.execute(
        sa.select(TrainingSession.id, sa.func.min(Checkin.checked_in_at))
        .join(Checkin, Checkin.event_id == TrainingSession.station_event_id)
        .where(TrainingSession.id.in_(ids), Checkin.member_id == member.id)
        .group_by(TrainingSession.id)
    ).all())
    done.update(db.session.execute(
        sa.select(TrainingCompletion.session_id, TrainingCompletion.completed_at)
        .where(TrainingCompletion.session_id.in_(ids), TrainingCompletion.member_id == member.id)
    ).all())
    return done


@dataclass
class SessionPage:
    """What a session's page shows its admins."""

    session: TrainingSession
    state: SessionState
    checkins: list[Attendee]  # offline
    marks: dict[int, list[AttendanceMark]]  # offline, by member id
    completions: list[Completer]  # online
    attended: int  # members (a multi-day session's member counts once)
    expected: int  # active members of the node


def session_page(session: TrainingSession, now: datetime | None = None) -> SessionPage:
    """A session with its attendance list (offline) or its completions (online)."""
    now = now or utcnow()
    offline = session.mode is TrainingMode.OFFLINE
    rows = attendance(session) if offline else []
    done = [] if offline else completions(session)
    attended = len({c.member_id for c in rows}) if offline else len(done)
    return SessionPage(session, state_of(session, now), rows, marks_of(session) if offline else {}, done,
                       attended, expected_counts([session]).get(session.id, 0))


@dataclass
class MyTraining:
    """A member's 我的培训: the listed sessions' progress, this year's record, the household they
    head (whose record they may open)."""

    progress: dict[int, datetime]
    record: MemberRecord
    headed: CentralHousehold | None


def my_training(member: Member, sessions: Collection[TrainingSession], year: int) -> MyTraining:
    """What 我的培训 shows beside the open sessions."""
    headed = db.session.scalar(sa.select(CentralHousehold).where(CentralHousehold.head_member_id == member.id)
                               .limit(1))
    return MyTraining(member_progress(member, sessions), member_record(member, year), headed)


# --- hours and records --------------------------------------------------------------------------


@dataclass
class KindTotal:
    sessions: int = 0
    minutes: int = 0


@dataclass
class MemberTraining:
    """One member's training in a year: sessions counted once each, and their credited minutes."""

    sessions: int = 0
    minutes: int = 0
    offline: int = 0  # sessions attended at a station
    online: int = 0  # online sessions completed
    by_kind: dict[TrainingKind, KindTotal] = field(default_factory=dict)

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 2)

    def kinds(self) -> list[tuple[TrainingKind, KindTotal]]:
        """The per-kind totals in the kinds' own order (集中学习 first)."""
        return [(k, self.by_kind[k]) for k in TrainingKind if k in self.by_kind]

    def add(self, kind: TrainingKind, mode: TrainingMode, sessions: int, minutes: int) -> None:
        self.sessions += sessions
        self.minutes += minutes
        if mode is TrainingMode.OFFLINE:
            self.offline += sessions
        else:
            self.online += sessions
        total = self.by_kind.setdefault(kind, KindTotal())
        total.sessions += sessions
        total.minutes += minutes


def _year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def _taken(member_ids: Collection[int] | sa.Select, year: int) -> sa.Subquery:
    """(session_id, member_id) of every session a member attended or completed in ``year``,
    once each (a multi-day session with a check-in each day counts once)."""
    first, last = _year_bounds(year)
    start, end = days_bounds(first, last)
    attended = (
        sa.select(TrainingSession.id.label("session_id"), Checkin.member_id.label("member_id"))
        .join(Checkin, Checkin.event_id == TrainingSession.station_event_id)
        .where(Checkin.member_id.in_(member_ids), Checkin.day >= first, Checkin.day <= last,
               TrainingSession.cancelled_at.is_(None))
    )
    completed = (
        sa.select(TrainingCompletion.session_id, TrainingCompletion.member_id)
        .join(TrainingSession, TrainingSession.id == TrainingCompletion.session_id)
        .where(TrainingCompletion.member_id.in_(member_ids), TrainingCompletion.completed_at >= start,
               TrainingCompletion.completed_at < end, TrainingSession.cancelled_at.is_(None))
    )
    return sa.union(attended, completed).subquery()  # UNION drops the duplicates


def training_breakdown(member_ids: Collection[int] | sa.Select, year: int) -> dict[int, MemberTraining]:
    """Each member's training in the Asia/Shanghai ``year``: sessions, minutes, offline/online and
    by kind. A session counts once per member when they attended it (offline: a check-in at the
    station counted for the session's event, on a day of ``year``) or completed it (online:
    "我已学完" on a day of ``year``); cancelled sessions count for nobody. Every member id asked
    for is a key (zeros when they took none); ``member_ids`` may also be a select of ids. One
    query."""
    taken = _taken(member_ids, year)
    rows = db.session.execute(
        sa.select(taken.c.member_id, TrainingSession.kind, TrainingSession.mode,
                  sa.func.count(), sa.func.sum(TrainingSession.duration_minutes))
        .join(TrainingSession, TrainingSession.id == taken.c.session_id)
        .group_by(taken.c.member_id, TrainingSession.kind, TrainingSession.mode)
    ).all()
    result: dict[int, MemberTraining] = (
        {} if isinstance(member_ids, sa.Select) else {i: MemberTraining() for i in member_ids}
    )
    for member_id, kind, mode, n, minutes in rows:
        result.setdefault(member_id, MemberTraining()).add(kind, mode, n, int(minutes or 0))
    return result


def training_hours(member_ids: Collection[int] | sa.Select, year: int) -> dict[int, float]:
    """Training hours per member in the Asia/Shanghai ``year`` — what the yearly evaluation's
    "培训学时" is. The sum of ``duration_minutes`` / 60 (rounded to 0.01) of every session the
    member attended offline or completed online that year, each counted once; see
    :func:`training_breakdown` for the rules and the per-kind figures. Members with none get 0."""
    return {member_id: t.hours for member_id, t in training_breakdown(member_ids, year).items()}


@dataclass
class RecordLine:
    """One session in a member's record."""

    session: TrainingSession
    at: datetime  # first check-in, or completion
    reflection: str = ""
    marks: list[AttendanceMark] = field(default_factory=list)


@dataclass
class MemberRecord:
    member: Member
    year: int
    totals: MemberTraining
    lines: list[RecordLine]


def member_record(member: Member, year: int) -> MemberRecord:
    """The member's sessions of ``year``, newest first, with the totals (four queries)."""
    first, last = _year_bounds(year)
    start, end = days_bounds(first, last)
    firsts = (
        sa.select(TrainingSession.id.label("sid"), sa.func.min(Checkin.checked_in_at).label("at"))
        .join(Checkin, Checkin.event_id == TrainingSession.station_event_id)
        .where(Checkin.member_id == member.id, Checkin.day >= first, Checkin.day <= last,
               TrainingSession.cancelled_at.is_(None))
        .group_by(TrainingSession.id)
        .subquery()
    )
    attended = db.session.execute(
        sa.select(TrainingSession, firsts.c.at).join(firsts, firsts.c.sid == TrainingSession.id)
    ).unique().all()
    completed = db.session.scalars(
        sa.select(TrainingCompletion).options(lazyload(TrainingCompletion.member))  # it is ``member``
        .join(TrainingSession, TrainingSession.id == TrainingCompletion.session_id)
        .where(TrainingCompletion.member_id == member.id, TrainingCompletion.completed_at >= start,
               TrainingCompletion.completed_at < end, TrainingSession.cancelled_at.is_(None))
    ).unique().all()
    lines = [RecordLine(s, at) for s, at in attended]
    lines += [RecordLine(c.session, c.completed_at, c.reflection) for c in completed]
    if attended:
        marks: dict[int, list[AttendanceMark]] = {}
        for mark in db.session.scalars(sa.select(AttendanceMark).where(
                AttendanceMark.member_id == member.id,
                AttendanceMark.session_id.in_([s.id for s, _ in attended])).order_by(AttendanceMark.kind)).unique():
            marks.setdefault(mark.session_id, []).append(mark)
        for line in lines:
            line.marks = marks.get(line.session.id, [])
    lines.sort(key=lambda line: (line.at, line.session.id), reverse=True)
    totals = training_breakdown([member.id], year)[member.id]
    return MemberRecord(member, year, totals, lines)


@dataclass
class HouseholdRecord:
    household: CentralHousehold
    year: int
    rows: list[tuple[Member, MemberTraining]]  # head first, then by name
    totals: MemberTraining


def household_record(household: CentralHousehold, year: int) -> HouseholdRecord:
    """A central household's members (its head and linked members) with their training in
    ``year``, and the household's totals (two queries)."""
    members = list(db.session.scalars(
        sa.select(Member).join(User, User.id == Member.user_id)
        .where(household_member_condition(household)).order_by(User.name, Member.id)
    ).unique())
    members.sort(key=lambda m: m.id != household.head_member_id)
    per_member = training_breakdown([m.id for m in members], year)
    totals = MemberTraining()
    for t in per_member.values():
        totals.sessions += t.sessions
        totals.minutes += t.minutes
        totals.offline += t.offline
        totals.online += t.online
        for kind, k in t.by_kind.items():
            into = totals.by_kind.setdefault(kind, KindTotal())
            into.sessions += k.sessions
            into.minutes += k.minutes
    return HouseholdRecord(household, year, [(m, per_member[m.id]) for m in members], totals)


def record_years(today: date, back: int = 4) -> list[int]:
    """The years a record page offers, this one first."""
    return list(range(today.year, today.year - back - 1, -1))


@dataclass(frozen=True)
class ScopeCounts:
    """Figures a home page can show an admin for a year."""

    sessions: int
    upcoming: int
    participations: int  # attendances + completions
    minutes: int  # credited minutes over every participation


def scope_counts(user: User, year: int, now: datetime | None = None) -> ScopeCounts:
    """The admin's sessions of ``year`` (by start, cancelled left out), those still to come, and
    the members' participations in them (three queries)."""
    now = now or utcnow()
    first, last = _year_bounds(year)
    base = sessions_for(user, SessionFilter(first, last)).where(TrainingSession.cancelled_at.is_(None))
    ids = base.with_only_columns(TrainingSession.id).order_by(None)
    sessions = db.session.scalar(sa.select(sa.func.count()).select_from(ids.subquery()))
    upcoming = db.session.scalar(sa.select(sa.func.count()).select_from(
        ids.where(TrainingSession.starts_at > now).subquery()))
    # The members who attended or completed each session, maintained per session
    # (app/services/aggregates.py): a sum over this year's sessions, not a count of check-ins.
    from app.models import SessionParticipants

    taken = SessionParticipants
    n, minutes = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(taken.participants), 0),
                  sa.func.coalesce(sa.func.sum(taken.participants * TrainingSession.duration_minutes), 0))
        .select_from(taken).join(TrainingSession, TrainingSession.id == taken.session_id)
        .where(taken.session_id.in_(ids))
    ).one()
    return ScopeCounts(sessions or 0, upcoming or 0, n or 0, int(minutes or 0))


# --- export -------------------------------------------------------------------------------------


def _period_label(session: TrainingSession) -> str:
    start, end = local_naive(session.starts_at), local_naive(session.ends_at)
    same_day = start.date() == end.date()
    return f"{start:%Y-%m-%d %H:%M} 至 {end:%H:%M}" if same_day else f"{start:%Y-%m-%d %H:%M} 至 {end:%Y-%m-%d %H:%M}"


OFFLINE_HEADERS = ["序号", "姓名", "网格", "签到时间", "签到方式", "迟到", "早退", "备注", "补签人"]
ONLINE_HEADERS = ["序号", "姓名", "网格", "完成时间", "学习心得"]


def export_attendance(session: TrainingSession, by: User, ip: str = "") -> bytes:
    """The session's attendance (offline: check-ins with their marks; online: completions with
    their 心得) as an .xlsx ledger: the node, the period, Chinese headers, formula-safe cells.
    Audited."""
    place = session.station_event.station.name if session.station_event is not None else str(_l("线上"))
    title = f"{session.title} {'出勤名单' if session.mode is TrainingMode.OFFLINE else '完成名单'}"
    if session.mode is TrainingMode.OFFLINE:
        marks = marks_of(session)
        rows: list[list[object]] = []
        for i, c in enumerate(attendance(session), start=1):
            mine = marks.get(c.member_id, [])
            late = [m for m in mine if m.kind is AttendanceMarkKind.LATE]
            early = [m for m in mine if m.kind is AttendanceMarkKind.LEFT_EARLY]
            rows.append([i, c.name, c.grid, local_naive(c.checked_in_at), str(c.method.label),
                         "是" if late else "", "是" if early else "", "；".join(m.note for m in mine if m.note),
                         c.recorded_by or ""])
        headers = OFFLINE_HEADERS
    else:
        rows = [[i, c.name, c.grid, local_naive(c.completed_at), c.reflection]
                for i, c in enumerate(completions(session), start=1)]
        headers = ONLINE_HEADERS
    content = ledger.build_workbook(
        title=title,
        node_name=f"{session.org_node.name} · {place}",
        period=_period_label(session),
        headers=headers,
        rows=rows,
    )
    audit(by.id, "training.attendance_export", "training_session", session.id, detail=f"{len(rows)} rows", ip=ip)
    return content


# --- the sessions list's ledger -------------------------------------------------------------------

SESSIONS_EXPORT_MAX = 50_000


def state_filter_label(state: str) -> str:
    """A value of the state filter in words."""
    if state == ACTIVE:
        return str(_l("未取消"))
    return SessionState(state).label if state else str(_l("全部状态"))


def _filter_words(flt: SessionFilter) -> str:
    """The list's filters in words, as the ledger writes them above its headers (the state when
    one is chosen)."""
    words = str(_l("类型：%(kind)s；方式：%(mode)s", kind=flt.kind.label if flt.kind else _l("全部类型"),
                   mode=flt.mode.label if flt.mode else _l("全部方式")))
    return words + (str(_l("；状态：%(state)s", state=state_filter_label(flt.state))) if flt.state else "")


def _period_words(flt: SessionFilter) -> str:
    if flt.date_from is None and flt.date_to is None:
        return str(_l("全部日期"))
    return str(_l("%(a)s 至 %(b)s", a=flt.date_from.isoformat() if flt.date_from else "…",
                  b=flt.date_to.isoformat() if flt.date_to else "…"))


def export_sessions(user: User, flt: SessionFilter, now: datetime, ip: str = "") -> bytes:
    """The sessions list the admin sees (the same filters) as an .xlsx ledger: each session's
    times, kind, mode, place, node, hours, who took part against who should, its state. Audited."""
    sessions = list(db.session.scalars(sessions_for(user, flt).limit(SESSIONS_EXPORT_MAX)).unique())
    taken, expected = participation_counts(sessions), expected_counts(sessions)
    headers = [str(h) for h in (_l("开始时间"), _l("结束时间"), _l("主题"), _l("类型"), _l("方式"), _l("地点"),
                                _l("面向组织"), _l("学时"), _l("实参训"), _l("应参训"), _l("状态"))]
    rows = [[local_naive(s.starts_at), local_naive(s.ends_at), s.title, s.kind.label, s.mode.label,
             s.station_event.station.name if s.station_event is not None else (
                 str(_l("线上")) if s.mode is TrainingMode.ONLINE else ""),
             s.org_node.name, round(s.duration_minutes / 60, 2), taken.get(s.id, 0), expected.get(s.id, 0),
             state_of(s, now).label] for s in sessions]
    return _ledger(user, flt, str(_l("培训台账")), "training_sessions", headers, rows, ip)


def export_participations(user: User, flt: SessionFilter, ip: str = "") -> bytes:
    """The participation list (the same filters) as an .xlsx ledger: each member's participation
    in a session — the session, the member and grid, when they checked in or completed it, the
    hours it credits. Audited."""
    found = [Participation(*r) for r in db.session.execute(participations_for(user, flt).limit(SESSIONS_EXPORT_MAX))]
    headers = [str(h) for h in (_l("开始时间"), _l("培训"), _l("类型"), _l("方式"), _l("面向组织"), _l("姓名"),
                                _l("网格"), _l("签到/完成时间"), _l("学时"))]
    rows = [[local_naive(p.starts_at), p.title, p.kind.label, p.mode.label, p.node, p.member, p.grid,
             local_naive(p.at) if p.at is not None else "", round(p.duration_minutes / 60, 2)] for p in found]
    return _ledger(user, flt, str(_l("参训台账")), "training_participations", headers, rows, ip)


def _ledger(user: User, flt: SessionFilter, title: str, what: str, headers: list[str], rows: list[list],
            ip: str) -> bytes:
    """A training ledger: the admin's units, the period and the filters above the rows; audited."""
    units = [n.name for n in policy.scope_roots(user)] + [s.name for s in user.admin_stations]
    content = ledger.build_workbook(title, "、".join(units), _period_words(flt), headers, rows, _filter_words(flt))
    audit(user.id, "export", what, detail=f"{_period_words(flt)}; {_filter_words(flt)}; {len(rows)} rows", ip=ip)
    return content
