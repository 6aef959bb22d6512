"""The compliance rules at dial time: what binds a contact, whether this moment is allowed, the first
moment that is, and the audit record of every decision.

The dialer (domain/dialer.py) asks ``evaluate`` before every dial: the effective window is the
campaign's window (it can only narrow) ∩ every jurisdiction rule that binds the number ∩ every zone
the callee can be in, the callee's own holidays, and each rule's per-person caps counted from the
number's dials across campaigns and purposes (domain/numbers.py keeps them on the number's row).
A number whose jurisdiction cannot be resolved is never dialed. Each decision, allowed or refused,
is written to the audit table with the checks that made it (``record``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from autocall.clock import now
from autocall.domain.calendar.windows import CallingWindow, NoCallingWindow, is_open, next_opening
from autocall.domain.compliance import (
    CampaignWindow,
    Decision,
    PriorAttempt,
    Resolution,
    check,
    load_rules,
    next_allowed_moments,
    resolve,
)
from autocall.domain.compliance.engine import SEARCH_DAYS
from autocall.domain.contacts import callee_time_zones, get_contact
from autocall.domain.numbers import PriorDial, prior_dials
from autocall.errors import ValidationFailed
from autocall.models.enums import CallPurpose
from autocall.models.records import Call, Campaign, Contact, DialDecision
from autocall.stores import audit
from autocall.stores.consent import records_for

GRANTS = frozenset({"grant", "re_consent"})
CURSOR_KEYS = {"call_id", "decision_key", "contact_id", "at"}  # the by-contact index's last key
EXPLAINED_MOMENTS = 5  # how many allowed stretches the calling-window route lists
# the reason a refusal is recorded under, by the kind of the first failing check
REASONS = {
    "resolution": "jurisdiction_unresolved",
    "hours": "outside_calling_window",
    "campaign_window": "outside_calling_window",
    "cap": "compliance_cap",
}


@dataclass(frozen=True)
class Gate:
    """One evaluation: what binds the callee, the engine's decision now, and the first moment every
    constraint (the campaign's holiday switch included) allows — None when none does."""

    resolution: Resolution
    window: CallingWindow
    decision: Decision
    first_allowed: datetime | None
    prior: tuple[PriorDial, ...]

    @property
    def allowed(self) -> bool:
        return self.decision.allowed and self.first_allowed == self.decision.moment

    @property
    def reason(self) -> str:
        """The refusal's code (the call's reason); an allowed gate has none."""
        if not self.resolution.ok:
            return f"{REASONS['resolution']}: {self.resolution.failure}"
        failing = next((c for c in self.decision.checks if not c.passed), None)
        code = REASONS[failing.kind] if failing else "outside_calling_window"  # the campaign's holidays
        return code if self.first_allowed is not None else "no_allowed_moment"

    def checked(self) -> dict[str, Any]:
        """What the call's own record keeps of the decision (its reasons' detail)."""
        return {
            "zones": list(self.resolution.zones),
            "jurisdictions": list(self.resolution.jurisdictions),
            "rules_version": self.decision.rules_version,
            **({"rule_reason": self.decision.reason} if self.decision.reason else {}),
        }


def campaign_window(window: CallingWindow) -> CampaignWindow:
    weekdays = frozenset(range(5)) if window.exclude_weekends else frozenset(range(7))
    return CampaignWindow(start=window.start, end=window.end, weekdays=weekdays)


def resolve_contact(contact: Contact) -> Resolution:
    """The rules and zones that bind a call to the contact. A zone given for the contact narrows an
    ambiguous number's zones to it (domain/contacts.py: ``callee_time_zones``); never widens them."""
    resolution = resolve(contact.phone)
    given = callee_time_zones(contact)
    if resolution.ok and len(given) == 1 and given[0] in resolution.zones and len(resolution.zones) > 1:
        derivation = {**resolution.derivation, "given_zone": given[0]}
        return replace(resolution, zones=given, derivation=derivation)
    return resolution


def _attempts(prior: tuple[PriorDial, ...]) -> list[PriorAttempt]:
    return [PriorAttempt(d.at, d.purpose) for d in prior]


def first_allowed(
    resolution: Resolution,
    start: datetime,
    prior: tuple[PriorDial, ...],
    window: CallingWindow,
    purpose: str | None,
    country: str | None,
) -> tuple[Decision, datetime | None]:
    """The engine's decision at ``start`` and the first moment from ``start`` on that satisfies the
    rules and the campaign's window with its holiday switch (the engine knows the window's hours and
    weekdays; the campaign's own holidays, off by default, are the callee country's)."""
    narrowed = campaign_window(window)
    attempts = _attempts(prior)
    decision = check(resolution, start, attempts, narrowed, purpose)
    moment: datetime | None = start
    for _ in range(SEARCH_DAYS * 2):
        assert moment is not None
        current = decision if moment == start else check(resolution, moment, attempts, narrowed, purpose)
        if not current.allowed:
            moment = current.next_allowed
            if moment is None:
                return decision, None
            continue
        if window.exclude_holidays and not is_open(moment, resolution.zones, window, country):
            try:
                moment = next_opening(moment, resolution.zones, window, country)
            except NoCallingWindow:
                return decision, None
            continue
        return decision, moment
    return decision, None


def evaluate(call: Call, contact: Contact, campaign: Campaign | None, moment: datetime) -> Gate:
    resolution = resolve_contact(contact)
    window = CallingWindow.from_config(campaign.calling_window if campaign else None)
    attempt = int(call.attempts or 0) + 1
    prior = tuple(prior_dials(contact.phone, call.call_id, attempt)) if resolution.ok else ()
    decision, first = first_allowed(resolution, moment, prior, window, call.purpose, contact.country)
    return Gate(resolution, window, decision, first, prior)


def recheck(gate: Gate, call: Call, contact: Contact, prior: list[PriorDial]) -> Gate:
    """The gate again with the number's dials as a claim read them (another call may have dialed
    since ``evaluate``): the caps are counted on what the claim writes over."""
    fresh = tuple(prior)
    if fresh == gate.prior:
        return gate
    decision, first = first_allowed(
        gate.resolution, gate.decision.moment, fresh, gate.window, call.purpose, contact.country
    )
    return Gate(gate.resolution, gate.window, decision, first, fresh)


def consent_evidence_id(phone: str) -> str | None:
    """The consent ledger record that lets the number be called: its newest record when that is a
    grant or re-consent (None: no ledger record, e.g. a contact written before the ledger)."""
    newest = next(iter(records_for(phone, limit=1)), None)
    return newest.record_id if newest is not None and newest.kind in GRANTS else None


def record(
    call: Call,
    contact: Contact,
    gate: Gate,
    outcome: str,
    reason: str | None = None,
    rescheduled_to: datetime | None = None,
) -> DialDecision:
    """Write the audit record of one decision on the call's coming attempt. ``outcome``: dial,
    reschedule or end; ``reason`` why not dialed now (the rules' refusal or a guard after them)."""
    decision = gate.decision.to_record()
    return audit.record_decision(
        DialDecision(
            call_id=call.call_id,
            at=gate.decision.moment,
            attempt=int(call.attempts or 0) + 1,
            contact_id=contact.contact_id,
            allowed=gate.allowed,
            outcome=outcome,
            reason=reason,
            next_allowed=gate.first_allowed if not gate.allowed else None,
            rescheduled_to=rescheduled_to,
            purpose=call.purpose,
            campaign_id=call.campaign_id,
            jurisdictions=list(gate.resolution.jurisdictions),
            zones=list(gate.resolution.zones),
            rules_version=gate.decision.rules_version,
            rules=decision["rules"],
            checks=[_masked_check(c) for c in decision["checks"]],
            resolution=_masked(gate.resolution.to_record()),
            consent_evidence_id=consent_evidence_id(contact.phone),
            prior_attempts=[{"at": audit_iso(d.at), "purpose": d.purpose} for d in gate.prior],
        )
    )


def _masked(resolution: dict[str, Any]) -> dict[str, Any]:
    """The resolution without the full number (the call and contact name it; the record outlives
    neither need): its country code and area code stay in the derivation."""
    e164 = str(resolution.get("e164") or "")
    return {**resolution, "e164": f"{e164[:5]}…{e164[-2:]}" if len(e164) > 7 else "…"}


def _masked_check(check: dict[str, Any]) -> dict[str, Any]:
    """A resolution check's inputs are the resolution: masked as ``_masked`` does."""
    return {**check, "inputs": _masked(check["inputs"])} if check["kind"] == "resolution" else check


def audit_iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def decision_view(decision: DialDecision) -> dict[str, Any]:
    return {
        "call_id": decision.call_id,
        "contact_id": decision.contact_id,
        "attempt": decision.attempt,
        "at": audit_iso(decision.at),
        "allowed": decision.allowed,
        "outcome": decision.outcome,
        "reason": decision.reason,
        "next_allowed": audit_iso(decision.next_allowed),
        "rescheduled_to": audit_iso(decision.rescheduled_to),
        "purpose": decision.purpose,
        "campaign_id": decision.campaign_id,
        "jurisdictions": decision.jurisdictions,
        "zones": decision.zones,
        "rules_version": decision.rules_version,
        "rules": decision.rules,
        "checks": decision.checks,
        "consent_evidence_id": decision.consent_evidence_id,
        "prior_attempts": decision.prior_attempts,
    }


def decisions_for_call(call_id: str) -> list[dict[str, Any]]:
    """The call's dial decisions, oldest first (``GET /calls/{id}``)."""
    return [decision_view(d) for d in audit.decisions_for_call(call_id)]


def decisions_for_contact(contact_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of the contact's dial decisions across calls, newest first; 404 for an unknown contact."""
    get_contact(contact_id)
    start = _decode_cursor(cursor)
    found, following = audit.decisions_for_contact(contact_id, limit, start)
    return {
        "contact_id": contact_id,
        "decisions": [decision_view(d) for d in found],
        "count": len(found),
        "next_cursor": _encode_cursor(following),
    }


def _encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def _decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    import base64
    import binascii
    import json

    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("cursor is not a cursor this API gave", "cursor") from exc
    if not (
        isinstance(key, dict)
        and set(key) == CURSOR_KEYS
        and all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in key.values())
    ):
        raise ValidationFailed("cursor is not a cursor this API gave", "cursor")
    return key


def calling_window(contact_id: str, purpose: str) -> dict[str, Any]:
    """Explain before you dial: the contact's next allowed moments for ``purpose`` under the default
    calling window and the rules, and the rules that shape them. 404 for an unknown contact; 422
    naming ``purpose`` when it is not one."""
    try:
        wanted = CallPurpose(purpose)
    except ValueError as exc:
        known = ", ".join(p.value for p in CallPurpose)
        raise ValidationFailed(f"purpose {purpose!r} is not one of {known}", "purpose") from exc
    contact = get_contact(contact_id)
    moment = now()
    resolution = resolve_contact(contact)
    window = CallingWindow.from_config(None)
    prior = tuple(prior_dials(contact.phone, "", 0)) if resolution.ok else ()
    stretches = next_allowed_moments(
        resolution,
        moment,
        EXPLAINED_MOMENTS,
        _attempts(prior),
        campaign_window(window),
        wanted.value,
    )
    rules = load_rules()
    applied = []
    for rule_id in dict.fromkeys(a.rule_id for a in resolution.applied):
        rule = rules.fallback if rule_id == "fallback" else rules.rules[rule_id]
        applied.append(
            {
                "id": rule.id,
                "version": rule.version,
                "name": rule.name,
                "uncertain": rule.uncertain,
                "sources": [
                    {"url": str(s.url), "citation": s.citation, "read_on": s.read_on.isoformat()}
                    for s in rule.sources
                ],
            }
        )
    return {
        "contact_id": contact_id,
        "purpose": wanted.value,
        "at": audit_iso(moment),
        "resolved": resolution.ok,
        "failure": resolution.failure,
        "jurisdictions": list(resolution.jurisdictions),
        "zones": list(resolution.zones),
        "rules_version": rules.version,
        "rules": applied,
        "window": window.stored(),
        "next_allowed": [{"opens": audit_iso(s.opens), "closes": audit_iso(s.closes)} for s in stretches],
        "prior_attempts": [{"at": audit_iso(d.at), "purpose": d.purpose} for d in prior],
    }
