"""Mainland mobile numbers: the one place that reads and masks them."""

from __future__ import annotations

import re

import sqlalchemy as sa

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_STRIP = re.compile(r"[\s\-()（）]")


def normalize_phone(raw: str | None) -> str | None:
    """Return the 11-digit number, or None when ``raw`` is not a mainland mobile number.

    Accepts spaces, dashes and a +86 / 0086 prefix, as people type and rosters contain them.
    """
    if raw is None:
        return None
    s = _STRIP.sub("", str(raw)).strip()
    if s.endswith(".0"):  # Excel turns a number column into floats
        s = s[:-2]
    for prefix in ("+86", "0086", "86"):
        if s.startswith(prefix) and len(s) == 11 + len(prefix):
            s = s[len(prefix) :]
            break
    return s if _MOBILE.match(s) else None


def mask_phone(phone: str | None) -> str:
    """138****5678: the first three and last four digits of a mainland mobile number."""
    if not phone:
        return ""
    if len(phone) != 11:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


def phone_match(column: sa.ColumnElement[str], digits: str) -> sa.ColumnElement[bool] | None:
    """Search by phone without leaking it: the whole number, or its last four digits (which the
    masked number shows anyway). Any other run of digits matches nothing — matching part of a
    number would let a few searches rebuild the hidden middle without the audited reveal."""
    if len(digits) == 11:
        return column == digits
    if len(digits) == 4:
        return column.endswith(digits, autoescape=True)
    return None
