"""The demo district's mentoring, posts and 示范 titles: real numbers on every new page."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import sqlalchemy as sa

from app.clock import local_day, local_today
from app.demo import district as demo
from app.extensions import db
from app.models import (
    CentralHousehold,
    GuidanceContact,
    HouseholdStatus,
    Member,
    MemberStatus,
    ModelTitle,
    OrgLevel,
    OrgNode,
    PostAssignment,
    PostType,
    User,
)
from app.services import posts
from app.services.mentoring import Quarter
from tests.test_demo import run_demo


def test_demo_mentors_guided_most_households_each_quarter_and_not_all_this_one(app):
    run_demo(app)
    today = local_today()
    households = list(db.session.scalars(sa.select(CentralHousehold).where(
        CentralHousehold.mentor_id.is_not(None), CentralHousehold.status != HouseholdStatus.REVOKED)))
    contacts = list(db.session.scalars(sa.select(GuidanceContact)))
    assert contacts and all(today - timedelta(days=365) <= c.contact_date <= today for c in contacts)
    mentor_of = {h.id: h.mentor_id for h in households}
    assert all(mentor_of[c.household_id] == c.mentor_member_id for c in contacts)
    guided = Counter((c.household_id, Quarter.of(c.contact_date)) for c in contacts)
    last = Quarter.of(today).previous()
    share = sum(1 for h in households if (h.id, last) in guided) / len(households)
    assert 0.5 <= share <= 1

    client = app.test_client()
    phone, name = demo.DEMO_ACCOUNTS["mentor"]
    assert client.post("/login", data={"phone": phone, "password": demo.DEMO_PASSWORD}).status_code == 303
    page = client.get("/mentoring/").get_data(as_text=True)
    assert "我的帮带" in page and "本季度未帮带</span>" in page and "本季度已帮带" in page
    mentor = db.session.scalar(sa.select(User).where(User.phone == phone)).member
    assert mentor.is_secretary and 3 <= sum(1 for h in households if h.mentor_id == mentor.id) <= 5
    assert mentor.grid.parent_id == db.session.scalar(sa.select(User).where(
        User.phone == demo.DEMO_ACCOUNTS["community"][0])).admin_nodes[0].id


def test_demo_posts_cover_part_of_the_members_without_office(app):
    run_demo(app)
    district = db.session.scalar(sa.select(OrgNode).where(OrgNode.level == OrgLevel.DISTRICT))
    names = set(db.session.scalars(sa.select(PostType.name).where(PostType.org_node_id == district.id)))
    assert {"政策宣讲岗", "矛盾调解岗", "环境监督岗", "关爱帮扶岗", "文明实践岗"} <= names
    without = set(db.session.scalars(sa.select(Member.id).where(
        Member.status == MemberStatus.ACTIVE, ~posts.with_office_condition())))
    holders = Counter(db.session.scalars(sa.select(PostAssignment.member_id).where(PostAssignment.ended_at.is_(None))))
    assert set(holders) <= without and set(holders.values()) == {1}
    assert 0.3 <= len(holders) / len(without) <= 0.5
    assert db.session.scalar(sa.select(sa.func.count(PostAssignment.id)).where(PostAssignment.ended_at.is_not(None)))

    client = app.test_client()
    phone, _name = demo.DEMO_ACCOUNTS["member"]
    client.post("/login", data={"phone": phone, "password": demo.DEMO_PASSWORD})
    member = db.session.scalar(sa.select(User).where(User.phone == phone)).member
    if member.id in without:  # she holds 关爱帮扶岗, shown with its work on her home page
        home = client.get("/").get_data(as_text=True)
        assert "关爱帮扶岗" in home and "今年" in home


def test_demo_titles_carry_the_year_their_township_granted_them(app):
    run_demo(app)
    # The district's own titles (the evaluation demo's campaign adds titles of its own, with their campaign).
    titles = list(db.session.scalars(sa.select(ModelTitle).where(ModelTitle.campaign_id.is_(None))))
    households = db.session.scalar(sa.select(sa.func.count(CentralHousehold.id)))
    assert len(titles) == round(demo.MODEL_SHARE * households)
    for t in titles:
        assert t.year == local_day(t.granted_at).year and t.granted_by_id and t.revoked_at is None
