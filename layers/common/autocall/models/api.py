"""Request and response bodies of the public API (validated by the Powertools resolver)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from autocall.models.enums import CallPurpose, ContactType
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_CONTEXT_BYTES = 16 * 1024  # stored on every call (a DynamoDB item holds 400 KB with the transcript)


def _bounded(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, default=str)) > MAX_CONTEXT_BYTES:
        raise ValueError(f"must be at most {MAX_CONTEXT_BYTES} bytes as JSON")
    return value


Context = Annotated[dict[str, Any], AfterValidator(_bounded)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TriggerCallRequest(_Strict):
    contact_id: str = Field(min_length=1, max_length=128)
    call_purpose: CallPurpose
    context: Context = Field(default_factory=dict)
    scheduled_time: datetime | None = None


class BulkCallItem(_Strict):
    contact_id: str = Field(min_length=1, max_length=128)
    call_purpose: CallPurpose
    delay_minutes: float = Field(default=0, ge=0, le=90 * 24 * 60)
    context: Context = Field(default_factory=dict)


class BulkCallsRequest(_Strict):
    calls: list[BulkCallItem]


class CampaignTriggerRequest(_Strict):
    campaign_id: str = Field(min_length=1, max_length=128)
    call_purpose: CallPurpose | None = None
    stagger_minutes: float | None = Field(default=None, ge=0, le=1440)


class HandoffCloseRequest(_Strict):
    """Closing the person follow-up of a call whose callee asked for a person."""

    closed_by: str | None = Field(default=None, max_length=200)  # who called the callee back
    note: str | None = Field(default=None, max_length=2000)  # what came of it


class CallTriggeredResponse(BaseModel):
    call_id: str
    status: str
    scheduled_time: str


class ContactCreateRequest(_Strict):
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=3, max_length=32)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    company: str | None = Field(default=None, max_length=200)
    time_zone: str | None = Field(default=None, max_length=64)
    contact_type: ContactType = ContactType.LEAD
    tags: list[str] = Field(default_factory=list, max_length=50)
    consent: bool = False
    consent_text: str | None = Field(default=None, max_length=2000)
    custom_context: Context = Field(default_factory=dict)


class ContactUpdateRequest(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, min_length=3, max_length=32)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    company: str | None = Field(default=None, max_length=200)
    time_zone: str | None = Field(default=None, max_length=64)
    contact_type: ContactType | None = None
    tags: list[str] | None = Field(default=None, max_length=50)
    consent: bool | None = None
    consent_text: str | None = Field(default=None, max_length=2000)
    custom_context: Context | None = None


class ConsentRequest(_Strict):
    """A consent recorded through the API (lifts an opt-out): what was agreed to, and how."""

    consent_text: str = Field(min_length=1, max_length=2000)
    source: str = Field(min_length=1, max_length=200)  # e.g. "signed paper form, ref 2026-118"


class CallingWindow(_Strict):
    start: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(default="20:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    exclude_weekends: bool = False
    exclude_holidays: bool = False


class CampaignCreateRequest(_Strict):
    name: str = Field(min_length=1, max_length=200)
    purpose: CallPurpose
    contact_ids: list[str] = Field(default_factory=list, max_length=10_000)
    tag: str | None = Field(default=None, min_length=1, max_length=100)
    calling_window: CallingWindow = Field(default_factory=CallingWindow)
    stagger_minutes: float = Field(default=0, ge=0, le=1440)
    max_attempts: int = Field(default=3, ge=1, le=10)
    context: Context = Field(default_factory=dict)
