"""The recording service's demo data, on a small factory-built district."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.clock import local_today
from app.demo import activities as demo_activities
from app.extensions import db
from app.models import Activity, ActivityPhoto, DiaryEntry, Photo, VerifyState
from app.services import visits
from app.services.photos import photo_path
from tests.factories import (
    make_household,
    make_member,
    make_resident,
    make_station,
    make_station_admin,
    make_tree,
)


def test_demo_activities_fill_two_years_with_visits_diary_and_photos(app):
    tree = make_tree()
    station = make_station(tree.community)
    make_station_admin(station)
    household = make_household(tree.grid)
    members = [make_member(tree.grid, name=f"党员{i}", household=household) for i in range(4)]
    for i, m in enumerate(members):
        for j in range(5):
            make_resident(tree.grid, m, head_name=f"户{i}{j}", room=f"{i}{j:02d}")
    now = datetime(2025, 5, 15, 4, tzinfo=UTC)
    stats = demo_activities.generate(db.session.connection(), random.Random(7), now, 1)
    db.session.commit()
    n = db.session.scalar(sa.select(sa.func.count(Activity.id)))
    assert stats["activities"] == n and n > 100
    assert stats["diary_entries"] == db.session.scalar(sa.select(sa.func.count(DiaryEntry.id))) > 40
    assert stats["visits"] > 100 and stats["photos"] == 20
    first = db.session.scalar(sa.select(sa.func.min(Activity.started_at)))
    last = db.session.scalar(sa.select(sa.func.max(Activity.started_at)))
    assert first >= now - timedelta(days=731) and last <= now
    states = set(db.session.scalars(sa.select(Activity.verify_state).distinct()))
    assert VerifyState.VERIFIED in states and VerifyState.NONE in states
    for photo in db.session.scalars(sa.select(Photo)):
        assert photo_path(photo).exists() and photo_path(photo, thumb=True).exists()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ActivityPhoto)) == stats["activity_photos"]
    coverage = visits.coverage(members, local_today(now))
    assert sum(c.covered for c in coverage) == 20 and sum(c.visited for c in coverage) > 0
