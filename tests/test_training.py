"""Training sessions, as services: planning (offline = a station event, online = a link or a PDF
checked by content), attendance = the station check-ins, late/early marks, "我已学完" once, the
attendance export, records and the year's training hours (computed by hand here)."""

from __future__ import annotations

import io
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from pypdf import PdfWriter

from app.clock import TZ
from app.database import writing
from app.extensions import db
from app.models import (
    AttendanceMark,
    Checkin,
    CheckinMethod,
    Member,
    PointsEntry,
    RuleCode,
    StationEvent,
    StationEventKind,
    TrainingCompletion,
    TrainingDocument,
    TrainingMode,
    TrainingSession,
)
from app.services import checkin
from app.services import training as svc
from app.services.errors import NotAllowed
from tests.factories import (
    image_bytes,
    make_admin,
    make_checkin,
    make_event,
    make_member,
    make_personas,
    make_station,
    make_station_admin,
)


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """A Shanghai wall-clock time, as the instant it is."""
    return datetime(y, mo, d, h, mi, tzinfo=TZ)


NOW = local(2025, 4, 1, 8)  # planning happens a week before
START, END = local(2025, 4, 8, 9, 30), local(2025, 4, 8, 11, 30)  # the session: Tuesday morning


class FakeUpload:
    def __init__(self, data: bytes, filename: str = "学习材料.pdf") -> None:
        self.stream = io.BytesIO(data)
        self.filename = filename


def pdf_bytes(pages: int = 2, encrypt: bool = False) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    if encrypt:
        writer.encrypt("secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def offline(node_id: int, station_id: int, **kw: object) -> svc.SessionInput:
    data = {"title": "四月集中学习", "kind": "concentrated", "org_node_id": node_id, "description": "学习党章",
            "starts_at": START, "ends_at": END, "duration_minutes": 120, "mode": "offline",
            "station_id": station_id, "link_url": ""}
    data.update(kw)
    return svc.SessionInput(**data)  # type: ignore[arg-type]


def online(node_id: int, **kw: object) -> svc.SessionInput:
    data = {"title": "微党课：初心", "kind": "micro_lesson", "org_node_id": node_id, "description": "",
            "starts_at": local(2025, 4, 2, 0), "ends_at": local(2025, 4, 30, 23, 59), "duration_minutes": 45,
            "mode": "online", "station_id": None, "link_url": "https://example.org/lesson"}
    data.update(kw)
    return svc.SessionInput(**data)  # type: ignore[arg-type]


@pytest.fixture
def p(app):
    return make_personas()


def plan(p, data: svc.SessionInput, upload=None, user=None) -> TrainingSession:  # type: ignore[no-untyped-def]
    session = svc.plan_session(user or p.community_admin, data, upload, NOW)
    db.session.commit()
    return session


def stored_files(app) -> list[Path]:  # type: ignore[no-untyped-def]
    root = Path(app.config["UPLOAD_DIR"]) / "training"
    return sorted(root.rglob("*")) if root.exists() else []


# --- planning -------------------------------------------------------------------------------------


def test_an_offline_session_is_a_training_event_at_its_station(p):
    session = plan(p, offline(p.tree.community.id, p.station.id))
    event = db.session.get(StationEvent, session.station_event_id)
    assert (event.station_id, event.kind, event.title) == (p.station.id, StationEventKind.TRAINING, "四月集中学习")
    assert (event.starts_at, event.ends_at) == (START, END)
    assert session.mode is TrainingMode.OFFLINE and session.duration_minutes == 120
    assert session.created_by_id == p.community_admin.id
    # The kiosk shows it as the event running then.
    assert checkin.running_event(p.station.id, START + timedelta(minutes=5)).id == event.id


def test_an_online_session_with_a_pdf_stores_it_by_content_under_instance(app, p):
    data = pdf_bytes(pages=3)
    session = plan(p, online(p.tree.community.id, link_url=""), FakeUpload(data, "党章/学习.pdf"))
    doc = session.document
    assert (doc.pages, doc.size_bytes, doc.filename) == (3, len(data), "学习.pdf")
    path = svc.document_path(doc)
    assert path.read_bytes() == data and path.is_relative_to(Path(app.config["UPLOAD_DIR"]))
    # The same file again is one stored document.
    again = plan(p, online(p.tree.community.id, link_url="", title="再学一次"), FakeUpload(data, "copy.pdf"))
    assert again.document_id == doc.id
    assert db.session.scalar(sa.select(sa.func.count(TrainingDocument.id))) == 1


def test_a_pdf_written_in_a_step_that_rolls_back_is_removed(app, p):
    pdf = svc.check_pdf(FakeUpload(pdf_bytes()))
    doc = svc.store_document(pdf, None)
    path = svc.document_path(doc)
    assert path.exists()
    db.session.rollback()
    assert not path.exists()
    assert [f for f in stored_files(app) if f.is_file()] == []


def _bad_cases(p):  # type: ignore[no-untyped-def]
    c, c2, grid = p.tree.community.id, p.tree.community2.id, p.tree.grid.id
    other_station = make_station(p.tree.community2, name="杨桥党群驿站")
    closed = make_station(p.tree.community, name="旧驿站")
    closed.active = False
    make_event(p.station, local(2025, 4, 8, 10), local(2025, 4, 8, 12), title="四月主题党日")
    big = b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024)
    db.session.commit()
    return [
        (offline(c, p.station.id, title="   "), None, "title", "请填写培训名称"),
        (offline(c, p.station.id, title="长" * 65), None, "title", "最多 64 个字"),
        (offline(c, p.station.id, kind="lecture"), None, "kind", "请选择培训类型"),
        (offline(c2, p.station.id), None, "org_node_id", "管理范围内的组织"),
        (offline(None, p.station.id), None, "org_node_id", "管理范围内的组织"),
        (offline(c, p.station.id, description="字" * 1001), None, "description", "1000 字"),
        (offline(c, p.station.id, starts_at=None), None, "starts_at", "请填写开始时间"),
        (offline(c, p.station.id, ends_at=START - timedelta(hours=1)), None, "ends_at", "必须晚于开始时间"),
        (offline(c, p.station.id, ends_at=START), None, "ends_at", "必须晚于开始时间"),
        (offline(c, p.station.id, starts_at=NOW - timedelta(days=2), ends_at=NOW - timedelta(days=1)),
         None, "ends_at", "结束时间已过"),
        (offline(c, p.station.id, ends_at=START + timedelta(days=8)), None, "ends_at", "最长 7 天"),
        (offline(c, p.station.id, duration_minutes=0), None, "duration_minutes", "1 到 1440"),
        (offline(c, p.station.id, duration_minutes=100000), None, "duration_minutes", "1 到 1440"),
        (offline(c, p.station.id, duration_minutes=None), None, "duration_minutes", "1 到 1440"),
        (offline(c, p.station.id, duration_minutes=121), None, "duration_minutes", "不能超过培训时长（120 分钟）"),
        (offline(c, None), None, "station_id", "请选择驿站"),
        (offline(c, other_station.id), None, "station_id", "管理范围内"),
        (offline(c, closed.id), None, "station_id", "正在使用的驿站"),
        (offline(c, 2**31 - 1), None, "station_id", "请选择驿站"),
        (offline(c, p.station.id, starts_at=local(2025, 4, 8, 11), ends_at=local(2025, 4, 8, 13)),
         None, "station_id", "四月主题党日"),
        (offline(grid, p.station.id, mode="bus"), None, "kind", "请选择培训类型和方式"),
        (online(c, link_url=""), None, "link_url", "请填写学习链接或上传 PDF"),
        (online(c, link_url="ftp://example.org/a.pdf"), None, "link_url", "http:// 或 https://"),
        (online(c, link_url="javascript:alert(1)"), None, "link_url", "http:// 或 https://"),
        (online(c, link_url="https://"), None, "link_url", "http:// 或 https://"),
        (online(c, link_url="https://exa mple.org"), None, "link_url", "http:// 或 https://"),
        (online(c, link_url="https://[::1"), None, "link_url", "http:// 或 https://"),
        (online(c, link_url="https://e.org/" + "a" * 500), None, "link_url", "500 个字符"),
        (online(c, link_url=""), FakeUpload(image_bytes(), "renamed.pdf"), "document", "不是 PDF"),
        (online(c, link_url=""), FakeUpload("学习心得\n".encode() * 20, "notes.pdf"), "document", "不是 PDF"),
        (online(c, link_url=""), FakeUpload(big), "document", "不能超过 10 MB"),
        (online(c, link_url=""), FakeUpload(pdf_bytes(encrypt=True)), "document", "加密"),
        (online(c, link_url=""), FakeUpload(pdf_bytes()[:300]), "document", "已损坏"),
        (online(c, link_url=""), FakeUpload(b"%PDF-1.7\n"), "document", "已损坏"),
        (online(c, link_url=""), FakeUpload(b"", "empty.pdf"), "document", "请选择要上传的 PDF"),
    ]


def test_every_bad_input_is_refused_with_a_chinese_message_and_nothing_is_saved(app, p):
    events_before = db.session.scalar(sa.select(sa.func.count(StationEvent.id)))
    for data, upload, field, message in _bad_cases(p):
        events_before = db.session.scalar(sa.select(sa.func.count(StationEvent.id)))
        with pytest.raises(svc.TrainingError) as refused:
            svc.plan_session(p.community_admin, data, upload, NOW)
        db.session.rollback()
        assert (refused.value.field, message in str(refused.value)) == (field, True), (data, str(refused.value))
        assert db.session.scalar(sa.select(sa.func.count(TrainingSession.id))) == 0
        assert db.session.scalar(sa.select(sa.func.count(StationEvent.id))) == events_before
        assert db.session.scalar(sa.select(sa.func.count(TrainingDocument.id))) == 0
        assert [f for f in stored_files(app) if f.is_file()] == []


def test_only_org_admins_plan_and_only_below_their_node(p):
    with pytest.raises(NotAllowed):
        svc.plan_session(p.station_admin, offline(p.tree.community.id, p.station.id), None, NOW)
    # A district admin may plan for a grid, at the community's station above it.
    session = plan(p, offline(p.tree.grid.id, p.station.id), user=p.district_admin)
    assert session.org_node_id == p.tree.grid.id
    # …but not at a station of another branch of the tree.
    far = make_station(p.tree.community2, name="杨桥党群驿站")
    with pytest.raises(svc.TrainingError, match="该组织或其上级组织的驿站"):
        svc.plan_session(p.district_admin, offline(p.tree.grid.id, far.id, starts_at=local(2025, 4, 9, 9),
                                                   ends_at=local(2025, 4, 9, 11)), None, NOW)


# --- attendance ------------------------------------------------------------------------------------


def test_attendance_is_the_station_check_ins_during_the_session(p):
    session = plan(p, offline(p.tree.community.id, p.station.id))
    elsewhere = make_station(p.tree.community, name="龙山居民议事点")
    on_time, early_then_again, early_only, other_station, next_day = (
        make_member(p.tree.grid, name=n) for n in ("准时", "早到又扫", "早到未再扫", "别处签到", "第二天"))

    def scan(member: Member, station, at: datetime) -> None:  # type: ignore[no-untyped-def]
        checkin.check_in(member, station, CheckinMethod.KIOSK, now=at)
        db.session.commit()

    scan(early_then_again, p.station, local(2025, 4, 8, 8, 0))  # before the session, the same day
    scan(early_only, p.station, local(2025, 4, 8, 8, 10))
    scan(on_time, p.station, local(2025, 4, 8, 9, 35))
    scan(early_then_again, p.station, local(2025, 4, 8, 9, 50))  # scanned again while it runs
    scan(other_station, elsewhere, local(2025, 4, 8, 9, 40))
    scan(next_day, p.station, local(2025, 4, 9, 9, 40))
    scan(p.member, p.station, local(2025, 4, 8, 11, 30))  # as it ends: too late

    rows = svc.attendance(session)
    assert [r.member_id for r in rows] == [early_then_again.id, on_time.id]
    # The renewed check-in keeps its first time (08:00), which the list shows.
    assert rows[0].checked_in_at == local(2025, 4, 8, 8, 0)
    page = svc.session_page(session, END)
    assert (page.attended, page.expected) == (2, 7)  # p.member, the household head and the five above
    assert svc.participation_counts([session]) == {session.id: 2}


def test_marks_are_for_attendees_once_per_kind_and_can_be_removed(p):
    session = plan(p, offline(p.tree.community.id, p.station.id))
    make_checkin(p.member, p.station, local(2025, 4, 8, 9, 55), event=session.station_event)
    absent = make_member(p.tree.grid, name="缺席")
    during = local(2025, 4, 8, 10)
    with pytest.raises(svc.TrainingError, match="培训还没开始"):
        svc.add_mark(session, p.member.id, "late", "", p.station_admin, NOW)
    with pytest.raises(svc.TrainingError, match="只能标记已签到的党员"):
        svc.add_mark(session, absent.id, "late", "", p.station_admin, during)
    with pytest.raises(svc.TrainingError, match="请选择迟到或早退"):
        svc.add_mark(session, p.member.id, "absent", "", p.station_admin, during)
    with pytest.raises(svc.TrainingError, match="255"):
        svc.add_mark(session, p.member.id, "late", "注" * 256, p.station_admin, during)
    mark = svc.add_mark(session, p.member.id, "late", "迟到25分钟", p.station_admin, during)
    db.session.commit()
    with pytest.raises(svc.TrainingError, match="已经标记过迟到"):
        svc.add_mark(session, p.member.id, "late", "again", p.community_admin, during)
    db.session.rollback()
    svc.add_mark(session, p.member.id, "left_early", "10:50离开", p.community_admin, during)
    db.session.commit()
    assert [(m.kind.value, m.note) for m in svc.marks_of(session)[p.member.id]] == [
        ("late", "迟到25分钟"), ("left_early", "10:50离开")]
    other_admin = make_station_admin(make_station(p.tree.community2, name="杨桥驿站"), name="杨桥驿站管理员")
    with pytest.raises(NotAllowed):
        svc.add_mark(session, p.member.id, "late", "", other_admin, during)
    with pytest.raises(NotAllowed):
        svc.remove_mark(session, mark.id, p.other_community_admin)
    svc.remove_mark(session, mark.id, p.station_admin)
    db.session.commit()
    assert [m.kind.value for m in db.session.scalars(sa.select(AttendanceMark))] == ["left_early"]


def test_cancelling_a_future_offline_session_removes_its_station_event(p):
    session = plan(p, offline(p.tree.community.id, p.station.id))
    event_id = session.station_event_id
    with pytest.raises(NotAllowed):
        svc.cancel_session(session, p.station_admin, NOW)
    svc.cancel_session(session, p.community_admin, NOW)
    db.session.commit()
    assert session.cancelled_at == NOW and session.station_event_id is None
    assert db.session.get(StationEvent, event_id) is None
    # A check-in while it would have run counts for nothing.
    checkin.check_in(p.member, p.station, CheckinMethod.KIOSK, now=START + timedelta(minutes=5))
    db.session.commit()
    assert db.session.scalar(sa.select(Checkin.event_id)) is None
    with pytest.raises(svc.TrainingError, match="已经取消"):
        svc.cancel_session(session, p.community_admin, NOW)


def test_a_session_that_has_started_cannot_be_cancelled(p):
    session = plan(p, online(p.tree.community.id))
    with pytest.raises(svc.TrainingError, match="已经开始或结束"):
        svc.cancel_session(session, p.community_admin, local(2025, 4, 3))


# --- completion ----------------------------------------------------------------------------------


def test_completing_an_online_session_once_with_a_reflection_awards_points_once(p):
    session = plan(p, online(p.tree.community.id))
    at = local(2025, 4, 10, 21, 5)
    first = svc.complete(session, p.member, "  学习了初心使命。 ", at)
    db.session.commit()
    assert first.created and first.completion.reflection == "学习了初心使命。"
    again = svc.complete(session, p.member, "第二次", at + timedelta(minutes=1))
    db.session.commit()
    assert not again.created and again.completion.id == first.completion.id
    assert db.session.scalar(sa.select(sa.func.count(TrainingCompletion.id))) == 1
    entries = db.session.scalars(sa.select(PointsEntry)).unique().all()
    assert [(e.member_id, e.code, e.source_type, e.source_id, e.occurred_on) for e in entries] == [
        (p.member.id, RuleCode.TRAINING_COMPLETED, "training_completion", first.completion.id, date(2025, 4, 10))]


def test_a_reflection_of_501_characters_is_refused_and_500_is_kept(p):
    session = plan(p, online(p.tree.community.id))
    at = local(2025, 4, 10, 9)
    with pytest.raises(svc.TrainingError, match="最多 500 字（现在 501 字）") as refused:
        svc.complete(session, p.member, "学" * 501, at)
    assert refused.value.field == "reflection"
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(TrainingCompletion.id))) == 0
    assert svc.complete(session, p.member, "学" * 500, at).completion.reflection == "学" * 500


def test_completion_is_refused_outside_its_window_offline_cancelled_or_for_another_node(p):
    session = plan(p, online(p.tree.community.id))
    with pytest.raises(svc.TrainingError, match="还没开始"):
        svc.complete(session, p.member, "", local(2025, 4, 1, 23))
    with pytest.raises(svc.TrainingError, match="已于 2025-04-30 23:59 截止"):
        svc.complete(session, p.member, "", local(2025, 5, 1))
    with pytest.raises(NotAllowed):
        svc.complete(session, p.other_member, "", local(2025, 4, 10))
    station_session = plan(p, offline(p.tree.community.id, p.station.id))
    with pytest.raises(svc.TrainingError, match="驿站扫码签到"):
        svc.complete(station_session, p.member, "", START)
    later = plan(p, online(p.tree.community.id, title="五月", starts_at=local(2025, 5, 1), ends_at=local(2025, 5, 31)))
    svc.cancel_session(later, p.community_admin, NOW)
    db.session.commit()
    with pytest.raises(svc.TrainingError, match="已经取消"):
        svc.complete(later, p.member, "", local(2025, 5, 2))
    # A session for the district reaches every member below it.
    district = plan(p, online(p.tree.district.id, title="全区"), user=p.district_admin)
    assert svc.complete(district, p.other_member, "", local(2025, 4, 10)).created


def test_two_presses_at_once_leave_one_completion_and_one_points_entry(app, p):
    session = plan(p, online(p.tree.community.id))
    session_id, member_id = session.id, p.member.id
    barrier = threading.Barrier(2, timeout=20)
    results: list[bool] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with app.app_context():
                barrier.wait()
                with writing():
                    s = db.session.get(TrainingSession, session_id)
                    m = db.session.get(Member, member_id)
                    results.append(svc.complete(s, m, "同时提交", local(2025, 4, 10, 9)).created)
                    db.session.commit()
                db.session.remove()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and sorted(results) == [False, True]
    db.session.rollback()  # end the test's own read snapshot, taken before the threads wrote
    assert db.session.scalar(sa.select(sa.func.count(TrainingCompletion.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count(PointsEntry.id))) == 1


def test_losing_the_race_to_the_unique_constraint_returns_the_first_completion(p, monkeypatch):
    session = plan(p, online(p.tree.community.id))
    first = svc.complete(session, p.member, "先到", local(2025, 4, 10)).completion
    db.session.commit()
    real = svc.completion_of
    calls: list[object] = []

    def stale_then_real(*args):  # type: ignore[no-untyped-def]
        calls.append(args)
        return None if len(calls) == 1 else real(*args)

    monkeypatch.setattr(svc, "completion_of", stale_then_real)
    result = svc.complete(session, p.member, "后到", local(2025, 4, 10, 0, 1))
    db.session.commit()
    assert (result.created, result.completion.id) == (False, first.id)


# --- records and hours -----------------------------------------------------------------------------


def _year_of_training(p):  # type: ignore[no-untyped-def]
    """2025 for p.member: hand-made sessions and what each should count."""
    admin = p.community_admin
    c = p.tree.community.id

    def session(title: str, kind: str, mode: str, start: datetime, end: datetime, minutes: int,
                event: bool = True) -> TrainingSession:
        s = TrainingSession(org_node_id=c, title=title, kind=kind, mode=mode, starts_at=start, ends_at=end,
                            duration_minutes=minutes, created_by_id=admin.id,
                            link_url="" if mode == "offline" else "https://example.org")
        if mode == "offline":
            s.station_event = make_event(p.station, start, end, title=title, kind="training")
        db.session.add(s)
        db.session.commit()
        return s

    # attended: 120 min 集中学习
    a = session("一月集中学习", "concentrated", "offline", local(2025, 1, 10, 9), local(2025, 1, 10, 11), 120)
    make_checkin(p.member, p.station, local(2025, 1, 10, 9, 5), event=a.station_event)
    # attended a two-day 微实训, checked in both days: counts once, 90 min
    b = session("两天微实训", "micro_training", "offline", local(2025, 3, 1, 9), local(2025, 3, 2, 17), 90)
    make_checkin(p.member, p.station, local(2025, 3, 1, 9, 5), event=b.station_event)
    make_checkin(p.member, p.station, local(2025, 3, 2, 9, 5), event=b.station_event)
    # not attended (a check-in that day without the event)
    c_ = session("没去的", "concentrated", "offline", local(2025, 5, 10, 14), local(2025, 5, 10, 16), 120)
    make_checkin(p.member, p.station, local(2025, 5, 10, 9))
    # completed online: 45 min 微党课 (2025-12-31 23:30 in Shanghai is still 2025)
    d = session("微党课", "micro_lesson", "online", local(2025, 12, 1), local(2026, 1, 31), 45)
    db.session.add(TrainingCompletion(session_id=d.id, member_id=p.member.id, completed_at=local(2025, 12, 31, 23, 30),
                                      reflection="收获很大"))
    # completed online in 2026 (00:30 on 1 January in Shanghai is 2025-12-31 in UTC): not 2025
    e = session("微朗读", "micro_reading", "online", local(2025, 12, 1), local(2026, 1, 31), 30)
    db.session.add(TrainingCompletion(session_id=e.id, member_id=p.member.id, completed_at=local(2026, 1, 1, 0, 30)))
    # attended in 2024: not 2025
    f = session("去年的", "micro_sharing", "offline", local(2024, 12, 20, 9), local(2024, 12, 20, 10), 60)
    make_checkin(p.member, p.station, local(2024, 12, 20, 9, 1), event=f.station_event)
    # a fellow member of the household: one 微分享 of 30 min
    fellow = make_member(p.tree.grid, name="钱同户", household=p.member.central_household)
    g = session("微分享", "micro_sharing", "offline", local(2025, 6, 1, 9), local(2025, 6, 1, 10), 30)
    make_checkin(fellow, p.station, local(2025, 6, 1, 9, 10), event=g.station_event)
    make_checkin(p.member, p.station, local(2025, 6, 1, 9, 12), event=g.station_event)
    db.session.commit()
    return a, b, c_, d, e, f, g, fellow


def test_the_years_training_hours_count_each_attended_or_completed_session_once(p):
    *_, fellow = _year_of_training(p)
    head = p.member.central_household.head
    # p.member in 2025: 120 + 90 + 45 + 30 (微分享) minutes = 285 = 4.75 hours.
    assert svc.training_hours([p.member.id, fellow.id, head.id], 2025) == {
        p.member.id: 4.75, fellow.id: 0.5, head.id: 0}
    assert svc.training_hours([p.member.id], 2026) == {p.member.id: 0.5}
    assert svc.training_hours([p.member.id], 2024) == {p.member.id: 1.0}
    t = svc.training_breakdown([p.member.id], 2025)[p.member.id]
    assert (t.sessions, t.minutes, t.offline, t.online) == (4, 285, 3, 1)
    assert {k.value: (v.sessions, v.minutes) for k, v in t.by_kind.items()} == {
        "concentrated": (1, 120), "micro_training": (1, 90), "micro_lesson": (1, 45), "micro_sharing": (1, 30)}
    # A select of ids works as well (the evaluation passes a node's members).
    ids = sa.select(Member.id).where(Member.id.in_([p.member.id, fellow.id]))
    assert {k: v.minutes for k, v in svc.training_breakdown(ids, 2025).items()} == {p.member.id: 285, fellow.id: 30}


def test_a_members_record_lists_the_years_sessions_newest_first_with_marks(p):
    a, b, _c, d, _e, _f, g, _fellow = _year_of_training(p)
    db.session.add(AttendanceMark(session_id=a.id, member_id=p.member.id, kind="late", note="堵车",
                                  marked_by_id=p.station_admin.id))
    db.session.commit()
    record = svc.member_record(p.member, 2025)
    assert [line.session.title for line in record.lines] == ["微党课", "微分享", "两天微实训", "一月集中学习"]
    assert record.lines[0].reflection == "收获很大"
    assert record.lines[2].at == local(2025, 3, 1, 9, 5)  # the first of the two days
    assert [(m.kind.value, m.note) for m in record.lines[3].marks] == [("late", "堵车")]
    assert record.totals.minutes == 285


def test_a_households_record_sums_its_members(p):
    *_, fellow = _year_of_training(p)
    household = p.member.central_household
    record = svc.household_record(household, 2025)
    assert [(m.name, t.sessions, t.minutes) for m, t in record.rows] == [
        ("王户长", 0, 0), ("李党员", 4, 285), ("钱同户", 1, 30)]
    assert (record.totals.sessions, record.totals.minutes, record.totals.offline, record.totals.online) == (
        5, 315, 4, 1)


def test_the_admin_list_shows_the_sessions_in_scope_and_at_the_admins_stations(p):
    here = plan(p, offline(p.tree.community.id, p.station.id))
    grid = plan(p, online(p.tree.grid.id, title="网格微分享", kind="micro_sharing"))
    there = plan(p, online(p.tree.community2.id, title="杨桥微党课"), user=p.other_community_admin)
    township = make_admin(p.tree.township, name="镇管理员")
    up = plan(p, offline(p.tree.township.id, p.station.id, title="全镇集中学习", starts_at=local(2025, 4, 9, 9),
                         ends_at=local(2025, 4, 9, 11)), user=township)

    def titles(user, **kw):  # type: ignore[no-untyped-def]
        return {s.title for s in db.session.scalars(svc.sessions_for(user, svc.SessionFilter(**kw)))}

    assert titles(p.community_admin) == {here.title, grid.title}
    assert titles(p.district_admin) == {here.title, grid.title, there.title, up.title}
    assert titles(p.station_admin) == {here.title, up.title}  # held at their station
    assert titles(p.district_admin, mode=TrainingMode.ONLINE) == {grid.title, there.title}
    assert titles(p.district_admin, kind=svc.TrainingKind.MICRO_SHARING) == {grid.title}
    assert titles(p.district_admin, date_from=date(2025, 4, 8), date_to=date(2025, 4, 8)) == {here.title}
    counts = svc.scope_counts(p.district_admin, 2025, NOW)
    assert (counts.sessions, counts.upcoming, counts.participations) == (4, 4, 0)


# --- export --------------------------------------------------------------------------------------


def test_the_attendance_export_opens_with_the_node_the_period_and_safe_cells(p):
    session = plan(p, offline(p.tree.community.id, p.station.id))
    sly = make_member(p.tree.grid_b, name="=HYPERLINK(1)")
    make_checkin(p.member, p.station, local(2025, 4, 8, 9, 40), event=session.station_event)
    make_checkin(sly, p.station, local(2025, 4, 8, 9, 50), method="manual", recorded_by=p.station_admin,
                 event=session.station_event)
    svc.add_mark(session, sly.id, "late", "+20分钟", p.station_admin, local(2025, 4, 8, 10))
    content = svc.export_attendance(session, p.community_admin)
    db.session.commit()
    ws = openpyxl.load_workbook(io.BytesIO(content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "四月集中学习 出勤名单"
    assert rows[1][:2] == ("单位：龙山社区 · 龙山党群驿站", "期间：2025-04-08 09:30 至 11:30")
    assert rows[2] == ("序号", "姓名", "网格", "签到时间", "签到方式", "迟到", "早退", "备注", "补签人")
    assert rows[3] == (1, "李党员", "第一网格", datetime(2025, 4, 8, 9, 40), "平板扫码", None, None, None, None)
    assert rows[4] == (2, "'=HYPERLINK(1)", "第二网格", datetime(2025, 4, 8, 9, 50), "人工补签", "是", None,
                       "'+20分钟", "驿站管理员")
    assert len(rows) == 5


def test_the_online_export_lists_completions_with_their_reflections(p):
    session = plan(p, online(p.tree.community.id))
    svc.complete(session, p.member, "=1+1 也要学", local(2025, 4, 10, 20))
    ws = openpyxl.load_workbook(io.BytesIO(svc.export_attendance(session, p.community_admin))).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "微党课：初心 完成名单" and rows[1][0] == "单位：龙山社区 · 线上"
    assert rows[2] == ("序号", "姓名", "网格", "完成时间", "学习心得")
    assert rows[3] == (1, "李党员", "第一网格", datetime(2025, 4, 10, 20, 0), "'=1+1 也要学")


def test_times_are_stored_in_utc(p):
    session = plan(p, offline(p.tree.community.id, p.station.id))
    db.session.expire_all()
    assert session.starts_at == datetime(2025, 4, 8, 1, 30, tzinfo=UTC)
