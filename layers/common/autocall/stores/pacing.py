"""The pacing table: atomic counters that pace dialing across concurrent Lambda invocations (the
rules are domain/pacing.py's). The only code that touches its rows.

Concurrency is one counter row whose ``holders`` map names the calls holding a slot: taking a slot
and releasing it are conditional on the call's own entry."""

from __future__ import annotations

from typing import Any

from autocall.stores.tables import PacingRow
from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

CONCURRENCY_COUNTER = "concurrent"
CALLS_PER_SECOND, CONCURRENCY = "calls_per_second", "concurrency"
_CONDITION_FAILED = "ConditionalCheckFailed"


def take_dial_and_slot(call_id: str, second: int, per_second: int, limit: int, hold_until: int) -> str | None:
    """A dial in ``second`` (under ``per_second``) and a concurrent-call slot for ``call_id`` until
    ``hold_until`` (under ``limit``, and only if it holds none), both or neither. None when taken,
    else the limit that refused: ``CALLS_PER_SECOND`` or ``CONCURRENCY`` (also when the counter
    does not exist yet)."""
    try:
        with TransactWrite(connection=PacingRow._get_connection().connection) as transaction:
            transaction.update(
                PacingRow(counter_id=f"cps#{second}"),
                actions=[PacingRow.hits.add(1), PacingRow.expires_at.set(second + 3600)],
                condition=PacingRow.hits.does_not_exist() | (PacingRow.hits < per_second),
            )
            transaction.update(
                PacingRow(counter_id=CONCURRENCY_COUNTER),
                actions=[PacingRow.hits.add(1), PacingRow.holders[call_id].set(hold_until)],
                condition=(PacingRow.hits < limit) & PacingRow.holders[call_id].does_not_exist(),
            )
    except TransactWriteError as exc:
        reasons = [reason.code if reason else None for reason in exc.cancellation_reasons]
        if exc.cause_response_code != "TransactionCanceledException" or len(reasons) != 2:
            raise
        return CALLS_PER_SECOND if reasons[0] == _CONDITION_FAILED else CONCURRENCY
    return None


def release_slot(call_id: str) -> bool:
    """Free the call's concurrent-call slot; True only for the one release that freed it."""
    try:
        PacingRow(counter_id=CONCURRENCY_COUNTER).update(
            actions=[PacingRow.hits.add(-1), PacingRow.holders[call_id].remove()],
            condition=PacingRow.holders[call_id].exists(),
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True


def slot_holders() -> dict[str, Any] | None:
    """Calls holding a concurrent-call slot (None before the first dial)."""
    try:
        row = PacingRow.get(CONCURRENCY_COUNTER, consistent_read=True)
    except PacingRow.DoesNotExist:
        return None
    return row.holders.as_dict() if row.holders is not None else {}


def create_concurrency_counter() -> None:
    """The concurrency counter, empty, unless it exists."""
    try:
        PacingRow(counter_id=CONCURRENCY_COUNTER, hits=0, holders={}).save(
            condition=PacingRow.counter_id.does_not_exist()
        )
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
