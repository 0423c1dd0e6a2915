"""Demo training: a year of sessions per township and community, attendance as station check-ins
during them at a realistic share, a few marks, online completions with 心得, no points."""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.clock import local_day
from app.demo import checkin as demo_checkin
from app.demo import training as demo_training
from app.extensions import db
from app.models import (
    AttendanceMark,
    Checkin,
    Member,
    OrgLevel,
    OrgNode,
    PointsEntry,
    StationEvent,
    TrainingCompletion,
    TrainingKind,
    TrainingMode,
    TrainingSession,
    User,
)
from app.services import training as svc
from tests.factories import login, make_member, make_station, make_station_admin, make_tree
from tests.test_demo import run_demo

NOW = datetime(2025, 6, 18, 7, 30, tzinfo=UTC)  # 15:30 in Shanghai


def small_district():  # type: ignore[no-untyped-def]
    tree = make_tree()
    township_station = make_station(tree.township, name="大龙山镇党群驿站")
    community_station = make_station(tree.community, name="龙山党群驿站")
    make_station_admin(township_station)
    make_station_admin(community_station, name="社区驿站管理员")
    members = [make_member(tree.grid if i % 2 else tree.grid_b, name=f"龙山党员{i}") for i in range(30)]
    members += [make_member(tree.grid2, name=f"杨桥党员{i}") for i in range(10)]  # no station in 杨桥
    return tree, township_station, community_station, members


def generate(seed: int = 7, spare=()):  # type: ignore[no-untyped-def]
    conn = db.session.connection()
    rng = random.Random(seed)
    demo_checkin.generate(conn, rng, NOW, 1)
    stats = demo_training.generate(conn, rng, NOW, spare)
    db.session.commit()
    return stats


def test_a_year_of_sessions_with_attendance_at_a_realistic_share(app):
    tree, township_station, community_station, members = small_district()
    started = time.perf_counter()
    stats = generate()
    assert time.perf_counter() - started < 10
    sessions = db.session.scalars(sa.select(TrainingSession)).unique().all()
    assert stats["training_sessions"] == len(sessions)
    by_node = Counter((s.org_node.level, s.kind is TrainingKind.CONCENTRATED, s.mode) for s in sessions)
    # Each township: a monthly 集中学习 at a station (12 months back and next month's, planned).
    assert by_node[(OrgLevel.TOWNSHIP, True, TrainingMode.OFFLINE)] == 2 * 13 - 13  # 杨桥镇 has no station
    assert by_node[(OrgLevel.TOWNSHIP, False, TrainingMode.ONLINE)] == 2 * 5  # four a year + one open now
    # A community with a station of its own: 微* every other month there; one without: online.
    assert by_node[(OrgLevel.COMMUNITY, False, TrainingMode.OFFLINE)] == 7
    assert by_node[(OrgLevel.COMMUNITY, False, TrainingMode.ONLINE)] == 7
    assert {s.kind for s in sessions if s.org_node.level is OrgLevel.COMMUNITY} == set(TrainingKind) - {
        TrainingKind.CONCENTRATED}
    assert any(s.starts_at > NOW for s in sessions)  # next month's are planned

    offline = [s for s in sessions if s.mode is TrainingMode.OFFLINE]
    assert all(s.station_event.station_id in (township_station.id, community_station.id) for s in offline)
    # No two events share a station's day: a check-in counts for one of them only.
    days = Counter((e.station_id, local_day(e.starts_at)) for e in db.session.scalars(sa.select(StationEvent)).unique())
    assert max(days.values()) == 1
    # Attendance: check-ins at the session's station on its day, before it ends (one that day
    # before it starts is a visit renewed by a scan during it).
    past = [s for s in offline if s.ends_at <= NOW]
    attended = expected = 0
    for s in past:
        rows = svc.attendance(s)
        assert all(c.station_id == s.station_event.station_id and c.day == local_day(s.starts_at)
                   and c.checked_in_at < s.ends_at for c in rows)
        attended += len({c.member_id for c in rows})
        expected += sum(1 for m in members if m.grid.path.startswith(s.org_node.path))
    assert 0.6 <= attended / expected <= 0.85
    # Marks are a few, on attendees, by the station's admin.
    marks = db.session.scalars(sa.select(AttendanceMark)).unique().all()
    assert 0 < len(marks) < 0.1 * attended
    for mark in marks:
        session = db.session.get(TrainingSession, mark.session_id)
        assert mark.member_id in {c.member_id for c in svc.attendance(session)}
    # Online: completions in their window, about half with a 心得.
    done = db.session.scalars(sa.select(TrainingCompletion)).unique().all()
    assert done and all(c.session.starts_at <= c.completed_at < min(c.session.ends_at, NOW) for c in done)
    assert 0.3 < sum(1 for c in done if c.reflection) / len(done) < 0.7
    # No points here: the points generator backfills them from these records.
    assert db.session.scalar(sa.select(sa.func.count(PointsEntry.id))) == 0


def test_the_spared_member_has_not_completed_the_session_open_now(app):
    tree, *_ = small_district()
    spare = db.session.scalar(sa.select(Member.id).where(Member.grid_id == tree.grid.id).limit(1))
    generate(spare=[spare])
    open_now = db.session.scalars(sa.select(TrainingSession).where(
        TrainingSession.starts_at <= NOW, TrainingSession.ends_at > NOW,
        TrainingSession.mode == TrainingMode.ONLINE)).unique().all()
    assert open_now
    assert not db.session.scalar(sa.select(sa.func.count(TrainingCompletion.id)).where(
        TrainingCompletion.member_id == spare,
        TrainingCompletion.session_id.in_([s.id for s in open_now if s.org_node.level is OrgLevel.TOWNSHIP])))


def test_the_same_seed_gives_the_same_training(app):
    small_district()
    generate(seed=3)

    def snap():  # type: ignore[no-untyped-def]
        return (db.session.execute(sa.select(TrainingSession.title, TrainingSession.starts_at)
                                   .order_by(TrainingSession.id)).all(),
                # Ids are left out: PostgreSQL's sequences move on after the DELETE below.
                db.session.execute(sa.select(Checkin.member_id, Checkin.day, StationEvent.title)
                                   .outerjoin(StationEvent, StationEvent.id == Checkin.event_id)
                                   .order_by(Checkin.id)).all())

    first = snap()
    for table in ("training_completions", "training_attendance_marks", "training_sessions", "checkins",
                  "station_events"):
        db.session.execute(sa.text(f"DELETE FROM {table}"))
    generate(seed=3)
    assert snap() == first


def test_the_demo_district_shows_real_training_numbers_to_its_accounts(app, client):
    run_demo(app)
    sessions = db.session.scalar(sa.select(sa.func.count(TrainingSession.id)))
    assert sessions > 0
    member = db.session.scalar(sa.select(User).where(User.phone == "13900000006"))
    login(client, member, password="dangyuan2024")
    page = client.get("/training/me").get_data(as_text=True)
    assert "我已学完" in page  # the session open now is still to be completed by the demo member
    record = svc.member_record(member.member, local_day(datetime.now(UTC)).year)
    assert 'id="training-hours">' in page
    assert record.totals.sessions == len(record.lines)
    district = db.session.scalar(sa.select(User).where(User.phone == "13900000001"))
    login(client, district, password="dangyuan2024")
    page = client.get("/training/").get_data(as_text=True)
    assert f"共 {sessions} 次培训" in page
    township = db.session.scalar(sa.select(OrgNode).where(OrgNode.level == OrgLevel.TOWNSHIP).order_by(OrgNode.id))
    first = db.session.scalar(sa.select(TrainingSession).where(
        TrainingSession.org_node_id == township.id, TrainingSession.mode == TrainingMode.OFFLINE,
        TrainingSession.ends_at < datetime.now(UTC) - timedelta(days=1)).order_by(TrainingSession.starts_at))
    if first is not None:  # a tiny district's first township has a station
        assert svc.session_page(first).attended > 0
