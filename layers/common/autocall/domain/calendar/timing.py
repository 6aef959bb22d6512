"""When things happen after a call: retries, reminders, callbacks, follow-up calls; all inside the
callee's calling window, in the callee's time zone. Pure functions of their arguments."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from autocall.domain.calendar.days import weekdays_later
from autocall.domain.calendar.windows import CallingWindow, Zones, fit_into_window

RETRY_BACKOFF = (timedelta(hours=2), timedelta(days=1), timedelta(days=2))
REMINDER_LEADS = (("24h", timedelta(hours=24)), ("1h", timedelta(hours=1)))
SCHEDULE_MARGIN = timedelta(minutes=2)  # EventBridge Scheduler's at() fires within a minute
NEGOTIATION_DELAY_DAYS = 2
FOLLOW_UP_HOUR = time(10, 0)


def retry_delay(attempts_made: int) -> timedelta:
    """2 h after the first attempt, a day after the second, two days after any later one."""
    return RETRY_BACKOFF[min(max(attempts_made, 1), len(RETRY_BACKOFF)) - 1]


def next_attempt_at(
    finished: datetime, attempts_made: int, zones: Zones, window: CallingWindow, country: str | None = None
) -> datetime:
    """After the backoff, at the first moment the window is open in every one of ``zones``."""
    return fit_into_window(finished + retry_delay(attempts_made), zones, window, country)


def reminder_times(start: datetime, moment: datetime) -> list[tuple[str, datetime]]:
    """The reminders still ahead of ``moment``: 24 h and 1 h before ``start``."""
    return [(name, start - lead) for name, lead in REMINDER_LEADS if start - lead > moment + SCHEDULE_MARGIN]


def callback_time(
    requested: datetime, moment: datetime, zones: Zones, window: CallingWindow, country: str | None = None
) -> datetime:
    """The callee's requested time, not in the past, moved forward into the calling window (open
    in every one of ``zones``)."""
    return fit_into_window(max(requested, moment + SCHEDULE_MARGIN), zones, window, country)


def business_days_later(
    moment: datetime,
    days: int,
    at: time,
    time_zone: str,
    window: CallingWindow,
    country: str | None = None,
    zones: Zones | None = None,
) -> datetime:
    """``days`` weekdays after ``moment`` at local time ``at`` (in ``time_zone``), inside the window
    (open in every one of ``zones``, by default ``time_zone`` alone)."""
    zone = ZoneInfo(time_zone)
    day = weekdays_later(moment.astimezone(zone).date(), days)
    wanted = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
    return fit_into_window(wanted, zones or time_zone, window, country)
