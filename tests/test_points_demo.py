"""The demo district's points: built last, by the award path's own replay of every source record,
so the pages show real numbers and a recompute over the whole demo finds nothing to report."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.clock import local_today
from app.extensions import db
from app.models import PointsEntry, RuleCode
from tests.helpers import login
from tests.test_demo import run_demo, user_by_phone


def test_the_demo_ledger_holds_what_the_events_award_and_recompute_agrees(app):
    output = run_demo(app).output
    total = db.session.scalar(sa.select(sa.func.count(PointsEntry.id)))
    assert f"points_entries: {total}" in output and total > 1000
    codes = set(db.session.scalars(sa.select(PointsEntry.code).distinct()))
    assert {RuleCode.THEME_DAY_CHECKIN, RuleCode.ACTIVITY_VERIFIED, RuleCode.VISIT_DONE, RuleCode.DIARY_ENTRY,
            RuleCode.NEED_RESOLVED_IN_SLA, RuleCode.RATED_SATISFIED, RuleCode.RATED_UNSATISFIED} <= codes
    first = db.session.scalar(sa.select(sa.func.min(PointsEntry.occurred_on)))
    today = local_today()
    assert first >= today - timedelta(days=740)
    result = app.test_cli_runner().invoke(
        args=["points", "recompute", "--from", first.isoformat(), "--to", today.isoformat()])
    assert result.exit_code == 0, result.output[-2000:]
    assert "没有差异" in result.output
    member = app.test_client()
    login(member, user_by_phone("13900000006"), password="dangyuan2024")
    page = member.get("/points/me").get_data(as_text=True)
    balance = db.session.scalar(sa.select(sa.func.sum(PointsEntry.points)).where(
        PointsEntry.member_id == user_by_phone("13900000006").member.id))
    assert balance and f'<dd id="points-balance">{balance}</dd>' in page
