"""Pages kept by their data (``web.render_unchanging``, issue 14): the tracking page, the kiosk's
answer, the member's inbox and home are rendered once per key and handed out again — and are never
out of date: a change to what they show, the clock moving a deadline's hours, a new name or role,
another visitor, each makes another page; each visitor gets their own CSRF token."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from app.extensions import db
from app.models import Need, NeedOutcome, NeedStatus, User
from app.services import checkin_tokens, needs
from app.services import stations as station_service
from app.web import Unkeyable, _Kept, keyed
from tests.factories import (
    login,
    make_checkin,
    make_member,
    make_need,
    make_need_world,
    user_of,
)

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Asia/Shanghai
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def _kept(app) -> int:  # type: ignore[no-untyped-def]
    kept = app.extensions.get("kept_pages")
    return len(kept.pages) if kept else 0


# --- the key ---------------------------------------------------------------------------------------


@dataclass
class _Row:
    id: int
    items: list[str]


def test_a_key_is_the_data_taken_apart_and_nothing_else_is_keyed(app):
    assert keyed(_Row(1, ["a"])) == keyed(_Row(1, ["a"]))
    assert keyed(_Row(1, ["a"])) != keyed(_Row(1, ["b"])) != keyed((1, ["b"]))
    assert hash(keyed({"rows": [_Row(2, [])], "n": {1, 2}, "at": NOW}))
    w = make_need_world()
    with pytest.raises(Unkeyable):  # an ORM object could change behind the key: never kept
        keyed({"member": w.member})
    with pytest.raises(Unkeyable):
        keyed([object()])


def test_kept_pages_are_bounded_least_recently_used_first():
    kept = _Kept(2)
    kept.put(("a",), "A")
    kept.put(("b",), "B")
    assert kept.get(("a",)) == "A"  # now the most recently used
    kept.put(("c",), "C")
    assert kept.get(("b",)) is None and kept.get(("a",)) == "A" and kept.get(("c",)) == "C"


# --- the tracking page ------------------------------------------------------------------------------


def test_a_kept_tracking_page_follows_the_need_and_each_need_shows_its_own(app, client):
    with time_machine.travel(NOW, tick=False):
        w = make_need_world()
        first = make_need(w.household, text="楼道灯坏了")
        second = make_need(w.household, text="水管漏水")
        one, two = f"/t/{first.token}", f"/t/{second.token}"
        page = client.get(one).get_data(as_text=True)
        assert "楼道灯坏了" in page and "水管漏水" not in page and "待响应" in page
        assert client.get(one).get_data(as_text=True) == page  # kept: the same page again
        other = client.get(two).get_data(as_text=True)
        assert "水管漏水" in other and "楼道灯坏了" not in other and first.token not in other
        needs.accept(db.session.get(Need, first.id), w.member.user)
        db.session.commit()
        after = client.get(one).get_data(as_text=True)
        assert after != page and "已接单" in after and "楼道灯坏了" in after


def test_a_resolved_needs_kept_rating_form_carries_each_visitors_own_token(app):
    app.config["WTF_CSRF_ENABLED"] = True
    with time_machine.travel(NOW, tick=False):
        w = make_need_world()
        need = make_need(w.household)
        needs.accept(need, w.member.user)
        needs.resolve(need, w.member.user, NeedOutcome.SOLVED, "已修好")
        db.session.commit()
        url = f"/t/{need.token}"
        first, second = app.test_client(), app.test_client()
        pages = [c.get(url).get_data(as_text=True) for c in (first, second)]
        tokens = [CSRF_RE.search(p).group(1) for p in pages]
        assert tokens[0] != tokens[1] and pages[0].replace(tokens[0], "") == pages[1].replace(tokens[1], "")
        # Each visitor's token is the one their session accepts: the rating goes through.
        reply = second.post(f"{url}/rate", data={"csrf_token": tokens[1], "rating": "satisfied", "comment": ""})
        assert reply.status_code == 303
        assert db.session.get(Need, need.id).status is NeedStatus.RATED


# --- the kiosk's answer ---------------------------------------------------------------------------


def test_a_kept_repeat_scan_answers_each_member_with_their_own_check_in(app):
    w = make_need_world()
    station = w.p.station
    other = make_member(w.p.tree.grid, name="孙党员")
    with time_machine.travel(NOW, tick=False):
        make_checkin(w.member, station, NOW - timedelta(hours=1))
        make_checkin(other, station, NOW - timedelta(minutes=30))
        db.session.commit()
        pages = {}
        for member in (w.member, other):
            client = app.test_client()
            login(client, user_of(member))
            url = f"/k/{checkin_tokens.kiosk_token(station.id)}"
            pages[member.id] = [client.get(url).get_data(as_text=True) for _ in range(2)]
        mine, theirs = pages[w.member.id], pages[other.id]
        assert mine[0] == mine[1] and "今日已签到" in mine[0]
        assert w.member.user.name in mine[0] and "09:00" in mine[0] and "孙党员" not in mine[0]
        assert "孙党员" in theirs[0] and "09:30" in theirs[0]


def test_a_repeat_scan_once_an_event_starts_counts_the_check_in_for_it(app, client):
    """The kept answer is the data's: an event started since the check-in makes the scan write
    (the check-in now counts for the event), not hand out the page kept before."""
    from tests.factories import make_event

    w = make_need_world()
    station = w.p.station
    with time_machine.travel(NOW, tick=False):
        make_checkin(w.member, station, NOW - timedelta(hours=1))
        db.session.commit()
        login(client, w.member.user)
        before = client.get(f"/k/{checkin_tokens.kiosk_token(station.id)}").get_data(as_text=True)
        assert "已计出勤" not in before
        make_event(station, NOW - timedelta(minutes=10), NOW + timedelta(hours=2), title="主题党日")
        db.session.commit()
        after = client.get(f"/k/{checkin_tokens.kiosk_token(station.id)}").get_data(as_text=True)
        assert "主题党日" in after and "已计出勤" in after


# --- the member's inbox and home -----------------------------------------------------------------


def test_a_kept_inbox_moves_with_the_clock_and_the_needs(app, client):
    with time_machine.travel(NOW, tick=False):
        w = make_need_world()
        need = make_need(w.household, text="楼道灯坏了")
        login(client, w.member.user)
        first = client.get("/needs/").get_data(as_text=True)
        assert "楼道灯坏了" in first and client.get("/needs/").get_data(as_text=True) == first
        left = re.search(r'class="badge [^"]*sla">([^<]+)<', first).group(1)
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        later = client.get("/needs/").get_data(as_text=True)
        assert re.search(r'class="badge [^"]*sla">([^<]+)<', later).group(1) != left
        needs.accept(db.session.get(Need, need.id), w.member.user)
        db.session.commit()
        accepted = client.get("/needs/").get_data(as_text=True)
        assert "楼道灯坏了" not in accepted  # the 待接单 tab is empty now
        assert "楼道灯坏了" in client.get("/needs/?state=accepted").get_data(as_text=True)


def test_a_kept_home_follows_the_members_work_and_name(app, client):
    with time_machine.travel(NOW, tick=False):
        w = make_need_world()
        login(client, w.member.user)
        home = client.get("/").get_data(as_text=True)
        checkins = re.search(r'id="fig-checkins-month"[^>]*>([^<]*)<', home).group(1)
        assert client.get("/").get_data(as_text=True) == home
        make_checkin(w.member, w.p.station, NOW - timedelta(hours=1))
        db.session.commit()
        after = client.get("/").get_data(as_text=True)
        assert re.search(r'id="fig-checkins-month"[^>]*>([^<]*)<', after).group(1) != checkins
        user = db.session.get(User, w.member.user_id)
        user.name = "李秀英（改）"
        db.session.commit()
        assert "李秀英（改）" in client.get("/").get_data(as_text=True)


def test_a_kept_page_shows_a_new_role_in_the_nav_at_once(app, client):
    with time_machine.travel(NOW, tick=False):
        w = make_need_world()
        login(client, w.member.user)
        page = client.get("/needs/").get_data(as_text=True)
        assert "/stations" not in page
        station_service.add_station_admin(w.p.station, w.member.user.phone, w.p.district_admin)
        db.session.commit()
        assert "/stations" in client.get("/needs/").get_data(as_text=True)


def test_a_members_page_is_never_handed_to_another_member(app):
    with time_machine.travel(NOW, tick=False):
        w = make_need_world()
        make_need(w.household, text="楼道灯坏了")
        pages = []
        for member in (w.member, w.fellow):
            client = app.test_client()
            login(client, user_of(member))
            pages.append((client.get("/needs/").get_data(as_text=True), client.get("/").get_data(as_text=True)))
        assert "楼道灯坏了" in pages[0][0] and "楼道灯坏了" not in pages[1][0]
        assert w.member.user.name in pages[0][1] and w.member.user.name not in pages[1][1]
        assert _kept(app) >= 4


# --- admin lists and the dashboard ---------------------------------------------------------------


def test_a_kept_admin_list_and_dashboard_follow_their_data(app, client):
    with time_machine.travel(NOW, tick=False):
        w = make_need_world()
        login(client, w.p.district_admin)
        members = client.get("/structure/members").get_data(as_text=True)
        assert client.get("/structure/members").get_data(as_text=True) == members
        make_member(w.p.tree.grid, name="新来的党员")
        db.session.commit()
        assert "新来的党员" not in members and "新来的党员" in client.get("/structure/members").get_data(as_text=True)
        assert "新来的党员" not in client.get("/structure/members?q=王").get_data(as_text=True)  # its own query
        board = client.get("/needs/dashboard").get_data(as_text=True)
        assert client.get("/needs/dashboard").get_data(as_text=True) == board
        make_need(w.household, text="楼道灯坏了")
        assert client.get("/needs/dashboard").get_data(as_text=True) != board
