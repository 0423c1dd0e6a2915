"""签到 by typing the six digits under the kiosk's QR: the code, the page, its limits and lock."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from app.extensions import db
from app.models import Checkin, CheckinCodeGuard, CheckinMethod, MemberStatus
from app.services import checkin_codes as codes
from app.services import checkin_tokens as tokens
from app.services.errors import NotAllowed, Refused
from tests.factories import (
    login,
    make_admin,
    make_checkin,
    make_member,
    make_personas,
    make_station,
    make_station_admin,
    make_tree,
)

# 10:00 in Shanghai, at the start of a 30-second step.
T0 = datetime(2025, 3, 1, 2, 0, 0, tzinfo=UTC)


def checkins() -> list[Checkin]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Checkin).order_by(Checkin.id)).unique())


def code_at(station_id: int, at: datetime) -> str:
    return tokens.kiosk_code(station_id, tokens.current_step(at.timestamp()))


def wrong_code(station_id: int, at: datetime) -> str:
    """A code that is none of the station's codes of the last ten minutes."""
    step = tokens.current_step(at.timestamp())
    recent = {tokens.kiosk_code(station_id, s) for s in range(step - 25, step + 1)}
    return next(c for c in (f"{n:06d}" for n in range(0, 1_000_000, 7919)) if c not in recent)


@pytest.fixture
def at_t0():
    """The clock at T0 (logging in happens then too: a session signed later would look forged)."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def setup(app):
    tree = make_tree()
    station = make_station(tree.community)
    member = make_member(tree.grid, name="李党员")
    return tree, station, member


# --- the code itself ------------------------------------------------------------------------------


def test_the_code_is_six_digits_and_rotates_with_the_qr(app):
    with time_machine.travel(T0, tick=False):
        first, first_token = tokens.kiosk_code(7), tokens.kiosk_token(7)
    with time_machine.travel(T0 + timedelta(seconds=29), tick=False):
        assert tokens.kiosk_code(7) == first and tokens.kiosk_token(7) == first_token
    with time_machine.travel(T0 + timedelta(seconds=30), tick=False):
        assert tokens.kiosk_token(7) != first_token
        assert tokens.kiosk_code(7) != first
    assert re.fullmatch(r"[0-9]{6}", first)
    assert tokens.kiosk_code(8, tokens.current_step(T0.timestamp())) != first  # another station


def test_the_code_depends_on_the_secret(app):
    step = tokens.current_step(T0.timestamp())
    before = tokens.kiosk_code(7, step)
    app.config["SECRET_KEY"] = "another-secret"
    assert tokens.kiosk_code(7, step) != before


def test_a_code_is_good_for_the_same_60_to_90_seconds_as_the_qr(app):
    code = code_at(7, T0)
    for seconds in (0, 30, 60, 89):
        assert tokens.verify_kiosk_code(7, code, (T0 + timedelta(seconds=seconds)).timestamp())
    with pytest.raises(tokens.TokenExpired):
        tokens.verify_kiosk_code(7, code, (T0 + timedelta(seconds=90)).timestamp())
    with pytest.raises(tokens.TokenInvalid):  # long gone: just wrong
        tokens.verify_kiosk_code(7, code, (T0 + timedelta(minutes=30)).timestamp())
    with pytest.raises(tokens.TokenInvalid):  # a code the kiosk has not shown yet
        tokens.verify_kiosk_code(7, code_at(7, T0 + timedelta(seconds=30)), T0.timestamp())
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify_kiosk_code(7, wrong_code(7, T0), T0.timestamp())


@pytest.mark.parametrize(("typed", "expected"), [
    ("123456", "123456"), (" 123 456 ", "123456"), ("123-456", "123456"), ("１２３４５６", "123456"),
    ("12345", None), ("1234567", None), ("12a456", None), ("", None), (None, None), ("١٢٣٤٥٦", None),
])
def test_typed_codes_are_normalised_once(typed, expected):
    assert tokens.normalize_code(typed) == expected


# --- the service ----------------------------------------------------------------------------------


def test_the_right_code_checks_in_as_a_scan_would_with_method_typed(setup):
    _, station, member = setup
    attempt = codes.check_in_by_code(member, station.id, code_at(station.id, T0), T0)
    assert attempt.error is None and attempt.result.created
    later = T0 + timedelta(minutes=5)
    again = codes.check_in_by_code(member, station.id, code_at(station.id, later), later)
    assert again.result is not None and not again.result.created  # once a day, like a scan
    db.session.commit()
    [row] = checkins()
    assert (row.member_id, row.station_id, row.method) == (member.id, station.id, CheckinMethod.TYPED)


def test_a_wrong_code_checks_nobody_in_and_counts(setup):
    _, station, member = setup
    attempt = codes.check_in_by_code(member, station.id, wrong_code(station.id, T0), T0)
    assert attempt.result is None
    assert "签到码不对" in attempt.error and "还可以再试 4 次" in attempt.error
    db.session.commit()
    assert checkins() == []
    assert db.session.get(CheckinCodeGuard, member.id).failures == 1


def test_an_expired_code_says_so(setup):
    _, station, member = setup
    attempt = codes.check_in_by_code(member, station.id, code_at(station.id, T0), T0 + timedelta(minutes=2))
    assert attempt.result is None and "已过期" in attempt.error


def test_five_wrong_codes_lock_typing_for_a_quarter_of_an_hour_even_with_the_right_code(setup):
    _, station, member = setup
    for i in range(5):
        attempt = codes.check_in_by_code(member, station.id, wrong_code(station.id, T0), T0 + timedelta(seconds=i))
    assert "暂停使用" in attempt.error and "15 分钟" in attempt.error
    at = T0 + timedelta(minutes=10)
    locked = codes.check_in_by_code(member, station.id, code_at(station.id, at), at)
    assert locked.result is None and "请 6 分钟后再试" in locked.error  # locked at T0+4 s, for 15 min
    later = T0 + timedelta(minutes=15, seconds=10)
    assert codes.check_in_by_code(member, station.id, code_at(station.id, later), later).result is not None


def test_a_right_code_forgets_the_wrong_ones_and_old_mistakes_are_forgotten(setup):
    _, station, member = setup
    for i in range(4):
        codes.check_in_by_code(member, station.id, wrong_code(station.id, T0), T0 + timedelta(seconds=i))
    assert codes.check_in_by_code(member, station.id, code_at(station.id, T0), T0).result is not None
    assert db.session.get(CheckinCodeGuard, member.id).failures == 0
    for i in range(4):
        codes.check_in_by_code(member, station.id, wrong_code(station.id, T0), T0 + timedelta(seconds=i))
    later = T0 + timedelta(hours=2)
    attempt = codes.check_in_by_code(member, station.id, wrong_code(station.id, later), later)
    assert "还可以再试 4 次" in attempt.error  # the four of two hours ago no longer count


def test_the_lock_is_per_member(setup):
    tree, station, member = setup
    other = make_member(tree.grid, name="王党员")
    for i in range(5):
        codes.check_in_by_code(member, station.id, wrong_code(station.id, T0), T0 + timedelta(seconds=i))
    assert codes.check_in_by_code(other, station.id, code_at(station.id, T0), T0).result is not None


def test_a_closed_or_unknown_station_and_a_stopped_member_are_refused(setup):
    _, station, member = setup
    station.active = False
    with pytest.raises(Refused, match="请选择驿站"):
        codes.check_in_by_code(member, station.id, code_at(station.id, T0), T0)
    with pytest.raises(Refused):
        codes.check_in_by_code(member, 2**31 - 1, "123456", T0)
    station.active = True
    member.status = MemberStatus.INACTIVE
    with pytest.raises(NotAllowed):
        codes.check_in_by_code(member, station.id, code_at(station.id, T0), T0)


def test_stations_are_listed_own_first_nearest_first_then_the_township(app):
    tree = make_tree()
    community = make_station(tree.community, name="龙山社区驿站")
    grid = make_station(tree.grid, name="第一网格驿站")
    township = make_station(tree.township, name="大龙山镇驿站")
    district = make_station(tree.district, name="区党群服务中心")
    neighbour = make_station(tree.grid_b, name="第二网格驿站")
    make_station(tree.community2, name="杨桥驿站")  # another township: not listed
    closed = make_station(tree.community, name="已关闭驿站")
    closed.active = False
    member = make_member(tree.grid)
    listed = codes.stations_for(member)
    assert [(s.id, own) for s, own in listed] == [
        (grid.id, True), (community.id, True), (township.id, True), (district.id, True), (neighbour.id, False)]


# --- the page -------------------------------------------------------------------------------------


def test_member_opens_the_page_from_my_check_ins_and_home_with_their_station_chosen(client, setup):
    tree, station, member = setup
    make_station(tree.community2, name="杨桥驿站")
    login(client, member.user)
    assert 'href="/checkin/code"' in client.get("/me/checkins").get_data(as_text=True)
    assert 'href="/checkin/code"' in client.get("/").get_data(as_text=True)
    page = client.get("/checkin/code").get_data(as_text=True)
    assert re.search(rf'<option selected value="{station.id}">龙山党群驿站</option>', page)
    assert "杨桥驿站" not in page
    assert 'inputmode="numeric"' in page and 'autocomplete="one-time-code"' in page


def test_kiosk_link_can_name_the_station(client, setup):
    tree, station, member = setup
    other = make_station(tree.grid_b, name="第二网格驿站")
    login(client, member.user)
    page = client.get(f"/checkin/code?station={other.id}").get_data(as_text=True)
    assert re.search(rf'<option selected value="{other.id}">', page)


def test_typing_the_kiosk_code_checks_in_and_shows_the_result(client, setup, at_t0):
    _, station, member = setup
    login(client, member.user)
    response = client.post("/checkin/code", data={"station_id": station.id, "code": code_at(station.id, T0)})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "签到成功" in page and "输入签到码" in page and "龙山党群驿站" in page
    [row] = checkins()
    assert row.method is CheckinMethod.TYPED
    assert "输入签到码" in client.get("/me/checkins?month=2025-03").get_data(as_text=True)


@pytest.mark.parametrize(("when", "message"), [
    (T0 + timedelta(minutes=3), "签到码已过期"),
    (T0, "签到码不对"),
])
def test_a_wrong_or_expired_code_is_refused_next_to_the_field_keeping_what_was_typed(
        client, setup, at_t0, when, message):
    _, station, member = setup
    login(client, member.user)
    typed = code_at(station.id, T0) if message == "签到码已过期" else wrong_code(station.id, T0)
    at_t0.move_to(when)
    response = client.post("/checkin/code", data={"station_id": station.id, "code": typed})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    field = re.search(r'<div class="field has-error" id="code-field">.*?</div>', page, re.S).group(0)
    assert message in field and f'value="{typed}"' in field and 'aria-invalid="true"' in field
    assert 'aria-describedby="code-hint code-error"' in field
    assert checkins() == []


@pytest.mark.parametrize("typed", ["", "12345", "abcdef", "1" * 200, "12\x0156"])
def test_malformed_codes_are_refused_with_a_message(client, setup, typed):
    _, station, member = setup
    login(client, member.user)
    response = client.post("/checkin/code", data={"station_id": station.id, "code": typed})
    assert response.status_code == 422
    assert "6 位数字" in response.get_data(as_text=True) or "请输入签到码" in response.get_data(as_text=True)
    assert checkins() == []
    assert db.session.get(CheckinCodeGuard, member.id) is None  # not a guess: not counted


@pytest.mark.parametrize("station_id", ["", "abc", "999999", str(2**31 - 1), str(2**63)])
def test_a_missing_or_unknown_station_is_refused_with_a_message(client, setup, station_id):
    _, station, member = setup
    login(client, member.user)
    response = client.post("/checkin/code", data={"station_id": station_id, "code": "123456"})
    assert response.status_code == 422
    assert re.search(r'id="station_id-error">请选择驿站', response.get_data(as_text=True))
    assert checkins() == []


def test_the_lock_shows_next_to_the_field_through_the_page(client, setup, at_t0):
    _, station, member = setup
    login(client, member.user)
    for _ in range(5):
        response = client.post("/checkin/code", data={"station_id": station.id, "code": wrong_code(station.id, T0)})
    assert "暂停使用" in response.get_data(as_text=True)
    response = client.post("/checkin/code", data={"station_id": station.id, "code": code_at(station.id, T0)})
    assert response.status_code == 422 and "暂停使用" in response.get_data(as_text=True)
    assert checkins() == []


# --- who may use it -------------------------------------------------------------------------------


def test_anonymous_visitor_is_sent_to_log_in(client, setup):
    for method in ("get", "post"):
        response = getattr(client, method)("/checkin/code")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "/login" in client.get("/checkin/done/1").headers["Location"]


@pytest.mark.parametrize("who", ["district_admin", "community_admin", "station_admin", "resident", "nobody"])
def test_users_who_are_not_members_may_not_type_codes(client, app, who):
    p = make_personas()
    login(client, getattr(p, who))
    assert client.get("/checkin/code").status_code == 403
    response = client.post("/checkin/code", data={"station_id": p.station.id, "code": code_at(p.station.id, T0)})
    assert response.status_code == 403
    assert checkins() == []


def test_a_stopped_member_may_not_type_codes(client, setup):
    _, station, member = setup
    login(client, member.user)
    member.status = MemberStatus.INACTIVE
    db.session.commit()
    assert client.get("/checkin/code").status_code == 403


def test_the_result_page_shows_only_the_members_own_check_in(client, setup):
    tree, station, member = setup
    other = make_member(tree.grid, name="王党员")
    theirs = make_checkin(other, station, T0)
    mine = make_checkin(member, station, T0, method="typed")
    login(client, member.user)
    assert client.get(f"/checkin/done/{mine.id}").status_code == 200
    assert client.get(f"/checkin/done/{theirs.id}").status_code == 404
    assert client.get("/checkin/done/999999").status_code == 404
    admin = make_station_admin(station, name="驿站管理员乙")
    client.post("/logout")
    login(client, admin)
    assert client.get(f"/checkin/done/{mine.id}").status_code == 403


# --- the kiosk and the ledger ---------------------------------------------------------------------


def test_the_kiosk_shows_the_code_under_its_qr_and_the_live_part_rotates_it(client, setup, at_t0):
    _, station, _member = setup
    login(client, make_station_admin(station))
    page = client.get(f"/stations/{station.id}/kiosk").get_data(as_text=True)
    code = code_at(station.id, T0)
    assert f'<strong class="kiosk-code" id="kiosk-code"><span>{code[:3]}</span><span>{code[3:]}</span></strong>' in page
    later = T0 + timedelta(seconds=30)
    at_t0.move_to(later)
    live = client.get(f"/stations/{station.id}/kiosk/live", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert code_at(station.id, later)[:3] in live and f"<span>{code[3:]}</span>" not in live


def test_the_ledger_tells_typed_check_ins_apart(client, setup):
    _, station, member = setup
    make_checkin(member, station, T0, method="typed")
    login(client, make_admin(setup[0].community))
    page = client.get(f"/stations/{station.id}/ledger?start=2025-03-01&end=2025-03-31&method=typed")
    assert page.status_code == 200 and "输入签到码" in page.get_data(as_text=True)


def test_the_database_knows_the_typed_method_and_nothing_else(setup):
    _, station, member = setup
    row = make_checkin(member, station, T0, method="typed")
    assert row.method is CheckinMethod.TYPED
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.text("UPDATE checkins SET method = 'guessed' WHERE id = :id"), {"id": row.id})
    db.session.rollback()


# --- the rate limits ------------------------------------------------------------------------------


class TestLimits:
    @pytest.fixture
    def app_config(self):
        return {"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://",
                "CHECKIN_CODE_LIMIT_PER_MEMBER": "3 per hour", "CHECKIN_CODE_LIMIT_PER_IP": "4 per 10 minutes",
                "CHECKIN_CODE_LOCK_AFTER": 100}

    def test_a_member_gets_three_tries_an_hour_right_or_wrong(self, app, setup, at_t0):
        _, station, member = setup
        client = app.test_client()
        login(client, member.user)
        assert client.post("/checkin/code", data={"station_id": station.id, "code": code_at(station.id, T0)}).status_code == 303
        for _ in range(2):
            assert client.post("/checkin/code", data={"station_id": station.id, "code": wrong_code(station.id, T0)}).status_code == 422
        response = client.post("/checkin/code", data={"station_id": station.id, "code": code_at(station.id, T0)})
        assert response.status_code == 429
        assert "尝试次数过多" in response.get_data(as_text=True)
        assert client.get("/checkin/code").status_code == 200  # the page itself stays open

    def test_one_address_gets_four_wrong_tries_across_members_and_right_ones_do_not_count(self, app, setup, at_t0):
        tree, station, _ = setup
        right = {"station_id": station.id, "code": code_at(station.id, T0)}
        for i in range(4):
            client = app.test_client()
            login(client, make_member(tree.grid, name=f"党员{i}").user)
            assert client.post("/checkin/code", data=right).status_code == 303
        for i in range(4):
            client = app.test_client()
            login(client, make_member(tree.grid, name=f"猜码{i}").user)
            wrong = {"station_id": station.id, "code": wrong_code(station.id, T0)}
            assert client.post("/checkin/code", data=wrong).status_code == 422
        client = app.test_client()
        login(client, make_member(tree.grid, name="后来者").user)
        assert client.post("/checkin/code", data=right).status_code == 429
        other = app.test_client()
        other.environ_base["REMOTE_ADDR"] = "198.51.100.7"
        login(other, make_member(tree.grid, name="别处党员").user)
        assert other.post("/checkin/code", data=right).status_code == 303


# --- links printed as text, and the tracking code ---------------------------------------------------


def groups(secret: str) -> str:
    return "".join(f'<span class="typed-link-group">{secret[i:i + 4]}</span>' for i in range(0, len(secret), 4))


def test_contact_cards_print_their_link_as_text_in_groups_of_four(client, app):
    from app.models import EntryToken
    from tests.factories import make_resident

    p = make_personas()
    resident = make_resident(p.tree.grid, member=p.member)
    login(client, p.member.user)
    page = client.get("/needs/cards").get_data(as_text=True)
    token = db.session.scalar(sa.select(EntryToken).where(EntryToken.resident_household_id == resident.id)).token
    assert f'data-url="http://localhost/c/{token}"' in page
    assert f"<span>http://localhost/c/</span>{groups(token)}" in page


def test_the_plaque_and_the_poster_print_their_link_as_text(client, app):
    from app.models import CentralHousehold, EntryToken, PosterToken

    p = make_personas()
    household = db.session.get(CentralHousehold, p.member.central_household_id)
    login(client, p.community_admin)
    page = client.get(f"/households/{household.id}/plaque").get_data(as_text=True)
    token = db.session.scalar(sa.select(EntryToken).where(EntryToken.central_household_id == household.id)).token
    assert 'id="plaque-url"' in page and f"<span>http://localhost/p/</span>{groups(token)}" in page
    page = client.get(f"/stations/{p.station.id}/poster").get_data(as_text=True)
    token = db.session.scalar(sa.select(PosterToken.token))
    assert 'id="poster-url"' in page and f"<span>http://localhost/s/</span>{groups(token)}" in page


def test_the_tracking_page_shows_the_code_large_in_groups(client, app):
    from tests.factories import make_need, make_need_world

    world = make_need_world()
    need = make_need(world.household)
    page = client.get(f"/t/{need.token}").get_data(as_text=True)
    assert (f'<strong class="track-code" id="need-code" translate="no"><span>{need.code[:4]}</span>'
            f'<span>{need.code[4:]}</span></strong>') in page


def test_the_demo_district_has_a_few_typed_check_ins_at_kiosk_stations_only(app):
    import random

    from app.demo import checkin as demo_checkin
    from app.models import CheckinMode

    tree = make_tree()
    kiosk = make_station(tree.community, name="龙山党群驿站")
    poster = make_station(tree.community2, name="杨桥驿站", mode=CheckinMode.POSTER)
    for i in range(12):
        make_member(tree.grid, name=f"龙山党员{i}")
        make_member(tree.grid2, name=f"杨桥党员{i}")
    demo_checkin.generate(db.session.connection(), random.Random(7), T0, scale=1)
    db.session.commit()
    rows = checkins()
    typed = [r for r in rows if r.method is CheckinMethod.TYPED]
    at_kiosk = [r for r in rows if r.station_id == kiosk.id]
    assert typed and {r.station_id for r in typed} == {kiosk.id}
    assert 0.01 < len(typed) / len(at_kiosk) < 0.1
    assert poster.id in {r.station_id for r in rows}
