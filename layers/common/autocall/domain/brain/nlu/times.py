"""The moment a callee named ("Tuesday at 2 pm", "tomorrow morning", "in 20 minutes", "the 15th"),
resolved in the callee's zone. Understanding the words is here; the day arithmetic is the
calendar's (``calendar.days``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from autocall.domain.brain.nlu.intents import normalize
from autocall.domain.calendar.days import (
    named_weekday,
    next_day_of_month,
    next_month_day,
    start_of_next_week,
)


@dataclass(frozen=True)
class TimeMention:
    """A moment the callee named, resolved in their zone."""

    at: datetime  # tz-aware, in the callee's zone
    exact: bool  # a clock time was said ("at 2 pm"), not only a day or a part of the day
    text: str  # the words it came from


_WEEKDAY = r"(monday|tuesday|tues|wednesday|thursday|thurs|friday|saturday|sunday)"
_MONTH = (
    r"(january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr"
    r"|jun|jul|aug|sept|sep|oct|nov|dec)"
)
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
_HOUR = r"(\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")"
_DAY_RX = re.compile(
    rf"\b(day after tomorrow|today|tonight|tomorrow|next week|(next |this )?{_WEEKDAY}|{_MONTH}\.? \d{{1,2}}"
    r"(st|nd|rd|th)?|the \d{1,2}(st|nd|rd|th))\b"
)
_NOT_A_TIME = r"(?! (minutes?|hours?|days?|weeks?|months?|years?|people|percent|point|of|more|time|thing)\b)"
_CLOCK_RX = re.compile(
    rf"\b(?:(?:at|around|about|by|after) )?(?P<h1>{_HOUR[1:-1]})(?::(?P<m1>\d{{2}}))? ?"
    r"(?P<s1>a\.?m\.?|p\.?m\.?|o'?clock)(?!\w)"
    rf"|\b(?:at|around|about|by|after) (?P<h2>{_HOUR[1:-1]})(?::(?P<m2>\d{{2}}))?\b{_NOT_A_TIME}"
    r"|\b(?P<h3>\d{1,2}):(?P<m3>\d{2})\b|\b(?P<noon>noon|midday)\b"
)
_PART_RX = re.compile(r"\b(morning|afternoon|evening|tonight|lunch ?time|end of (the )?day)\b")
_RELATIVE_RX = re.compile(r"\bin (an?|\d+|" + "|".join(_NUMBER_WORDS) + r") (minutes?|hours?)\b")
_PART_HOURS = {"morning": 10, "afternoon": 14, "evening": 18, "tonight": 19, "lunch": 12, "end": 16}


def _in_so_long(match: re.Match[str], local_now: datetime) -> datetime | None:
    """'in 20 minutes', 'in an hour': on the callee's local clock (the wall time that far ahead);
    None for a moment past the calendar's end."""
    amount, unit = match.group(1), match.group(2)
    count = 1 if amount in ("a", "an") else _hour_of(amount)
    try:
        delta = timedelta(hours=count) if unit.startswith("hour") else timedelta(minutes=count)
        return local_now.replace(tzinfo=None) + delta
    except OverflowError:
        return None


def _hour_of(token: str) -> int:
    return _NUMBER_WORDS.get(token) or int(token)


def _clock(t: str) -> tuple[int, int] | None:
    m = _CLOCK_RX.search(t)
    if not m:
        return None
    if m.group("noon"):
        return 12, 0
    if m.group("h1"):
        hour, minute, suffix = (
            _hour_of(m.group("h1")),
            int(m.group("m1") or 0),
            m.group("s1").replace(".", ""),
        )
        if suffix.startswith("p") and hour < 12:
            hour += 12
        elif suffix.startswith("a") and hour == 12:
            hour = 0
        elif suffix.startswith("o") and 1 <= hour <= 7:
            hour += 12
        return (hour, minute) if hour < 24 and minute < 60 else None
    hour_txt, minute_txt = (m.group("h2"), m.group("m2")) if m.group("h2") else (m.group("h3"), m.group("m3"))
    hour, minute = _hour_of(hour_txt), int(minute_txt or 0)
    if 1 <= hour <= 7:  # "Tuesday at 3": nobody books 3 in the morning
        hour += 12
    return (hour, minute) if hour < 24 and minute < 60 else None


def _day(day_text: str, local_now: datetime) -> date | None:
    """The day a day expression names (future preferred), counted from the callee's today; None
    when it names no real date ("February 30")."""
    today = local_now.date()
    if day_text in ("today", "tonight"):
        return today
    if day_text == "next week":
        return start_of_next_week(today)
    ordinal = re.fullmatch(r"the (\d{1,2})(st|nd|rd|th)", day_text)
    if ordinal:
        return next_day_of_month(today, int(ordinal.group(1)))
    expression = re.sub(r"\bthurs\b", "thursday", re.sub(r"\btues\b", "tuesday", day_text))
    return _calendar_day(expression, today)


_WEEKDAY_NUMBER = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
                   "sunday": 6}  # fmt: skip
_MONTH_NUMBER = {name: number for number, names in enumerate(
    [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
     ("july", "jul"), ("august", "aug"), ("september", "sept", "sep"), ("october", "oct"),
     ("november", "nov"), ("december", "dec")], start=1) for name in names}  # fmt: skip
_NAMED_DAY_RX = re.compile(
    rf"(?P<rel>day after tomorrow|tomorrow)|(?:(?P<this>this )|next )?(?P<weekday>{_WEEKDAY})"
    rf"|(?P<month>{_MONTH})\.? (?P<dom>\d{{1,2}})(?:st|nd|rd|th)?"
)


def _calendar_day(expression: str, today: date) -> date | None:
    """The day a plain expression names: "tomorrow", "(this|next) tuesday", "march 10th"."""
    m = _NAMED_DAY_RX.fullmatch(expression)
    if m is None:
        return None
    if m.group("rel"):
        return today + timedelta(days=2 if m.group("rel") == "day after tomorrow" else 1)
    if m.group("weekday"):
        return named_weekday(today, _WEEKDAY_NUMBER[m.group("weekday")], this=bool(m.group("this")))
    return next_month_day(today, _MONTH_NUMBER[m.group("month")], int(m.group("dom")))


def parse_time(text: str, now: datetime, time_zone: str) -> TimeMention | None:
    """The moment named in ``text``, resolved relative to ``now`` in ``time_zone``; None if none."""
    t = re.sub(r"\bgood (morning|afternoon|evening)\b", "", normalize(text))
    day_m, clock, part_m, rel_m = _DAY_RX.search(t), _clock(t), _PART_RX.search(t), _RELATIVE_RX.search(t)
    if not (day_m or clock or rel_m or (part_m and re.search(r"\b(this|in the|tomorrow)\b", t))):
        return None
    zone = ZoneInfo(time_zone)
    local_now = now.astimezone(zone)
    if rel_m and not day_m:
        parsed = _in_so_long(rel_m, local_now)
        if parsed is None:
            return None
        return TimeMention(parsed.replace(tzinfo=zone), True, rel_m.group(0))
    day_text = day_m.group(0) if day_m else ""
    day = _day(day_text, local_now) if day_m else local_now.date()
    if day is None:
        return None
    if clock:
        hour, minute = clock
    elif part_m:
        hour, minute = _PART_HOURS[part_m.group(1).split()[0].replace("lunchtime", "lunch")], 0
    else:
        hour, minute = (19 if day_text == "tonight" else 10), 0
    at = datetime.combine(day, time(hour, minute), tzinfo=zone)
    if at <= local_now and not day_m:
        at += timedelta(days=1)  # "at 3" said after three means tomorrow
    elif at <= local_now and day_m and re.search(_WEEKDAY, day_text):
        at += timedelta(days=7)
    words = " ".join(dict.fromkeys(m.group(0) for m in (day_m, _CLOCK_RX.search(t), part_m) if m))
    return TimeMention(at, clock is not None, words)
