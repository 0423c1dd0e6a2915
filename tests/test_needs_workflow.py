"""Routing for every entry point, and the workflow state machine (illegal moves refused)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import policy
from app.extensions import db
from app.models import (
    EventKind,
    NeedCategory,
    NeedEvent,
    NeedOrigin,
    NeedOutcome,
    NeedRating,
    NeedStatus,
    OwnerLevel,
    Station,
)
from app.services import needs
from app.services.needs import NeedError
from tests.factories import make_member, make_need, make_need_world, make_resident


def _events(need) -> list[EventKind]:
    return list(db.session.scalars(sa.select(NeedEvent.kind).where(NeedEvent.need_id == need.id)
                                   .order_by(NeedEvent.id)))


# --- routing ---

def test_card_routes_to_the_covering_member(app):
    w = make_need_world()
    need = make_need(w.household)
    assert (need.owner_level, need.owner_member_id, need.member_id) == (OwnerLevel.MEMBER, w.member.id, w.member.id)
    assert need.grid_id == w.p.tree.grid.id and need.community_id == w.p.tree.community.id
    assert need.township_id == w.p.tree.township.id
    assert _events(need) == [EventKind.SUBMITTED, EventKind.ROUTED]


def test_card_of_an_uncovered_household_goes_to_the_community_queue(app):
    w = make_need_world()
    lonely = make_resident(w.p.tree.grid, member=None)
    need = make_need(lonely)
    assert need.owner_level is OwnerLevel.COMMUNITY and need.owner_node_id == w.p.tree.community.id


def test_plaque_routes_to_the_head_who_may_pass_it_on(app):
    w = make_need_world()
    need = make_need(central=w.head.central_household, origin=NeedOrigin.PLAQUE)
    assert need.owner_level is OwnerLevel.HEAD and need.owner_member_id == w.head.id
    needs.pass_on(need, w.head.user, w.fellow)
    db.session.commit()
    assert need.owner_level is OwnerLevel.MEMBER and need.owner_member_id == w.fellow.id
    assert need.member_id == w.fellow.id
    assert _events(need)[-1] is EventKind.PASSED


def test_a_head_cannot_pass_on_to_a_member_of_another_household(app):
    w = make_need_world()
    need = make_need(central=w.head.central_household, origin=NeedOrigin.PLAQUE)
    with pytest.raises(NeedError):
        needs.pass_on(need, w.head.user, w.p.other_member)
    with pytest.raises(NeedError):
        needs.pass_on(need, w.member.user, w.fellow)  # not the holder


@pytest.mark.parametrize("typed", ["3栋2单元501室", "３号楼２单元５０１", " 3栋 2单元 501 ", "第一网格3栋2单元501室"])
def test_public_address_is_matched_to_the_household(app, typed):
    w = make_need_world()
    need = make_need(community=w.p.tree.community, address=typed, phone="13700001111")
    assert need.resident_household_id == w.household.id
    assert need.owner_member_id == w.member.id


def test_public_address_without_a_match_goes_to_the_community_queue(app):
    w = make_need_world()
    need = make_need(community=w.p.tree.community, address="9栋9单元909", phone="13700001111")
    assert need.resident_household_id is None
    assert need.owner_level is OwnerLevel.COMMUNITY and need.owner_node_id == w.p.tree.community.id
    # An address in another community never matches.
    other = make_need(community=w.p.tree.community2, address="3栋2单元501室", phone="13700001112")
    assert other.owner_level is OwnerLevel.COMMUNITY and other.owner_node_id == w.p.tree.community2.id


def test_admin_assigns_a_queued_need_and_it_is_on_the_timeline(app):
    w = make_need_world()
    need = make_need(community=w.p.tree.community, address="无此地址", phone="13700001111")
    needs.assign(need, w.p.community_admin, w.fellow)
    db.session.commit()
    assert need.owner_member_id == w.fellow.id and need.member_id == w.fellow.id
    assert _events(need)[-1] is EventKind.ASSIGNED
    with pytest.raises(NeedError):
        needs.assign(need, w.p.community_admin, w.p.other_member)  # outside the admin's scope


def test_member_files_on_a_residents_behalf(app):
    w = make_need_world()
    need = needs.submit_need(NeedCategory.HARDSHIP, "独居老人需要助餐", origin=NeedOrigin.MEMBER,
                             household=w.household, submitted_by=w.member.user)
    db.session.commit()
    assert need.owner_member_id == w.member.id and need.contact_phone == w.household.phone
    assert need.submitted_by_id == w.member.user_id


def test_poster_station_community_is_found_from_the_station(app):
    w = make_need_world()
    station = db.session.get(Station, w.p.station.id)
    assert needs.community_of(station.org_node).id == w.p.tree.community.id


# --- state machine ---

def test_the_whole_happy_path(app):
    w = make_need_world()
    need = make_need(w.household)
    user = w.member.user
    needs.accept(need, user)
    needs.add_progress(need, user, "已联系物业")
    needs.add_progress(need, user, "物业推诿", internal=True)
    needs.resolve(need, user, NeedOutcome.SOLVED, "已更换灯泡")
    needs.rate(need, NeedRating.SATISFIED, "谢谢")
    db.session.commit()
    assert need.status is NeedStatus.RATED
    assert _events(need) == [EventKind.SUBMITTED, EventKind.ROUTED, EventKind.ACCEPTED, EventKind.PROGRESS,
                             EventKind.NOTE, EventKind.RESOLVED, EventKind.RATED]
    public = [e.kind for e in needs.timeline(need, public=True)]
    assert EventKind.NOTE not in public and EventKind.PROGRESS in public


@pytest.mark.parametrize("action", ["progress", "resolve", "rate"])
def test_a_submitted_need_cannot_skip_acceptance(app, action):
    w = make_need_world()
    need = make_need(w.household)
    with pytest.raises(NeedError):
        _do(need, action, w)


@pytest.mark.parametrize("action", ["accept", "progress", "resolve"])
def test_a_resolved_need_cannot_be_worked_on_again(app, action):
    w = make_need_world()
    need = make_need(w.household)
    needs.accept(need, w.member.user)
    needs.resolve(need, w.member.user, NeedOutcome.SOLVED, "好了")
    with pytest.raises(NeedError):
        _do(need, action, w)


@pytest.mark.parametrize("action", ["accept", "progress", "resolve", "rate"])
def test_a_rated_need_is_final(app, action):
    w = make_need_world()
    need = make_need(w.household)
    needs.accept(need, w.member.user)
    needs.resolve(need, w.member.user, NeedOutcome.SOLVED, "好了")
    needs.rate(need, NeedRating.BASICALLY)
    with pytest.raises(NeedError):
        _do(need, action, w)


def test_accepting_twice_is_refused(app):
    w = make_need_world()
    need = make_need(w.household)
    needs.accept(need, w.member.user)
    with pytest.raises(NeedError, match="已接单"):
        needs.accept(need, w.member.user)


def _do(need, action, w):  # type: ignore[no-untyped-def]
    user = w.member.user
    if action == "accept":
        needs.accept(need, user)
    elif action == "progress":
        needs.add_progress(need, user, "进展")
    elif action == "resolve":
        needs.resolve(need, user, NeedOutcome.SOLVED, "好了")
    elif action == "rate":
        needs.rate(need, NeedRating.SATISFIED)


@pytest.mark.parametrize("outcome", list(NeedOutcome))
def test_every_outcome_needs_a_note(app, outcome):
    w = make_need_world()
    need = make_need(w.household)
    needs.accept(need, w.member.user)
    with pytest.raises(NeedError):
        needs.resolve(need, w.member.user, outcome, "  ", referred_to="街道城管科")


def test_a_referral_says_to_whom(app):
    w = make_need_world()
    need = make_need(w.household)
    needs.accept(need, w.member.user)
    with pytest.raises(NeedError, match="哪个部门"):
        needs.resolve(need, w.member.user, NeedOutcome.REFERRED, "已转交")
    needs.resolve(need, w.member.user, NeedOutcome.REFERRED, "已转交", referred_to="区住建局")
    assert need.referred_to == "区住建局"


def test_unsatisfied_reopens_to_the_same_owner_and_is_counted(app):
    w = make_need_world()
    need = make_need(w.household)
    for round_ in (1, 2):
        if need.status is NeedStatus.SUBMITTED:
            needs.accept(need, w.member.user)
        needs.resolve(need, w.member.user, NeedOutcome.SOLVED, "好了")
        needs.rate(need, NeedRating.UNSATISFIED, "没修好")
        db.session.commit()
        assert need.status is NeedStatus.IN_PROGRESS and need.reopen_count == round_
        assert need.owner_member_id == w.member.id and need.outcome is None
    assert _events(need)[-1] is EventKind.REOPENED


def test_hiding_keeps_the_need_with_its_reason(app):
    w = make_need_world()
    need = make_need(w.household)
    with pytest.raises(NeedError):
        needs.hide(need, w.p.community_admin, "")
    needs.hide(need, w.p.community_admin, "辱骂内容")
    db.session.commit()
    assert need.hidden_reason == "辱骂内容" and need.hidden_by_id == w.p.community_admin.id
    with pytest.raises(NeedError):
        needs.accept(need, w.member.user)


@pytest.mark.parametrize("text", ["", "   ", "长" * 501, "长" * 10_000])
def test_text_must_be_given_and_short(app, text):
    w = make_need_world()
    with pytest.raises(NeedError):
        make_need(w.household, text=text)


def test_a_public_need_needs_a_valid_phone_and_consent(app):
    w = make_need_world()
    with pytest.raises(NeedError, match="手机号"):
        make_need(community=w.p.tree.community, address="x", phone="12345")
    with pytest.raises(NeedError, match="勾选"):
        needs.submit_need(NeedCategory.OTHER, "x", origin=NeedOrigin.PUBLIC, community=w.p.tree.community,
                          contact_phone="13700001111", consent=False)


def test_heads_see_their_members_needs_except_disputes(app):
    w = make_need_world()
    ordinary = make_need(w.household)
    dispute = make_need(w.household, category=NeedCategory.DISPUTE, phone="13911113333")
    assert policy.can_view_need(w.head.user, ordinary)
    assert not policy.can_view_need(w.head.user, dispute)
    assert policy.can_view_need(w.member.user, dispute)
    assert not policy.can_view_need(w.fellow.user, ordinary)
    assert policy.can_view_need(w.p.community_admin, dispute)
    assert not policy.can_view_need(w.p.other_community_admin, dispute)


def test_a_member_without_a_household_escalates_straight_to_the_community(app):
    w = make_need_world()
    loner = make_member(w.p.tree.grid_b, name="孙党员")
    hh = make_resident(w.p.tree.grid_b, member=loner)
    need = make_need(hh)
    level, member, node = needs.next_owner(need)
    assert level is OwnerLevel.COMMUNITY and node.id == w.p.tree.community.id
