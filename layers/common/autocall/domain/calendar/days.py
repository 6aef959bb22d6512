"""Day arithmetic in the callee's own calendar: the next weekday, a named weekday or month day
ahead, business days later. Pure: every function takes the day (or moment) it counts from."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LEAP_CYCLE_YEARS = 8  # 29 February comes back within eight years (2096 -> 2104 skips one)


def callee_local_time(moment: datetime, time_zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(time_zone))


def is_weekday(day: date) -> bool:
    return day.weekday() < 5


def weekdays_later(day: date, count: int) -> date:
    """The ``count``-th weekday after ``day``."""
    left = count
    while left:
        day += timedelta(days=1)
        left -= is_weekday(day)
    return day


def next_weekday_at(now: datetime, time_zone: str, hour: int = 10, after: date | None = None) -> datetime:
    """The next weekday after today (or after ``after``) at ``hour``:00 in ``time_zone``."""
    zone = ZoneInfo(time_zone)
    day = weekdays_later(after or now.astimezone(zone).date(), 1)
    return datetime.combine(day, time(hour, 0), tzinfo=zone)


def named_weekday(today: date, weekday: int, this: bool = False) -> date:
    """'Tuesday' said on ``today``: the next one, today only when ``this`` ('this Tuesday')."""
    ahead = (weekday - today.weekday()) % 7
    return today + timedelta(days=ahead if ahead or this else 7)


def next_month_day(today: date, month: int, day: int) -> date | None:
    """'March 10' said on ``today``: the first such date after today (29 February: the next leap
    year's); None when the month has no such day."""
    for year in range(today.year, today.year + LEAP_CYCLE_YEARS + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate > today:
            return candidate
    return None


def next_day_of_month(today: date, day: int, months: int = 3) -> date | None:
    """'the 15th' said on ``today``: that day of this month, or of one of the next ``months`` - 1
    months, whichever comes first from today on; None when none has such a day."""
    for months_ahead in range(months):
        year, month = divmod(today.month - 1 + months_ahead, 12)
        try:
            candidate = date(today.year + year, month + 1, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    return None


def start_of_next_week(today: date) -> date:
    """'next week': its Monday."""
    return today + timedelta(days=7 - today.weekday())
