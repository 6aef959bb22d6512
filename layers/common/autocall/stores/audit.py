"""The dial audit table (DialAuditTable): one record per dial-time decision, never changed.

What a user shows a regulator or a court: every decision the dialer took on a call's attempt, with
the jurisdictions and zones it resolved, the rules and their versions, each check's inputs and
verdict and the consent record that allowed the call. Kept ``RETENTION`` (TTL ``expires_at``):
US TCPA claims can be brought for four years (28 U.S.C. 1658), so five years covers them with a
year to spare for a claim served late."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from autocall.config import get_settings
from autocall.models.records import DialDecision
from autocall.stores._records import record_of, row_of
from autocall.stores.tables import DialAuditRow
from pynamodb.exceptions import PutError

RETENTION = timedelta(days=5 * 366)


def _bound() -> type[DialAuditRow]:
    """The model pointed at this function's table (its own DIAL_AUDIT_TABLE)."""
    name = get_settings().required("dial_audit_table")
    if DialAuditRow.Meta.table_name != name:
        DialAuditRow.Meta.table_name = name
        DialAuditRow._connection = None
    return DialAuditRow


def decision_key(at: datetime, attempt: int) -> str:
    return f"{at.isoformat()}#{attempt:04d}"


def record_decision(decision: DialDecision) -> DialDecision:
    """Write one decision under its own key (a second decision of the same moment and attempt, a
    retried invocation, is kept as written first)."""
    model = _bound()
    written = replace(
        decision,
        decision_key=decision_key(decision.at, decision.attempt),
        expires_at=int((decision.at + RETENTION).timestamp()),
    )
    try:
        row_of(written, model).save(condition=model.decision_key.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
    return written


def decisions_for_call(call_id: str, limit: int = 100) -> list[DialDecision]:
    """The call's decisions, oldest first."""
    rows = _bound().query(call_id, limit=limit, consistent_read=True)
    return [record_of(row, DialDecision) for row in rows]


def decisions_for_contact(
    contact_id: str, limit: int, cursor: dict[str, Any] | None = None
) -> tuple[list[DialDecision], dict[str, Any] | None]:
    """A page of the contact's decisions across calls, newest first, and the next page's cursor."""
    found = _bound().by_contact.query(
        contact_id, scan_index_forward=False, limit=limit, last_evaluated_key=cursor or None
    )
    decisions = [record_of(row, DialDecision) for row in found]
    return decisions, found.last_evaluated_key


def all_decisions(segment: int = 0, total_segments: int = 1) -> Iterator[DialDecision]:
    """Every decision in the table (a parallel scan's ``segment`` of ``total_segments``): for a
    bench or an audit export counting what the dialer allowed and refused."""
    for row in _bound().scan(segment=segment, total_segments=total_segments):
        yield record_of(row, DialDecision)
