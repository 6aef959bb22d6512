"""The booking policy: which meeting slots and callback times may be booked, which slot to offer
next, and the outcome a booking gives the call. The date arithmetic is the calendar's; the rules
(weekdays 08:00-18:00 callee time, within 90 days, offers at 10:00 and 14:00) are here."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from autocall.domain.calendar.days import next_weekday_at
from autocall.models.enums import CallPurpose, Outcome

BOOKING_DAY_START = time(8, 0)
BOOKING_DAY_END = time(18, 0)
BOOKING_HORIZON = timedelta(days=90)
OFFER_HOURS = (10, 14)  # the playbook's offers: the next weekday at 10:00, then 14:00, then the day after
BOOKING_OUTCOME = {
    CallPurpose.SALES_OUTREACH: Outcome.DEMO_SCHEDULED,
    CallPurpose.APPOINTMENT_BOOKING: Outcome.APPOINTMENT_CONFIRMED,
}


def slot_problem(start: datetime, duration_minutes: int, now: datetime, time_zone: str) -> str | None:
    """Why a meeting slot cannot be booked, or None when it can (weekday, 08:00-18:00 local, future)."""
    if start.tzinfo is None:
        return "no time zone"
    local = start.astimezone(ZoneInfo(time_zone))
    end = local + timedelta(minutes=duration_minutes)
    if start <= now:
        return "in the past"
    if start - now > BOOKING_HORIZON:
        return "too far ahead"
    if local.weekday() >= 5:
        return "on a weekend"
    if local.time() < BOOKING_DAY_START or end.time() > BOOKING_DAY_END or end.date() != local.date():
        return "outside business hours"
    return None


def callback_problem(at: datetime, now: datetime) -> str | None:
    """Why a callback time cannot be scheduled, or None when it can (future, within 90 days)."""
    if at.tzinfo is None:
        return "no time zone"
    if at <= now:
        return "in the past"
    if at - now > BOOKING_HORIZON:
        return "too far ahead"
    return None


def offered_slot(now: datetime, time_zone: str, proposals: int) -> datetime:
    """The slot to offer after ``proposals`` earlier offers: the next weekday at 10:00, then 14:00,
    then the weekday after at 10:00, and so on."""
    days_later, second = divmod(proposals, 2)
    start = next_weekday_at(now, time_zone, hour=OFFER_HOURS[second])
    for _ in range(days_later):
        start = next_weekday_at(now, time_zone, hour=start.hour, after=start.date())
    return start


def nearest_slot(at: datetime, now: datetime, time_zone: str, duration: int) -> datetime:
    """A bookable start close to what the callee asked for (same hour if possible, 10:00-16:00)."""
    local = at.astimezone(ZoneInfo(time_zone))
    hour = min(max(local.hour, 10), 16)
    candidate = local.replace(
        hour=hour, minute=local.minute if hour == local.hour else 0, second=0, microsecond=0
    )
    for _ in range(14):
        if slot_problem(candidate, duration, now, time_zone) is None:
            return candidate
        candidate = next_weekday_at(now, time_zone, hour=hour, after=candidate.date())
    return next_weekday_at(now, time_zone)
