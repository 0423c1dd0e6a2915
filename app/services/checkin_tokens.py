"""The tokens in station QR codes: rotating kiosk tokens (/k/<token>) and poster tokens (/s/<token>).

A kiosk token is 18 bytes in base64url — 24 characters, no padding:

    station id (4 bytes) · time step (4 bytes, unix time // 30 s) · HMAC-SHA256 truncated to 10 bytes

The MAC key is derived from SECRET_KEY (HMAC(SECRET_KEY, "kiosk-v1")), so rotating the secret
voids every kiosk code and the key is not reused for anything else. 80 bits of MAC is far more than
an attacker can guess online within a 90-second window; a full 32-byte MAC would push the URL to
QR version 6. The step is in the token (not just tried) so that an old but genuine code can be
told apart from a forged one: "expired, scan again" versus "not a valid code".

The six-digit code under the kiosk's QR (typed when a phone cannot scan) is made like a TOTP code
(RFC 6238's dynamic truncation) from the same station and time step, under a key derived from the
kiosk key: it rotates with the QR and is good for the same 60–90 s. Six digits can be guessed
where 80 bits cannot, so typing is rate-limited and locked after wrong codes
(``app/services/checkin_codes.py``).

A poster token is 16 random bytes (22 characters) kept in ``poster_tokens``; regenerating it
revokes the old one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
import time
import unicodedata
from dataclasses import dataclass

import sqlalchemy as sa

from app.extensions import db
from app.models import PosterToken, Station, utcnow
from app.services.entry_tokens import public_url
from app.settings import setting

STEP_SECONDS = 30
GRACE_STEPS = 2  # the current step and the two before it: a code is good for 60–90 s
MAC_BYTES = 10
TOKEN_BYTES = 8 + MAC_BYTES
TOKEN_CHARS = 24  # 18 bytes in base64url
CODE_DIGITS = 6
# How far back a typed code is still recognised, to say "expired" rather than "wrong" (10 min).
CODE_EXPIRED_STEPS = 20
KIOSK_PATH = "/k/"
POSTER_PATH = "/s/"


class TokenInvalid(Exception):
    """Forged, altered, truncated or not a token at all."""


class TokenExpired(Exception):
    """A genuine kiosk token whose time window has passed."""

    def __init__(self, station_id: int) -> None:
        super().__init__(station_id)
        self.station_id = station_id


@dataclass(frozen=True)
class KioskToken:
    station_id: int
    step: int


def _key() -> bytes:
    secret = setting("SECRET_KEY")
    secret_bytes = secret.encode() if isinstance(secret, str) else bytes(secret)
    return hmac.new(secret_bytes, b"kiosk-v1", hashlib.sha256).digest()


def _mac(station_id: int, step: int) -> bytes:
    return hmac.new(_key(), struct.pack(">II", station_id, step), hashlib.sha256).digest()[:MAC_BYTES]


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP_SECONDS)


def seconds_left(now: float | None = None) -> int:
    """Seconds until the code on the screen changes."""
    t = time.time() if now is None else now
    return STEP_SECONDS - int(t % STEP_SECONDS)


def kiosk_token(station_id: int, step: int | None = None) -> str:
    step = current_step() if step is None else step
    raw = struct.pack(">II", station_id, step) + _mac(station_id, step)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def verify_kiosk_token(token: str, now: float | None = None) -> KioskToken:
    """The station and step of a genuine, current token; raise TokenInvalid / TokenExpired."""
    if not isinstance(token, str) or len(token) != TOKEN_CHARS:
        raise TokenInvalid(token)
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError) as e:
        raise TokenInvalid(token) from e
    if len(raw) != TOKEN_BYTES:
        raise TokenInvalid(token)
    station_id, step = struct.unpack(">II", raw[:8])
    if not hmac.compare_digest(raw[8:], _mac(station_id, step)):
        raise TokenInvalid(token)
    now_step = current_step(now)
    if step > now_step:  # the server never issues a code from the future
        raise TokenInvalid(token)
    if step < now_step - GRACE_STEPS:
        raise TokenExpired(station_id)
    return KioskToken(station_id, step)


# The typed code ------------------------------------------------------------------------------


def _code_key() -> bytes:
    return hmac.new(_key(), b"typed-code-v1", hashlib.sha256).digest()


def kiosk_code(station_id: int, step: int | None = None) -> str:
    """The six digits the kiosk shows under its QR for ``step`` (now when not given)."""
    step = current_step() if step is None else step
    digest = hmac.new(_code_key(), struct.pack(">II", station_id, step), hashlib.sha256).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 10**CODE_DIGITS:0{CODE_DIGITS}d}"


def normalize_code(raw: str | None) -> str | None:
    """Six ASCII digits from what was typed (full-width digits, spaces and dashes allowed), or None."""
    text = unicodedata.normalize("NFKC", raw or "")
    text = "".join(ch for ch in text if ch not in " -\t")
    if len(text) != CODE_DIGITS or not all("0" <= ch <= "9" for ch in text):
        return None
    return text


def verify_kiosk_code(station_id: int, code: str, now: float | None = None) -> int:
    """The step of the station's current code ``code`` matches; raise TokenExpired when it matches
    a code of the last ten minutes, TokenInvalid otherwise. ``code`` is normalised already."""
    now_step = current_step(now)
    for step in range(now_step, now_step - GRACE_STEPS - 1, -1):
        if hmac.compare_digest(kiosk_code(station_id, step), code):
            return step
    for step in range(now_step - GRACE_STEPS - 1, now_step - CODE_EXPIRED_STEPS - 1, -1):
        if hmac.compare_digest(kiosk_code(station_id, step), code):
            raise TokenExpired(station_id)
    raise TokenInvalid(code)


# Poster tokens ---------------------------------------------------------------------------------


def live_poster_token(station: Station) -> PosterToken | None:
    """The station's current poster token, without creating one."""
    return db.session.scalar(
        sa.select(PosterToken).where(PosterToken.station_id == station.id, PosterToken.revoked_at.is_(None))
    )


def poster_token(station: Station) -> PosterToken:
    """The station's live poster token, created on first use (flushed, not committed)."""
    found = live_poster_token(station)
    if found is None:
        found = PosterToken(station_id=station.id, token=secrets.token_urlsafe(16))
        db.session.add(found)
        db.session.flush()
    return found


def regenerate_poster_token(station: Station) -> PosterToken:
    """Revoke the station's poster token (a poster that leaked) and issue a new one."""
    db.session.execute(
        sa.update(PosterToken)
        .where(PosterToken.station_id == station.id, PosterToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    token = PosterToken(station_id=station.id, token=secrets.token_urlsafe(16))
    db.session.add(token)
    db.session.flush()
    return token


def resolve_poster_token(token: str) -> Station | None:
    """The active station of a live poster token, or None (unknown, malformed, revoked)."""
    if not token or len(token) > 32:
        return None
    return db.session.scalar(
        sa.select(Station)
        .join(PosterToken, PosterToken.station_id == Station.id)
        .where(PosterToken.token == token, PosterToken.revoked_at.is_(None), Station.active)
    )


def kiosk_url(station_id: int) -> str:
    """The URL the kiosk's code holds right now."""
    return public_url(KIOSK_PATH + kiosk_token(station_id))


def poster_url(token: PosterToken) -> str:
    """The URL printed on the station's poster."""
    return public_url(POSTER_PATH + token.token)
