"""The numbers table: one row per E.164 number (pending calls, recent dials), the only code that
touches it.

Every write is conditional on the number's version as read: two triggers or two dials racing for
one number cannot both win; the loser reads the number again (``domain/numbers.py``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from autocall.clock import now
from autocall.models.records import NumberState
from autocall.stores._records import record_of, row_of
from autocall.stores.tables import NumberRow
from pynamodb.exceptions import PutError

KEEP_FOR = timedelta(days=100)  # beyond the 90-day horizon of a scheduled call and the 7-day caps


def read_number(phone: str) -> NumberState:
    """The number as stored (strongly consistent), or a fresh unsaved one."""
    try:
        return record_of(NumberRow.get(phone, consistent_read=True), NumberState)
    except NumberRow.DoesNotExist:
        return NumberState(phone=phone, pending={}, dials=[])


def write_number(number: NumberState, moment: datetime | None = None) -> bool:
    """Save ``number`` if nobody wrote it since it was read; False if somebody did."""
    row = row_of(number, NumberRow)
    row.expires_at = int(((moment or now()) + KEEP_FOR).timestamp())
    try:
        row.save()  # pynamodb's version check: attribute_not_exists(version) or version = read
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    number.expires_at, number.version = row.expires_at, row.version
    return True


def numbers_among(phones: list[str]) -> dict[str, NumberState]:
    """The numbers among ``phones`` that have a row (BatchGetItem)."""
    found = NumberRow.batch_get(set(phones), consistent_read=True)
    return {row.phone: record_of(row, NumberState) for row in found}
