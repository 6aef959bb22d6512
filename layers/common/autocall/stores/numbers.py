"""Data access for the numbers table: one row per E.164 number (pending calls, recent dials).

Every write is conditional on the row's version as read: two triggers or two dials racing for one
number cannot both win; the loser reads the row again (``domain/numbers.py``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from autocall.clock import now
from autocall.stores.tables import NumberRow
from pynamodb.exceptions import PutError

KEEP_FOR = timedelta(days=100)  # beyond the 90-day horizon of a scheduled call and the 7-day caps


def read_number(phone: str) -> NumberRow:
    """The number's row as stored (strongly consistent), or a fresh unsaved one."""
    try:
        return NumberRow.get(phone, consistent_read=True)
    except NumberRow.DoesNotExist:
        return NumberRow(phone=phone, pending={}, dials=[])


def write_number(row: NumberRow, moment: datetime | None = None) -> bool:
    """Save ``row`` if nobody wrote the number since it was read; False if somebody did."""
    row.expires_at = int(((moment or now()) + KEEP_FOR).timestamp())
    try:
        row.save()  # pynamodb's version check: attribute_not_exists(version) or version = read
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def numbers_among(phones: list[str]) -> dict[str, NumberRow]:
    """The rows of the numbers among ``phones`` that have one (BatchGetItem)."""
    found = NumberRow.batch_get(set(phones), consistent_read=True)
    return {row.phone: row for row in found}
