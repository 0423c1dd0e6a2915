"""Demo data for mentoring and posts: a year of guidance contacts by the mentors already linked
(most households guided every quarter, some not; in the quarter under way fewer so far, so the
"not guided this quarter" flag shows), the district's default list of posts plus one of the first
community's own, and a post for about 40% of the members without office (a few with an earlier
post that ended). The demo mentor (13900000008) has one household guided this quarter and one not;
the demo member (13900000006) holds 关爱帮扶岗 when she is without office."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from app.clock import local_day
from app.demo.context import Bulk, DemoContext, demo_extension, insert_rows
from app.models import (
    ActivityKind,
    CentralHousehold,
    GuidanceContact,
    GuidanceWay,
    HouseholdStatus,
    Member,
    MemberStatus,
    PostAssignment,
    PostType,
)
from app.services.mentoring import Quarter
from app.services.posts import DEFAULT_POSTS, with_office_condition

GUIDED_SHARE = 0.88  # households guided in a past quarter
POSTED_SHARE = 0.40  # members without office holding a post
EARLIER_POST_SHARE = 0.12  # of those, who held another post before
WAYS = [(GuidanceWay.IN_PERSON, 50), (GuidanceWay.PHONE, 25), (GuidanceWay.ONLINE, 10), (GuidanceWay.MEETING, 15)]
DISCUSSED = [
    "指导开展入户走访，梳理联系群众户的急难愁盼问题",
    "指导记好民情日记，帮助分析群众反映的集中问题",
    "帮助制定本季度服务活动计划，落实送学上门",
    "指导化解邻里矛盾纠纷的方法，讲解调解程序",
    "传达上级惠民政策，指导中心户做好政策宣讲",
    "督促联系党员落实“1+10+15”联系群众要求",
    "讲解诉求办理流程和时限，指导及时回应群众诉求",
    "交流示范中心户创建经验，查找工作短板",
]
FOLLOW_UP = [
    "下月回访落实情况", "协调社区解决场地问题", "组织联系党员集中学习一次", "跟踪两户困难群众诉求办理",
    "", "", "",
]
COMMUNITY_POST = ("楼道长岗", "联系本楼栋群众，收集反映楼道、小区问题。", ActivityKind.VISIT)


def _weighted(ctx: DemoContext, pairs: list) -> object:
    items, weights = zip(*pairs, strict=True)
    return ctx.rng.choices(items, weights)[0]


def _day(ctx: DemoContext, first: date, last: date) -> date:
    return first + timedelta(days=ctx.rng.randint(0, max(0, (last - first).days)))


@demo_extension
def generate_mentoring(ctx: DemoContext) -> dict[str, int]:
    """Guidance contacts for the last four quarters and the one under way."""
    rng = ctx.rng
    today = local_day(ctx.now)
    start = today - timedelta(days=365)
    current = Quarter.of(today)
    quarters = [current]
    while quarters[-1].first > start:
        quarters.append(quarters[-1].previous())
    households = ctx.conn.execute(
        sa.select(CentralHousehold.id, CentralHousehold.mentor_id, CentralHousehold.established_on)
        .where(CentralHousehold.mentor_id.is_not(None), CentralHousehold.status != HouseholdStatus.REVOKED)
        .order_by(CentralHousehold.id)).all()
    demo_mentor = next((m for m, u in ctx.member_user_ids.items() if u == ctx.demo_user_ids.get("mentor")), None)
    demo_households = [h.id for h in households if h.mentor_id == demo_mentor]
    # Part of the quarter under way has passed: fewer households are guided in it so far.
    elapsed = ((today - current.first).days + 1) / ((current.last - current.first).days + 1)
    rows: list[dict] = []
    for hid, mentor_id, established in households:
        for quarter in quarters:
            first = max(quarter.first, start, established or start)
            last = min(quarter.last, today)
            if first > last:
                continue
            share = GUIDED_SHARE if quarter != current else min(GUIDED_SHARE, 0.3 + 0.6 * elapsed)
            if demo_households and quarter == current and hid in demo_households[:2]:
                share = 0.0 if hid == demo_households[0] else 1.0
            if rng.random() >= share:
                continue
            for _ in range(rng.choices((1, 2, 3), (70, 25, 5))[0]):
                day = _day(ctx, first, last)
                rows.append({
                    "mentor_member_id": mentor_id, "household_id": hid, "contact_date": day,
                    "way": _weighted(ctx, WAYS), "discussed": rng.choice(DISCUSSED),
                    "follow_up": rng.choice(FOLLOW_UP), "created_by_id": ctx.member_user_ids[mentor_id],
                    "created_at": datetime.combine(day, time(rng.randint(1, 10), rng.randrange(60)), UTC),
                })
    for row, contact_id in zip(rows, ctx.reserve_ids("guidance_contacts", len(rows)), strict=True):
        row["id"] = contact_id
    insert_rows(ctx.conn, GuidanceContact.__table__, rows)
    return {"guidance_contacts": len(rows)}


@demo_extension
def generate_posts(ctx: DemoContext) -> dict[str, int]:
    """The default posts at the district root (and one of the first community's), and posts for
    about 40% of the members without office."""
    rng = ctx.rng
    posts: list[dict] = []
    for node_id, (name, duty, kind) in [(ctx.district_id, p) for p in DEFAULT_POSTS] + [
            (ctx.community_ids[0], COMMUNITY_POST)]:
        posts.append({"id": ctx.next_id("post_types"), "org_node_id": node_id, "name": name, "duty": duty,
                      "activity_kind": kind, "active": True, "created_at": ctx.now - timedelta(days=720)})
    ctx.conn.execute(sa.insert(PostType.__table__), posts)
    district_posts = [p for p in posts if p["org_node_id"] == ctx.district_id]
    community_of = {g: ctx.parent_of[g] for g in ctx.grid_ids}
    without_office = ctx.conn.execute(
        sa.select(Member.id, Member.grid_id).where(Member.status == MemberStatus.ACTIVE, ~with_office_condition())
        .order_by(Member.id)).all()
    demo_member = next((m for m, u in ctx.member_user_ids.items() if u == ctx.demo_user_ids.get("member")), None)
    errand = next(p for p in district_posts if p["activity_kind"] is ActivityKind.ERRAND)
    rows = Bulk(ctx.conn, PostAssignment.__table__)
    by_post: dict[int, int] = defaultdict(int)
    for member_id, grid_id in without_office:
        if member_id != demo_member and rng.random() >= POSTED_SHARE:
            continue
        community = community_of.get(grid_id)
        choices = district_posts + [p for p in posts if p["org_node_id"] == community]
        post = errand if member_id == demo_member else rng.choice(choices)
        admin = ctx.node_admin_user_ids.get(community) or ctx.admin_user_ids["district"]
        since = ctx.now - timedelta(days=rng.randint(30, 700))
        if member_id != demo_member and rng.random() < EARLIER_POST_SHARE:
            earlier = rng.choice([p for p in choices if p is not post] or choices)
            rows.add({"id": ctx.next_id("post_assignments"), "member_id": member_id, "post_type_id": earlier["id"],
                      "duty": earlier["duty"], "assigned_by_id": admin,
                      "assigned_at": since - timedelta(days=rng.randint(120, 400)),
                      "ended_at": since, "ended_by_id": admin})
        rows.add({"id": ctx.next_id("post_assignments"), "member_id": member_id, "post_type_id": post["id"],
                  "duty": post["duty"], "assigned_by_id": admin, "assigned_at": since, "ended_at": None,
                  "ended_by_id": None})
        by_post[post["id"]] += 1
    rows.flush()
    return {"post_types": len(posts), "post_assignments": rows.count,
            "members_without_office": len(without_office), "members_with_post": sum(by_post.values())}
