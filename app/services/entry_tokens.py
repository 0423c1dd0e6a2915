"""Tokens behind the QR codes on contact cards (/c/<token>) and door plaques (/p/<token>).

A token only lets a resident *submit* a need to that household. 16 random bytes (128 bits) in
base64url make 22 characters, so the URL stays short and the QR small.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from app.clock import utcnow
from app.extensions import db, read_core
from app.models import (
    CentralHousehold,
    EntryKind,
    EntryToken,
    Member,
    MemberStatus,
    ResidentHousehold,
    User,
)
from app.settings import public_base_url

PATHS = {EntryKind.CARD: "/c/", EntryKind.PLAQUE: "/p/"}


def new_token() -> str:
    return secrets.token_urlsafe(16)


def _target(obj: ResidentHousehold | CentralHousehold) -> tuple[EntryKind, dict[str, int]]:
    if isinstance(obj, ResidentHousehold):
        return EntryKind.CARD, {"resident_household_id": obj.id}
    return EntryKind.PLAQUE, {"central_household_id": obj.id}


def live_token(obj: ResidentHousehold | CentralHousehold) -> EntryToken | None:
    """The household's live token, if it has one."""
    _kind, target = _target(obj)
    column = getattr(EntryToken, next(iter(target)))
    return db.session.scalar(sa.select(EntryToken).where(column == obj.id, EntryToken.revoked_at.is_(None)))


def current_token(obj: ResidentHousehold | CentralHousehold) -> EntryToken:
    """The household's live token, created on first use (added to the session, not committed)."""
    found = live_token(obj)
    if found is None:
        kind, target = _target(obj)
        found = EntryToken(token=new_token(), kind=kind, **target)
        db.session.add(found)
        db.session.flush()
    return found


def reissue(obj: ResidentHousehold | CentralHousehold) -> EntryToken:
    """Revoke the household's token (a lost or misused card) and issue a new one."""
    kind, target = _target(obj)
    column = getattr(EntryToken, next(iter(target)))
    db.session.execute(
        sa.update(EntryToken)
        .where(column == obj.id, EntryToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    token = EntryToken(token=new_token(), kind=kind, **target)
    db.session.add(token)
    db.session.flush()
    return token


def resolve(kind: EntryKind, token: str) -> EntryToken | None:
    """The live token for a scanned code, or None (unknown, malformed, revoked)."""
    if not token or len(token) > 32:
        return None
    return db.session.scalar(
        sa.select(EntryToken).where(
            EntryToken.token == token, EntryToken.kind == kind, EntryToken.revoked_at.is_(None)
        )
    )


def public_url(path: str) -> str:
    """An absolute URL for a QR code: PUBLIC_BASE_URL when configured, else this request's host."""
    return public_base_url() + path


def entry_url(token: EntryToken) -> str:
    return public_url(PATHS[token.kind] + token.token)


def current_card_tokens(households: list[ResidentHousehold]) -> dict[int, EntryToken]:
    """Live card tokens for many households in one query (a member prints all their cards);
    those without one get one (added to the session, not committed)."""
    ids = [h.id for h in households]
    found = {
        t.resident_household_id: t
        for t in db.session.scalars(
            sa.select(EntryToken).where(
                EntryToken.resident_household_id.in_(ids), EntryToken.revoked_at.is_(None)
            )
        )
    }
    for household_id in ids:
        if household_id not in found:
            token = EntryToken(token=new_token(), kind=EntryKind.CARD, resident_household_id=household_id)
            db.session.add(token)
            found[household_id] = token
    return found


def _live(kind: EntryKind, token: str) -> sa.ColumnElement[bool]:
    return sa.and_(EntryToken.token == token, EntryToken.kind == kind, EntryToken.revoked_at.is_(None))


@dataclass(frozen=True)
class Entry:
    """What a card's or plaque's form page shows, read in one Core query (no ORM objects): the
    household behind the live code, whether it has a phone on record (a card), and the name of the
    member the need goes to (the covering member while active; the plaque household's head)."""

    household_id: int
    phone_on_record: bool
    member_name: str | None


def _live_token(kind: EntryKind) -> sa.ColumnElement[bool]:
    return sa.and_(EntryToken.token == sa.bindparam("token"), EntryToken.kind == kind,
                   EntryToken.revoked_at.is_(None))


# Built once: a statement built per request costs more than running it (issue 14).
_CARD_ENTRY = (
    sa.select(ResidentHousehold.id, ResidentHousehold.phone.is_not(None), Member.status, User.name)
    .join(EntryToken, EntryToken.resident_household_id == ResidentHousehold.id)
    .outerjoin(Member, Member.id == ResidentHousehold.covering_member_id)
    .outerjoin(User, User.id == Member.user_id)
    .where(_live_token(EntryKind.CARD))
)
_PLAQUE_ENTRY = (
    sa.select(CentralHousehold.id, User.name)
    .join(EntryToken, EntryToken.central_household_id == CentralHousehold.id)
    .join(Member, Member.id == CentralHousehold.head_member_id)
    .join(User, User.id == Member.user_id)
    .where(_live_token(EntryKind.PLAQUE))
)


def card_entry(token: str) -> Entry | None:
    """The contact card behind a live code: one query, the token's unique index joined to the
    household, its covering member and their name."""
    if not token or len(token) > 32:
        return None
    row = read_core(_CARD_ENTRY, {"token": token}).first()
    if row is None:
        return None
    household_id, on_record, status, name = row
    return Entry(household_id, bool(on_record), name if status is MemberStatus.ACTIVE else None)


def plaque_entry(token: str) -> Entry | None:
    """The door plaque behind a live code: one query, its central household and the head's name."""
    if not token or len(token) > 32:
        return None
    row = read_core(_PLAQUE_ENTRY, {"token": token}).first()
    return Entry(row[0], False, row[1]) if row is not None else None


def plaque_household(token: str) -> CentralHousehold | None:
    """The central household behind a door plaque's live code (one query, its head joined)."""
    if not token or len(token) > 32:
        return None
    return db.session.scalar(
        sa.select(CentralHousehold)
        .join(EntryToken, EntryToken.central_household_id == CentralHousehold.id)
        .where(_live(EntryKind.PLAQUE, token)))


def _covered(member_id: int) -> list[ResidentHousehold]:
    return list(db.session.scalars(
        sa.select(ResidentHousehold).where(ResidentHousehold.covering_member_id == member_id)
        .order_by(ResidentHousehold.building, ResidentHousehold.unit, ResidentHousehold.room)
    ))


def member_cards(member_id: int) -> list[tuple[ResidentHousehold, EntryToken | None]]:
    """Every household a member covers, by address, with its card's live token (None: not yet
    issued). Two queries however many households."""
    households = _covered(member_id)
    ids = [h.id for h in households]
    live = {t.resident_household_id: t for t in db.session.scalars(
        sa.select(EntryToken).where(EntryToken.resident_household_id.in_(ids), EntryToken.revoked_at.is_(None)))}
    return [(h, live.get(h.id)) for h in households]


def issue_cards(member_id: int) -> None:
    """Issue a card token to each household the member covers that has none (added, not committed)."""
    current_card_tokens(_covered(member_id))
