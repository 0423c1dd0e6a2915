"""Kiosk and poster tokens: the time window, forgeries, and QR codes that decode to their URL."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
import zxingcpp
from PIL import Image, ImageDraw

from app.extensions import db
from app.models import PosterToken
from app.services import checkin_tokens as tokens
from app.services import qr
from tests.factories import login, make_member, make_station, make_station_admin, make_tree

LONGEST_HOST = "https://dyzxh.yixiu.gov.cn"
# The start of a 30-second step, so "+29 s" stays inside it.
T0 = datetime(2025, 3, 1, 1, 0, 0, tzinfo=UTC)


def decode_png(data: bytes) -> str:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(data)))
    assert len(found) == 1
    return found[0].text


def rasterise_svg(svg: str, scale: int = 8) -> Image.Image:
    """Draw the unit squares of a qrcode SvgPathImage (``Mx,yHx+1Vy+1Hxz``) onto a bitmap."""
    size = int(re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).group(1))
    image = Image.new("L", (size * scale, size * scale), 255)
    draw = ImageDraw.Draw(image)
    squares = re.findall(r"M(\d+),(\d+)H", svg)
    assert squares
    for x, y in squares:
        x0, y0 = int(x) * scale, int(y) * scale
        draw.rectangle([x0, y0, x0 + scale - 1, y0 + scale - 1], fill=0)
    return image


def decode_svg(svg: str) -> str:
    found = zxingcpp.read_barcodes(rasterise_svg(svg))
    assert len(found) == 1
    return found[0].text


@pytest.fixture
def app_config() -> dict:
    return {"PUBLIC_BASE_URL": LONGEST_HOST}


def test_kiosk_token_is_24_characters_of_base64url(app):
    token = tokens.kiosk_token(1)
    assert len(token) == tokens.TOKEN_CHARS == 24
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", token)


def test_kiosk_url_fits_qr_version_5_at_level_m_with_the_longest_host(app):
    from app.services.checkin_tokens import kiosk_url

    url = kiosk_url(2**31 - 1)  # ids are fixed-width: every station's URL has this length
    assert url.startswith(LONGEST_HOST + "/k/")
    assert len(url) == len(LONGEST_HOST) + 3 + 24
    version = qr.version(url, "M")
    assert version <= 5
    assert version == 4  # 33×33 modules: 53 bytes fit version 4-M (62)


def test_token_is_accepted_through_the_last_allowed_step(app):
    with time_machine.travel(T0, tick=False):
        token = tokens.kiosk_token(7)
    for seconds in (0, 29, 30, 59, 60, 89):
        with time_machine.travel(T0 + timedelta(seconds=seconds), tick=False):
            assert tokens.verify_kiosk_token(token).station_id == 7


def test_token_is_refused_one_step_past_its_window(app):
    with time_machine.travel(T0, tick=False):
        token = tokens.kiosk_token(7)
    with time_machine.travel(T0 + timedelta(seconds=90), tick=False), pytest.raises(tokens.TokenExpired) as e:
        tokens.verify_kiosk_token(token)
    assert e.value.station_id == 7


def test_token_from_the_future_is_refused(app):
    with time_machine.travel(T0 + timedelta(seconds=30), tick=False):
        token = tokens.kiosk_token(7)
    with time_machine.travel(T0, tick=False), pytest.raises(tokens.TokenInvalid):
        tokens.verify_kiosk_token(token)


def _flip(token: str, index: int) -> str:
    c = token[index]
    return token[:index] + ("A" if c != "A" else "B") + token[index + 1 :]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: _flip(t, 23),  # MAC altered
        lambda t: _flip(t, 12),  # step altered
        lambda t: t[:-1],  # truncated
        lambda t: t[:-4],
        lambda t: t + "A",
        lambda t: "",
        lambda t: "=" * 24,
        lambda t: "签" * 24,
        lambda t: t[:20] + "!!!!",
    ],
)
def test_forged_or_truncated_tokens_are_refused(app, mangle):
    token = tokens.kiosk_token(7)
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify_kiosk_token(mangle(token))


def test_token_moved_to_another_station_is_refused(app):
    import base64

    raw = bytearray(base64.urlsafe_b64decode(tokens.kiosk_token(7)))
    raw[3] = 8  # station 7 → 8, same step, same MAC
    moved = base64.urlsafe_b64encode(bytes(raw)).decode()
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify_kiosk_token(moved)


def test_a_new_secret_key_voids_every_kiosk_token(app):
    token = tokens.kiosk_token(7)
    app.config["SECRET_KEY"] = "another-secret"
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify_kiosk_token(token)


def test_poster_token_regenerated_revokes_the_old_one(app):
    tree = make_tree()
    station = make_station(tree.community)
    old = tokens.poster_token(station).token
    db.session.commit()
    assert tokens.poster_token(station).token == old
    assert tokens.resolve_poster_token(old).id == station.id
    new = tokens.regenerate_poster_token(station).token
    db.session.commit()
    assert tokens.resolve_poster_token(old) is None
    assert tokens.resolve_poster_token(new).id == station.id
    assert tokens.resolve_poster_token("x" * 200) is None


def test_every_kiosk_qr_image_decodes_to_exactly_the_current_url(app, client):
    tree = make_tree()
    station = make_station(tree.community)
    admin = make_station_admin(station)
    with time_machine.travel(T0, tick=False):
        login(client, admin)  # inside the travel: a session signed "in the future" is refused
        url = f"{LONGEST_HOST}/k/{tokens.kiosk_token(station.id)}"
        png = client.get(f"/stations/{station.id}/kiosk/qr.png")
        svg = client.get(f"/stations/{station.id}/kiosk/qr.svg")
        page = client.get(f"/stations/{station.id}/kiosk").get_data(as_text=True)
    assert png.headers["Cache-Control"] == "no-store" and png.mimetype == "image/png"
    assert decode_png(png.data) == url
    assert svg.mimetype == "image/svg+xml"
    assert decode_svg(svg.get_data(as_text=True)) == url
    inline = page.split('id="kiosk-qr">', 1)[1].split("</svg>", 1)[0] + "</svg>"
    assert decode_svg(inline) == url


@pytest.mark.parametrize("ec", ["Q", "H"])
@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_every_poster_qr_image_decodes_to_exactly_its_url_and_is_cacheable(app, client, ec, fmt):
    tree = make_tree()
    station = make_station(tree.community)
    admin = make_station_admin(station)
    login(client, admin)
    page = client.get(f"/stations/{station.id}/poster")
    assert page.status_code == 200
    token = db.session.query(PosterToken).one()  # created by the first visit
    url = f"{LONGEST_HOST}/s/{token.token}"
    # Without the version the endpoint redirects to the versioned (immutable) URL.
    response = client.get(f"/stations/{station.id}/poster/qr-{ec}.{fmt}")
    assert response.status_code == 302 and f"v={token.id}" in response.headers["Location"]
    response = client.get(f"/stations/{station.id}/poster/qr-{ec}.{fmt}?v={token.id}")
    assert response.status_code == 200
    assert "max-age" in response.headers["Cache-Control"] and response.headers["ETag"]
    text = decode_png(response.data) if fmt == "png" else decode_svg(response.get_data(as_text=True))
    assert text == url
    again = client.get(f"/stations/{station.id}/poster/qr-{ec}.{fmt}?v={token.id}",
                       headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    # The poster page's inline SVG (level Q) holds the same URL.
    html = page.get_data(as_text=True)
    inline = html.split('class="poster-qr">', 1)[1].split("</svg>", 1)[0] + "</svg>"
    assert decode_svg(inline) == url


def test_qr_levels_differ_for_screen_and_print(app):
    url = f"{LONGEST_HOST}/s/" + "x" * 22
    assert qr.build(url, "H").version >= qr.build(url, "M").version
    assert decode_png(qr.png(url, "H")) == url


def test_unknown_qr_format_or_level_is_404(app, client):
    tree = make_tree()
    station = make_station(tree.community)
    login(client, make_station_admin(station))
    assert client.get(f"/stations/{station.id}/kiosk/qr.gif").status_code == 404
    assert client.get(f"/stations/{station.id}/poster/qr-L.png").status_code == 404


def test_member_with_kiosk_url_cannot_fetch_the_kiosk_qr(app, client):
    tree = make_tree()
    station = make_station(tree.community)
    login(client, make_member(tree.grid).user)
    assert client.get(f"/stations/{station.id}/kiosk/qr.png").status_code == 403
