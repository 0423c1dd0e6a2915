"""The ledger's core: one award per source event, caps at their boundary in Asia/Shanghai days,
rule versions from their start date, corrections as new entries, and a database that refuses
edits."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import CapPeriod, PointsEntry, PointsRule, RuleCode
from app.services import points
from tests.factories import make_personas, make_world


def _entries(member_id: int) -> list[tuple[int, str, int]]:
    return [
        (e.points, e.source_type, e.source_id)
        for e in db.session.scalars(
            sa.select(PointsEntry).where(PointsEntry.member_id == member_id).order_by(PointsEntry.id)
        )
    ]


def test_an_event_awarded_twice_is_in_the_ledger_once(app):
    w = make_world()
    day = date(2026, 7, 1)
    first = points.award(w.member, RuleCode.NEED_RESOLVED_IN_SLA, "need", 7, day)
    again = points.award(w.member, RuleCode.NEED_RESOLVED_IN_SLA, "need", 7, day)
    db.session.commit()
    assert first is not None and again is not None and again.id == first.id
    assert _entries(w.member.id) == [(3, "need", 7)]


def test_the_unique_constraint_holds_even_past_the_service(app):
    w = make_world()
    points.award(w.member, RuleCode.RATED_SATISFIED, "need", 9, date(2026, 7, 1))
    db.session.commit()
    db.session.add(PointsEntry(member_id=w.member.id, points=2, code=RuleCode.RATED_SATISFIED,
                               source_type="need", source_id=9, occurred_on=date(2026, 7, 1)))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_a_weekly_cap_lets_the_last_entry_in_and_keeps_the_next_out(app):
    w = make_world()
    monday = date(2026, 6, 29)  # the diary rule: 1 point, at most 3 a week (Monday to Sunday)
    got = [points.award(w.member, RuleCode.DIARY_ENTRY, "diary_entry", i, monday) for i in (1, 2, 3)]
    assert all(got)
    assert points.award(w.member, RuleCode.DIARY_ENTRY, "diary_entry", 4, date(2026, 7, 5)) is None
    # The next Monday is a new week.
    assert points.award(w.member, RuleCode.DIARY_ENTRY, "diary_entry", 5, date(2026, 7, 6))
    db.session.commit()
    assert sum(p for p, _, _ in _entries(w.member.id)) == 4


def test_a_rule_changed_today_leaves_yesterdays_entries_alone(app):
    p = make_personas()
    member = p.member
    yesterday, today = date(2026, 7, 1), date(2026, 7, 2)
    before = points.award(member, RuleCode.NEED_RESOLVED_IN_SLA, "need", 1, yesterday)
    db.session.add(PointsRule(org_node_id=p.tree.community.id, code=RuleCode.NEED_RESOLVED_IN_SLA,
                              points=10, starts_on=today))
    db.session.commit()
    after = points.award(member, RuleCode.NEED_RESOLVED_IN_SLA, "need", 2, today)
    late = points.award(member, RuleCode.NEED_RESOLVED_IN_SLA, "need", 3, yesterday)
    db.session.commit()
    assert (before.points, after.points, late.points) == (3, 10, 3)
    # A deeper node's version wins over the district's, whatever their start dates.
    db.session.add(PointsRule(org_node_id=p.tree.district.id, code=RuleCode.NEED_RESOLVED_IN_SLA,
                              points=7, starts_on=today))
    db.session.commit()
    assert points.award(member, RuleCode.NEED_RESOLVED_IN_SLA, "need", 4, today).points == 10
    assert points.award(p.other_member, RuleCode.NEED_RESOLVED_IN_SLA, "need", 5, today).points == 7


def test_a_capped_rule_version_counts_with_the_defaults_entries(app):
    p = make_personas()
    db.session.add(PointsRule(org_node_id=p.tree.grid.id, code=RuleCode.THEME_DAY_CHECKIN,
                              points=4, cap_period=CapPeriod.MONTH, cap_points=8,
                              starts_on=date(2026, 7, 1)))
    db.session.commit()
    days = [date(2026, 7, d) for d in (1, 8, 15)]
    got = [points.award(p.member, RuleCode.THEME_DAY_CHECKIN, "checkin", i, d)
           for i, d in enumerate(days)]
    assert [g is not None for g in got] == [True, True, False]


def test_a_correction_is_a_new_entry_and_the_ledger_refuses_edits(app):
    w = make_world()
    entry = points.award(w.member, RuleCode.SLA_BREACH, "need_breach", 3, date(2026, 7, 1))
    db.session.commit()
    fix = points.reverse(entry, w.p.district_admin, "超时由系统故障造成")
    db.session.commit()
    assert (entry.points, fix.points) == (-2, 2)
    with pytest.raises(points.PointsError):
        points.reverse(entry, w.p.district_admin, "再次更正")
    with pytest.raises(points.PointsError):
        points.reverse(entry, w.p.district_admin, "   ")
    db.session.rollback()
    for statement in ("UPDATE points_entries SET points = 100", "DELETE FROM points_entries"):
        with pytest.raises(sa.exc.DBAPIError):
            db.session.execute(sa.text(statement))
        db.session.rollback()
    assert len(_entries(w.member.id)) == 2
