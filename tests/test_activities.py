"""Recording service: recording, seeing, editing and verifying activities, and their lists."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine
from openpyxl import load_workbook

from app.clock import TZ
from app.extensions import db
from app.models import (
    Activity,
    ActivityPhoto,
    ActivityRevision,
    AuditEntry,
    Photo,
    User,
    VerifyState,
)
from tests.factories import (
    World,
    activity_form_data,
    image_bytes,
    login,
    make_activity,
    make_member,
    make_station,
    make_station_admin,
    make_world,
    user_of,
)
from tests.helpers import queries_for


def count(model: type) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# --- recording ---------------------------------------------------------------------------


def test_member_records_a_visit_with_households_fellows_and_photos(client, app):
    w = make_world()
    login(client, user_of(w.member))
    data = activity_form_data(residents=[str(w.r1.id), str(w.r2.id)], fellows=[str(w.fellow.id)])
    data["photos"] = [(io.BytesIO(image_bytes(exif_gps=True)), "a.jpg"),
                      (io.BytesIO(image_bytes("PNG", color="blue")), "b.png")]
    response = client.post("/activities/new", data=data)
    assert response.status_code == 303
    activity = db.session.scalar(sa.select(Activity))
    assert response.headers["Location"] == f"/activities/{activity.id}"
    assert activity.kind.value == "visit" and activity.duration_minutes == 45
    assert activity.address == "龙山路12号" and activity.verify_state is VerifyState.NONE
    assert activity.grid_id == w.member.grid_id
    assert count(ActivityPhoto) == 2 and count(Photo) == 2
    from app.services.photos import photo_path

    for photo in db.session.scalars(sa.select(Photo)):
        assert photo_path(photo).exists() and photo_path(photo, thumb=True).exists()
    page = client.get(f"/activities/{activity.id}").get_data(as_text=True)
    assert "赵大爷" in page and "钱大妈" in page and "陈同行" in page


def test_an_activity_at_a_station_waits_for_verification(client, app):
    w = make_world()
    login(client, user_of(w.member))
    response = client.post("/activities/new", data=activity_form_data(station_id=str(w.p.station.id), address=""))
    assert response.status_code == 303
    activity = db.session.scalar(sa.select(Activity))
    assert activity.station_id == w.p.station.id and activity.verify_state is VerifyState.PENDING
    assert "待审核" in client.get("/activities/").get_data(as_text=True)


def test_the_form_offers_only_the_members_own_households_and_defaults_to_now(client, app):
    w = make_world()
    with time_machine.travel(datetime(2025, 5, 15, 2, 7, tzinfo=UTC), tick=False):
        login(client, user_of(w.member))
        page = client.get("/activities/new").get_data(as_text=True)
    assert "赵大爷" in page and "钱大妈" in page
    assert "孙奶奶" not in page and "周老汉" not in page
    assert 'value="2025-05-15T10:07"' in page  # now, in Asia/Shanghai
    assert 'accept="image/*"' in page and 'capture="environment"' in page and "multiple" in page


def test_a_member_cannot_name_a_household_they_do_not_cover(client, app):
    w = make_world()
    login(client, user_of(w.member))
    response = client.post("/activities/new", data=activity_form_data(residents=[str(w.r_fellow.id)]))
    assert response.status_code == 422
    assert "只能选择自己联系的群众户" in response.get_data(as_text=True)
    assert count(Activity) == 0


def test_a_member_cannot_name_a_fellow_from_another_community(client, app):
    w = make_world()
    login(client, user_of(w.member))
    response = client.post("/activities/new", data=activity_form_data(fellows=[str(w.other_member.id)]))
    assert response.status_code == 422
    assert "同行党员只能选择本社区的党员" in response.get_data(as_text=True)
    assert count(Activity) == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"address": ""}, "请选择驿站或填写地址"),
        ({"duration_minutes": "0"}, "时长应在 1 到 1440 分钟之间"),
        ({"duration_minutes": "abc"}, "时长"),
        ({"started_at": "yesterday"}, "时间"),
        ({"kind": "party"}, "服务类型"),
    ],
)
def test_bad_fields_are_refused_and_the_form_kept(client, app, overrides, message):
    w = make_world()
    login(client, user_of(w.member))
    response = client.post("/activities/new", data=activity_form_data(**overrides))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page and "上门宣讲医保政策" in page
    assert count(Activity) == 0


def test_an_activity_in_the_future_is_refused(client, app):
    w = make_world()
    login(client, user_of(w.member))
    later = (datetime.now(TZ) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post("/activities/new", data=activity_form_data(started_at=later))
    assert response.status_code == 422
    assert "活动时间不能晚于现在" in response.get_data(as_text=True)


def test_a_head_records_on_behalf_of_the_household_and_a_member_cannot(client, app):
    w = make_world()
    login(client, user_of(w.head))
    assert "代表中心户记录" in client.get("/activities/new").get_data(as_text=True)
    assert client.post("/activities/new", data=activity_form_data(on_behalf="y")).status_code == 303
    activity = db.session.scalar(sa.select(Activity))
    assert activity.central_household_id == w.head.central_household_id
    client.post("/logout")
    login(client, user_of(w.member))
    assert "代表中心户记录" not in client.get("/activities/new").get_data(as_text=True)
    response = client.post("/activities/new", data=activity_form_data(on_behalf="y"))
    assert response.status_code == 422
    assert "只有中心户户长可以代表中心户记录" in response.get_data(as_text=True)
    assert count(Activity) == 1


def test_the_pickers_search_own_households_and_community_members(client, app):
    w = make_world()
    login(client, user_of(w.member))
    page = client.get("/activities/pick/residents", query_string={"resident_q": "钱"},
                      headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "钱大妈" in page and "赵大爷" not in page and 'id="resident-options"' in page
    # A ticked household stays listed whatever is typed.
    page = client.get("/activities/pick/residents",
                      query_string={"resident_q": "钱", "residents": str(w.r1.id)}).get_data(as_text=True)
    assert "赵大爷" in page and "checked" in page
    page = client.get("/activities/pick/residents", query_string={"resident_q": "孙"}).get_data(as_text=True)
    assert "孙奶奶" not in page
    page = client.get("/activities/pick/members", query_string={"member_q": "陈"}).get_data(as_text=True)
    assert "陈同行" in page
    page = client.get("/activities/pick/members", query_string={"member_q": "周"}).get_data(as_text=True)
    assert "周党员" not in page


def test_the_search_button_works_without_javascript_and_keeps_the_form(client, app):
    w = make_world()
    login(client, user_of(w.member))
    response = client.post("/activities/new", data=activity_form_data(find="members", member_q="陈"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "陈同行" in page and "上门宣讲医保政策" in page
    assert count(Activity) == 0


# --- who may see ---------------------------------------------------------------------------


def _activity_at_station(w: World) -> Activity:
    return make_activity(w.member, station=w.p.station, residents=[w.r1], fellows=[w.fellow])


def _with_photo(activity: Activity, app) -> Photo:  # type: ignore[no-untyped-def]
    from app.services import photos

    photo = photos.store(photos.process(io.BytesIO(image_bytes())), uploaded_by_id=None)
    db.session.flush()
    db.session.add(ActivityPhoto(activity_id=activity.id, photo_id=photo.id, position=0))
    db.session.commit()
    return photo


def _viewers(w: World) -> dict[str, tuple[User | None, bool]]:
    p = w.p
    other_station = make_station(p.tree.community2, name="杨桥驿站")
    return {
        "author": (user_of(w.member), True),
        "fellow": (user_of(w.fellow), True),
        "head": (user_of(w.head), True),
        "station_admin": (p.station_admin, True),
        "community_admin": (p.community_admin, True),
        "district_admin": (p.district_admin, True),
        "other_community_admin": (p.other_community_admin, False),
        "other_station_admin": (make_station_admin(other_station, name="杨桥驿站管理员"), False),
        "other_member": (user_of(w.other_member), False),
        "resident": (p.resident, False),
        "nobody": (p.nobody, False),
    }


def test_an_activity_and_its_photos_are_shown_only_to_those_entitled(app):
    w = make_world()
    activity = _activity_at_station(w)
    photo = _with_photo(activity, app)
    for name, (user, allowed) in _viewers(w).items():
        client = app.test_client()
        login(client, user)
        expected = 200 if allowed else 404
        for url in (f"/activities/{activity.id}", f"/activities/{activity.id}/photos/{photo.id}",
                    f"/activities/{activity.id}/photos/{photo.id}/thumb"):
            response = client.get(url)
            response.close()  # a sent file stays open until the response is closed
            assert response.status_code == expected, (name, url)
    anonymous = app.test_client()
    assert anonymous.get(f"/activities/{activity.id}").status_code == 302
    assert anonymous.get(f"/activities/{activity.id}/photos/{photo.id}").status_code == 302


def test_the_covering_member_of_a_served_household_sees_the_activity(client, app):
    w = make_world()
    activity = make_activity(w.fellow, residents=[])
    # The fellow names a household the member covers? Not allowed by the form; here the member
    # is the covering member of a household named by the head's activity.
    activity2 = make_activity(w.head, residents=[w.r1])
    login(client, user_of(w.member))
    assert client.get(f"/activities/{activity2.id}").status_code == 200
    assert client.get(f"/activities/{activity.id}").status_code == 404  # a peer's own record


def test_a_member_cannot_reach_another_households_photo_by_guessing_ids(client, app):
    w = make_world()
    theirs = make_activity(w.other_member, address="杨桥路1号", residents=[w.r_other])
    photo = _with_photo(theirs, app)
    mine = make_activity(w.member, residents=[w.r1])
    login(client, user_of(w.member))
    assert client.get(f"/activities/{theirs.id}").status_code == 404
    assert client.get(f"/activities/{theirs.id}/photos/{photo.id}").status_code == 404
    # Borrowing one's own activity id does not open a photo of another activity.
    assert client.get(f"/activities/{mine.id}/photos/{photo.id}").status_code == 404
    assert client.get(f"/activities/{mine.id}/photos/{photo.id}/thumb").status_code == 404
    assert client.get("/activities/99999").status_code == 404


def test_photos_are_served_privately_as_jpeg(client, app):
    w = make_world()
    activity = make_activity(w.member)
    photo = _with_photo(activity, app)
    login(client, user_of(w.member))
    response = client.get(f"/activities/{activity.id}/photos/{photo.id}")
    response.close()
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.headers["Cache-Control"] == "private, no-store"  # a shared tablet keeps no photo


@pytest.mark.parametrize(
    ("who", "url", "status"),
    [
        ("resident", "/activities/new", 403),
        ("nobody", "/activities/", 403),
        ("station_admin", "/activities/", 403),
        ("member", "/activities/ledger", 403),
        ("member", "/activities/ledger.xlsx", 403),
        ("member", "/activities/verify", 403),
        ("resident", "/activities/verify", 403),
        ("station_admin", "/activities/ledger", 403),
        ("community_admin", "/activities/new", 403),
        ("station_admin", "/activities/verify", 200),
        ("community_admin", "/activities/verify", 200),
        ("community_admin", "/activities/ledger", 200),
        ("member", "/activities/", 200),
        ("member", "/activities/new", 200),
        ("member", "/activities/pick/residents", 200),
        ("station_admin", "/activities/pick/members", 403),
    ],
)
def test_every_page_declares_who_may_use_it(app, who, url, status):
    w = make_world()
    users = {"resident": w.p.resident, "nobody": w.p.nobody, "station_admin": w.p.station_admin,
             "member": user_of(w.member), "community_admin": w.p.community_admin}
    client = app.test_client()
    login(client, users[who])
    assert client.get(url).status_code == status
    assert app.test_client().get(url).status_code == 302  # anonymous: to the login page


# --- editing -------------------------------------------------------------------------------


def test_the_author_edits_within_24_hours_only_and_an_admin_after(app):
    w = make_world()
    recorded = datetime(2025, 5, 15, 2, 0, tzinfo=UTC)
    activity = make_activity(w.member, residents=[w.r1], started_at=recorded, created_at=recorded)
    author = app.test_client()
    edit_url = f"/activities/{activity.id}/edit"
    started = recorded.astimezone(TZ).strftime("%Y-%m-%dT%H:%M")
    with time_machine.travel(recorded + timedelta(hours=23, minutes=59), tick=False):
        login(author, user_of(w.member))
        assert author.get(edit_url).status_code == 200
        response = author.post(edit_url, data=activity_form_data(started_at=started, duration_minutes="90",
                                                         residents=[str(w.r1.id), str(w.r2.id)]))
        assert response.status_code == 303
    with time_machine.travel(recorded + timedelta(hours=24, minutes=1), tick=False):
        login(author, user_of(w.member))
        assert author.get(edit_url).status_code == 403
        refused = author.post(edit_url, data=activity_form_data(started_at=started, duration_minutes="10"))
        assert refused.status_code == 403
        admin = app.test_client()
        login(admin, w.p.community_admin)
        assert admin.post(edit_url, data=activity_form_data(started_at=started, duration_minutes="60",
                                                   residents=[str(w.r1.id), str(w.r2.id)],
                                                   note="管理员更正")).status_code == 303
        other = app.test_client()
        login(other, user_of(w.other_member))
        assert other.get(edit_url).status_code == 404
        outside = app.test_client()
        login(outside, w.p.other_community_admin)
        assert outside.post(edit_url, data=activity_form_data(started_at=started)).status_code == 404
    db.session.expire_all()
    activity = db.session.get(Activity, activity.id)
    assert activity.duration_minutes == 60 and activity.note == "管理员更正"
    revisions = list(db.session.scalars(sa.select(ActivityRevision).order_by(ActivityRevision.id)))
    assert len(revisions) == 2
    first, second = revisions
    assert first.edited_by_id == w.member.user_id
    assert first.edited_at == recorded + timedelta(hours=23, minutes=59)
    assert first.changes["duration_minutes"] == [30, 90]
    assert first.changes["resident_ids"] == [[w.r1.id], sorted([w.r1.id, w.r2.id])]
    assert first.changes["address"] == ["龙山路1号", "龙山路12号"]
    assert second.edited_by_id == w.p.community_admin.id
    assert second.changes["duration_minutes"] == [90, 60]
    assert second.changes["note"] == ["上门宣讲医保政策", "管理员更正"]
    with time_machine.travel(recorded + timedelta(hours=25), tick=False):
        page = app.test_client()
        login(page, user_of(w.member))
        text = page.get(f"/activities/{activity.id}").get_data(as_text=True)
    assert "修改记录" in text and "社区管理员" in text


def test_an_edit_that_changes_nothing_records_nothing(client, app):
    w = make_world()
    activity = make_activity(w.member, address="龙山路12号", note="上门宣讲医保政策", duration=45)
    started = activity.started_at.astimezone(TZ)
    activity.started_at = started.replace(second=0, microsecond=0)
    db.session.commit()
    login(client, user_of(w.member))
    response = client.post(f"/activities/{activity.id}/edit",
                           data=activity_form_data(started_at=started.strftime("%Y-%m-%dT%H:%M")))
    assert response.status_code == 303
    assert count(ActivityRevision) == 0


def test_an_author_edit_adds_and_removes_photos_and_sends_it_back_for_verification(client, app):
    w = make_world()
    activity = _activity_at_station(w)
    old = _with_photo(activity, app)
    activity.verify_state = VerifyState.RETURNED
    activity.return_reason = "照片不清楚"
    db.session.commit()
    login(client, user_of(w.member))
    data = activity_form_data(station_id=str(w.p.station.id), address="", residents=[str(w.r1.id)],
                     fellows=[str(w.fellow.id)],
                     started_at=activity.started_at.astimezone(TZ).strftime("%Y-%m-%dT%H:%M"),
                     remove_photos=[str(old.id)])
    data["photos"] = [(io.BytesIO(image_bytes(color="green")), "new.jpg")]
    assert client.post(f"/activities/{activity.id}/edit", data=data).status_code == 303
    db.session.expire_all()
    activity = db.session.get(Activity, activity.id)
    links = list(db.session.scalars(sa.select(ActivityPhoto.photo_id)))
    assert old.id not in links and len(links) == 1
    assert activity.verify_state is VerifyState.PENDING and activity.return_reason == ""
    revision = db.session.scalar(sa.select(ActivityRevision))
    assert revision.changes["photo_ids"] == [[old.id], links]
    assert revision.changes["verify_state"] == ["returned", "pending"]


# --- verification --------------------------------------------------------------------------


def test_the_station_admin_verifies_and_the_member_sees_it(app):
    w = make_world()
    activity = _activity_at_station(w)
    admin = app.test_client()
    login(admin, w.p.station_admin)
    queue = admin.get("/activities/verify").get_data(as_text=True)
    assert f"/activities/{activity.id}" in queue
    assert "确认核实" in admin.get(f"/activities/{activity.id}").get_data(as_text=True)
    assert admin.post(f"/activities/{activity.id}/verify").status_code == 303
    db.session.expire_all()
    activity = db.session.get(Activity, activity.id)
    assert activity.verify_state is VerifyState.VERIFIED
    assert activity.verified_by_id == w.p.station_admin.id and activity.verified_at is not None
    # Twice: refused with a message, nothing changes.
    again = admin.post(f"/activities/{activity.id}/verify", follow_redirects=True)
    assert "不能再次审核" in again.get_data(as_text=True)
    member = app.test_client()
    login(member, user_of(w.member))
    assert "已核实" in member.get("/activities/").get_data(as_text=True)


def test_returning_needs_a_reason_which_the_member_sees(app):
    w = make_world()
    activity = _activity_at_station(w)
    admin = app.test_client()
    login(admin, w.p.station_admin)
    response = admin.post(f"/activities/{activity.id}/return", data={"reason": "  "})
    assert response.status_code == 422
    assert "请填写退回原因" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Activity, activity.id).verify_state is VerifyState.PENDING
    assert admin.post(f"/activities/{activity.id}/return",
                      data={"reason": "当天驿站未开放"}).status_code == 303
    member = app.test_client()
    login(member, user_of(w.member))
    page = member.get("/activities/").get_data(as_text=True)
    assert "已退回" in page and "当天驿站未开放" in page


def test_only_the_stations_admins_may_verify(app):
    w = make_world()
    activity = _activity_at_station(w)
    elsewhere = make_activity(w.member, address="龙山路3号")
    other_station = make_station(w.p.tree.community2, name="杨桥驿站")
    cases = [
        (user_of(w.member), 403),  # sees it, may not verify (and not their own)
        (user_of(w.fellow), 403),
        (make_station_admin(other_station, name="杨桥驿站管理员"), 404),
        (w.p.other_community_admin, 404),
        (w.p.community_admin, 303),  # holds the station in scope
    ]
    for user, status in cases:
        client = app.test_client()
        login(client, user)
        assert client.post(f"/activities/{activity.id}/return", data={"reason": "x"}).status_code in (
            status, 303 if status == 303 else status)
        if status != 303:
            assert client.post(f"/activities/{activity.id}/verify").status_code == status
    admin = app.test_client()
    login(admin, w.p.station_admin)
    # An activity not held at the station is not the station admin's to see.
    assert admin.post(f"/activities/{elsewhere.id}/verify").status_code == 404
    assert admin.get("/activities/verify", query_string={"state": "returned"}).status_code == 200


def test_a_station_admin_who_is_also_the_author_cannot_verify(app):
    w = make_world()
    activity = _activity_at_station(w)
    from app.models import Role, RoleAssignment

    db.session.add(RoleAssignment(user_id=w.member.user_id, role=Role.STATION_ADMIN,
                                  station_id=w.p.station.id))
    db.session.commit()
    client = app.test_client()
    login(client, user_of(w.member))
    page = client.post(f"/activities/{activity.id}/verify", follow_redirects=True)
    assert "不能审核自己记录的活动" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Activity, activity.id).verify_state is VerifyState.PENDING


# --- lists -------------------------------------------------------------------------------


def test_my_list_holds_what_i_recorded_and_what_i_took_part_in(client, app):
    w = make_world()
    mine = make_activity(w.member, note="我记录的", kind="mediation")
    joined = make_activity(w.fellow, fellows=[w.member], kind="tech_guidance")
    theirs = make_activity(w.fellow, kind="errand")
    login(client, user_of(w.member))
    page = client.get("/activities/").get_data(as_text=True)
    assert f"/activities/{mine.id}" in page and f"/activities/{joined.id}" in page
    assert f"/activities/{theirs.id}\"" not in page


def test_the_household_list_is_for_its_head_and_admins(app):
    w = make_world()
    by_fellow = make_activity(w.fellow, kind="errand")
    outsider = make_activity(w.other_member, kind="errand", address="杨桥路")
    household_id = w.head.central_household_id
    for user, status in [(user_of(w.head), 200), (w.p.community_admin, 200),
                         (user_of(w.member), 404), (w.p.other_community_admin, 404),
                         (w.p.station_admin, 404)]:
        client = app.test_client()
        login(client, user)
        response = client.get(f"/activities/household/{household_id}")
        assert response.status_code == status
        if status == 200:
            page = response.get_data(as_text=True)
            assert f"/activities/{by_fellow.id}" in page and f"/activities/{outsider.id}\"" not in page


def test_the_ledger_filters_by_kind_dates_grid_and_state(client, app):
    w = make_world()
    grid_b_member = make_member(w.p.tree.grid_b, name="吴网格")
    may = datetime(2025, 5, 10, 2, 0, tzinfo=UTC)
    a = make_activity(w.member, kind="mediation", started_at=may)
    b = make_activity(w.member, kind="visit", started_at=may + timedelta(days=30))
    c = make_activity(grid_b_member, kind="mediation", started_at=may, station=w.p.station)
    d = make_activity(w.other_member, kind="mediation", started_at=may, address="杨桥路")
    login(client, w.p.community_admin)

    def ids(**args: str) -> set[int]:
        page = client.get("/activities/ledger", query_string=args).get_data(as_text=True)
        return {x.id for x in (a, b, c, d) if f"/activities/{x.id}\"" in page}

    # With no filter the ledger opens on this month (a ledger is kept by the month).
    assert ids() == set()
    first = datetime.now(TZ).date().replace(day=1).isoformat()
    assert f'value="{first}"' in client.get("/activities/ledger").get_data(as_text=True)
    assert ids(date_from="2025-01-01") == {a.id, b.id, c.id}
    assert ids(kind="mediation") == {a.id, c.id}
    assert ids(date_from="2025-06-01") == {b.id}
    assert ids(date_to="2025-05-10") == {a.id, c.id}
    assert ids(grid=str(w.p.tree.grid_b.id)) == {c.id}
    assert ids(grid=str(w.p.tree.grid2.id), date_from="2025-01-01") == {a.id, b.id, c.id}  # out of scope: ignored
    assert ids(state="pending") == {c.id}
    bad = client.get("/activities/ledger", query_string={"date_from": "2025-06-01", "date_to": "2025-05-01"})
    assert "结束日期不能早于开始日期" in bad.get_data(as_text=True)


def test_the_ledger_exports_to_xlsx_with_formulas_escaped_and_audited(client, app):
    w = make_world()
    make_activity(w.member, kind="mediation", residents=[w.r1], fellows=[w.fellow],
                  note="=HYPERLINK(\"http://evil\")")
    login(client, w.p.community_admin)
    response = client.get("/activities/ledger.xlsx", query_string={"kind": "mediation"})
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "服务活动台账"
    assert "龙山社区" in rows[1][0]
    assert rows[2][:4] == ("时间", "类型", "时长（分钟）", "地点")
    assert rows[3][1] == "矛盾调解" and rows[3][4] == "李党员"
    assert w.r1.address in rows[3][6] and rows[3][7] == "陈同行"
    assert rows[3][11] == "'=HYPERLINK(\"http://evil\")"
    entry = db.session.scalar(sa.select(AuditEntry))
    assert entry.action == "export" and entry.user_id == w.p.community_admin.id


def test_list_pages_run_a_fixed_number_of_queries(app):
    w = make_world()
    household_id = w.head.central_household_id
    pages = [
        (user_of(w.member), "/activities/"),
        (user_of(w.head), f"/activities/household/{household_id}"),
        (w.p.community_admin, "/activities/ledger"),
        (w.p.station_admin, "/activities/verify"),
    ]

    def add(n: int) -> None:
        for _ in range(n):
            a = make_activity(w.member, station=w.p.station, residents=[w.r1, w.r2], fellows=[w.head])
            _with_photo(a, app)

    add(1)
    before = {}
    for user, url in pages:
        client = app.test_client()
        login(client, user)
        before[url] = queries_for(client, url)
    add(6)
    for user, url in pages:
        client = app.test_client()
        login(client, user)
        assert queries_for(client, url) == before[url], url


def test_the_nav_shows_each_role_its_entries(app):
    w = make_world()
    cases = [
        (user_of(w.member), ["服务记录", "民情日记", "我的联系户"], ["服务台账", "待核实"]),
        (w.p.station_admin, ["待核实"], ["服务台账", "民情日记"]),
        (w.p.community_admin, ["服务台账"], ["民情日记"]),
    ]
    for user, shown, hidden in cases:
        client = app.test_client()
        login(client, user)
        nav = client.get("/").get_data(as_text=True).split('class="mainnav"')[1].split("</nav>")[0]
        for label in shown:
            assert label in nav, label
        for label in hidden:
            assert label not in nav, label
