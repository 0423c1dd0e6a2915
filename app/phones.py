"""Mainland mobile numbers: the one place that reads, checks, masks and searches them.

Every phone a person types or a roster holds goes through :func:`normalize_phone`, which reads it
with libphonenumber's rules (the ``phonenumbers`` package), so full-width or other Unicode digits,
spaces, dashes, brackets and a +86 / 0086 prefix all give the same 11 ASCII digits — the one form
every phone column stores. A regex with ``\\d`` would let ``13８00138000`` through as typed.
"""

from __future__ import annotations

import functools

import phonenumbers
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from phonenumbers import NumberParseException, PhoneNumberType

# Longer than anything a person types for one number (+86 138 0013 8000 is 16 characters);
# libphonenumber would otherwise read a page of text looking for one.
_MAX_INPUT = 40
_MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)

NOT_A_NUMBER = _l("手机号格式不对，请填写 11 位手机号。")
LANDLINE = _l("这是固定电话号码，请填写 11 位手机号，方便接收短信。")


def _parse(raw: str | None) -> phonenumbers.PhoneNumber | None:
    """The number in ``raw`` as libphonenumber reads it for mainland China, or None."""
    if raw is None:
        return None
    text = str(raw).strip()
    if text.endswith(".0"):  # Excel turns a number column into floats
        text = text[:-2]
    # Letters are junk here (libphonenumber would read "1-800-FLOWERS" as digits).
    if not text or len(text) > _MAX_INPUT or any(ch.isalpha() for ch in text):
        return None
    try:
        number = phonenumbers.parse(text, "CN")
    except NumberParseException:
        return None
    if number.country_code != 86 or number.extension:
        return None
    return number


@functools.lru_cache(maxsize=4096)
def normalize_phone(raw: str | None) -> str | None:
    """The 11 ASCII digits of a mainland mobile number, or None when ``raw`` is not one.

    Accepts any Unicode digits (full-width ``１３８…``), spaces, dashes, brackets and a +86 / 0086 /
    86 prefix, as people type and rosters contain them; a landline or anything else is None.
    Kept per input (a submission reads its phone four times: the rate limit's key, the form, the
    service, the plan — libphonenumber takes ~0.15 ms a reading; issue 14)."""
    number = _parse(raw)
    if number is None or not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        return None
    digits = str(number.national_number)
    return digits if len(digits) == 11 else None


def phone_refusal(raw: str | None) -> str:
    """Why ``raw`` is not accepted as a mobile number, in words for the person who typed it."""
    number = _parse(raw)
    if number is not None and phonenumbers.is_valid_number(number) and phonenumbers.number_type(
        number
    ) in (PhoneNumberType.FIXED_LINE, PhoneNumberType.VOIP, PhoneNumberType.TOLL_FREE):
        return str(LANDLINE)
    return str(NOT_A_NUMBER)


def mask_phone(phone: str | None) -> str:
    """138****5678: the first three and last four digits of a mainland mobile number."""
    if not phone:
        return ""
    if len(phone) != 11:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


def last_four(raw: str | None) -> str | None:
    """The four ASCII digits of ``raw`` when it is exactly four digits (any script), else None."""
    text = "".join((raw or "").split())
    if len(text) != 4 or not text.isdecimal():
        return None
    return phonenumbers.normalize_digits_only(text)


def phone_match(column: sa.ColumnElement[str], raw: str) -> sa.ColumnElement[bool] | None:
    """Search by phone without leaking it: the whole number (as typed, in any form
    :func:`normalize_phone` reads), or its last four digits (which the masked number shows anyway).
    Anything else matches nothing (None) — matching part of a number would let a few searches
    rebuild the hidden middle without the audited reveal."""
    number = normalize_phone(raw)
    if number is not None:
        return column == number
    tail = last_four(raw)
    if tail is not None:
        return column.endswith(tail, autoescape=True)
    return None
