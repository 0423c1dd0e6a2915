"""Posts for members without office (无职党员设岗定责): the list of posts per node, giving a
member one post at a time, ending it, and the post's work shown on the member's pages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.clock import TZ, local_today
from app.extensions import db
from app.models import (
    ActivityKind,
    CentralHousehold,
    Member,
    MemberCategory,
    MemberStatus,
    PostAssignment,
    PostType,
    User,
    VerifyState,
)
from tests.factories import (
    Personas,
    login,
    make_activity,
    make_admin,
    make_member,
    make_personas,
)
from tests.helpers import queries_for


@dataclass
class World:
    p: Personas
    township_admin: User
    plain: Member  # a member without office in the personas' grid
    district_post: PostType  # 政策宣讲岗 at the district: any member may hold it
    community_post: PostType  # 楼道长岗 at 龙山社区
    other_post: PostType  # a post of the other community (杨桥社区)
    kindless: PostType  # a post that names no kind of service


def post(node, name: str, kind: ActivityKind | None, duty: str = "") -> PostType:  # type: ignore[no-untyped-def]
    row = PostType(org_node_id=node.id, name=name, duty=duty or f"{name}的职责", activity_kind=kind)
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def w(app) -> World:
    p = make_personas()
    t = p.tree
    return World(p, make_admin(t.township, name="镇管理员"), make_member(t.grid_b, name="无职甲"),
                 post(t.district, "政策宣讲岗", ActivityKind.STUDY_VISIT), post(t.community, "楼道长岗", ActivityKind.VISIT),
                 post(t.community2, "杨桥巡河岗", ActivityKind.OTHER), post(t.district, "志愿服务岗", None))


def user(m: Member) -> User:
    return db.session.get(User, m.user_id)


def open_posts(member: Member) -> list[PostAssignment]:
    return list(db.session.scalars(sa.select(PostAssignment).where(
        PostAssignment.member_id == member.id, PostAssignment.ended_at.is_(None))))


def assignments() -> int:
    return db.session.scalar(sa.select(sa.func.count(PostAssignment.id)))


# --- the list of posts ------------------------------------------------------------------------------


def test_admin_adds_a_post_at_their_node_with_its_kind_of_work(client, w):
    login(client, w.p.community_admin)
    response = client.post("/mentoring/posts", data={
        "node_id": w.p.tree.community.id, "name": "环境监督岗", "duty": "监督小区环境", "activity_kind": "other"})
    assert response.status_code == 303
    added = db.session.scalar(sa.select(PostType).where(PostType.name == "环境监督岗"))
    assert (added.org_node_id, added.duty, added.activity_kind, added.active) == (
        w.p.tree.community.id, "监督小区环境", ActivityKind.OTHER, True)
    page = client.get("/mentoring/posts").get_data(as_text=True)
    # Its own and its ancestors' posts, not the other branch's.
    assert "环境监督岗" in page and "政策宣讲岗" in page and "楼道长岗" in page and "杨桥巡河岗" not in page


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"name": ""}, "name", "请填写岗位名称"),
    ({"name": "岗" * 33}, "name", "不超过32字"),
    ({"duty": "责" * 256}, "duty", "不超过255字"),
    ({"activity_kind": "flying"}, "activity_kind", "选"),
    ({"node_id": "999999"}, "node_id", "选"),
])
def test_bad_post_input_is_refused_next_to_the_field(client, w, data, field, message):
    login(client, w.p.community_admin)
    posted = {"node_id": w.p.tree.community.id, "name": "环境监督岗", "duty": "", "activity_kind": ""} | data
    response = client.post("/mentoring/posts", data=posted)
    assert response.status_code == 422
    error = re.search(rf'id="{field}-error">(.*?)</p>', response.get_data(as_text=True), re.S)
    assert error and message in error[1]
    assert db.session.scalar(sa.select(sa.func.count(PostType.id))) == 4


def test_a_name_is_once_per_node(client, w):
    login(client, w.p.community_admin)
    response = client.post("/mentoring/posts", data={"node_id": w.p.tree.community.id, "name": "楼道长岗",
                                                     "activity_kind": ""})
    assert response.status_code == 422 and "龙山社区 已有“楼道长岗”" in response.get_data(as_text=True)
    # The same name at another node is another post.
    login(client, w.p.district_admin)
    assert client.post("/mentoring/posts", data={"node_id": w.p.tree.district.id, "name": "楼道长岗",
                                                 "activity_kind": ""}).status_code == 303


def test_admin_edits_their_posts_but_not_the_ones_above(client, w):
    login(client, w.p.community_admin)
    form = client.get(f"/mentoring/posts/{w.community_post.id}/edit").get_data(as_text=True)
    assert 'value="楼道长岗"' in form and '<option selected value="visit">' in form
    response = client.post(f"/mentoring/posts/{w.community_post.id}/edit",
                           data={"name": "楼栋长岗", "duty": "联系本楼栋", "activity_kind": "errand"})
    assert response.status_code == 303
    db.session.refresh(w.community_post)
    assert (w.community_post.name, w.community_post.duty, w.community_post.activity_kind) == (
        "楼栋长岗", "联系本楼栋", ActivityKind.ERRAND)
    assert client.post(f"/mentoring/posts/{w.community_post.id}/edit",
                       data={"name": "", "activity_kind": ""}).status_code == 422
    # The district's post: seen, not changed (403); the other community's: not seen (404).
    assert client.get(f"/mentoring/posts/{w.district_post.id}/edit").status_code == 403
    assert client.post(f"/mentoring/posts/{w.district_post.id}/active", data={"active": "0"}).status_code == 403
    assert client.get(f"/mentoring/posts/{w.other_post.id}/edit").status_code == 404
    assert client.post(f"/mentoring/posts/{w.other_post.id}/delete").status_code == 404
    db.session.refresh(w.district_post)
    assert w.district_post.active


def test_a_used_post_is_deactivated_not_deleted(client, w):
    login(client, w.p.community_admin)
    assert client.post(f"/mentoring/members/{w.plain.id}/post", data={"post_type_id": w.community_post.id}).status_code == 303
    response = client.post(f"/mentoring/posts/{w.community_post.id}/delete", follow_redirects=True)
    assert "已有党员任过“楼道长岗”，不能删除，只能停用" in response.get_data(as_text=True)
    assert db.session.get(PostType, w.community_post.id) is not None
    assert client.post(f"/mentoring/posts/{w.community_post.id}/active", data={"active": "0"}).status_code == 303
    db.session.refresh(w.community_post)
    assert not w.community_post.active
    # A deactivated post takes no new holder; its holder keeps it.
    other = make_member(w.p.tree.grid, name="无职乙")
    response = client.post(f"/mentoring/members/{other.id}/post", data={"post_type_id": w.community_post.id})
    assert response.status_code == 422 and open_posts(other) == []
    assert [a.post_type_id for a in open_posts(w.plain)] == [w.community_post.id]
    unused = post(w.p.tree.community, "临时岗", None).id
    assert client.post(f"/mentoring/posts/{unused}/delete").status_code == 303
    assert db.session.get(PostType, unused) is None


# --- giving and ending a post ------------------------------------------------------------------------


def test_giving_a_new_post_ends_the_old_one_in_the_same_step(client, w):
    login(client, w.p.community_admin)
    response = client.post(f"/mentoring/members/{w.plain.id}/post",
                           data={"post_type_id": w.district_post.id, "duty": ""})
    assert response.status_code == 303
    [first] = open_posts(w.plain)
    assert (first.duty, first.assigned_by_id) == ("政策宣讲岗的职责", w.p.community_admin.id)
    response = client.post(f"/mentoring/members/{w.plain.id}/post",
                           data={"post_type_id": w.community_post.id, "duty": "负责3栋"})
    assert response.status_code == 303
    [second] = open_posts(w.plain)
    db.session.refresh(first)
    assert second.post_type_id == w.community_post.id and second.duty == "负责3栋"
    assert first.ended_at == second.assigned_at and first.ended_by_id == w.p.community_admin.id
    # The same post with the same duty again is not a change.
    again = client.post(f"/mentoring/members/{w.plain.id}/post", data={"post_type_id": w.community_post.id,
                                                                      "duty": "负责3栋"})
    assert again.status_code == 422 and "已在“楼道长岗”岗位上" in again.get_data(as_text=True)
    page = client.get(f"/mentoring/members/{w.plain.id}/post").get_data(as_text=True)
    assert "曾任：政策宣讲岗" in page
    assert assignments() == 2


def test_the_database_keeps_one_open_post_per_member(w):
    admin = w.p.community_admin
    db.session.add(PostAssignment(member_id=w.plain.id, post_type_id=w.district_post.id, assigned_by_id=admin.id))
    db.session.commit()
    db.session.add(PostAssignment(member_id=w.plain.id, post_type_id=w.community_post.id, assigned_by_id=admin.id))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


@pytest.mark.parametrize(("data", "message"), [
    ({"post_type_id": "0"}, "请选择一个在用的岗位"),
    ({"post_type_id": "x"}, "请选择一个在用的岗位"),
    ({"duty": "责" * 256}, "不超过255字"),
])
def test_bad_assignment_input_saves_nothing(client, w, data, message):
    login(client, w.p.community_admin)
    response = client.post(f"/mentoring/members/{w.plain.id}/post",
                           data={"post_type_id": w.district_post.id, "duty": ""} | data)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert assignments() == 0


def test_a_post_of_another_branch_is_refused(client, w):
    login(client, w.p.district_admin)  # may see both the member and the post
    response = client.post(f"/mentoring/members/{w.plain.id}/post", data={"post_type_id": w.other_post.id})
    assert response.status_code == 422
    assert "“杨桥巡河岗”是杨桥社区的岗位，不适用于该党员所在的组织" in response.get_data(as_text=True)
    assert assignments() == 0


def test_another_nodes_member_is_not_found(client, w):
    login(client, w.p.community_admin)
    url = f"/mentoring/members/{w.p.other_member.id}/post"
    assert client.get(url).status_code == 404
    assert client.post(url, data={"post_type_id": w.district_post.id}).status_code == 404
    assert client.post("/mentoring/members/999999999/post", data={"post_type_id": w.district_post.id}).status_code == 404
    assert assignments() == 0


@pytest.mark.parametrize("office", ["head", "secretary", "committee", "mentor"])
def test_members_with_office_get_no_post(client, w, office):
    household = db.session.get(CentralHousehold, w.p.member.central_household_id)
    member = {"head": lambda: household.head}.get(office, lambda: w.plain)()
    if office == "secretary":
        member.is_secretary = True
    elif office == "committee":
        member.category = MemberCategory.VILLAGE_COMMITTEE
    elif office == "mentor":
        household.mentor_id = member.id
    db.session.commit()
    login(client, w.p.community_admin)
    page = client.get(f"/mentoring/members/{member.id}/post").get_data(as_text=True)
    assert "不属于无职党员" in page and 'id="post-assign"' not in page
    response = client.post(f"/mentoring/members/{member.id}/post", data={"post_type_id": w.district_post.id})
    assert response.status_code == 422 and "不属于无职党员" in response.get_data(as_text=True)
    assert assignments() == 0


def test_ending_a_post(client, w):
    login(client, w.p.community_admin)
    client.post(f"/mentoring/members/{w.plain.id}/post", data={"post_type_id": w.district_post.id})
    [current] = open_posts(w.plain)
    client.post("/logout")
    login(client, w.p.other_community_admin)
    assert client.post(f"/mentoring/assignments/{current.id}/end").status_code == 404
    client.post("/logout")
    login(client, user(w.plain))  # the member sees their post, but does not end it
    assert client.post(f"/mentoring/assignments/{current.id}/end").status_code == 403
    client.post("/logout")
    login(client, w.p.community_admin)
    assert client.post(f"/mentoring/assignments/{current.id}/end").status_code == 303
    db.session.refresh(current)
    assert current.ended_at is not None and current.ended_by_id == w.p.community_admin.id and open_posts(w.plain) == []
    response = client.post(f"/mentoring/assignments/{current.id}/end", follow_redirects=True)
    assert "这个岗位已经结束" in response.get_data(as_text=True)


# --- the post's work ---------------------------------------------------------------------------------


def test_the_posts_work_is_the_members_activities_of_its_kind_since_it_began(client, w):
    """Counted here by hand: what counts is listed, not computed by the code under test."""
    now = datetime.now(UTC)
    this_year_start = datetime(local_today().year, 1, 1, tzinfo=TZ)
    since = max(now - timedelta(days=40), this_year_start + timedelta(hours=1))
    assignment = PostAssignment(member_id=w.plain.id, post_type_id=w.district_post.id, duty="宣讲",
                                assigned_by_id=w.p.community_admin.id, assigned_at=since)
    db.session.add(assignment)
    db.session.commit()
    fellow_host = make_member(w.p.tree.grid_b, name="同行发起人")
    counted = [
        make_activity(w.plain, "study_visit", started_at=since + timedelta(hours=1), note="第一次宣讲"),
        make_activity(w.plain, "study_visit", started_at=since + timedelta(days=3), note="第二次宣讲"),
        # recorded by someone else with the member along: it is their work too
        make_activity(fellow_host, "study_visit", fellows=[w.plain], started_at=since + timedelta(days=5),
                      note="同行宣讲"),
    ]
    returned = make_activity(w.plain, "study_visit", station=w.p.station, started_at=since + timedelta(days=6))
    returned.verify_state, returned.return_reason = VerifyState.RETURNED, "不符"
    db.session.commit()
    make_activity(w.plain, "study_visit", started_at=since - timedelta(hours=1))  # before the post began
    make_activity(w.plain, "errand", started_at=since + timedelta(days=2))  # another kind
    make_activity(fellow_host, "study_visit", started_at=since + timedelta(days=2))  # someone else's
    login(client, w.p.community_admin)
    page = client.get(f"/structure/members/{w.plain.id}").get_data(as_text=True)
    assert "政策宣讲岗" in page and "今年 3 次（任岗以来 3 次，送学上门）" in page
    recent = re.findall(r'href="/activities/(\d+)"', page)
    assert recent == [str(a.id) for a in sorted(counted, key=lambda a: a.started_at, reverse=True)]
    # The member sees the same on their home page.
    client.post("/logout")
    login(client, user(w.plain))
    home = client.get("/").get_data(as_text=True)
    assert "设岗定责" in home and "今年 3 次" in home and "宣讲" in home
    for a in counted:
        assert client.get(f"/activities/{a.id}").status_code == 200  # the links open for the member


def test_a_post_without_a_kind_says_so(client, w):
    db.session.add(PostAssignment(member_id=w.plain.id, post_type_id=w.kindless.id, assigned_by_id=w.p.district_admin.id))
    db.session.commit()
    make_activity(w.plain, "errand")
    login(client, w.p.community_admin)
    assert "该岗位未关联服务类型" in client.get(f"/mentoring/members/{w.plain.id}/post").get_data(as_text=True)


def test_holders_list_counts_each_posts_work_in_a_fixed_number_of_queries(client, w):
    admin = w.p.community_admin
    login(client, admin)

    def give(member: Member, post_type: PostType, days_ago: int = 30) -> PostAssignment:
        a = PostAssignment(member_id=member.id, post_type_id=post_type.id, assigned_by_id=admin.id,
                           assigned_at=datetime.now(UTC) - timedelta(days=days_ago))
        db.session.add(a)
        db.session.commit()
        return a

    give(w.plain, w.community_post)
    make_activity(w.plain, "visit")
    make_activity(w.plain, "visit")
    few = queries_for(client, "/mentoring/posts/holders")
    few_unposted = queries_for(client, "/mentoring/posts/holders?unposted=1")
    page = client.get("/mentoring/posts/holders").get_data(as_text=True)
    assert re.search(r"无职甲</a>.*?2 次", page, re.S)
    for i in range(4):
        m = make_member(w.p.tree.grid, name=f"无职{i}")
        give(m, w.district_post)
        make_activity(m, "study_visit")
        make_member(w.p.tree.grid, name=f"未设岗{i}")
    assert queries_for(client, "/mentoring/posts/holders") == few
    unposted = client.get("/mentoring/posts/holders?unposted=1").get_data(as_text=True)
    assert all(f"未设岗{i}" in unposted for i in range(4))
    assert queries_for(client, "/mentoring/posts/holders?unposted=1") == few_unposted


def test_members_without_office_and_the_share_posted(client, w):
    household = db.session.get(CentralHousehold, w.p.member.central_household_id)
    # In 龙山社区: the head (office), 李党员 and 无职甲 (without office), a committee member (office),
    # a stopped member (not counted).
    make_member(w.p.tree.grid, name="两委委员", category=MemberCategory.VILLAGE_COMMITTEE)
    stopped = make_member(w.p.tree.grid, name="停用党员")
    stopped.status = MemberStatus.INACTIVE
    db.session.add(PostAssignment(member_id=w.plain.id, post_type_id=w.district_post.id,
                                  assigned_by_id=w.p.community_admin.id))
    db.session.commit()
    login(client, w.p.community_admin)
    page = client.get("/mentoring/admin").get_data(as_text=True)
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", page))
    assert (figures["无职党员"], figures["已设岗"], figures["未设岗"]) == ("2", "1", "1")
    unposted = client.get("/mentoring/posts/holders?unposted=1").get_data(as_text=True)
    assert "李党员" in unposted and household.head.name not in unposted and "两委委员" not in unposted
    assert "无职甲" not in unposted and "停用党员" not in unposted and "周党员" not in unposted


# --- who may do what ---------------------------------------------------------------------------------

ROLES = ("anonymous", "resident", "member", "head", "station_admin", "community_admin",
         "other_community_admin", "district_admin")
ANON = 302


def _as(client, w: World, role: str) -> None:  # type: ignore[no-untyped-def]
    household = db.session.get(CentralHousehold, w.p.member.central_household_id)
    who = {"resident": w.p.resident, "member": user(w.p.member), "head": user(household.head),
           "station_admin": w.p.station_admin, "community_admin": w.p.community_admin,
           "other_community_admin": w.p.other_community_admin, "district_admin": w.p.district_admin}.get(role)
    if who is not None:
        login(client, who)


def _admins(community: int, other: int, district: int) -> dict[str, int]:
    return {"anonymous": ANON, "community_admin": community, "other_community_admin": other,
            "district_admin": district, "*": 403}


@pytest.mark.parametrize("role", ROLES)
def test_every_post_route_answers_each_role(client, w, role):
    held = PostAssignment(member_id=w.plain.id, post_type_id=w.community_post.id, assigned_by_id=w.p.district_admin.id)
    db.session.add(held)
    db.session.commit()
    held_id = held.id
    _as(client, w, role)
    gets = {
        "/mentoring/posts": _admins(200, 200, 200),
        "/mentoring/posts/holders": _admins(200, 200, 200),
        "/mentoring/posts/holders?unposted=1": _admins(200, 200, 200),
        f"/mentoring/posts/{w.community_post.id}/edit": _admins(200, 404, 200),
        f"/mentoring/posts/{w.district_post.id}/edit": _admins(403, 403, 200),
        f"/mentoring/members/{w.plain.id}/post": _admins(200, 404, 200),
    }
    for url, table in gets.items():
        response = client.get(url)
        assert response.status_code == table.get(role, table["*"]), (url, role)
        if response.status_code == ANON:
            assert "/login" in response.headers["Location"]
    kindless = w.kindless.id
    posts_ = [
        (f"/mentoring/posts/{kindless}/active", {"active": "0"}, _admins(403, 403, 303)),
        (f"/mentoring/posts/{w.community_post.id}/active", {"active": "1"}, _admins(303, 404, 303)),
        (f"/mentoring/posts/{w.community_post.id}/edit", {"name": "楼道长岗", "duty": "联系楼栋", "activity_kind": "visit"},
         _admins(303, 404, 303)),
        (f"/mentoring/posts/{w.district_post.id}/edit", {"name": "宣讲岗", "activity_kind": ""}, _admins(403, 403, 303)),
        (f"/mentoring/members/{w.plain.id}/post", {"post_type_id": w.district_post.id}, _admins(303, 404, 303)),
        (f"/mentoring/assignments/{held_id}/end", {}, _admins(303, 404, 303)),
        ("/mentoring/posts", {"node_id": w.p.tree.community.id, "name": "新岗", "activity_kind": ""},
         _admins(303, 422, 422)),
        (f"/mentoring/posts/{kindless}/delete", {}, _admins(403, 403, 303)),
    ]
    for url, data, table in posts_:
        response = client.post(url, data=data)
        assert response.status_code == table.get(role, table["*"]), (url, role)
    if role not in ("community_admin", "district_admin"):
        assert assignments() == 1 and open_posts(w.plain)[0].id == held_id
        assert db.session.get(PostType, kindless).active and db.session.get(PostType, w.district_post.id).name == "政策宣讲岗"
