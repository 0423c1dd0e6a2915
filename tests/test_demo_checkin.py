"""Demo check-ins: two years of monthly theme Party days and everyday visits at realistic rates."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.demo import checkin as demo_checkin
from app.extensions import db
from app.models import Checkin, CheckinMethod, CheckinMode, StationEvent, StationEventKind
from tests.factories import make_member, make_station, make_station_admin, make_tree

NOW = datetime(2025, 6, 18, 7, 30, tzinfo=UTC)  # 15:30 in Shanghai


def small_district():
    tree = make_tree()
    kiosk = make_station(tree.community, name="龙山党群驿站")
    poster = make_station(tree.community2, name="杨桥驿站", mode=CheckinMode.POSTER)
    make_station_admin(kiosk)
    members = [make_member(tree.grid if i % 2 else tree.grid_b, name=f"龙山党员{i}") for i in range(12)]
    members += [make_member(tree.grid2, name=f"杨桥党员{i}") for i in range(6)]
    return tree, kiosk, poster, members


def test_demo_generates_two_years_of_events_and_check_ins(app):
    _, kiosk, poster, members = small_district()
    started = time.perf_counter()
    stats = demo_checkin.generate(db.session.connection(), random.Random(7), NOW, scale=1)
    db.session.commit()
    assert time.perf_counter() - started < 5
    events = db.session.scalars(sa.select(StationEvent)).all()
    assert stats["station_events"] == len(events)
    theme_days = [e for e in events if e.kind is StationEventKind.THEME_DAY]
    assert len(theme_days) == 2 * 24  # monthly at each station
    assert all(e.ends_at > e.starts_at for e in events)

    rows = db.session.scalars(sa.select(Checkin)).unique().all()
    assert stats["checkins"] == len(rows) > 0
    assert all(r.checked_in_at <= NOW for r in rows)
    # Members check in at the station of their branch only.
    assert {r.station_id for r in rows if r.member.grid.path.startswith(kiosk.org_node.path)} == {kiosk.id}
    # Attendance is recorded only while the event runs.
    for r in rows:
        if r.event_id is not None:
            assert r.event.starts_at <= r.checked_in_at < r.event.ends_at
    # Most members attend the monthly theme Party day.
    past = [e for e in theme_days if e.starts_at < NOW]
    attended = sum(1 for r in rows if r.event and r.event.kind is StationEventKind.THEME_DAY)
    expected = sum(12 if e.station_id == kiosk.id else 6 for e in past)
    assert 0.5 < attended / expected < 0.95
    # And a few everyday visits.
    visits = [r for r in rows if r.event_id is None]
    assert 0.2 * len(members) * 24 < len(visits) < 2 * len(members) * 24
    # Poster stations' check-ins are poster check-ins; manual ones name who recorded them.
    assert {r.method for r in rows if r.station_id == poster.id} == {CheckinMethod.POSTER}
    assert all(r.recorded_by_id for r in rows if r.method is CheckinMethod.MANUAL)
    assert any(r.method is CheckinMethod.MANUAL for r in rows)


def test_demo_is_the_same_for_the_same_seed(app):
    small_district()
    a = demo_checkin.generate(db.session.connection(), random.Random(3), NOW, 1)
    first = db.session.execute(sa.select(Checkin.member_id, Checkin.day).order_by(Checkin.id)).all()
    db.session.execute(sa.delete(Checkin))
    db.session.execute(sa.delete(StationEvent))
    b = demo_checkin.generate(db.session.connection(), random.Random(3), NOW, 1)
    second = db.session.execute(sa.select(Checkin.member_id, Checkin.day).order_by(Checkin.id)).all()
    assert a == b and first == second
    db.session.commit()


def test_demo_without_stations_does_nothing(app):
    make_tree()
    assert demo_checkin.generate(db.session.connection(), random.Random(1), NOW, 1) == {
        "station_events": 0, "checkins": 0}


def test_demo_kiosk_has_todays_check_ins(app, client):
    """Generated "now": today's visits show on the kiosk, so it looks alive."""
    from tests.factories import login

    _, kiosk, _, _ = small_district()
    now = datetime.now(UTC)
    demo_checkin.generate(db.session.connection(), random.Random(11), now, 1)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.max(Checkin.checked_in_at))) <= now + timedelta(seconds=1)
    admin = make_station_admin(kiosk, name="看屏管理员")
    login(client, admin)
    assert client.get(f"/stations/{kiosk.id}/kiosk").status_code == 200
