"""Contacts: create, update, read, list; what a web form brings for a number."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from autocall.adapters import contacts as repo
from autocall.adapters.tables import ContactRow
from autocall.domain import consent
from autocall.domain.consent import ConsentKind, ConsentSource, Evidence
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


def _api_evidence(fields: dict[str, Any]) -> Evidence:
    return Evidence(ConsentSource.API, text=fields.get("consent_text"))


def create_contact(fields: dict[str, Any], evidence: Evidence | None = None) -> ContactRow:
    """A new contact; ``consent: true`` is a grant, recorded with ``evidence`` (the API's when not
    given) and refused when the number opted out."""
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
        consent=False,
        consent_text=fields.get("consent_text"),
        custom_context=fields.get("custom_context") or {},
        form_submissions=list(fields.get("form_submissions") or []),
        ai_interaction_history=[],
    )
    if fields.get("consent"):
        evidence = evidence or _api_evidence(fields)
        consent.ensure_not_opted_out(phone, "consent")
        consent.record(phone, ConsentKind.GRANT, evidence, row.contact_id)
        consent.mark_granted(row, evidence)
    return repo.save_contact(row)


def get_contact(contact_id: str, field: str = "contact_id") -> ContactRow:
    row = repo.get_contact(contact_id)
    if row is None:
        raise ContactNotFound(contact_id, field)
    return row


def update_contact(contact_id: str, changes: dict[str, Any]) -> ContactRow:
    """Change a contact. ``consent: true`` is a grant (refused while the number is opted out),
    ``consent: false`` an opt-out through the API: both are recorded in the consent ledger."""
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
    if changes.get("consent") is True and not row.consent:
        evidence = _api_evidence({"consent_text": changes.get("consent_text") or row.consent_text})
        consent.ensure_not_opted_out(row.phone, "consent")
        consent.record(row.phone, ConsentKind.GRANT, evidence, row.contact_id)
        consent.mark_granted(row, evidence)
    saved = repo.save_contact(row)
    if changes.get("consent") is False:
        consent.revoke(saved.phone, Evidence(ConsentSource.API), "opted_out_via_api", saved.contact_id)
        return get_contact(contact_id)
    return saved


def list_contacts(tag: str | None, limit: int) -> list[ContactRow]:
    return list(repo.list_contacts(tag=tag, limit=limit))


FORM_HISTORY = 20  # form submissions kept on the contact (every grant stays in the consent ledger)


def record_form_submission(
    fields: dict[str, Any], evidence: Evidence, submission: dict[str, Any]
) -> ContactRow:
    """A web form's contact, matched by phone. A new number becomes a contact from the form; an
    existing contact keeps its name, e-mail, company and time zone, and what the form brought is
    recorded beside them (``form_submissions``). Either way the form's consent is a grant, recorded
    with its evidence; refused (409, nothing written) when the number opted out."""
    phone = to_e164(str(fields.get("phone", "")))
    consent.ensure_not_opted_out(phone, "phone")
    existing = repo.find_contact_by_phone(phone)
    if existing is None:
        return create_contact(
            {
                "name": fields["name"],
                "phone": phone,
                "email": fields.get("email"),
                "company": fields.get("company"),
                "time_zone": fields.get("time_zone"),
                "consent": True,
                "consent_text": evidence.text,
                "form_submissions": [submission],
            },
            evidence,
        )
    consent.record(phone, ConsentKind.GRANT, evidence, existing.contact_id)

    def add_submission(row: ContactRow) -> None:
        row.form_submissions = [*(row.form_submissions or []), submission][-FORM_HISTORY:]
        consent.mark_granted(row, evidence)

    updated = repo.amend_contact(existing.contact_id, add_submission)
    if updated is None:
        raise ContactNotFound(existing.contact_id, "phone")
    return updated


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
        "consent_source": row.consent_source,
        "consent_at": row.consent_at.isoformat() if row.consent_at else None,
        "form_submissions": row.form_submissions or [],
        "last_contacted": row.last_contacted.isoformat() if row.last_contacted else None,
        "ai_interaction_history": row.ai_interaction_history or [],
        "custom_context": row.custom_context or {},
    }
