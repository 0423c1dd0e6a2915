"""What an attacker tries (issue 12): each test failed before its fix."""

from __future__ import annotations

import time_machine

from app.extensions import db
from app.models import Need
from app.services import entry_tokens
from tests.factories import login, make_admin, make_need, make_need_world, make_tree


def test_an_admin_signed_out_for_idleness_is_not_signed_back_in_by_the_remember_cookie(app, client):
    tree = make_tree()
    admin = make_admin(tree.district)
    with time_machine.travel("2026-03-01 09:00 +0800", tick=False) as traveller:
        login(client, admin, remember=True)
        remember = client.get_cookie("dy_remember").value
        assert client.get("/structure/").status_code == 200
        traveller.shift(60 * 31)
        assert client.get("/structure/").status_code == 302  # signed out for idleness
        assert client.get_cookie("dy_remember") is None  # the browser is told to drop it
        assert client.get("/structure/").status_code == 302
        # A copy of the remember cookie taken before is worthless too (the token was rotated).
        thief = app.test_client()
        thief.set_cookie("dy_remember", remember)
        assert thief.get("/structure/").status_code == 302


def test_an_id_beyond_the_database_integer_is_not_found_not_a_server_error(client):
    tree = make_tree()
    login(client, make_admin(tree.district))
    for url in ("/structure/members/99999999999999999999", "/needs/2147483648",
                "/structure/members/9223372036854775808"):
        assert client.get(url).status_code == 404, url


def test_a_huge_id_in_a_query_string_is_a_bad_request(client):
    response = client.get("/needs/new?station=99999999999999999999")
    assert response.status_code in (200, 400)  # ignored or refused, never 500
    assert "服务器出错" not in response.get_data(as_text=True)


def test_a_nul_byte_is_refused_before_it_reaches_the_database(client):
    w = make_need_world()
    token = entry_tokens.current_token(w.household).token
    db.session.commit()
    response = client.post(f"/c/{token}", data={"category": "repair", "text": "灯坏了\x00", "consent": "y"})
    assert response.status_code == 400
    assert db.session.query(Need).count() == 0
    assert client.post("/track", data={"code": "\x00", "phone": "13911112222"}).status_code == 400
    assert client.get("/t/abc%00def").status_code == 400


def test_anonymous_token_pages_are_never_cached(client):
    w = make_need_world()
    need = make_need(w.household)
    card = entry_tokens.current_token(w.household).token
    db.session.commit()
    for url in (f"/c/{card}", f"/t/{need.token}"):
        response = client.get(url)
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store", url


def _peak_growth_mb(path: str) -> float:
    """Process the photo at ``path`` in a fresh interpreter; how far its peak memory rose (MB)."""
    import subprocess
    import sys

    code = (
        "import re\n"
        "from app.services import photos\n"
        "def kb(field):\n"
        "    return int(re.search(field + r':\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
        "before = kb('VmRSS')\n"
        f"photos.process(open({path!r}, 'rb'))\n"
        "print((kb('VmHWM') - before) / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def test_a_48_megapixel_jpeg_is_decoded_within_a_worker_s_memory(tmp_path):
    from PIL import Image

    path = tmp_path / "big.jpg"
    Image.new("RGB", (8000, 6000), (120, 130, 140)).save(path, quality=60)
    # Decoded whole it would take 144 MB for the pixels alone; at draft scale it takes a few MB.
    assert _peak_growth_mb(str(path)) < 60


def test_a_huge_png_is_refused_before_it_is_decoded():
    import io

    import pytest
    from PIL import Image

    from app.services import photos

    buffer = io.BytesIO()
    Image.new("L", (6000, 5000)).save(buffer, format="PNG")  # 30 MP, small file
    buffer.seek(0)
    with pytest.raises(photos.PhotoError, match="2400"):
        photos.process(buffer)


def test_the_fellow_picker_shows_no_member_outside_the_community_by_id(client):
    from tests.factories import make_world, user_of

    w = make_world()
    login(client, user_of(w.member))
    outsider = w.other_member  # another township
    page = client.get(f"/activities/pick/members?fellows={outsider.id}&fellows={w.fellow.id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert outsider.name not in text and w.fellow.name in text


def test_a_percent_sign_in_the_household_picker_matches_itself_not_everything(client):
    from tests.factories import make_world, user_of

    w = make_world()
    login(client, user_of(w.member))
    everyone = client.get("/activities/pick/residents?resident_q=%25").get_data(as_text=True)
    assert w.r1.head_name not in everyone and w.r2.head_name not in everyone
    one = client.get("/activities/pick/residents?resident_q=赵").get_data(as_text=True)
    assert w.r1.head_name in one and w.r2.head_name not in one


def test_adding_a_station_admin_does_not_sign_that_person_out(app, client):
    from tests.factories import make_personas

    p = make_personas()
    district = app.test_client()
    login(district, p.district_admin)
    login(client, p.community_admin)
    phone = p.district_admin.phone
    assert client.post(f"/stations/{p.station.id}/admins", data={"phone": phone}).status_code == 303
    assert district.get("/structure/").status_code == 200  # still signed in


def test_a_check_in_link_from_a_logged_out_scan_works_only_in_the_browser_that_scanned(app, client):
    from app.models import Checkin
    from app.services import checkin_tokens
    from tests.factories import make_member, make_personas

    p = make_personas()
    token = checkin_tokens.kiosk_token(p.station.id)
    scan = client.get(f"/k/{token}")
    assert scan.status_code == 303
    resume = scan.headers["Location"].split("next=")[1]
    from urllib.parse import unquote

    resume = unquote(resume)
    # Forwarded to someone else: they log in and open the link — nobody is checked in.
    other = make_member(p.tree.grid, name="转发党员")
    stranger = app.test_client()
    login(stranger, other.user)
    assert stranger.get(resume).status_code == 410
    # The member who scanned logs in in the same browser and is checked in, once.
    login(client, p.member.user)
    assert client.get(resume).status_code == 200
    assert client.get(resume).status_code == 410
    assert db.session.query(Checkin).count() == 1


def test_manual_check_in_search_cannot_rebuild_a_masked_number(client):
    from tests.factories import make_personas

    p = make_personas()
    login(client, p.station_admin)
    phone = p.member.phone
    # Four digits match the end only (what the mask shows), so the hidden middle finds nobody.
    middle = client.get(f"/stations/{p.station.id}/manual?q={phone[3:7]}").get_data(as_text=True)
    assert p.member.name not in middle
    for q in (phone[:7], phone[2:9], phone[-6:]):  # any other part of a number is refused
        response = client.get(f"/stations/{p.station.id}/manual?q={q}")
        assert response.status_code == 422 and p.member.name not in response.get_data(as_text=True), q


def test_no_redirect_leaves_the_site_whatever_next_holds(app, client):
    from tests.factories import make_user

    user = make_user()
    from urllib.parse import quote

    # As the server reads them: a tab or newline (browsers drop both inside a URL), a second slash,
    # a scheme, a backslash (read as a slash by some browsers).
    hostile = ["/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "//evil.example",
               "https://evil.example/", "/\\evil.example", "http:/evil.example", "/\x7f/evil.example"]
    for value in hostile:
        response = client.post("/login", data={"phone": user.phone, "password": "correct-horse-9", "next": value})
        assert response.status_code == 303 and response.headers["Location"] == "/", value
        for switch in ("/lang/en", "/display/large"):
            answer = client.post(switch, data={"next": value})
            assert answer.status_code == 303 and answer.headers["Location"] == "/", (switch, value)
        logged_in = client.get(f"/login?next={quote(value, safe='')}")
        assert logged_in.status_code in (200, 303)
        assert "evil.example" not in logged_in.headers.get("Location", ""), value
    ok = client.post("/display/normal", data={"next": "/needs/new?station=3"})
    assert ok.headers["Location"] == "/needs/new?station=3"


def test_the_member_list_search_cannot_rebuild_a_masked_number(client):
    from tests.factories import make_personas

    p = make_personas()
    login(client, p.district_admin)
    phone = p.member.phone
    for q in (phone[:7], phone[3:7], phone[2:9], phone[-6:]):
        page = client.get("/structure/members", query_string={"q": q}).get_data(as_text=True)
        assert p.member.name not in page, q
    for q in (phone, phone[-4:]):  # the whole number, or the last four the mask shows
        assert p.member.name in client.get("/structure/members", query_string={"q": q}).get_data(as_text=True), q
