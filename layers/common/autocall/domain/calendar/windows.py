"""Calling windows: when a callee may lawfully be called, in the callee's own time zone.

A number often cannot say which zone its callee is in (+1 800 reaches every North American zone; a
Russian or Australian mobile, several). The window then has to hold in every zone the callee can be
in: every function here takes the zones (one name, or several) and is open only where all of them
are. Fail-closed: when no moment is open in all of them, ``next_opening`` says so instead of
guessing a zone."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from autocall.config import get_settings
from autocall.domain.calendar.days import callee_local_time

if TYPE_CHECKING:
    from autocall.models.api import CallingWindowRequest

Zones = str | Iterable[str]  # one IANA name, or every zone the callee can be in
SEARCH_DAYS = 370  # how far ahead an opening is looked for before the window counts as never open


class NoCallingWindow(ValueError):
    """No moment within the horizon is inside the window in every one of the callee's zones."""

    def __init__(self, zones: tuple[str, ...], until: datetime) -> None:
        super().__init__(
            f"the calling window is not open in all of {', '.join(zones)} at any moment before "
            f"{until:%Y-%m-%d}"
        )
        self.zones = zones


@dataclass(frozen=True)
class CallingWindow:
    start: time
    end: time
    exclude_weekends: bool = False
    exclude_holidays: bool = False

    @classmethod
    def from_request(cls, window: CallingWindowRequest) -> CallingWindow:
        """The window a campaign's request asks for (the API model has checked its ``HH:MM``)."""
        return cls(
            start=time.fromisoformat(window.start),
            end=time.fromisoformat(window.end),
            exclude_weekends=window.exclude_weekends,
            exclude_holidays=window.exclude_holidays,
        )

    def stored(self) -> dict[str, Any]:
        """As a campaign keeps it, and ``from_config`` reads it back."""
        return {
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
            "exclude_weekends": self.exclude_weekends,
            "exclude_holidays": self.exclude_holidays,
        }

    @classmethod
    def from_config(cls, window: dict[str, Any] | None = None) -> CallingWindow:
        """A stored window (a campaign's), the settings' hours filling what it leaves out."""
        settings = get_settings()
        window = window or {}
        return cls(
            start=time.fromisoformat(window.get("start") or settings.calling_window_start),
            end=time.fromisoformat(window.get("end") or settings.calling_window_end),
            exclude_weekends=bool(window.get("exclude_weekends", False)),
            exclude_holidays=bool(window.get("exclude_holidays", False)),
        )


def zone_names(zones: Zones) -> tuple[str, ...]:
    """``zones`` as a tuple of names, duplicates dropped, order kept."""
    names = (zones,) if isinstance(zones, str) else tuple(zones)
    if not names:
        raise ValueError("a calling window needs at least one time zone")
    return tuple(dict.fromkeys(names))


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


def _open_in(moment: datetime, zone: str, window: CallingWindow, country: str | None) -> bool:
    local = callee_local_time(moment, zone)
    return _day_allowed(local.date(), window, country) and window.start <= local.time() < window.end


def is_open(moment: datetime, zones: Zones, window: CallingWindow, country: str | None = None) -> bool:
    """The window is open at ``moment`` in every one of ``zones``."""
    return all(_open_in(moment, zone, window, country) for zone in zone_names(zones))


def _stretches(
    moment: datetime, zone: str, window: CallingWindow, country: str | None
) -> Iterator[tuple[datetime, datetime]]:
    """The zone's open stretches [opens, closes) that end after ``moment``, in order."""
    tz = ZoneInfo(zone)
    day = moment.astimezone(tz).date()
    for _ in range(SEARCH_DAYS + 2):
        if _day_allowed(day, window, country):
            closes = datetime.combine(day, window.end, tzinfo=tz)
            if closes > moment:
                yield datetime.combine(day, window.start, tzinfo=tz), closes
        day += timedelta(days=1)


def open_stretch(
    moment: datetime,
    zones: Zones,
    window: CallingWindow,
    country: str | None = None,
    horizon: datetime | None = None,
) -> tuple[datetime, datetime]:
    """The first stretch at or after ``moment`` in which the window is open in every zone:
    (when it opens — ``moment`` itself when open now —, when the first of the zones closes).

    ``NoCallingWindow`` when none opens before ``horizon`` (default: a year ahead)."""
    names = zone_names(zones)
    limit = horizon or moment + timedelta(days=SEARCH_DAYS)
    streams = [_stretches(moment, zone, window, country) for zone in names]
    current = [next(stream, None) for stream in streams]
    while all(stretch is not None for stretch in current):
        stretches = [s for s in current if s is not None]
        opens = max([moment, *(s[0] for s in stretches)])
        closes = min(s[1] for s in stretches)
        if opens > limit:
            break
        if opens < closes:
            return opens.astimezone(moment.tzinfo), closes.astimezone(moment.tzinfo)
        # a zone closed before the others opened: its next stretch, the others keep theirs
        current = [
            next(streams[i], None) if s is not None and s[1] <= opens else s for i, s in enumerate(current)
        ]
    raise NoCallingWindow(names, limit)


def next_opening(
    moment: datetime,
    zones: Zones,
    window: CallingWindow,
    country: str | None = None,
    horizon: datetime | None = None,
) -> datetime:
    """``moment`` itself when the window is open in every zone, else the next time it is (tz-aware)."""
    return open_stretch(moment, zones, window, country, horizon)[0]


def fit_into_window(
    wanted: datetime, zones: Zones, window: CallingWindow, country: str | None = None
) -> datetime:
    """A requested time moved forward into the window when it falls outside it (in any zone)."""
    return next_opening(wanted, zones, window, country)


def same_clock(zone: str, other: str, since: datetime, days: int = 400) -> bool:
    """The two zones keep the same time from ``since`` for ``days`` (an alias such as Asia/Calcutta
    and Asia/Kolkata, or America/Detroit and America/New_York): checked daily at noon UTC."""
    if zone == other:
        return True
    first, second = ZoneInfo(zone), ZoneInfo(other)
    start = since.replace(hour=12, minute=0, second=0, microsecond=0)
    return all(
        (start + timedelta(days=n)).astimezone(first).utcoffset()
        == (start + timedelta(days=n)).astimezone(second).utcoffset()
        for n in range(days)
    )
