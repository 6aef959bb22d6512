"""The do-not-call (suppression) list, keyed by E.164 number: the only code that touches its table."""

from __future__ import annotations

from autocall.clock import now
from autocall.stores.tables import SuppressionRow
from pynamodb.exceptions import DeleteError, PutError


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


def suppressed_among(phones: list[str]) -> set[str]:
    """The numbers among ``phones`` that are on the list (BatchGetItem)."""
    found = SuppressionRow.batch_get(set(phones), consistent_read=True, attributes_to_get=["phone"])
    return {row.phone for row in found}


def lift(phone: str) -> bool:
    """Take the number off the list (only a recorded re-consent does); False when it was not on it."""
    try:
        SuppressionRow(phone=phone).delete(condition=SuppressionRow.phone.exists())
    except DeleteError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True
