"""The contacts table: the only code that reads or writes a contact's row. Reads return ``Contact``
records; a save checks the version the contact was read at and returns the fresh record."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from autocall.clock import now
from autocall.models.records import Contact
from autocall.stores._records import record_of, row_of
from autocall.stores.tables import ContactRow
from pynamodb.exceptions import PutError

_AMEND_TRIES = 5


def _contact(row: ContactRow) -> Contact:
    return record_of(row, Contact)


def get_contact(contact_id: str) -> Contact | None:
    try:
        return _contact(ContactRow.get(contact_id, consistent_read=True))
    except ContactRow.DoesNotExist:
        return None


def find_contact_by_phone(phone: str) -> Contact | None:
    for row in ContactRow.by_phone.query(phone, limit=1):
        return _contact(row)
    return None


def contacts_with_phone(phone: str) -> list[Contact]:
    return [_contact(row) for row in ContactRow.by_phone.query(phone)]


def save_contact(contact: Contact) -> Contact:
    """Write the contact whole, if nobody wrote it since it was read (its version): the saved record.
    A new contact (no version) is written only if none has its id."""
    moment = now()
    row = row_of(contact, ContactRow)
    if row.created_at is None:
        row.created_at = moment
    row.updated_at = moment
    row.save()
    return _contact(row)


def amend_contact(contact_id: str, amend: Callable[[Contact], None]) -> Contact | None:
    """Read the contact, apply ``amend``, save under its version; read again and re-apply when
    another writer got there first. None when the contact does not exist."""
    for _ in range(_AMEND_TRIES):
        contact = get_contact(contact_id)
        if contact is None:
            return None
        amend(contact)
        try:
            return save_contact(contact)
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
    raise RuntimeError(f"contact {contact_id} kept changing under {_AMEND_TRIES} attempts to amend it")


def list_contacts(tag: str | None = None, limit: int | None = None) -> Iterator[Contact]:
    condition = ContactRow.tags.contains(tag) if tag else None
    for index, row in enumerate(ContactRow.scan(filter_condition=condition), start=1):
        yield _contact(row)
        if limit is not None and index >= limit:
            return


def record_interaction(contact_id: str, entry: dict[str, Any], contact_type: str | None) -> Contact | None:
    """Append one AI interaction and stamp last_contacted (idempotent on entry['call_id'])."""
    contact = get_contact(contact_id)
    if contact is None:
        return None
    history = list(contact.ai_interaction_history or [])
    if any(item.get("call_id") == entry.get("call_id") for item in history):
        return contact
    history.append(entry)
    contact.ai_interaction_history = history
    contact.last_contacted = now()
    if contact_type:
        contact.contact_type = contact_type
    return save_contact(contact)


def get_contacts(contact_ids: list[str], attributes: list[str] | None = None) -> dict[str, Contact]:
    """The contacts among ``contact_ids`` that exist (BatchGetItem; only ``attributes`` when given:
    the others read as their defaults)."""
    found = ContactRow.batch_get(contact_ids, consistent_read=True, attributes_to_get=attributes)
    return {row.contact_id: _contact(row) for row in found}


def contacts_page(
    tag: str | None, cursor: dict[str, Any] | None, page_size: int, attributes: list[str] | None = None
) -> tuple[list[Contact], dict[str, Any] | None]:
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
    contacts = [_contact(ContactRow.from_raw_data(item)) for item in page.get("Items", [])]
    return contacts, pages.last_evaluated_key
