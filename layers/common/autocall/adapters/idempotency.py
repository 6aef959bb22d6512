"""The Idempotency-Key store (same table layout as Powertools' idempotency utility)."""

from __future__ import annotations

from typing import Any

from autocall.adapters.tables import IdempotencyRow
from autocall.clock import now
from pynamodb.exceptions import PutError

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
_TTL_S = 24 * 3600


def claim(record_id: str, payload_hash: str) -> IdempotencyRow | None:
    """Claim the key; None when claimed now, else the existing record."""
    row = IdempotencyRow(
        id=record_id,
        status=IN_PROGRESS,
        payload_hash=payload_hash,
        expiration=int(now().timestamp()) + _TTL_S,
    )
    try:
        row.save(condition=IdempotencyRow.id.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        existing = IdempotencyRow.get(record_id, consistent_read=True)
        if existing.expiration < now().timestamp():  # TTL may lag by days: expired means free
            existing.delete()
            return claim(record_id, payload_hash)
        return existing
    return None


def complete(record_id: str, response: dict[str, Any]) -> None:
    IdempotencyRow(id=record_id).update(
        actions=[IdempotencyRow.status.set(COMPLETED), IdempotencyRow.response.set(response)]
    )


def release(record_id: str) -> None:
    IdempotencyRow(id=record_id).delete()
