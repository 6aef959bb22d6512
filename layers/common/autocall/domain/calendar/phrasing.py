"""How a moment is put into words for the callee: one wording for what the agent says and what the
messages after the call write, in the callee's own clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


def _clock(local: datetime) -> str:
    """'4 PM', '2:30 PM'."""
    hour12 = local.hour % 12 or 12
    clock = f"{hour12}:{local.minute:02d}" if local.minute else f"{hour12}"
    return clock + (" PM" if local.hour >= 12 else " AM")


def spoken_time(at: datetime, time_zone: str, now: datetime | None = None, with_zone: bool = False) -> str:
    """'tomorrow, Thursday at 4 PM', 'Tuesday, March 10 at 2:30 PM' - in the callee's zone. With
    ``now`` a day close to it is said as 'today' / 'tomorrow'; ``with_zone`` adds the zone's
    abbreviation ('... at 2 PM PST') for a reader elsewhere (messages after the call)."""
    local = at.astimezone(ZoneInfo(time_zone))
    clock = _clock(local)
    if with_zone:
        clock += f" {local.tzname()}"
    if now is not None:
        today = now.astimezone(ZoneInfo(time_zone)).date()
        if local.date() == today:
            return f"today at {clock}"
        if local.date() == today + timedelta(days=1):
            return f"tomorrow, {local:%A} at {clock}"
    return f"{local:%A}, {local:%B} {local.day} at {clock}"


def spoken_label(prefix: str, moment: datetime, time_zone: str) -> str:
    """'demo_scheduled_tuesday_2pm' / '..._2_30pm': the moment in the callee's own clock."""
    local = moment.astimezone(ZoneInfo(time_zone))
    hour = local.hour % 12 or 12
    minutes = f"_{local.minute:02d}" if local.minute else ""
    return f"{prefix}_{local.strftime('%A').lower()}_{hour}{minutes}{'am' if local.hour < 12 else 'pm'}"
