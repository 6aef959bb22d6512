"""Contacts: create, update, read, list; what a web form brings for a number (kept beside an
existing contact's own fields, see ``record_form_submission``).

A contact's number must be dialable (``phones.check_dialable``) and its time zone, when one is
given, must be one of the zones the number can be in: a zone is a claim about where the callee is,
and a zone the number cannot be in would move calls outside the callee's real hours. Given for an
ambiguous number (+1 800, a Russian mobile) it narrows the calling window to that zone; not given,
the window must hold in every zone of the number (``callee_time_zones``), and the contact keeps a
zone picked from the number only to say times in (``callee_time_zone``)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from autocall.clock import now
from autocall.domain import consent
from autocall.domain.calendar.windows import same_clock
from autocall.domain.consent import ConsentKind, ConsentSource, Evidence
from autocall.domain.phones import check_dialable, country_of, time_zones_of, to_e164
from autocall.errors import ContactNotFound, ValidationFailed
from autocall.models.enums import ContactType
from autocall.models.records import Contact
from autocall.stores import contacts as repo

DEFAULT_TIME_ZONE = "America/New_York"  # a number that says nothing of its zone, and no zone given
# The zone times are said in to a callee whose number spans several (the calling window still holds
# in all of them): the zone most of the country lives by.
PRINCIPAL_ZONES = {
    "US": "America/New_York",
    "CA": "America/Toronto",
    "RU": "Europe/Moscow",
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "MX": "America/Mexico_City",
    "GB": "Europe/London",
    "ID": "Asia/Jakarta",
    "KZ": "Asia/Almaty",
}


def _check_time_zone(name: str, phone: str) -> str:
    """``name`` when it is an IANA zone the number can be in; else 422 naming ``time_zone``."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(f"time_zone {name!r} is not an IANA time zone", "time_zone") from exc
    zones = time_zones_of(phone)
    if zones and _matching_zone(name, zones) is None:
        listed = ", ".join(zones) if len(zones) <= 8 else f"{len(zones)} zones ({', '.join(zones[:4])}, ...)"
        raise ValidationFailed(
            f"time_zone {name!r} is not a zone this number can be in ({listed})", "time_zone"
        )
    return name


def _matching_zone(name: str, zones: tuple[str, ...]) -> str | None:
    """The zone of ``zones`` that ``name`` is, or keeps the same time as (an alias)."""
    if name in zones:
        return name
    return _same_clock_among(name, zones, now().date())


@lru_cache(maxsize=512)
def _same_clock_among(name: str, zones: tuple[str, ...], day: date) -> str | None:
    """Cached per day: a campaign page asks it for every contact with the same given zone."""
    since = datetime.combine(day, time(12), tzinfo=UTC)
    return next((zone for zone in zones if same_clock(name, zone, since)), None)


def _given_zone(contact: Contact, zones: tuple[str, ...]) -> str | None:
    """The zone given for the contact, when it is one of the number's. A zone picked from the
    number (to say times in) is no narrowing; nor is the first zone of an ambiguous number that a
    row written before zones were checked stored as if given."""
    given = contact.time_zone
    if not given or contact.time_zone_given is False:
        return None
    if contact.time_zone_given is None and len(zones) > 1 and given == zones[0]:
        return None
    if zones and _matching_zone(given, zones) is None:
        return None  # stored before it was checked, and not a zone the number can be in
    return given


def callee_time_zones(contact: Contact) -> tuple[str, ...]:
    """Every zone the callee can be in: the number's zones, narrowed to the given zone when there
    is one. The calling window must hold in all of them."""
    zones = time_zones_of(contact.phone)
    given = _given_zone(contact, zones)
    if given:
        return (given,)
    return zones or (contact.time_zone or DEFAULT_TIME_ZONE,)


def spoken_zone(phone: str) -> str:
    """The zone to say times in to a callee who gave none: the number's only zone; for a number
    spanning several, its country's principal zone when that is one of them (else the first)."""
    zones = time_zones_of(phone) or (DEFAULT_TIME_ZONE,)
    principal = PRINCIPAL_ZONES.get(country_of(phone) or "")
    return principal if len(zones) > 1 and principal in zones else zones[0]


def callee_time_zone(contact: Contact) -> str:
    """The one zone times are said in to the callee: the given zone, else the one picked from the
    number when the contact was written (stored, so a conversation turn never parses the number).
    Never the zone a calling window is checked in: that is every one of ``callee_time_zones``."""
    return contact.time_zone or spoken_zone(contact.phone)


def _api_evidence(fields: dict[str, Any]) -> Evidence:
    return Evidence(ConsentSource.API, text=fields.get("consent_text"))


def create_contact(fields: dict[str, Any], evidence: Evidence | None = None) -> Contact:
    """A new contact; ``consent: true`` is a grant, recorded with ``evidence`` (the API's when not
    given) and refused when the number opted out."""
    phone = check_dialable(to_e164(fields["phone"]))
    given = _check_time_zone(fields["time_zone"], phone) if fields.get("time_zone") else None
    row = Contact(
        contact_id=fields.get("contact_id") or str(uuid.uuid4()),
        name=fields["name"],
        phone=phone,
        email=fields.get("email"),
        company=fields.get("company"),
        time_zone=given or spoken_zone(phone),
        time_zone_given=given is not None,
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


def get_contact(contact_id: str, field: str = "contact_id") -> Contact:
    row = repo.get_contact(contact_id)
    if row is None:
        raise ContactNotFound(contact_id, field)
    return row


def update_contact(contact_id: str, changes: dict[str, Any]) -> Contact:
    """Change a contact. ``consent: true`` is a grant (refused while the number is opted out),
    ``consent: false`` an opt-out through the API: both are recorded in the consent ledger."""
    row = get_contact(contact_id)
    if "phone" in changes and changes["phone"] is not None:
        row.phone = check_dialable(to_e164(changes["phone"]))
        row.country = country_of(row.phone)
        if _given_zone(row, time_zones_of(row.phone)) is None:  # none given, or not one of the new number's
            row.time_zone, row.time_zone_given = spoken_zone(row.phone), False
    if changes.get("time_zone"):
        row.time_zone, row.time_zone_given = _check_time_zone(changes["time_zone"], row.phone), True
    elif "time_zone" in changes:  # null: back to every zone of the number
        row.time_zone, row.time_zone_given = spoken_zone(row.phone), False
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


def list_contacts(tag: str | None, limit: int) -> list[Contact]:
    return list(repo.list_contacts(tag=tag, limit=limit))


FORM_HISTORY = 20  # form submissions kept on the contact (every grant stays in the consent ledger)


def record_form_submission(fields: dict[str, Any], evidence: Evidence, submission: dict[str, Any]) -> Contact:
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

    def add_submission(row: Contact) -> None:
        row.form_submissions = [*(row.form_submissions or []), submission][-FORM_HISTORY:]
        consent.mark_granted(row, evidence)

    updated = repo.amend_contact(existing.contact_id, add_submission)
    if updated is None:
        raise ContactNotFound(existing.contact_id, "phone")
    return updated


def contact_view(row: Contact) -> dict[str, Any]:
    return {
        "contact_id": row.contact_id,
        "name": row.name,
        "phone": row.phone,
        "email": row.email,
        "company": row.company,
        "time_zone": callee_time_zone(row),
        "time_zones": list(callee_time_zones(row)),
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
