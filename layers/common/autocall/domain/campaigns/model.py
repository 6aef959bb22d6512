"""A campaign's own terms: a named set of contacts (listed, or all with a tag) called for one
purpose inside a calling window, with a stagger between dials and an attempt cap. Created in
``draft``; the fan-out (``fanout``) makes it ``running``, steering (``steering``) pauses, resumes or
cancels it."""

from __future__ import annotations

import uuid
from enum import StrEnum

from autocall.config import get_settings
from autocall.domain.calendar.windows import CallingWindow
from autocall.domain.calls import _ID_NAMESPACE, parse_purpose
from autocall.errors import CampaignNotFound, ValidationFailed
from autocall.models.api import CallingWindowRequest, CampaignCreateRequest
from autocall.models.records import Campaign
from autocall.stores import campaigns as repo
from autocall.stores import contacts as contacts_repo


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    CANCELED = "canceled"


def _window(request: CallingWindowRequest) -> CallingWindow:
    window = CallingWindow.from_request(request)
    if window.start >= window.end:
        raise ValidationFailed(
            "calling_window.start must be before calling_window.end", "calling_window.start"
        )
    return window


def create_campaign(request: CampaignCreateRequest) -> Campaign:
    purpose = parse_purpose(request.purpose, "purpose")
    contact_ids = list(dict.fromkeys(request.contact_ids))
    tag = request.tag
    if not contact_ids and not tag:
        raise ValidationFailed("give contact_ids or a tag to choose the campaign's contacts", "contact_ids")
    found = contacts_repo.get_contacts(contact_ids) if contact_ids else {}
    for index, contact_id in enumerate(contact_ids):
        if contact_id not in found:
            raise ValidationFailed(f"contact {contact_id!r} does not exist", f"contact_ids[{index}]")
    campaign = Campaign(
        campaign_id=str(uuid.uuid4()),
        name=request.name,
        purpose=purpose.value,
        contact_ids=contact_ids,
        tag=tag,
        context=request.context or {},
        calling_window=_window(request.calling_window).stored(),
        stagger_minutes=float(request.stagger_minutes or 0),
        max_attempts=int(request.max_attempts or get_settings().max_attempts),
        status=CampaignStatus.DRAFT.value,
        fanout={},
        voice_mode=request.voice_mode,
    )
    return repo.save_campaign(campaign)


def get_campaign(campaign_id: str, field: str = "campaign_id") -> Campaign:
    campaign = repo.get_campaign(campaign_id)
    if campaign is None:
        raise CampaignNotFound(campaign_id, field)
    return campaign


def campaign_call_id(campaign_id: str, contact_id: str) -> str:
    """Deterministic: a fan-out that runs twice creates each call once."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"campaign:{campaign_id}:{contact_id}"))
