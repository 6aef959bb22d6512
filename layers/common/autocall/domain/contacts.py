"""Contacts: create, update, read, list; the web-form upsert."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from autocall.adapters import contacts as repo
from autocall.adapters.tables import ContactRow
from autocall.clock import now
from autocall.domain.phones import country_of, time_zone_of, to_e164
from autocall.errors import ContactNotFound, ValidationFailed
from autocall.models.enums import ContactType

DEFAULT_TIME_ZONE = "America/New_York"


def _check_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(f"time_zone {name!r} is not an IANA time zone", "time_zone") from exc
    return name


def callee_time_zone(contact: ContactRow) -> str:
    """The contact's zone, else the number's, else the default."""
    return contact.time_zone or time_zone_of(contact.phone) or DEFAULT_TIME_ZONE


def create_contact(fields: dict[str, Any]) -> ContactRow:
    phone = to_e164(fields["phone"])
    row = ContactRow(
        contact_id=fields.get("contact_id") or str(uuid.uuid4()),
        name=fields["name"],
        phone=phone,
        email=fields.get("email"),
        company=fields.get("company"),
        time_zone=_check_time_zone(fields["time_zone"]) if fields.get("time_zone") else time_zone_of(phone),
        country=country_of(phone),
        contact_type=ContactType(fields.get("contact_type") or ContactType.LEAD).value,
        tags=set(fields.get("tags") or []) or None,
        consent=bool(fields.get("consent", False)),
        consent_text=fields.get("consent_text"),
        consent_source=fields.get("consent_source"),
        consent_at=now() if fields.get("consent") else None,
        custom_context=fields.get("custom_context") or {},
        ai_interaction_history=[],
    )
    return repo.save_contact(row)


def get_contact(contact_id: str, field: str = "contact_id") -> ContactRow:
    row = repo.get_contact(contact_id)
    if row is None:
        raise ContactNotFound(contact_id, field)
    return row


def update_contact(contact_id: str, changes: dict[str, Any]) -> ContactRow:
    row = get_contact(contact_id)
    if "phone" in changes and changes["phone"] is not None:
        row.phone = to_e164(changes["phone"])
        row.country = country_of(row.phone)
    if changes.get("time_zone"):
        row.time_zone = _check_time_zone(changes["time_zone"])
    for name in ("name", "email", "company", "consent_text", "custom_context"):
        if changes.get(name) is not None:
            setattr(row, name, changes[name])
    if changes.get("contact_type") is not None:
        row.contact_type = ContactType(changes["contact_type"]).value
    if changes.get("tags") is not None:
        row.tags = set(changes["tags"]) or None
    if changes.get("consent") is not None:
        row.consent = bool(changes["consent"])
        row.consent_at = now() if row.consent else None
    return repo.save_contact(row)


def list_contacts(tag: str | None, limit: int) -> list[ContactRow]:
    return list(repo.list_contacts(tag=tag, limit=limit))


def upsert_from_form(fields: dict[str, Any], form_id: str) -> ContactRow:
    """The web form's contact: matched by phone, created when new; consent text kept as given."""
    phone = to_e164(str(fields.get("phone", "")))
    existing = repo.find_contact_by_phone(phone)
    consent_fields = {
        "consent": True,
        "consent_text": fields["consent_text"],
        "consent_source": f"form:{form_id}",
    }
    if existing is None:
        return create_contact(
            {
                "name": fields["name"],
                "phone": phone,
                "email": fields.get("email"),
                "company": fields.get("company"),
                "time_zone": fields.get("time_zone"),
                **consent_fields,
            }
        )
    changes = {k: fields.get(k) for k in ("name", "email", "company", "time_zone")}
    updated = update_contact(existing.contact_id, {**changes, "consent": True})
    updated.consent_text = consent_fields["consent_text"]
    updated.consent_source = consent_fields["consent_source"]
    return repo.save_contact(updated)


def contact_view(row: ContactRow) -> dict[str, Any]:
    return {
        "contact_id": row.contact_id,
        "name": row.name,
        "phone": row.phone,
        "email": row.email,
        "company": row.company,
        "time_zone": callee_time_zone(row),
        "contact_type": row.contact_type,
        "tags": sorted(row.tags or []),
        "consent": row.consent,
        "consent_text": row.consent_text,
        "last_contacted": row.last_contacted.isoformat() if row.last_contacted else None,
        "ai_interaction_history": row.ai_interaction_history or [],
        "custom_context": row.custom_context or {},
    }
