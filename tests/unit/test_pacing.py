"""The fan-out's dial grid: each call takes the first free slot inside its callee's window, never
two calls in one slot, and a grid rebuilt from its saved runs hands out the same times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from autocall.domain.calendar.slots import SlotGrid
from autocall.domain.calendar.windows import CallingWindow, next_opening

START = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)  # 08:00 in New York, 05:00 in Los Angeles
WINDOW = CallingWindow.from_config({"start": "09:00", "end": "20:00"})


def opening(zone: str, horizon: datetime = START + timedelta(days=90)):
    def ask(moment: datetime) -> datetime | None:
        opened = next_opening(moment, zone, WINDOW)
        return opened if opened <= horizon else None

    return ask


def always_open(moment: datetime) -> datetime:
    return moment


def test_slots_follow_each_other_at_the_spacing():
    grid = SlotGrid(START, timedelta(seconds=1))
    times = [grid.take(always_open) for _ in range(4)]
    assert times == [START + timedelta(seconds=n) for n in range(4)]
    assert grid.taken == [[0, 4]]


def test_a_closed_window_moves_the_call_to_the_first_free_slot_after_it_opens():
    grid = SlotGrid(START, timedelta(minutes=15))
    new_york = [grid.take(opening("America/New_York")) for _ in range(3)]
    los_angeles = grid.take(opening("America/Los_Angeles"))
    early = grid.take(always_open)
    assert new_york == [START + timedelta(hours=1, minutes=15 * n) for n in range(3)]
    assert los_angeles == START + timedelta(hours=4)  # 09:00 in Los Angeles
    assert early == START  # the slot nobody in a closed window could use


def test_no_two_calls_share_a_slot_when_windows_open_together():
    grid = SlotGrid(START, timedelta(seconds=1))
    zones = ["America/New_York", "America/Chicago", "Europe/London", "America/New_York"] * 50
    times = [grid.take(opening(zone)) for zone in zones]
    assert None not in times
    assert len(set(times)) == len(times)
    for zone, moment in zip(zones, times, strict=True):
        assert next_opening(moment, zone, WINDOW) == moment  # inside the callee's window


def test_a_grid_rebuilt_from_its_saved_runs_continues_identically():
    zones = ["America/Denver", "Pacific/Honolulu", "America/New_York", "Asia/Tokyo"] * 10
    whole = SlotGrid(START, timedelta(seconds=30))
    expected = [whole.take(opening(zone)) for zone in zones]
    first = SlotGrid(START, timedelta(seconds=30))
    head = [first.take(opening(zone)) for zone in zones[:17]]
    resumed = SlotGrid(START, timedelta(seconds=30), [list(run) for run in first.taken], first.first)
    assert head + [resumed.take(opening(zone)) for zone in zones[17:]] == expected


def test_slots_before_first_are_never_handed_out():
    grid = SlotGrid(START, timedelta(seconds=10), first=6)
    assert grid.take(always_open) == START + timedelta(seconds=60)
    grid.forget_before(20)
    assert grid.taken == [] and grid.take(always_open) == START + timedelta(seconds=200)


def test_no_opening_within_the_horizon_means_no_slot():
    grid = SlotGrid(START, timedelta(seconds=1))
    assert grid.take(opening("America/New_York", horizon=START + timedelta(minutes=30))) is None
    assert grid.taken == []


def test_reserve_takes_the_slot_of_a_call_already_due():
    grid = SlotGrid(START, timedelta(seconds=10))
    assert grid.reserve(START + timedelta(seconds=20)) is True
    assert grid.reserve(START + timedelta(seconds=20)) is False
    assert [grid.take(always_open) for _ in range(3)] == [START + timedelta(seconds=s) for s in (0, 10, 30)]
