"""Calling windows: when a callee may lawfully be called, in the callee's own time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from autocall.config import get_settings


@dataclass(frozen=True)
class CallingWindow:
    start: time
    end: time
    exclude_weekends: bool = False
    exclude_holidays: bool = False

    @classmethod
    def from_config(cls, window: dict[str, Any] | None = None) -> CallingWindow:
        settings = get_settings()
        window = window or {}
        return cls(
            start=time.fromisoformat(window.get("start") or settings.calling_window_start),
            end=time.fromisoformat(window.get("end") or settings.calling_window_end),
            exclude_weekends=bool(window.get("exclude_weekends", False)),
            exclude_holidays=bool(window.get("exclude_holidays", False)),
        )


@lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> frozenset[date]:
    import holidays

    try:
        return frozenset(holidays.country_holidays(country, years=year).keys())
    except NotImplementedError:
        return frozenset()


def _day_allowed(day: date, window: CallingWindow, country: str | None) -> bool:
    if window.exclude_weekends and day.weekday() >= 5:
        return False
    return not (window.exclude_holidays and country and day in _holidays(country, day.year))


def callee_local_time(moment: datetime, time_zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(time_zone))


def is_open(moment: datetime, time_zone: str, window: CallingWindow, country: str | None = None) -> bool:
    local = callee_local_time(moment, time_zone)
    return _day_allowed(local.date(), window, country) and window.start <= local.time() < window.end


def next_opening(
    moment: datetime, time_zone: str, window: CallingWindow, country: str | None = None
) -> datetime:
    """``moment`` itself when the window is open, else the next time it opens (tz-aware UTC)."""
    if is_open(moment, time_zone, window, country):
        return moment
    zone = ZoneInfo(time_zone)
    local = moment.astimezone(zone)
    day = local.date()
    for _ in range(370):
        if _day_allowed(day, window, country):
            opening = datetime.combine(day, window.start, tzinfo=zone)
            if opening >= moment:
                return opening.astimezone(moment.tzinfo)
        day += timedelta(days=1)
    raise ValueError("no calling day within a year")


def fit_into_window(
    wanted: datetime, time_zone: str, window: CallingWindow, country: str | None = None
) -> datetime:
    """A requested time moved forward into the window when it falls outside it."""
    return next_opening(wanted, time_zone, window, country)
