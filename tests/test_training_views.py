"""Training through the browser's eyes: every route for every role, the planning form's bad input,
the session page with marks and export, 我的培训 with "我已学完", the PDF, the records, query counts."""

from __future__ import annotations

import gc
import io
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
import time_machine

from app.clock import TZ
from app.extensions import db
from app.models import (
    AttendanceMark,
    AuditEntry,
    StationEvent,
    TrainingCompletion,
    TrainingDocument,
    TrainingSession,
)
from app.services import training as svc
from tests.factories import (
    image_bytes,
    login,
    make_admin,
    make_checkin,
    make_member,
    make_personas,
    make_station,
    make_station_admin,
)
from tests.helpers import count_queries
from tests.test_training import FakeUpload, local, offline, online, pdf_bytes

NOW = local(2025, 4, 1, 8)
DURING = local(2025, 4, 8, 10)  # the offline session runs, the online one is open


class World:
    def __init__(self) -> None:
        p = make_personas()
        self.p = p
        self.head = p.member.central_household.head
        self.household = p.member.central_household
        self.other_station = make_station(p.tree.community2, name="杨桥党群驿站")
        self.other_station_admin = make_station_admin(self.other_station, name="杨桥驿站管理员")
        with time_machine.travel(NOW, tick=False):
            self.off = svc.plan_session(p.community_admin, offline(p.tree.community.id, p.station.id), None, NOW)
            self.on = svc.plan_session(p.community_admin, online(p.tree.community.id),
                                       FakeUpload(pdf_bytes(), "党章学习.pdf"), NOW)
            self.far = svc.plan_session(p.other_community_admin, online(p.tree.community2.id, title="杨桥微党课"),
                                        None, NOW)
        db.session.commit()
        make_checkin(p.member, p.station, local(2025, 4, 8, 9, 40), event=self.off.station_event)

    def user(self, role: str):  # type: ignore[no-untyped-def]
        p = self.p
        return {
            "resident": p.resident, "member": p.member.user, "other_member": p.other_member.user,
            "head": self.head.user, "station_admin": p.station_admin,
            "other_station_admin": self.other_station_admin, "community_admin": p.community_admin,
            "other_community_admin": p.other_community_admin, "district_admin": p.district_admin,
        }[role]


@pytest.fixture
def w(app):
    return World()


def routes(w: World) -> dict[str, tuple[str, str, dict]]:
    off, on, far = w.off.id, w.on.id, w.far.id
    return {
        "index": ("GET", "/training/", {}),
        "participations": ("GET", "/training/participations", {}),
        "participations_export": ("GET", "/training/participations.xlsx", {}),
        "new": ("GET", "/training/new", {}),
        "detail_off": ("GET", f"/training/sessions/{off}", {}),
        "detail_on": ("GET", f"/training/sessions/{on}", {}),
        "detail_far": ("GET", f"/training/sessions/{far}", {}),
        "export": ("GET", f"/training/sessions/{off}/attendance.xlsx", {}),
        "mine": ("GET", "/training/me", {}),
        "study_on": ("GET", f"/training/me/{on}", {}),
        "study_far": ("GET", f"/training/me/{far}", {}),
        "pdf": ("GET", f"/training/sessions/{on}/material.pdf", {}),
        "record": ("GET", f"/training/members/{w.p.member.id}", {}),
        "household": ("GET", f"/training/households/{w.household.id}", {}),
        "cancel": ("POST", f"/training/sessions/{off}/cancel", {}),
        "edit": ("GET", f"/training/sessions/{off}/edit", {}),
        "mark": ("POST", f"/training/sessions/{off}/marks", {"member_id": w.p.member.id, "kind": "late", "note": "迟到"}),
        "unmark": ("POST", f"/training/sessions/{off}/marks/1/delete", {}),
        "complete_on": ("POST", f"/training/me/{on}/complete", {"reflection": "有收获"}),
        "complete_far": ("POST", f"/training/me/{far}/complete", {"reflection": "有收获"}),
    }


# Who gets what: 403 for a role that never may, 404 for an object outside the user's reach; a
# started session's cancel is refused with a flash (303), an unknown mark likewise.
ADMIN_ONLY = {"index": 403, "participations": 403, "participations_export": 403, "new": 403, "detail_off": 403, "detail_on": 403, "detail_far": 403, "export": 403,
              "cancel": 403, "edit": 403, "mark": 403, "unmark": 403}
MEMBER_ONLY = {"mine": 403, "study_on": 403, "study_far": 403, "complete_on": 403, "complete_far": 403}
EXPECTED = {
    "resident": {**ADMIN_ONLY, **MEMBER_ONLY, "pdf": 404, "record": 404, "household": 404},
    "member": {**ADMIN_ONLY, "mine": 200, "study_on": 200, "study_far": 404, "pdf": 200, "record": 200,
               "household": 404, "complete_on": 303, "complete_far": 404},
    "other_member": {**ADMIN_ONLY, "mine": 200, "study_on": 404, "study_far": 200, "pdf": 404, "record": 404,
                     "household": 404, "complete_on": 404, "complete_far": 303},
    "head": {**ADMIN_ONLY, "mine": 200, "study_on": 200, "study_far": 404, "pdf": 200, "record": 200,
             "household": 200, "complete_on": 303, "complete_far": 404},
    "station_admin": {**MEMBER_ONLY, "index": 200, "participations": 200, "participations_export": 200, "new": 403, "detail_off": 200, "detail_on": 404,
                      "detail_far": 404, "export": 200, "pdf": 404, "record": 404, "household": 404,
                      "cancel": 403, "edit": 403, "mark": 303, "unmark": 303},
    "other_station_admin": {**MEMBER_ONLY, "index": 200, "participations": 200, "participations_export": 200, "new": 403, "detail_off": 404, "detail_on": 404,
                            "detail_far": 404, "export": 404, "pdf": 404, "record": 404, "household": 404,
                            "cancel": 404, "edit": 404, "mark": 404, "unmark": 404},
    "community_admin": {**MEMBER_ONLY, "index": 200, "participations": 200, "participations_export": 200, "new": 200, "detail_off": 200, "detail_on": 200,
                        "detail_far": 404, "export": 200, "pdf": 200, "record": 200, "household": 200,
                        "cancel": 303, "edit": 303, "mark": 303, "unmark": 303},
    "other_community_admin": {**MEMBER_ONLY, "index": 200, "participations": 200, "participations_export": 200, "new": 200, "detail_off": 404, "detail_on": 404,
                              "detail_far": 200, "export": 404, "pdf": 404, "record": 404, "household": 404,
                              "cancel": 404, "edit": 404, "mark": 404, "unmark": 404},
    "district_admin": {**MEMBER_ONLY, "index": 200, "participations": 200, "participations_export": 200, "new": 200, "detail_off": 200, "detail_on": 200,
                       "detail_far": 200, "export": 200, "pdf": 200, "record": 200, "household": 200,
                       "cancel": 303, "edit": 303, "mark": 303, "unmark": 303},
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_every_route_answers_each_role_as_the_rules_say(client, w, role):
    got = {}
    with time_machine.travel(DURING, tick=False):
        login(client, w.user(role))
        for key, (method, url, data) in routes(w).items():
            with client.open(url, method=method, data=data) as response:
                got[key] = response.status_code
    assert got == EXPECTED[role]


def test_anonymous_visitors_are_sent_to_log_in_everywhere(client, w):
    for method, url, data in routes(w).values():
        with client.open(url, method=method, data=data) as response:
            assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_a_session_id_that_does_not_exist_is_404(client, w):
    login(client, w.p.district_admin)
    assert client.get("/training/sessions/999999").status_code == 404
    assert client.get("/training/sessions/99999999999").status_code == 404
    login(client, w.p.member.user)
    assert client.post("/training/me/999999/complete").status_code == 404


# --- planning through the form ---------------------------------------------------------------------


def form_data(w: World, **kw: object) -> dict:
    data = {"title": "五月集中学习", "kind": "concentrated", "org_node_id": str(w.p.tree.community.id),
            "description": "学习新修订的条例", "starts_at": "2025-05-06T14:30", "ends_at": "2025-05-06T16:30",
            "duration_minutes": "120", "mode": "offline", "station_id": str(w.p.station.id), "link_url": ""}
    data.update(kw)
    return data


def test_an_admin_plans_an_offline_session_with_the_form(client, w):
    with time_machine.travel(NOW, tick=False):
        login(client, w.p.community_admin)
        page = client.get("/training/new").get_data(as_text=True)
        assert "龙山党群驿站（龙山社区）" in page and "杨桥" not in page
        response = client.post("/training/new", data=form_data(w))
        page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert response.status_code == 303
    session = db.session.scalar(sa.select(TrainingSession).where(TrainingSession.title == "五月集中学习"))
    assert response.headers["Location"] == f"/training/sessions/{session.id}"
    assert session.starts_at == datetime(2025, 5, 6, 14, 30, tzinfo=TZ)  # typed in Shanghai time
    assert session.station_event.station_id == w.p.station.id
    assert "培训已安排。" in page and "五月集中学习" in page and "龙山党群驿站" in page


def test_an_admin_plans_an_online_session_with_a_pdf(app, client, w):
    data = form_data(w, title="线上微党课", mode="online", station_id="", kind="micro_lesson", duration_minutes="40",
                     document=(io.BytesIO(pdf_bytes(pages=4)), "微党课讲稿.pdf"))
    with time_machine.travel(NOW, tick=False):
        login(client, w.p.community_admin)
        response = client.post("/training/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 303
    session = db.session.scalar(sa.select(TrainingSession).where(TrainingSession.title == "线上微党课"))
    assert session.station_event_id is None and session.document.pages == 4
    assert session.document.filename == "微党课讲稿.pdf"


BAD_FORMS = [
    ({"title": ""}, "请填写培训名称"),
    ({"title": "长" * 65}, "培训名称最多 64 个字"),
    ({"ends_at": "2025-05-06T13:00"}, "结束时间必须晚于开始时间"),
    ({"starts_at": "明天"}, "不是有效的日期与时间值"),
    ({"kind": "lecture"}, "不是有效的选择"),
    ({"mode": "bus"}, "不是有效的选择"),
    ({"duration_minutes": "0"}, "1 到 1440 分钟之间"),
    ({"duration_minutes": "99999999999999"}, "1 到 1440 分钟之间"),
    ({"duration_minutes": "两小时"}, "不是有效的整数"),
    ({"station_id": ""}, "线下培训请选择驿站"),
    ({"org_node_id": ""}, "请选择面向的组织"),
    ({"org_node_id": "abc"}, "请选择您管理范围内的组织"),
    ({"org_node_id": "99999999999"}, "请选择您管理范围内的组织"),
    ({"mode": "online", "station_id": "", "link_url": "ftp://example.org/a"}, "http:// 或 https://"),
    ({"mode": "online", "station_id": "", "link_url": "javascript:alert(1)"}, "http:// 或 https://"),
    ({"mode": "online", "station_id": ""}, "请填写学习链接或上传 PDF"),
]


@pytest.mark.parametrize(("changes", "message"), BAD_FORMS)
def test_bad_input_on_the_form_keeps_what_was_typed_and_saves_nothing(client, w, changes, message):
    before = db.session.scalar(sa.select(sa.func.count(StationEvent.id)))
    with time_machine.travel(NOW, tick=False):
        login(client, w.p.community_admin)
        response = client.post("/training/new", data=form_data(w, **changes))
    page = response.get_data(as_text=True)
    assert response.status_code == 422, page[:300]
    assert message in page
    assert "学习新修订的条例" in page  # the description typed is still there
    assert db.session.scalar(sa.select(sa.func.count(TrainingSession.id))) == 3
    assert db.session.scalar(sa.select(sa.func.count(StationEvent.id))) == before


def test_a_station_of_another_community_is_refused_under_its_field(client, w):
    with time_machine.travel(NOW, tick=False):
        login(client, w.p.community_admin)
        response = client.post("/training/new", data=form_data(w, station_id=str(w.other_station.id)))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="station_id-error"' in page and "请选择您管理范围内、正在使用的驿站" in page
    assert 'value="五月集中学习"' in page


@pytest.mark.parametrize(("content", "message"), [
    (image_bytes(), "不是 PDF"),
    ("这是一份文字材料".encode(), "不是 PDF"),
    (pdf_bytes(encrypt=True), "加密"),
    (pdf_bytes()[:200], "已损坏"),
])
def test_an_upload_that_is_not_a_usable_pdf_is_refused_and_no_file_is_kept(app, client, w, content, message):
    _refused_upload(app, client, w, content, message)


# Werkzeug's test client spools a body this big to a temporary file it never closes.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_pdf_over_10_mb_is_refused_and_no_file_is_kept(app, client, w):
    _refused_upload(app, client, w, b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024), "不能超过 10 MB")
    gc.collect()  # let the test client's temporary file go here, under this test's filter


def _files(app) -> list[Path]:  # type: ignore[no-untyped-def]
    return sorted(f for f in (Path(app.config["UPLOAD_DIR"]) / "training").rglob("*") if f.is_file())


def _refused_upload(app, client, w, content: bytes, message: str) -> None:  # type: ignore[no-untyped-def]
    files_before = _files(app)
    data = form_data(w, title="线上微分享", mode="online", station_id="", document=(io.BytesIO(content), "材料.pdf"))
    with time_machine.travel(NOW, tick=False):
        login(client, w.p.community_admin)
        response = client.post("/training/new", data=data, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in page and "PDF 文件需要重新选择" in page and 'value="线上微分享"' in page
    assert db.session.scalar(sa.select(sa.func.count(TrainingSession.id))) == 3
    assert db.session.scalar(sa.select(sa.func.count(TrainingDocument.id))) == 1  # the fixture's
    assert _files(app) == files_before


# --- a session's page --------------------------------------------------------------------------------


def test_the_session_page_lists_attendance_and_the_station_admin_marks_and_unmarks(client, w):
    with time_machine.travel(DURING, tick=False):
        login(client, w.p.station_admin)
        page = client.get(f"/training/sessions/{w.off.id}").get_data(as_text=True)
        assert "李党员" in page and "平板扫码" in page and "04-08 09:40" in page
        assert 'id="session-attended">1<' in page and "取消培训" not in page
        response = client.post(f"/training/sessions/{w.off.id}/marks",
                               data={"member_id": w.p.member.id, "kind": "left_early", "note": "提前离开"})
        assert response.status_code == 303
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "已标记。" in page and "早退" in page and "提前离开" in page
        again = client.post(f"/training/sessions/{w.off.id}/marks",
                            data={"member_id": w.p.member.id, "kind": "left_early", "note": "再记一次"})
        assert again.status_code == 422 and "已经标记过早退" in again.get_data(as_text=True)
        assert 'value="再记一次"' in again.get_data(as_text=True)
        nobody = client.post(f"/training/sessions/{w.off.id}/marks",
                             data={"member_id": w.p.other_member.id, "kind": "late", "note": ""})
        assert nobody.status_code == 422 and "只能标记已签到的党员" in nobody.get_data(as_text=True)
        mark = db.session.scalar(sa.select(AttendanceMark))
        assert client.post(f"/training/sessions/{w.off.id}/marks/{mark.id}/delete").status_code == 303
    assert db.session.scalar(sa.select(sa.func.count(AttendanceMark.id))) == 0


def test_an_online_sessions_page_lists_completions_with_reflections(client, w):
    with time_machine.travel(DURING, tick=False):
        svc.complete(w.on, w.p.member, "明白了为什么出发", local(2025, 4, 5, 20))
        db.session.commit()
        login(client, w.p.community_admin)
        page = client.get(f"/training/sessions/{w.on.id}").get_data(as_text=True)
    assert "完成名单" in page and "李党员" in page and "明白了为什么出发" in page
    assert "党章学习.pdf" in page


def test_the_session_pages_run_a_fixed_number_of_queries_whatever_the_attendance(client, w):
    off, on = f"/training/sessions/{w.off.id}", f"/training/sessions/{w.on.id}"
    with time_machine.travel(DURING, tick=False):
        login(client, w.p.station_admin)
        with count_queries() as few_off:
            assert client.get(off).status_code == 200
        login(client, w.p.community_admin)
        with count_queries() as few_on:
            assert client.get(on).status_code == 200
        for i in range(6):
            m = make_member(w.p.tree.grid_b if i % 2 else w.p.tree.grid, name=f"学员{i}")
            make_checkin(m, w.p.station, local(2025, 4, 8, 9, 41 + i), method="manual" if i == 5 else "kiosk",
                         recorded_by=w.p.station_admin if i == 5 else None, event=w.off.station_event)
            svc.complete(w.on, m, f"心得{i}", local(2025, 4, 5, 20, i))
        db.session.commit()
        with count_queries() as many_on:
            online_page = client.get(on).get_data(as_text=True)
        login(client, w.p.station_admin)
        with count_queries() as many_off:
            offline_page = client.get(off).get_data(as_text=True)
    assert (len(few_off), len(few_on)) == (len(many_off), len(many_on))
    # Every attendee, oldest check-in first, with their grid; the one recorded by the station
    # admin with the recorder's name; each one a choice of the mark form.
    rows = offline_page[offline_page.index('id="attendance-table"'):]
    assert [rows.index(f">学员{i}<") for i in range(6)] == sorted(rows.index(f">学员{i}<") for i in range(6))
    assert rows.index(">李党员<") < rows.index(">学员0<")
    assert ">第二网格<" in rows and '<div class="hint">驿站管理员</div>' in rows
    assert f'<option value="{w.p.member.id}">李党员（第一网格）</option>' in offline_page
    assert 'id="session-attended">7<' in offline_page
    assert all(f">心得{i}<" in online_page and f">学员{i}<" in online_page for i in range(6))


def test_the_export_route_sends_the_workbook_and_audits_it(client, w):
    login(client, w.p.station_admin)
    response = client.get(f"/training/sessions/{w.off.id}/attendance.xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    assert response.headers["Cache-Control"] == "no-store"
    rows = list(openpyxl.load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert rows[3][:3] == (1, "李党员", "第一网格")
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "training.attendance_export"))
    assert (entry.user_id, entry.object_id) == (w.p.station_admin.id, w.off.id)


def test_cancelling_before_the_start_removes_the_event_and_after_it_is_refused(client, w):
    event_id = w.off.station_event_id
    with time_machine.travel(DURING, tick=False):
        login(client, w.p.community_admin)
        response = client.post(f"/training/sessions/{w.off.id}/cancel")
        assert response.status_code == 303 and "不能取消" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert db.session.get(StationEvent, event_id) is not None
    db.session.execute(sa.delete(AttendanceMark))
    with time_machine.travel(NOW, tick=False):
        db.session.execute(sa.text("DELETE FROM checkins"))
        db.session.commit()
        login(client, w.p.community_admin)  # a cookie signed "later" than now is not accepted
        response = client.post(f"/training/sessions/{w.off.id}/cancel")
        page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "培训已取消。" in page and 'id="session-state">已取消' in page.replace("\n", "")
    db.session.expire_all()
    assert db.session.get(StationEvent, event_id) is None


# --- members ---------------------------------------------------------------------------------------------


def test_my_training_lists_what_is_open_for_my_grid_and_above(client, w):
    with time_machine.travel(NOW, tick=False):
        district = svc.plan_session(w.p.district_admin, online(w.p.tree.district.id, title="全区微朗读",
                                                               kind="micro_reading"), None, NOW)
        gone = svc.plan_session(w.p.community_admin, online(w.p.tree.community.id, title="已取消的",
                                                            starts_at=local(2025, 5, 1), ends_at=local(2025, 5, 2)),
                                None, NOW)
        svc.cancel_session(gone, w.p.community_admin, NOW)
        db.session.commit()
    with time_machine.travel(DURING, tick=False):
        login(client, w.p.member.user)
        page = client.get("/training/me").get_data(as_text=True)
    assert "四月集中学习" in page and "龙山党群驿站" in page and "已签到 09:40" in page
    assert "微党课：初心" in page and "我已学完" in page and "查看 PDF 材料" in page
    assert district.title in page and "杨桥微党课" not in page and "已取消的" not in page
    # This year's record: the offline session attended, 2 hours.
    assert 'id="training-hours">2<' in page


def test_a_member_completes_once_and_a_second_press_says_so(client, w):
    with time_machine.travel(DURING, tick=False):
        login(client, w.p.member.user)
        first = client.post(f"/training/me/{w.on.id}/complete", data={"reflection": "学有所获"})
        assert first.status_code == 303 and first.headers["Location"] == "/training/me"
        assert "已记录学完" in client.get("/training/me").get_data(as_text=True)
        second = client.post(f"/training/me/{w.on.id}/complete", data={"reflection": "又一次"})
        assert second.status_code == 303
        assert "无需重复提交" in client.get("/training/me").get_data(as_text=True)
    rows = db.session.scalars(sa.select(TrainingCompletion)).unique().all()
    assert [(r.member_id, r.reflection) for r in rows] == [(w.p.member.id, "学有所获")]


def test_a_reflection_over_500_characters_is_refused_and_kept(client, w):
    text = "心得" * 251
    with time_machine.travel(DURING, tick=False):
        login(client, w.p.member.user)
        response = client.post(f"/training/me/{w.on.id}/complete", data={"reflection": text})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "学习心得最多 500 字（现在 502 字）" in page and text in page
    assert db.session.scalar(sa.select(sa.func.count(TrainingCompletion.id))) == 0


def test_the_pdf_is_served_inline_privately_and_never_sniffed(client, w):
    login(client, w.p.member.user)
    response = client.get(f"/training/sessions/{w.on.id}/material.pdf")
    response.direct_passthrough = False
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data == svc.document_path(w.on.document).read_bytes()
    assert response.headers["Content-Disposition"].startswith("inline")
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "private, max-age=3600"
    response.close()
    login(client, w.p.community_admin)
    assert client.get(f"/training/sessions/{w.off.id}/material.pdf").status_code == 404  # it has none


def test_the_records_show_hours_for_the_member_and_the_household(client, w):
    login(client, w.head.user)
    page = client.get(f"/training/households/{w.household.id}?year=2025").get_data(as_text=True)
    assert "中心户培训记录" in page and "李党员" in page and 'id="training-hours">2<' in page
    page = client.get(f"/training/members/{w.p.member.id}?year=2025").get_data(as_text=True)
    assert "李党员 的培训记录" in page and "四月集中学习" in page and "集中学习" in page
    # A year not offered falls back to this one rather than failing.
    assert client.get(f"/training/members/{w.p.member.id}?year=99999").status_code == 200


# --- lists, navigation ------------------------------------------------------------------------------


def add_sessions(w: World, n: int, first_day: int = 0) -> None:
    for i in range(first_day, first_day + n):
        day = local(2025, 6, 1, 9) + timedelta(days=i)
        if i % 2:
            s = svc.plan_session(w.p.community_admin, offline(w.p.tree.community.id, w.p.station.id, title=f"集中学习{i}",
                                                              starts_at=day, ends_at=day + timedelta(hours=2)), None, NOW)
            member = make_member(w.p.tree.grid_b, name=f"党员{i}")
            make_checkin(member, w.p.station, day + timedelta(minutes=5), event=s.station_event)
        else:
            s = svc.plan_session(w.p.community_admin, online(w.p.tree.grid.id, title=f"微分享{i}",
                                                             starts_at=day, ends_at=day + timedelta(days=3)), None, NOW)
            svc.complete(s, w.p.member, "好", day + timedelta(hours=1))
    db.session.commit()


def test_the_admin_list_runs_a_fixed_number_of_queries(client, w):
    with time_machine.travel(NOW, tick=False):
        login(client, w.p.district_admin)
        add_sessions(w, 2)
        with count_queries() as few:
            assert client.get("/training/").status_code == 200
        add_sessions(w, 22, first_day=2)
        with count_queries() as many:
            page = client.get("/training/").get_data(as_text=True)
    assert len(few) == len(many)
    assert "第 1 / 2 页" in page


def test_the_participation_list_runs_a_fixed_number_of_queries(client, w):
    with time_machine.travel(NOW, tick=False):
        login(client, w.p.district_admin)
        add_sessions(w, 2)
        with count_queries() as few:
            assert client.get("/training/participations").status_code == 200
        add_sessions(w, 22, first_day=2)
        with count_queries() as many:
            page = client.get("/training/participations").get_data(as_text=True)
    assert len(few) == len(many)
    assert "第 1 / 2 页" in page and page.count('<tr class="participation-row">') == 20


def test_my_training_runs_a_fixed_number_of_queries(client, w):
    with time_machine.travel(NOW, tick=False):
        login(client, w.p.member.user)
        with count_queries() as few:
            assert client.get("/training/me").status_code == 200
        add_sessions(w, 12, first_day=0)
        with count_queries() as many:
            assert client.get("/training/me").status_code == 200
    assert len(few) == len(many)


def test_the_list_filters_by_period_kind_and_mode(client, w):
    login(client, w.p.community_admin)
    page = client.get("/training/?mode=online").get_data(as_text=True)
    assert "微党课：初心" in page and "四月集中学习" not in page
    page = client.get("/training/?kind=concentrated&date_from=2025-04-08&date_to=2025-04-08").get_data(as_text=True)
    assert "四月集中学习" in page and "微党课：初心" not in page
    response = client.get("/training/?date_from=2025-04-09&date_to=2025-04-01")
    assert response.status_code == 422 and "结束日期不能早于开始日期" in response.get_data(as_text=True)


def test_the_nav_leads_admins_and_members_to_training(client, w):
    login(client, w.p.community_admin)
    page = client.get("/").get_data(as_text=True)
    assert 'href="/training/"' in page and "/coming/training" not in page
    login(client, w.p.station_admin)
    assert 'href="/training/"' in client.get("/").get_data(as_text=True)
    login(client, w.p.member.user)
    page = client.get("/").get_data(as_text=True)
    assert 'href="/training/me"' in page and 'href="/training/"' not in page


def test_the_household_and_member_pages_link_to_their_records(client, w):
    login(client, w.p.community_admin)
    assert f'href="/training/households/{w.household.id}"' in client.get(
        f"/households/{w.household.id}").get_data(as_text=True)
    assert f'href="/training/members/{w.p.member.id}"' in client.get(
        f"/structure/members/{w.p.member.id}").get_data(as_text=True)


def test_a_township_admin_plans_for_the_township_at_a_community_station(client, w):
    township = make_admin(w.p.tree.township, name="镇管理员")
    with time_machine.travel(NOW, tick=False):
        login(client, township)
        response = client.post("/training/new", data=form_data(w, org_node_id=str(w.p.tree.township.id)))
    assert response.status_code == 303
