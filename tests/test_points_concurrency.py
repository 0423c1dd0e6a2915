"""Exactly once under concurrency: two requests processing the same source event at the same
moment (two threads, each with its own app context and session) leave one entry — on SQLite and,
with TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import time_machine

from app.database import writing
from app.extensions import db
from app.models import CheckinMethod, DiaryEntry, Member, PointsEntry, RuleCode, Station
from app.services import checkin as checkin_service
from app.services import points
from app.services.points import sources
from tests.factories import make_diary_entry, make_event, make_need, make_need_world, make_world

T0 = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)


def _together(app, work: Callable[[], object]) -> list[BaseException]:  # type: ignore[no-untyped-def]
    """Run ``work`` in two threads released at the same moment, each committing its own
    transaction; return what went wrong."""
    db.session.commit()
    barrier = threading.Barrier(2, timeout=20)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with app.app_context(), time_machine.travel(T0, tick=False):
                barrier.wait()
                with writing():
                    work()
                    db.session.commit()
                db.session.remove()
        except BaseException as e:  # pragma: no cover - reported by the caller
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def entries() -> list[tuple]:
    db.session.expire_all()
    return [(e.code, e.source_type, e.source_id, e.member_id, e.points)
            for e in db.session.scalars(sa.select(PointsEntry))]


def test_the_same_event_processed_by_two_requests_at_once_is_awarded_once(app):
    w = make_world()
    entry = make_diary_entry(w.member, w.r1)
    entry_id = entry.id

    def process() -> None:
        sources.for_diary_entry(db.session.get(DiaryEntry, entry_id))

    assert _together(app, process) == []
    assert entries() == [(RuleCode.DIARY_ENTRY, "diary_entry", entry_id, w.member.id, 1)]


def test_two_simultaneous_scans_at_a_theme_day_leave_one_check_in_and_one_award(app):
    w = make_world()
    make_event(w.p.station, T0 - timedelta(hours=1), T0 + timedelta(hours=1), kind="theme_day")
    member_id, station_id = w.member.id, w.p.station.id

    def scan() -> None:
        checkin_service.check_in(db.session.get(Member, member_id), db.session.get(Station, station_id),
                                 CheckinMethod.KIOSK)

    assert _together(app, scan) == []
    rows = entries()
    assert len(rows) == 1 and rows[0][0] is RuleCode.THEME_DAY_CHECKIN and rows[0][4] == 5


def test_an_uncapped_rule_relies_on_the_unique_constraint_alone(app):
    """No cap: no lock on the member either; the second insert collides and finds the first."""
    w = make_need_world()
    need = make_need(w.household)
    need_id, member_id = need.id, w.member.id

    def process() -> None:
        points.award(db.session.get(Member, member_id), RuleCode.NEED_RESOLVED_IN_SLA, "need", need_id,
                     T0.date())

    assert _together(app, process) == []
    assert entries() == [(RuleCode.NEED_RESOLVED_IN_SLA, "need", need_id, member_id, 3)]
