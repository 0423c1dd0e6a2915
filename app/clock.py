"""Time as the district lives it: Asia/Shanghai days, months and periods.

Timestamps are stored in UTC; what a person calls "today", "this month" or "this quarter" is
computed here and nowhere else.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_now() -> datetime:
    """Now on the wall clock in Shanghai (aware)."""
    return datetime.now(TZ)


def local_minute() -> datetime:
    """Now on the wall clock in Shanghai to the minute, naive: what a datetime-local input shows."""
    return local_now().replace(second=0, microsecond=0, tzinfo=None)


def local_day(at: datetime) -> date:
    """The Shanghai date of an instant."""
    return at.astimezone(TZ).date()


def local_today(now: datetime | None = None) -> date:
    """Today's date in Shanghai (of ``now`` when given)."""
    return local_day(now or utcnow())


def local_naive(at: datetime) -> datetime:
    """An instant as a naive Shanghai wall-clock time (form inputs, spreadsheets)."""
    return at.astimezone(TZ).replace(tzinfo=None)


def day_start(day: date) -> datetime:
    """The instant a Shanghai day starts."""
    return datetime.combine(day, time.min, TZ)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The instants a Shanghai day starts and ends: [start, end)."""
    start = day_start(day)
    return start, start + timedelta(days=1)


def days_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00, last+1 00:00) in Shanghai, as UTC: a period with both ends included."""
    return day_start(first).astimezone(UTC), day_start(last + timedelta(days=1)).astimezone(UTC)


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """The first and last day of a month."""
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return first, following - timedelta(days=1)


def parse_month(raw: str | None, today: date) -> tuple[int, int]:
    """``YYYY-MM`` as (year, month); this month when it is missing or not a month."""
    try:
        year, month = (int(p) for p in (raw or "").split("-"))
        date(year, month, 1)
    except ValueError:
        return today.year, today.month
    return year, month


def period_start(today: date, months: int) -> date:
    """First day of the period of ``months`` containing ``today`` (periods tile the calendar year:
    3 is a quarter)."""
    first_month = ((today.month - 1) // months) * months + 1
    return date(today.year, first_month, 1)
