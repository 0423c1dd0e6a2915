"""Changing a planned training session (an admin mistyped the time, or the station changed):
allowed until it starts, for the admins of its organisation; the station event moves with it;
bad input changes nothing and keeps what was typed."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
import time_machine

from app.clock import TZ
from app.extensions import db
from app.models import AttendanceMark, StationEvent, StationEventKind, TrainingMode
from app.services import checkin
from tests.factories import login, make_station
from tests.test_training import local, pdf_bytes
from tests.test_training_views import NOW, World, form_data


@pytest.fixture
def w(app):
    return World()


def _no_checkins() -> None:
    db.session.execute(sa.delete(AttendanceMark))
    db.session.execute(sa.text("DELETE FROM checkins"))
    db.session.commit()


def _edit(client, w: World, session_id: int, **kw: object):  # type: ignore[no-untyped-def]
    data = form_data(w, **kw)
    data.pop("org_node_id")
    return client.post(f"/training/sessions/{session_id}/edit", data=data)


def _snapshot(w: World) -> tuple:
    db.session.expire_all()
    s = w.off
    return (s.title, s.starts_at, s.ends_at, s.duration_minutes, s.station_event.station_id,
            s.station_event.title, s.station_event.starts_at)


def test_an_admin_moves_an_offline_session_and_its_station_event_moves_with_it(client, w):
    _no_checkins()
    hall = make_station(w.p.tree.community, name="龙山社区活动中心")
    db.session.commit()
    with time_machine.travel(NOW, tick=False):
        login(client, w.p.community_admin)
        page = client.get(f"/training/sessions/{w.off.id}/edit").get_data(as_text=True)
        assert 'value="四月集中学习"' in page and "2025-04-08T09:30" in page  # filled in, Shanghai time
        response = _edit(client, w, w.off.id, title="四月集中学习（改期）", starts_at="2025-04-09T14:00",
                         ends_at="2025-04-09T16:00", station_id=str(hall.id), mode="online")
        shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert response.status_code == 303 and "培训已修改。" in shown
    db.session.expire_all()
    s = w.off
    assert s.title == "四月集中学习（改期）" and s.mode is TrainingMode.OFFLINE  # the forged mode is ignored
    assert s.starts_at == local(2025, 4, 9, 14) and s.starts_at.tzinfo is not None
    event = s.station_event
    assert (event.station_id, event.title, event.starts_at, event.ends_at) == (
        hall.id, "四月集中学习（改期）", local(2025, 4, 9, 14), local(2025, 4, 9, 16))
    assert db.session.scalar(sa.select(sa.func.count(StationEvent.id))
                             .where(StationEvent.title.like("四月集中学习%"))) == 1


def test_moving_within_its_own_slot_is_no_clash_but_another_event_is(client, w):
    _no_checkins()
    with time_machine.travel(NOW, tick=False):
        login(client, w.p.community_admin)
        assert _edit(client, w, w.off.id, starts_at="2025-04-08T10:00", ends_at="2025-04-08T12:00",
                     title="四月集中学习").status_code == 303
        checkin.save_event(w.p.station, "主题党日", StationEventKind.THEME_DAY,
                           local(2025, 4, 10, 9), local(2025, 4, 10, 11), by=w.p.community_admin)
        db.session.commit()
        before = _snapshot(w)
        response = _edit(client, w, w.off.id, starts_at="2025-04-10T10:00", ends_at="2025-04-10T12:00")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "已安排“主题党日”" in page
    assert 'value="2025-04-10T10:00"' in page  # what was typed stays
    assert _snapshot(w) == before


def test_bad_input_is_refused_in_chinese_and_changes_nothing(client, w):
    _no_checkins()
    before = _snapshot(w)
    with time_machine.travel(NOW, tick=False):
        login(client, w.p.community_admin)
        for change, message in (({"title": ""}, "请填写培训名称"),
                                ({"ends_at": "2025-04-08T08:00"}, "结束时间必须晚于开始时间"),
                                ({"station_id": "99999999999"}, "线下培训请选择驿站"),
                                ({"duration_minutes": "abc"}, "计入学时")):
            response = _edit(client, w, w.off.id, **change)
            assert response.status_code == 422 and message in response.get_data(as_text=True), change
    assert _snapshot(w) == before


def test_a_started_session_or_one_with_check_ins_cannot_be_changed(client, w):
    before = _snapshot(w)
    with time_machine.travel(NOW, tick=False):
        login(client, w.p.community_admin)
        response = _edit(client, w, w.off.id, title="改一下")
        assert response.status_code == 422 and "已有党员签到，不能修改" in response.get_data(as_text=True)
    _no_checkins()
    with time_machine.travel(local(2025, 4, 8, 10), tick=False):
        login(client, w.p.community_admin)
        response = _edit(client, w, w.off.id, title="改一下", starts_at="2025-04-08T10:30",
                         ends_at="2025-04-08T12:30")
        assert response.status_code == 303  # back to the session's page, which says why
        detail = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "培训已经开始、结束或取消，不能修改。" in detail and 'id="session-edit"' not in detail
        assert client.get(f"/training/sessions/{w.off.id}/edit").status_code == 303
    assert _snapshot(w) == before


def test_another_organisations_admin_and_the_station_admin_cannot_change_it(client, w):
    _no_checkins()
    before = _snapshot(w)
    with time_machine.travel(NOW, tick=False):
        for user, status in ((w.p.other_community_admin, 404), (w.p.station_admin, 403),
                             (w.p.member.user, 403)):
            login(client, user)
            assert _edit(client, w, w.off.id, title="别人改的").status_code == status
    assert _snapshot(w) == before


def test_an_online_session_keeps_its_pdf_unless_a_new_one_is_chosen(client, w):
    old = w.on.document_id
    with time_machine.travel(local(2025, 4, 1, 8), tick=False):
        db.session.execute(sa.update(type(w.on)).where(type(w.on).id == w.on.id)
                           .values(starts_at=local(2025, 4, 3)))
        db.session.commit()
        login(client, w.p.community_admin)
        page = client.get(f"/training/sessions/{w.on.id}/edit").get_data(as_text=True)
        assert "已上传的 PDF 保留" in page and 'name="station_id"' not in page
        kept = _edit(client, w, w.on.id, title="党章学习（修订）", kind="micro_lesson", station_id="",
                     link_url="", starts_at="2025-04-03T00:00", ends_at="2025-04-30T23:59",
                     duration_minutes="45")
        assert kept.status_code == 303
        db.session.expire_all()
        assert w.on.document_id == old and w.on.title == "党章学习（修订）"
        data = form_data(w, title="党章学习（修订）", kind="micro_lesson", station_id="", link_url="",
                         starts_at="2025-04-03T00:00", ends_at="2025-04-30T23:59", duration_minutes="45",
                         document=(io.BytesIO(pdf_bytes(pages=3)), "新讲稿.pdf"))
        data.pop("org_node_id")
        replaced = client.post(f"/training/sessions/{w.on.id}/edit", data=data,
                               content_type="multipart/form-data")
    assert replaced.status_code == 303
    db.session.expire_all()
    assert w.on.document_id != old and w.on.document.filename == "新讲稿.pdf"
    assert w.on.starts_at.astimezone(TZ).day == 3
