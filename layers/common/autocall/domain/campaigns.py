"""Campaigns: a named set of contacts called for one purpose inside a calling window."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

from autocall.adapters import calls as calls_repo
from autocall.adapters import campaigns as repo
from autocall.adapters import contacts as contacts_repo
from autocall.adapters.suppression import is_suppressed
from autocall.adapters.tables import CampaignRow, ContactRow
from autocall.clock import now
from autocall.config import get_settings
from autocall.domain.calls import _ID_NAMESPACE, parse_purpose, place_request, prepare_call
from autocall.errors import AutocallError, CampaignNotFound, ValidationFailed

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
MAX_CAMPAIGN_CONTACTS = 100_000


def _check_window(window: dict[str, Any] | None) -> dict[str, Any]:
    settings = get_settings()
    window = dict(window or {})
    start = window.get("start", settings.calling_window_start)
    end = window.get("end", settings.calling_window_end)
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, str) or not _HHMM.match(value):
            raise ValidationFailed(f"calling_window.{name} must be HH:MM (24-hour)", f"calling_window.{name}")
    if start >= end:
        raise ValidationFailed(
            "calling_window.start must be before calling_window.end", "calling_window.start"
        )
    return {
        "start": start,
        "end": end,
        "exclude_weekends": bool(window.get("exclude_weekends", False)),
        "exclude_holidays": bool(window.get("exclude_holidays", False)),
    }


def create_campaign(fields: dict[str, Any]) -> CampaignRow:
    purpose = parse_purpose(fields["purpose"], "purpose")
    contact_ids = list(dict.fromkeys(fields.get("contact_ids") or []))
    tag = fields.get("tag")
    if not contact_ids and not tag:
        raise ValidationFailed("give contact_ids or a tag to choose the campaign's contacts", "contact_ids")
    for index, contact_id in enumerate(contact_ids):
        if contacts_repo.get_contact(contact_id) is None:
            raise ValidationFailed(f"contact {contact_id!r} does not exist", f"contact_ids[{index}]")
    row = CampaignRow(
        campaign_id=str(uuid.uuid4()),
        name=fields["name"],
        purpose=purpose.value,
        contact_ids=contact_ids,
        tag=tag,
        context=fields.get("context") or {},
        calling_window=_check_window(fields.get("calling_window")),
        stagger_minutes=float(fields.get("stagger_minutes") or 0),
        max_attempts=int(fields.get("max_attempts") or get_settings().max_attempts),
        status="draft",
        fanout={},
    )
    return repo.save_campaign(row)


def get_campaign(campaign_id: str, field: str = "campaign_id") -> CampaignRow:
    row = repo.get_campaign(campaign_id)
    if row is None:
        raise CampaignNotFound(campaign_id, field)
    return row


def campaign_contacts(campaign: CampaignRow) -> list[ContactRow]:
    if campaign.contact_ids:
        found = [contacts_repo.get_contact(cid) for cid in campaign.contact_ids]
        return [c for c in found if c is not None]
    return sorted(contacts_repo.list_contacts(tag=campaign.tag), key=lambda c: c.contact_id)


def campaign_call_id(campaign_id: str, contact_id: str) -> str:
    """Deterministic: a fan-out that runs twice creates each call once."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"campaign:{campaign_id}:{contact_id}"))


def trigger_campaign(
    campaign_id: str, purpose: str | None = None, stagger_minutes: float | None = None, source: str = "api"
) -> dict[str, Any]:
    """Create one staggered call per eligible contact; skipped contacts are reported with a reason."""
    campaign = get_campaign(campaign_id)
    if campaign.status in ("canceled",):
        raise ValidationFailed("the campaign is canceled", "campaign_id")
    call_purpose = parse_purpose(purpose or campaign.purpose)
    stagger = float(campaign.stagger_minutes if stagger_minutes is None else stagger_minutes)
    if stagger < 0 or stagger > 24 * 60:
        raise ValidationFailed("stagger_minutes must be between 0 and 1440", "stagger_minutes")
    contacts = campaign_contacts(campaign)
    if len(contacts) > MAX_CAMPAIGN_CONTACTS:
        raise ValidationFailed("the campaign has too many contacts", "campaign_id")
    start = now()
    calls: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    slot = 0
    context = {**(campaign.context or {}), "campaign": campaign.name}
    for contact in contacts:
        reason = _skip_reason(contact)
        call_id = campaign_call_id(campaign.campaign_id, contact.contact_id)
        if reason is None and calls_repo.get_call(call_id) is not None:
            reason = "already_called"
        if reason is not None:
            skipped.append({"contact_id": contact.contact_id, "reason": reason})
            continue
        try:
            request = prepare_call(
                contact.contact_id,
                call_purpose,
                context,
                start + timedelta(minutes=stagger * slot),
                call_id=call_id,
                campaign_id=campaign.campaign_id,
                max_attempts=int(campaign.max_attempts),
                source=source,
            )
        except AutocallError as exc:
            skipped.append({"contact_id": contact.contact_id, "reason": exc.code})
            continue
        row = place_request(request)
        slot += 1
        calls.append({"call_id": row.call_id, "status": row.status, "scheduled_time": row.scheduled_time})
    campaign.status = "running"
    campaign.fanout = {"created": len(calls), "skipped": len(skipped), "at": calls_repo.iso(start)}
    repo.save_campaign(campaign)
    return {"campaign_id": campaign.campaign_id, "calls": calls, "skipped": skipped}


def _skip_reason(contact: ContactRow) -> str | None:
    if is_suppressed(contact.phone):
        return "suppressed"
    if not contact.consent:
        return "no_consent"
    return None


def campaign_view(row: CampaignRow) -> dict[str, Any]:
    by_status: Counter[str] = Counter()
    by_outcome: Counter[str] = Counter()
    for call in calls_repo.calls_for_campaign(row.campaign_id):
        by_status[call.status] += 1
        if call.outcome:
            by_outcome[call.outcome] += 1
    return {
        "campaign_id": row.campaign_id,
        "name": row.name,
        "purpose": row.purpose,
        "status": row.status,
        "contact_ids": row.contact_ids or [],
        "tag": row.tag,
        "context": row.context or {},
        "calling_window": row.calling_window or {},
        "stagger_minutes": row.stagger_minutes,
        "max_attempts": int(row.max_attempts),
        "counts": {
            "total": sum(by_status.values()),
            "by_status": dict(by_status),
            "by_outcome": dict(by_outcome),
        },
        "fanout": row.fanout or {},
    }
