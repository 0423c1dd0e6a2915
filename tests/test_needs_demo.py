"""Demo needs on a small factory-built district."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import sqlalchemy as sa

from app.demo import needs as demo_needs
from app.extensions import db
from app.models import Need, NeedBreach, NeedCategory, NeedStatus
from app.policy import scope_condition
from app.services import needs
from tests.factories import make_need_world, make_resident


def test_demo_needs_cover_every_state_and_category_and_feed_the_dashboards(app):
    w = make_need_world()
    for i in range(10):
        make_resident(w.p.tree.grid, member=w.fellow if i % 2 else w.member)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    with db.engine.begin() as conn:
        stats = demo_needs.generate(conn, random.Random(7), now, scale=0.5)
    assert stats["needs"] == 1500
    statuses = set(db.session.scalars(sa.select(Need.status).distinct()))
    assert statuses == set(NeedStatus)
    assert set(db.session.scalars(sa.select(Need.category).distinct())) == set(NeedCategory)
    assert db.session.scalar(sa.select(sa.func.count(NeedBreach.id))) > 0
    rows, total = needs.rates(scope_condition(w.p.district_admin), "community", datetime(2024, 6, 1, tzinfo=UTC), now)
    assert total.submitted == 1500
    assert 70 < total.response_rate < 99 and 80 < total.resolution_rate <= 100 and 80 < total.satisfaction_rate < 100
    # Ids continue after the demo: a resident can still file a need.
    from tests.factories import make_need

    assert make_need(w.household, phone="13700001111").id > 1500
