"""A campaign's own terms: a named set of contacts (listed, or all with a tag) called for one
purpose inside a calling window, with a stagger between dials and an attempt cap. Created in
``draft``; the fan-out (``fanout``) makes it ``running``, steering (``steering``) pauses, resumes or
cancels it."""

from __future__ import annotations

import re
import uuid
from enum import StrEnum
from typing import Any

from autocall.config import get_settings
from autocall.domain.calls import _ID_NAMESPACE, parse_purpose
from autocall.errors import CampaignNotFound, ValidationFailed
from autocall.models.records import Campaign as CampaignRow
from autocall.stores import campaigns as repo
from autocall.stores import contacts as contacts_repo

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    CANCELED = "canceled"


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
    found = contacts_repo.get_contacts(contact_ids) if contact_ids else {}
    for index, contact_id in enumerate(contact_ids):
        if contact_id not in found:
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
        status=CampaignStatus.DRAFT.value,
        fanout={},
    )
    return repo.save_campaign(row)


def get_campaign(campaign_id: str, field: str = "campaign_id") -> CampaignRow:
    row = repo.get_campaign(campaign_id)
    if row is None:
        raise CampaignNotFound(campaign_id, field)
    return row


def campaign_call_id(campaign_id: str, contact_id: str) -> str:
    """Deterministic: a fan-out that runs twice creates each call once."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"campaign:{campaign_id}:{contact_id}"))
