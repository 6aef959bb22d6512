"""The CRM records table, the only code that touches it: notes, opportunities, tickets,
appointments, contracts and the activities the agent performed (e-mails, SMS, notifications). Ids
are deterministic (``<kind>#<call_id>[#<part>]``) and every write is a put-if-absent, so a repeated
step writes nothing."""

from __future__ import annotations

from typing import Any

from autocall.clock import now
from autocall.models.records import CrmRecord
from autocall.stores._records import record_of
from autocall.stores.tables import CrmRecordRow
from pynamodb.exceptions import PutError


def record_id(kind: str, call_id: str, part: str | None = None) -> str:
    return f"{kind}#{call_id}" + (f"#{part}" if part else "")


def _row(contact_id: str, rid: str) -> CrmRecordRow | None:
    try:
        return CrmRecordRow.get(contact_id, rid, consistent_read=True)
    except CrmRecordRow.DoesNotExist:
        return None


def get_record(contact_id: str, rid: str) -> CrmRecord | None:
    row = _row(contact_id, rid)
    return record_of(row, CrmRecord) if row is not None else None


def records_for_contact(contact_id: str, kind: str | None = None) -> list[CrmRecord]:
    rows = CrmRecordRow.query(contact_id, consistent_read=True)
    return [record_of(row, CrmRecord) for row in rows if kind is None or row.kind == kind]


def put_record_once(
    contact_id: str,
    kind: str,
    call_id: str,
    *,
    part: str | None = None,
    title: str | None = None,
    content: str | None = None,
    fields: dict[str, Any] | None = None,
    source_call_id: str | None = None,
) -> bool:
    """Write the record unless one with the same id exists; True when this call wrote it.

    ``call_id`` names the record; ``source_call_id`` (default: the same) is the call it came from."""
    row = CrmRecordRow(
        contact_id=contact_id,
        record_id=record_id(kind, call_id, part),
        kind=kind,
        call_id=source_call_id or call_id,
        title=title,
        content=content,
        fields=fields or {},
        created_at=now(),
    )
    try:
        row.save(condition=CrmRecordRow.record_id.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def merge_record(
    contact_id: str,
    kind: str,
    key: str,
    *,
    title: str | None,
    fields: dict[str, Any],
    call_id: str,
    created_fields: dict[str, Any] | None = None,
) -> CrmRecord:
    """Create the record (with ``created_fields`` too), or merge ``fields`` into it (a deal's
    opportunity moves through stages). Deterministic content: repeating the merge changes nothing."""
    first = {**fields, **(created_fields or {})}
    put_record_once(contact_id, kind, key, title=title, fields=first, source_call_id=call_id)
    row = _row(contact_id, record_id(kind, key))
    assert row is not None
    merged = {**(row.fields or {}), **fields}
    if merged != row.fields:
        row.update(actions=[CrmRecordRow.fields.set(merged), CrmRecordRow.call_id.set(call_id)])
    return record_of(row, CrmRecord)
