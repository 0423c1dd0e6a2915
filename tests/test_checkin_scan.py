"""A member scans a station's code: logged in or not, twice, late, forged, during an event, at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import sqlalchemy as sa
import time_machine

from app.database import writing
from app.extensions import db
from app.models import Checkin, CheckinMethod, Member, Station
from app.services import checkin as svc
from app.services import checkin_tokens as tokens
from tests.factories import (
    PASSWORD,
    login,
    make_admin,
    make_checkin,
    make_event,
    make_member,
    make_resident_user,
    make_station,
    make_station_admin,
    make_tree,
    make_user,
)

# 10:00 in Shanghai, at the start of a 30-second step.
T0 = datetime(2025, 3, 1, 2, 0, 0, tzinfo=UTC)


def checkins() -> list[Checkin]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Checkin).order_by(Checkin.id)).unique())


@pytest.fixture
def setup(app):
    tree = make_tree()
    station = make_station(tree.community)
    member = make_member(tree.grid, name="李党员")
    return tree, station, member


def scan_url(station: Station) -> str:
    return f"/k/{tokens.kiosk_token(station.id)}"


def test_member_scans_and_is_checked_in(client, setup):
    _, station, member = setup
    login(client, member.user)
    response = client.get(scan_url(station))
    assert response.status_code == 200
    assert "签到成功" in response.get_data(as_text=True)
    [row] = checkins()
    assert (row.member_id, row.station_id, row.method) == (member.id, station.id, CheckinMethod.KIOSK)
    assert row.day == svc.local_day(row.checked_in_at)


def test_second_scan_the_same_day_says_already_checked_in_with_the_first_time(client, setup):
    _, station, member = setup
    with time_machine.travel(T0, tick=False):
        login(client, member.user)
        client.get(scan_url(station))
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        page = client.get(scan_url(station)).get_data(as_text=True)
    assert "今日已签到" in page and "10:00" in page
    assert len(checkins()) == 1


def test_the_day_is_the_shanghai_date(client, setup):
    _, station, member = setup
    before_midnight = datetime(2025, 3, 1, 15, 59, 0, tzinfo=UTC)  # 23:59 in Shanghai
    with time_machine.travel(before_midnight, tick=False):
        login(client, member.user)
        client.get(scan_url(station))
    with time_machine.travel(before_midnight + timedelta(minutes=2), tick=False):
        assert "签到成功" in client.get(scan_url(station)).get_data(as_text=True)
    assert [str(c.day) for c in checkins()] == ["2025-03-01", "2025-03-02"]


def test_logged_out_member_logs_in_and_the_check_in_completes_without_scanning_again(client, setup):
    _, station, member = setup
    with time_machine.travel(T0, tick=True):
        response = client.get(scan_url(station))
        assert response.status_code == 303
        location = response.headers["Location"]
        assert location.startswith("/login?next=")
        nxt = parse_qs(urlparse(location).query)["next"][0]
        assert nxt.startswith("/checkin/resume/")
        assert "登录后将自动完成签到" in client.get(location).get_data(as_text=True)
    # Typing a password takes a while: the kiosk code has long rotated.
    with time_machine.travel(T0 + timedelta(minutes=4), tick=True):
        response = client.post("/login", data={"phone": member.phone, "password": PASSWORD, "next": nxt})
        assert response.status_code == 303 and response.headers["Location"] == nxt
        page = client.get(nxt).get_data(as_text=True)
    assert "签到成功" in page
    assert len(checkins()) == 1


def test_resume_link_expires_and_cannot_be_forged(client, setup):
    _, station, member = setup
    with time_machine.travel(T0, tick=True):
        nxt = parse_qs(urlparse(client.get(scan_url(station)).headers["Location"]).query)["next"][0]
    with time_machine.travel(T0 + timedelta(minutes=11), tick=True):
        login(client, member.user)
        late = client.get(nxt)
        forged = client.get(nxt[:-3] + "abc")
    assert late.status_code == 410 and "请重新扫描" in late.get_data(as_text=True)
    assert forged.status_code == 410
    assert checkins() == []


def test_expired_code_says_scan_again_with_a_link_back(client, setup):
    _, station, member = setup
    with time_machine.travel(T0, tick=False):
        url = scan_url(station)
    with time_machine.travel(T0 + timedelta(seconds=90), tick=False):
        login(client, member.user)
        response = client.get(url)
    page = response.get_data(as_text=True)
    assert response.status_code == 410
    assert "二维码已过期，请重新扫描" in page and 'href="/"' in page
    assert checkins() == []


def test_expired_code_is_refused_before_asking_to_log_in(client, setup):
    _, station, _ = setup
    with time_machine.travel(T0, tick=False):
        url = scan_url(station)
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        assert client.get(url).status_code == 410


@pytest.mark.parametrize("mangle", [lambda t: t[:-1], lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
                                    lambda t: "not-a-token", lambda t: "x" * 300])
def test_forged_or_truncated_code_gets_a_clear_message_not_an_error(client, setup, mangle):
    _, station, member = setup
    login(client, member.user)
    response = client.get("/k/" + mangle(tokens.kiosk_token(station.id)))
    assert response.status_code == 400
    assert "不是有效的驿站签到二维码" in response.get_data(as_text=True)
    assert checkins() == []


def test_code_of_an_unknown_or_closed_station_is_refused(client, setup):
    _, station, member = setup
    login(client, member.user)
    assert client.get(f"/k/{tokens.kiosk_token(999999)}").status_code == 400
    station.active = False
    db.session.commit()
    assert client.get(scan_url(station)).status_code == 400


@pytest.mark.parametrize("who", ["resident", "station_admin", "org_admin", "nobody"])
def test_a_scan_by_someone_without_a_member_record_is_explained(client, setup, who):
    tree, station, _ = setup
    user = {
        "resident": lambda: make_resident_user(),
        "station_admin": lambda: make_station_admin(station),
        "org_admin": lambda: make_admin(tree.community),
        "nobody": lambda: make_user(name="路人"),
    }[who]()
    login(client, user)
    response = client.get(scan_url(station))
    assert response.status_code == 403
    assert "仅限党员" in response.get_data(as_text=True)
    assert checkins() == []


def test_station_admin_who_is_also_a_member_checks_in(client, setup):
    tree, station, _ = setup
    admin = make_station_admin(station, name="驿站党员")
    make_member(tree.grid, user=admin)
    login(client, admin)
    assert "签到成功" in client.get(scan_url(station)).get_data(as_text=True)


def test_check_in_during_an_event_counts_as_attendance(client, setup):
    _, station, member = setup
    event = make_event(station, T0 - timedelta(minutes=30), T0 + timedelta(hours=2))
    with time_machine.travel(T0, tick=False):
        login(client, member.user)
        page = client.get(scan_url(station)).get_data(as_text=True)
    assert "主题党日" in page and "已计出勤" in page
    assert checkins()[0].event_id == event.id


def test_an_event_that_starts_after_the_first_scan_counts_the_second_scan(client, setup):
    _, station, member = setup
    with time_machine.travel(T0, tick=False):
        login(client, member.user)
        client.get(scan_url(station))
    event = make_event(station, T0 + timedelta(hours=1), T0 + timedelta(hours=3))
    with time_machine.travel(T0 + timedelta(hours=1, minutes=5), tick=False):
        assert "今日已签到" in client.get(scan_url(station)).get_data(as_text=True)
    [row] = checkins()
    assert row.event_id == event.id


def test_poster_scan_is_recorded_as_a_poster_check_in(client, setup):
    _, station, member = setup
    token = tokens.poster_token(station).token
    db.session.commit()
    login(client, member.user)
    page = client.get(f"/s/{token}").get_data(as_text=True)
    assert "签到成功" in page and "海报扫码" in page
    assert checkins()[0].method is CheckinMethod.POSTER


def test_regenerated_poster_refuses_the_old_code(client, setup):
    _, station, member = setup
    old = tokens.poster_token(station).token
    tokens.regenerate_poster_token(station)
    db.session.commit()
    login(client, member.user)
    response = client.get(f"/s/{old}")
    assert response.status_code == 404 and "已失效" in response.get_data(as_text=True)
    assert client.get("/s/" + "x" * 100).status_code == 404


def test_poster_scan_while_logged_out_completes_after_login(client, setup):
    _, station, member = setup
    token = tokens.poster_token(station).token
    db.session.commit()
    nxt = parse_qs(urlparse(client.get(f"/s/{token}").headers["Location"]).query)["next"][0]
    client.post("/login", data={"phone": member.phone, "password": PASSWORD, "next": nxt})
    assert "签到成功" in client.get(nxt).get_data(as_text=True)
    assert checkins()[0].method is CheckinMethod.POSTER


def test_inactive_member_is_refused(client, setup):
    from app.models import MemberStatus

    _, station, member = setup
    member.status = MemberStatus.INACTIVE
    db.session.commit()
    login(client, member.user)
    assert client.get(scan_url(station)).status_code == 403
    assert checkins() == []


# Concurrency -------------------------------------------------------------------------------------


def test_concurrent_double_scan_leaves_one_row(app, setup):
    """Two workers handle the same member's two scans at the same moment."""
    _, station, member = setup
    # Plain ids: touching the test's own (expired) objects from a thread would use its session.
    member_id, station_id = member.id, station.id
    db.session.commit()
    barrier = threading.Barrier(2, timeout=20)
    results: list[bool] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with app.app_context():
                barrier.wait()
                with writing():
                    m = db.session.get(Member, member_id)
                    s = db.session.get(Station, station_id)
                    result = svc.check_in(m, s, CheckinMethod.KIOSK)
                    db.session.commit()
                results.append(result.created)
                db.session.remove()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(results) == [False, True]
    assert len(checkins()) == 1


def test_losing_the_race_to_the_unique_constraint_returns_the_first_check_in(app, setup, monkeypatch):
    """The other scan commits between our look-up and our insert: the database refuses ours."""
    _, station, member = setup
    first = make_checkin(member, station, T0)
    real = svc._existing
    calls = []

    def stale_then_real(*args):  # type: ignore[no-untyped-def]
        calls.append(args)
        return None if len(calls) == 1 else real(*args)

    monkeypatch.setattr(svc, "_existing", stale_then_real)
    result = svc.check_in(member, station, CheckinMethod.KIOSK, now=T0 + timedelta(minutes=1))
    db.session.commit()
    assert result.created is False and result.checkin.id == first.id
    assert len(checkins()) == 1


def test_database_refuses_a_second_row_for_the_same_member_station_and_day(app, setup):
    _, station, member = setup
    make_checkin(member, station, T0)
    db.session.add(Checkin(member_id=member.id, station_id=station.id, day=svc.local_day(T0),
                           checked_in_at=T0, method=CheckinMethod.KIOSK))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_database_refuses_a_manual_check_in_without_who_did_it(app, setup):
    _, station, member = setup
    db.session.add(Checkin(member_id=member.id, station_id=station.id, day=svc.local_day(T0),
                           checked_in_at=T0, method=CheckinMethod.MANUAL))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()
