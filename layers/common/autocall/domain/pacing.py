"""Dial pacing across concurrent Lambda invocations: calls per second and concurrent calls per
account, kept with atomic DynamoDB counters. Over a limit, the caller is told how long to wait."""

from __future__ import annotations

import math
from datetime import timedelta

from autocall.adapters.tables import PacingRow
from autocall.clock import now
from autocall.config import get_settings
from pynamodb.exceptions import UpdateError


def acquire_dial_slot(call_id: str) -> timedelta | None:
    """Take one dial in the current second; None when granted, else how long to wait."""
    settings = get_settings()
    limit = max(1, math.floor(settings.calls_per_second))
    moment = now()
    second = int(moment.timestamp())
    counter = PacingRow(counter_id=f"cps#{second}")
    try:
        counter.update(
            actions=[PacingRow.hits.add(1), PacingRow.expires_at.set(second + 3600)],
            condition=PacingRow.hits.does_not_exist() | (PacingRow.hits < limit),
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return timedelta(seconds=1 + (hash(call_id) % 5))
    return None
