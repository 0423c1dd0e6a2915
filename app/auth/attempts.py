"""Login attempts against an account, counted so that a burst cannot get past the limit.

Flask-Limiter's ``deduct_when`` checks a limit when the request arrives and counts it when the
answer is known — a read, then a write, with the password check between them: 24 attempts sent at
once all read a count of 4 before the first of them was written, and 7 or 8 passwords were
checked against a limit of 5. Here the read, the password check and the write happen while the
account is held (a Redis lock in the storage every worker shares; a thread lock with the in-memory
storage, which is one process's), so attempts on one account are checked one after the other and
the sixth sees five. Only failures count, as before: a member is never refused for having logged in.

The limit per address across accounts stays a ``deduct_when`` limit on the view (it must not make
a room of members behind one address wait for each other); under a burst it may let a few more
attempts through, which the two limits here still bound for every account.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

from flask import current_app
from limits import parse

from app.extensions import limiter
from app.phones import normalize_phone

PER_CLIENT = "LOGIN_LIMIT_PER_CLIENT_ACCOUNT"
PER_ACCOUNT = "LOGIN_LIMIT_PER_ACCOUNT"
# How long one attempt may hold its account (a worker killed while holding it frees it then), and
# how long a concurrent attempt waits for it before it is refused like one over the limit.
HOLD_SECONDS = 10
WAIT_SECONDS = 10

T = TypeVar("T")
_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


class Refused(Exception):  # noqa: N818 — the login view's answer, not an error
    """Over a limit; ``bound`` says which (the account-wide one is told to the account's owner)."""

    def __init__(self, bound: str) -> None:
        super().__init__(bound)
        self.bound = bound


def _prefix() -> str:
    return current_app.config.get("RATELIMIT_KEY_PREFIX") or "dy"


def _keys(phone: str | None, client: str) -> dict[str, tuple[str, str]]:
    account = "login-account:" + (normalize_phone(phone) or "invalid")
    return {PER_CLIENT: (_prefix(), f"{account}:{client}"), PER_ACCOUNT: (_prefix(), account)}


@contextlib.contextmanager
def _holding(phone: str | None) -> Iterator[None]:
    name = f"{_prefix()}/login-lock/{normalize_phone(phone) or 'invalid'}"
    storage = limiter.storage
    if hasattr(storage, "get_connection"):  # Redis (plain, sentinel or cluster)
        lock = storage.get_connection().lock(name, timeout=HOLD_SECONDS, blocking_timeout=WAIT_SECONDS)
        if not lock.acquire():
            raise Refused(PER_CLIENT)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # expired meanwhile: nothing to release
                lock.release()
        return
    with _local_guard:
        local = _local_locks.setdefault(name, threading.Lock())
    if not local.acquire(timeout=WAIT_SECONDS):
        raise Refused(PER_CLIENT)
    try:
        yield
    finally:
        local.release()


def attempt(phone: str | None, client: str, check: Callable[[], T | None]) -> T | None:
    """Run ``check`` (the password check) unless the account is over a limit — raise
    :class:`Refused` then; a failed check (None) is counted against both limits."""
    if not limiter.enabled:
        return check()
    keys = _keys(phone, client)
    items = {setting: parse(current_app.config[setting]) for setting in keys}
    with _holding(phone):
        for setting, key in keys.items():
            if not limiter.limiter.test(items[setting], *key):
                raise Refused(setting)
        result = check()
        if result is None:
            for setting, key in keys.items():
                limiter.limiter.hit(items[setting], *key)
    return result
