"""Calling windows in the callee's own time zone: weekends, public holidays of the callee's
country, daylight-saving changes, and the next opening when a window is closed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from autocall.domain.calendar.windows import (
    CallingWindow,
    NoCallingWindow,
    is_open,
    next_opening,
    open_stretch,
    same_clock,
)
from autocall.domain.phones import country_of, time_zones_of

NINE_TO_EIGHT = CallingWindow.from_config({"start": "09:00", "end": "20:00"})
WEEKDAYS = CallingWindow.from_config({"start": "09:00", "end": "20:00", "exclude_weekends": True})
WORKING_DAYS = CallingWindow.from_config(
    {"start": "09:00", "end": "20:00", "exclude_weekends": True, "exclude_holidays": True}
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "zone", "expected"),
    [
        (utc(2026, 11, 25, 14, 0), "America/New_York", True),  # 09:00 in New York
        (utc(2026, 11, 25, 13, 59), "America/New_York", False),  # 08:59
        (utc(2026, 11, 26, 0, 59), "America/New_York", True),  # 19:59
        (utc(2026, 11, 26, 1, 0), "America/New_York", False),  # 20:00: the end is exclusive
        (utc(2026, 11, 25, 14, 0), "America/Los_Angeles", False),  # 06:00 in Los Angeles
        (utc(2026, 11, 25, 14, 0), "Asia/Tokyo", False),  # 23:00 in Tokyo
    ],
)
def test_window_is_read_in_the_callee_time_zone(moment, zone, expected):
    assert is_open(moment, zone, NINE_TO_EIGHT) is expected


def test_closed_window_opens_at_nine_local_the_same_or_next_day():
    assert next_opening(utc(2026, 11, 25, 12, 0), "America/New_York", NINE_TO_EIGHT) == utc(
        2026, 11, 25, 14, 0
    )
    assert next_opening(utc(2026, 11, 26, 2, 0), "America/New_York", NINE_TO_EIGHT) == utc(
        2026, 11, 26, 14, 0
    )
    open_now = utc(2026, 11, 25, 15, 30)
    assert next_opening(open_now, "America/New_York", NINE_TO_EIGHT) == open_now


def test_weekend_is_skipped_to_monday_morning():
    friday_evening = utc(2026, 11, 28, 1, 30)  # Friday 20:30 in New York
    assert next_opening(friday_evening, "America/New_York", NINE_TO_EIGHT) == utc(2026, 11, 28, 14, 0)
    assert next_opening(friday_evening, "America/New_York", WEEKDAYS) == utc(2026, 11, 30, 14, 0)
    assert not is_open(utc(2026, 11, 28, 15, 0), "America/New_York", WEEKDAYS)  # Saturday 10:00


def test_holiday_of_the_callee_country_comes_from_the_phone_number():
    us, uk = "+12125550142", "+442079460018"
    assert (country_of(us), time_zones_of(us)) == ("US", ("America/New_York",))
    assert country_of(uk) == "GB"
    thanksgiving_morning = utc(2026, 11, 26, 15, 0)  # Thursday 10:00 in New York
    assert is_open(thanksgiving_morning, "America/New_York", WORKING_DAYS, country_of(uk))
    assert not is_open(thanksgiving_morning, "America/New_York", WORKING_DAYS, country_of(us))
    assert next_opening(thanksgiving_morning, "America/New_York", WORKING_DAYS, "US") == utc(
        2026, 11, 27, 14, 0
    )


def test_christmas_and_boxing_day_in_london_then_the_weekend():
    christmas_eve_evening = utc(2026, 12, 24, 20, 30)  # Thursday 20:30 in London
    # Christmas on Friday, then the weekend, then Boxing Day observed on Monday the 28th
    opening = next_opening(christmas_eve_evening, "Europe/London", WORKING_DAYS, "GB")
    assert opening == utc(2026, 12, 29, 9, 0)


def test_daylight_saving_moves_the_window_in_utc():
    # New York is UTC-4 in summer, UTC-5 in winter: 09:00 local is 13:00 then 14:00 UTC
    assert next_opening(utc(2026, 10, 30, 3, 0), "America/New_York", NINE_TO_EIGHT) == utc(
        2026, 10, 30, 13, 0
    )
    assert next_opening(utc(2026, 11, 2, 3, 0), "America/New_York", NINE_TO_EIGHT) == utc(2026, 11, 2, 14, 0)


AUSTRALIAN_MOBILE = time_zones_of("+61412345678")


def test_a_number_in_several_zones_is_open_only_when_every_zone_is():
    assert len(AUSTRALIAN_MOBILE) == 8 and AUSTRALIAN_MOBILE[0] == "Australia/Adelaide"
    adelaide_morning = utc(2026, 11, 25, 23, 0)  # 09:30 in Adelaide, 07:00 in Perth, 05:30 on Cocos
    assert is_open(adelaide_morning, "Australia/Adelaide", NINE_TO_EIGHT)
    assert not is_open(adelaide_morning, AUSTRALIAN_MOBILE, NINE_TO_EIGHT)
    # open from 09:00 on Cocos (the last to open) until 20:00 on Lord Howe (the first to close)
    assert open_stretch(adelaide_morning, AUSTRALIAN_MOBILE, NINE_TO_EIGHT) == (
        utc(2026, 11, 26, 2, 30),
        utc(2026, 11, 26, 9, 0),
    )
    assert next_opening(utc(2026, 11, 26, 5, 0), AUSTRALIAN_MOBILE, NINE_TO_EIGHT) == utc(2026, 11, 26, 5, 0)


def test_zones_that_never_share_an_open_moment_say_so():
    with pytest.raises(NoCallingWindow):
        next_opening(utc(2026, 11, 25, 12, 0), ("America/New_York", "Asia/Shanghai"), NINE_TO_EIGHT)
    toll_free = time_zones_of("+18005550100")  # every North American zone, Guam to Pago Pago
    assert next_opening(utc(2026, 11, 25, 12, 0), toll_free, NINE_TO_EIGHT) == utc(2026, 11, 25, 23, 0)
    with pytest.raises(NoCallingWindow):  # in summer the zones share no open moment before November
        next_opening(utc(2026, 7, 1, 12, 0), toll_free, NINE_TO_EIGHT, horizon=utc(2026, 10, 1))


def test_another_name_of_a_zone_keeps_the_same_clock():
    since = utc(2026, 11, 25, 12, 0)
    assert same_clock("Asia/Kolkata", "Asia/Calcutta", since)
    assert same_clock("US/Eastern", "America/New_York", since)
    assert not same_clock("Europe/London", "Africa/Abidjan", since)  # the same in winter only


def test_a_conversation_says_times_in_the_stored_zone_without_parsing_the_number(monkeypatch):
    from autocall.domain import contacts
    from autocall.stores.tables import ContactRow

    def parsed(phone: str) -> tuple[str, ...]:
        raise AssertionError("a turn must not load phonenumbers")

    monkeypatch.setattr(contacts, "time_zones_of", parsed)
    picked = ContactRow(phone="+18005550100", time_zone="America/New_York", time_zone_given=False)
    assert contacts.callee_time_zone(picked) == "America/New_York"
    monkeypatch.undo()
    assert len(contacts.callee_time_zones(picked)) == 42  # the window still holds in every zone
    assert contacts.spoken_zone("+61412345678") == "Australia/Sydney"  # not Adelaide, the first
