"""Dial pacing across concurrent Lambda invocations: calls per second and concurrent calls per
account, kept with atomic DynamoDB counters. Over a limit, the caller is told how long to wait.

Concurrency is one counter row whose ``holders`` map names the calls holding a slot: taking a slot
and releasing it are conditional on the call's own entry, so a repeated delivery never takes two
slots and a repeated release never frees two. A slot whose call never reported its end (a lost
status callback) goes stale after ``MAX_HOLD`` and is reclaimed when the limit is hit.

``dial_spacing`` is the gap the fan-out's dial grid (``calendar.slots.SlotGrid``) keeps between calls,
so calls arrive at the dialer no faster than it may dial."""

from __future__ import annotations

import math
import zlib
from datetime import timedelta
from typing import Any

from autocall.clock import now
from autocall.config import get_settings
from autocall.observability import count, logger
from autocall.stores import pacing as counters
from autocall.stores.pacing import slot_holders as slot_holders  # read by tests and the bench too

MAX_HOLD = timedelta(hours=4)  # Twilio ends a call after 4 h (time_limit): a slot held longer is stale
CPS_WAIT_S = (1, 4)  # over the calls-per-second limit: retry within a few seconds
CONCURRENCY_WAIT_S = (15, 45)  # over the concurrency limit: a call usually lasts minutes


def _wait(call_id: str, bounds: tuple[int, int]) -> timedelta:
    """A wait within ``bounds`` seconds, spread by call id so rejected calls do not return together."""
    low, high = bounds
    return timedelta(seconds=low + zlib.crc32(call_id.encode()) % (high - low + 1))


def acquire_dial_slot(call_id: str) -> timedelta | None:
    """Take a dial in the current second and a concurrent-call slot, both or neither.

    None when granted (or when ``call_id`` already holds its slot), else how long to wait."""
    settings = get_settings()
    per_second = max(1, math.floor(settings.calls_per_second))
    limit = max(1, settings.max_concurrent_calls)
    moment = now()
    second = int(moment.timestamp())
    for _ in range(2):
        refused = counters.take_dial_and_slot(
            call_id, second, per_second, limit, second + int(MAX_HOLD.total_seconds())
        )
        if refused is None:
            return None
        holders = slot_holders()
        if holders is None:  # first dial ever: create the counter, then try again
            counters.create_concurrency_counter()
            continue
        if call_id in holders:
            return None  # a repeated delivery of this dial: its slot is already taken
        if refused == counters.CALLS_PER_SECOND:
            return _wait(call_id, CPS_WAIT_S)
        if _reclaim_stale(holders, second):
            return _wait(call_id, CPS_WAIT_S)
        return _wait(call_id, CONCURRENCY_WAIT_S)
    return _wait(call_id, CPS_WAIT_S)


def release_dial_slot(call_id: str) -> bool:
    """Free the call's concurrent-call slot; True only for the one release that freed it."""
    return counters.release_slot(call_id)


def _reclaim_stale(holders: dict[str, Any], second: int) -> bool:
    stale = [call_id for call_id, until in holders.items() if int(until) <= second]
    for call_id in stale:
        if release_dial_slot(call_id):
            count("StaleDialSlots")
            logger.warning("reclaimed a stale dial slot", extra={"call_id": call_id})
    return bool(stale)


# --- pacing before the dial: the spacing of the dial grid ------------------------------------


def dial_spacing(stagger_minutes: float = 0) -> timedelta:
    """The gap between two calls of a fan-out: the stagger asked for, never less than the CPS allows."""
    per_second = max(get_settings().calls_per_second, 0.001)
    return timedelta(seconds=max(stagger_minutes * 60, 1 / per_second))
