"""SLA deadlines and escalation: exact edges with a frozen clock, idempotence, a bounded climb."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import time_machine

from app.extensions import db
from app.models import BreachKind, Need, NeedBreach, NeedCategory, Notification, OwnerLevel
from app.services import needs
from tests.factories import make_need, make_need_world

T0 = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)


def _escalate(at: datetime) -> int:
    with time_machine.travel(at, tick=False):
        n = needs.escalate_overdue()
        db.session.commit()
    return n


def _need(w, **kw) -> Need:
    with time_machine.travel(T0, tick=False):
        return make_need(w.household, **kw)


def test_nothing_happens_at_exactly_the_accept_deadline(app):
    w = make_need_world()
    need = _need(w)
    assert _escalate(T0 + timedelta(hours=24)) == 0
    assert need.owner_level is OwnerLevel.MEMBER


def test_one_second_past_the_accept_deadline_moves_the_need_to_the_head(app):
    w = make_need_world()
    need = _need(w)
    assert _escalate(T0 + timedelta(hours=24, seconds=1)) == 1
    db.session.refresh(need)
    assert need.owner_level is OwnerLevel.HEAD and need.owner_member_id == w.head.id
    breach = db.session.scalar(sa.select(NeedBreach))
    assert (breach.level, breach.owner_member_id, breach.kind) == (OwnerLevel.MEMBER, w.member.id, BreachKind.ACCEPT)
    # The new owner and the old one are told.
    told = set(db.session.scalars(sa.select(Notification.user_id).where(Notification.title.like("%超时%"))))
    assert {w.head.user_id, w.member.user_id} <= told


def test_running_escalation_twice_changes_nothing_more(app):
    w = make_need_world()
    need = _need(w)
    at = T0 + timedelta(hours=25)
    assert _escalate(at) == 1
    assert _escalate(at) == 0
    assert _escalate(at + timedelta(hours=23)) == 0
    db.session.refresh(need)
    assert need.owner_level is OwnerLevel.HEAD
    assert db.session.scalar(sa.select(sa.func.count(NeedBreach.id))) == 1


def test_a_need_never_touched_reaches_the_township_within_three_windows_and_cron_periods(app):
    """Bound: member → head → community → township takes 3 accept windows; with cron every hour
    a need nobody touches is with the township no later than 3 × (24 h + 1 h) after submission."""
    w = make_need_world()
    need = _need(w)
    reached = None
    for hour in range(1, 24 * 5):
        _escalate(T0 + timedelta(hours=hour))
        db.session.refresh(need)
        if need.owner_level is OwnerLevel.TOWNSHIP and reached is None:
            reached = hour
    assert reached is not None and 72 < reached <= 3 * (24 + 1)
    assert need.owner_node_id == w.p.tree.township.id
    levels = list(db.session.scalars(sa.select(NeedBreach.level).order_by(NeedBreach.id)))
    assert levels[:3] == [OwnerLevel.MEMBER, OwnerLevel.HEAD, OwnerLevel.COMMUNITY]
    # At the top it stays with the township; further breaches are counted against the township.
    assert set(levels[3:]) == {OwnerLevel.TOWNSHIP}


def test_resolve_deadline_breach_escalates_an_accepted_need(app):
    w = make_need_world()
    need = _need(w)
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        needs.accept(need, w.member.user)
        db.session.commit()
    assert _escalate(T0 + timedelta(days=7)) == 0
    assert _escalate(T0 + timedelta(days=7, seconds=1)) == 1
    db.session.refresh(need)
    breach = db.session.scalar(sa.select(NeedBreach))
    assert breach.kind is BreachKind.RESOLVE and need.owner_level is OwnerLevel.HEAD


def test_an_sla_per_category_and_node_changes_the_edge(app):
    w = make_need_world()
    needs.set_sla(w.p.tree.community, NeedCategory.REPAIR, 4, 48, w.p.community_admin)
    needs.set_sla(w.p.tree.district, None, 12, 72, w.p.district_admin)
    db.session.commit()
    need = _need(w)
    assert (need.accept_hours, need.resolve_hours) == (4, 48)
    other = _need(w, category=NeedCategory.POLICY, phone="13911113333")
    assert (other.accept_hours, other.resolve_hours) == (12, 72)
    assert _escalate(T0 + timedelta(hours=4)) == 0
    assert _escalate(T0 + timedelta(hours=4, seconds=1)) == 1


def test_a_head_escalates_straight_to_the_community(app):
    w = make_need_world()
    central = w.head.central_household
    with time_machine.travel(T0, tick=False):
        need = make_need(central=central, origin=needs.NeedOrigin.PLAQUE)
    assert need.owner_level is OwnerLevel.HEAD
    _escalate(T0 + timedelta(hours=25))
    db.session.refresh(need)
    assert need.owner_level is OwnerLevel.COMMUNITY and need.owner_node_id == w.p.tree.community.id
    told = set(db.session.scalars(sa.select(Notification.user_id).where(Notification.title.like("%超时%"))))
    assert w.p.community_admin.id in told


def test_cli_escalate_needs(app, runner):
    w = make_need_world()
    _need(w)
    with time_machine.travel(T0 + timedelta(hours=30), tick=False):
        result = runner.invoke(args=["escalate-needs"])
    assert result.exit_code == 0 and "1 件" in result.output
    with time_machine.travel(T0 + timedelta(hours=30), tick=False):
        assert "0 件" in runner.invoke(args=["escalate-needs"]).output


def test_hidden_needs_do_not_escalate(app):
    w = make_need_world()
    need = _need(w)
    needs.hide(need, w.p.community_admin, "恶意重复")
    db.session.commit()
    assert _escalate(T0 + timedelta(days=3)) == 0
