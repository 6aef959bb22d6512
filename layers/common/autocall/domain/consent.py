"""Consent as evidence, not a flag.

Every grant, revocation and re-consent of a number is a record in the consent ledger: where it came
from (a form and its id, the API, a call and its id), the text the person agreed to (or the words
they opted out with), when, and for forms the page and the request's IP address and user agent.
A contact's ``consent`` flag is what its latest record says.

An opt-out (in a call, after a call, through the API or a form) puts the number on the do-not-call
list. While it is there no grant counts: a form answers 409 and writes nothing, the API refuses
``consent: true``, until a re-consent is recorded through the authenticated API
(``POST /contacts/{contact_id}/consent``), which takes the number off the list."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from autocall.clock import now
from autocall.errors import OptedOut
from autocall.models.records import ConsentRecord, Contact
from autocall.stores import consent as ledger
from autocall.stores import contacts as contacts_repo
from autocall.stores import suppression


class ConsentKind(StrEnum):
    GRANT = "grant"
    REVOCATION = "revocation"
    RE_CONSENT = "re_consent"  # a grant that lifted an opt-out


class ConsentSource(StrEnum):
    FORM = "form"
    API = "api"
    CALL = "call"
    SMS = "sms"


@dataclass(frozen=True)
class Evidence:
    """Where a grant or revocation came from, as it is recorded."""

    source: ConsentSource
    text: str | None = None  # the consent text agreed to, or the callee's words when opting out
    form_id: str | None = None
    call_id: str | None = None
    basis: str | None = None  # the API caller's account of where a re-consent came from
    page_url: str | None = None
    ip: str | None = None
    user_agent: str | None = None

    @property
    def label(self) -> str:
        """The contact's ``consent_source``: ``form:<id>``, ``api``, ``call:<id>``."""
        detail = self.form_id or self.call_id
        return f"{self.source.value}:{detail}" if detail else self.source.value


def ensure_not_opted_out(phone: str, field: str) -> None:
    """Refuse a grant for a number that opted out (``field`` names what the request asked)."""
    if suppression.is_suppressed(phone):
        raise OptedOut(field)


def record(phone: str, kind: ConsentKind, evidence: Evidence, contact_id: str | None) -> ConsentRecord:
    return ledger.append(
        ConsentRecord(
            phone=phone,
            kind=kind.value,
            source=evidence.source.value,
            contact_id=contact_id,
            text=evidence.text,
            form_id=evidence.form_id,
            call_id=evidence.call_id,
            basis=evidence.basis,
            page_url=evidence.page_url,
            ip=evidence.ip,
            user_agent=evidence.user_agent,
            at=now(),
        )
    )


def mark_granted(row: Contact, evidence: Evidence) -> None:
    """Set the contact's consent fields from a grant (the caller saves the row)."""
    row.consent = True
    row.consent_text = evidence.text if evidence.text is not None else row.consent_text
    row.consent_source = evidence.label
    row.consent_at = now()


def _already_recorded(phone: str, kind: ConsentKind, call_id: str) -> bool:
    """A call's revocation is said in the call and confirmed after it: one record per call."""
    return any(r.kind == kind.value and r.call_id == call_id for r in ledger.records_for(phone, limit=25))


def revoke(phone: str, evidence: Evidence, reason: str, contact_id: str | None = None) -> None:
    """An opt-out: the record, the number on the do-not-call list, every contact with the number
    no longer consenting. Idempotent per call for a call's opt-out."""
    if not (evidence.call_id and _already_recorded(phone, ConsentKind.REVOCATION, evidence.call_id)):
        record(phone, ConsentKind.REVOCATION, evidence, contact_id)
    suppression.suppress(phone, reason, source=evidence.source.value, call_id=evidence.call_id)
    moment = now()

    def withdraw(row: Contact) -> None:
        row.consent = False
        row.consent_source = evidence.label
        row.consent_at = moment

    ids = {c.contact_id for c in contacts_repo.contacts_with_phone(phone) if c.consent}
    if contact_id:
        ids.add(contact_id)
    for each in sorted(ids):
        contacts_repo.amend_contact(each, withdraw)


def re_consent(contact: Contact, text: str, basis: str) -> tuple[Contact, ConsentRecord]:
    """A consent recorded through the authenticated API: the one way to lift an opt-out."""
    opted_out = suppression.is_suppressed(contact.phone)
    kind = ConsentKind.RE_CONSENT if opted_out else ConsentKind.GRANT
    evidence = Evidence(ConsentSource.API, text=text, basis=basis)
    entry = record(contact.phone, kind, evidence, contact.contact_id)
    if opted_out:
        suppression.lift(contact.phone)
    row = contacts_repo.amend_contact(contact.contact_id, lambda r: mark_granted(r, evidence))
    assert row is not None, contact.contact_id
    return row, entry


def record_view(row: ConsentRecord) -> dict[str, Any]:
    view = {
        "kind": row.kind,
        "source": row.source,
        "at": row.at.isoformat(),
        "contact_id": row.contact_id,
        "text": row.text,
        "form_id": row.form_id,
        "call_id": row.call_id,
        "basis": row.basis,
        "page_url": row.page_url,
        "ip": row.ip,
        "user_agent": row.user_agent,
    }
    return {k: v for k, v in view.items() if v is not None}


def consent_view(contact: Contact, limit: int = 100) -> dict[str, Any]:
    """The contact's consent as evidence: its flag, whether the number opted out, the number's records."""
    return {
        "contact_id": contact.contact_id,
        "phone": contact.phone,
        "consent": contact.consent,
        "opted_out": suppression.is_suppressed(contact.phone),
        "records": [record_view(r) for r in ledger.records_for(contact.phone, limit)],
    }
