"""Password hashing with argon2id (argon2-cffi), parameters from the app config."""

from __future__ import annotations

import contextlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.settings import setting

MIN_LENGTH = 8


def _hasher() -> PasswordHasher:
    cfg = {k: setting(k) for k in ("ARGON2_TIME_COST", "ARGON2_MEMORY_KIB", "ARGON2_PARALLELISM")}
    return PasswordHasher(
        time_cost=cfg["ARGON2_TIME_COST"],
        memory_cost=cfg["ARGON2_MEMORY_KIB"],
        parallelism=cfg["ARGON2_PARALLELISM"],
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Check ``password``; with no stored hash, still spend the time a check takes so that a
    missing account cannot be told apart by timing."""
    hasher = _hasher()
    if not stored:
        with contextlib.suppress(VerificationError, InvalidHashError):
            hasher.verify(_dummy_hash(), password + "\x00")
        return False
    try:
        return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher().check_needs_rehash(stored)


_DUMMY: dict[tuple, str] = {}


def _dummy_hash() -> str:
    cfg = {k: setting(k) for k in ("ARGON2_TIME_COST", "ARGON2_MEMORY_KIB", "ARGON2_PARALLELISM")}
    key = (cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_KIB"], cfg["ARGON2_PARALLELISM"])
    if key not in _DUMMY:
        _DUMMY[key] = _hasher().hash("not-a-password")
    return _DUMMY[key]
