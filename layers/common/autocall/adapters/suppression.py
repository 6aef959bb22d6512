"""Data access for the do-not-call (suppression) list, keyed by E.164 number."""

from __future__ import annotations

from pynamodb.exceptions import PutError

from autocall.adapters.tables import SuppressionRow
from autocall.clock import now


def is_suppressed(phone: str) -> bool:
    try:
        SuppressionRow.get(phone, consistent_read=True)
    except SuppressionRow.DoesNotExist:
        return False
    return True


def suppress(phone: str, reason: str, source: str | None = None, call_id: str | None = None) -> None:
    """Put the number on the list; a number already there keeps its first entry."""
    row = SuppressionRow(phone=phone, reason=reason, source=source, call_id=call_id, created_at=now())
    try:
        row.save(condition=SuppressionRow.phone.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
