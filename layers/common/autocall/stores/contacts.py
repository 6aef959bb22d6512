"""Data access for the contacts table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from autocall.clock import now
from autocall.stores.tables import ContactRow
from pynamodb.exceptions import PutError

_AMEND_TRIES = 5


def get_contact(contact_id: str) -> ContactRow | None:
    try:
        return ContactRow.get(contact_id, consistent_read=True)
    except ContactRow.DoesNotExist:
        return None


def find_contact_by_phone(phone: str) -> ContactRow | None:
    for row in ContactRow.by_phone.query(phone, limit=1):
        return row
    return None


def contacts_with_phone(phone: str) -> list[ContactRow]:
    return list(ContactRow.by_phone.query(phone))


def save_contact(row: ContactRow) -> ContactRow:
    moment = now()
    if row.created_at is None:
        row.created_at = moment
    row.updated_at = moment
    row.save()
    return row


def amend_contact(contact_id: str, amend: Callable[[ContactRow], None]) -> ContactRow | None:
    """Read the contact, apply ``amend``, save under its version; read again and re-apply when
    another writer got there first. None when the contact does not exist."""
    for _ in range(_AMEND_TRIES):
        row = get_contact(contact_id)
        if row is None:
            return None
        amend(row)
        try:
            return save_contact(row)
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
    raise RuntimeError(f"contact {contact_id} kept changing under {_AMEND_TRIES} attempts to amend it")


def list_contacts(tag: str | None = None, limit: int | None = None) -> Iterator[ContactRow]:
    condition = ContactRow.tags.contains(tag) if tag else None
    for index, row in enumerate(ContactRow.scan(filter_condition=condition), start=1):
        yield row
        if limit is not None and index >= limit:
            return


def record_interaction(contact_id: str, entry: dict[str, Any], contact_type: str | None) -> ContactRow | None:
    """Append one AI interaction and stamp last_contacted (idempotent on entry['call_id'])."""
    row = get_contact(contact_id)
    if row is None:
        return None
    history = list(row.ai_interaction_history or [])
    if any(item.get("call_id") == entry.get("call_id") for item in history):
        return row
    history.append(entry)
    row.ai_interaction_history = history
    row.last_contacted = now()
    if contact_type:
        row.contact_type = contact_type
    return save_contact(row)


def get_contacts(contact_ids: list[str], attributes: list[str] | None = None) -> dict[str, ContactRow]:
    """The contacts among ``contact_ids`` that exist (BatchGetItem; only ``attributes`` when given)."""
    found = ContactRow.batch_get(contact_ids, consistent_read=True, attributes_to_get=attributes)
    return {row.contact_id: row for row in found}


def contacts_page(
    tag: str | None, cursor: dict[str, Any] | None, page_size: int, attributes: list[str] | None = None
) -> tuple[list[ContactRow], dict[str, Any] | None]:
    """One Scan page (``page_size`` contacts read, those with ``tag`` returned, only ``attributes``
    when given) and the cursor of the next page (None after the last)."""
    condition = ContactRow.tags.contains(tag) if tag else None
    scan = ContactRow.scan(
        filter_condition=condition,
        page_size=page_size,
        last_evaluated_key=cursor,
        attributes_to_get=attributes,
    )
    pages = scan.page_iter
    page = next(pages)
    return [ContactRow.from_raw_data(item) for item in page.get("Items", [])], pages.last_evaluated_key
