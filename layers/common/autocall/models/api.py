"""Request and response bodies of the public API (validated by the Powertools resolver)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from autocall.models.enums import CallPurpose, CallStatus, ContactType
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_CONTEXT_BYTES = 16 * 1024  # stored on every call (a DynamoDB item holds 400 KB with the transcript)


def _bounded(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, default=str)) > MAX_CONTEXT_BYTES:
        raise ValueError(f"must be at most {MAX_CONTEXT_BYTES} bytes as JSON")
    return value


Context = Annotated[dict[str, Any], AfterValidator(_bounded)]


VoiceMode = Literal["gather", "realtime"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TriggerCallRequest(_Strict):
    contact_id: str = Field(min_length=1, max_length=128)
    call_purpose: CallPurpose
    context: Context = Field(default_factory=dict)
    scheduled_time: datetime | None = None
    voice_mode: VoiceMode | None = None  # None: the DEFAULT_VOICE_MODE setting (gather unless set)


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


HH_MM = r"^([01]\d|2[0-3]):[0-5]\d$"  # a clock time, 24-hour: the one place it is spelled


class CallingWindowRequest(_Strict):
    """A campaign's calling window as the API takes it; the domain's ``CallingWindow`` is built
    from it (``domain.calendar.windows.CallingWindow.from_request``)."""

    start: str = Field(default="09:00", pattern=HH_MM)
    end: str = Field(default="20:00", pattern=HH_MM)
    exclude_weekends: bool = False
    exclude_holidays: bool = False


class CampaignCreateRequest(_Strict):
    name: str = Field(min_length=1, max_length=200)
    purpose: CallPurpose
    contact_ids: list[str] = Field(default_factory=list, max_length=10_000)
    tag: str | None = Field(default=None, min_length=1, max_length=100)
    calling_window: CallingWindowRequest = Field(default_factory=CallingWindowRequest)
    stagger_minutes: float = Field(default=0, ge=0, le=1440)
    max_attempts: int = Field(default=3, ge=1, le=10)
    context: Context = Field(default_factory=dict)
    voice_mode: VoiceMode | None = None  # its calls' voice mode; None: the DEFAULT_VOICE_MODE setting


# --- responses: they describe the bodies the domain's views build (the handlers send those as
# they are; these models are the OpenAPI document's word on them) ------------------------------


class ErrorResponse(BaseModel):
    """Every refusal: a code, a sentence, the offending field (or null)."""

    error: str
    message: str
    field: str | None
    problems: list[str] | None = None  # every problem, when a request has more than one
    expires_at: str | None = None  # request_in_progress: when the first request's claim ends
    retry_after_s: int | None = None


class CallSummaryResponse(BaseModel):
    """A call as a trigger answers it (``calls.call_view(full=False)``)."""

    call_id: str
    contact_id: str
    call_purpose: str
    status: CallStatus
    outcome: str | None
    scheduled_time: str
    duration: str | None
    duration_seconds: float | None
    attempts: int
    max_attempts: int
    campaign_id: str | None
    actions_taken: list[Any]
    reasons: list[dict[str, Any]]
    handoff: dict[str, Any] | None
    voice_mode: VoiceMode = "gather"  # gather: turn-by-turn <Gather>; realtime: streamed replies


class ScheduleView(BaseModel):
    name: str
    group: str | None
    expression: str
    target: str


class DialDecisionOutput(BaseModel):
    """One dial-time decision on a call's attempt, as the audit table keeps it (domain/dial_gate.py)."""

    call_id: str
    contact_id: str
    attempt: int
    at: str
    allowed: bool  # the compliance rules allowed this moment
    outcome: str  # dial | reschedule | end
    reason: str | None  # why it was not dialed now
    next_allowed: str | None  # the rules' first allowed moment, when refused
    rescheduled_to: str | None
    purpose: str | None
    campaign_id: str | None
    jurisdictions: list[str]
    zones: list[str]
    rules_version: str | None
    rules: list[dict[str, Any]]  # [{"id", "version"}]
    checks: list[
        dict[str, Any]
    ]  # [{"kind", "verdict", "reason", "rule_id", "rule_version", "zone", "inputs"}]
    consent_evidence_id: str | None
    prior_attempts: list[dict[str, Any]]  # the number's dials the caps counted


class DialDecisionsResponse(BaseModel):
    """``GET /contacts/{contact_id}/dial-decisions``: newest first; ``next_cursor`` for the next page."""

    contact_id: str
    decisions: list[DialDecisionOutput]
    count: int
    next_cursor: str | None


class RuleSourceOutput(BaseModel):
    url: str
    citation: str
    read_on: str


class RuleOutput(BaseModel):
    id: str
    version: int
    name: str
    uncertain: bool  # the stricter reading was taken
    sources: list[RuleSourceOutput]


class AllowedStretchOutput(BaseModel):
    opens: str
    closes: str  # when the first rule or window closes


class CallingWindowResponse(BaseModel):
    """``GET /contacts/{contact_id}/calling-window``: when the contact may be called, and why."""

    contact_id: str
    purpose: str
    at: str
    resolved: bool  # False: the number's jurisdiction cannot be resolved, it is never dialed
    failure: str | None
    jurisdictions: list[str]
    zones: list[str]
    rules_version: str
    rules: list[RuleOutput]
    window: dict[str, Any]  # the default calling window (a campaign can narrow it further)
    next_allowed: list[AllowedStretchOutput]
    prior_attempts: list[dict[str, Any]]


class CallResponse(CallSummaryResponse):
    """A call in full (``GET /calls/{call_id}``)."""

    context: dict[str, Any]
    twilio_sid: str | None
    answered_by: str | None
    attempt_history: list[dict[str, Any]]
    turns: list[dict[str, Any]]
    agent_actions: list[Any]
    analysis: dict[str, Any] | None
    result: dict[str, Any] | None
    failures: list[Any]
    ignored_webhooks: int
    last_ignored_webhook: dict[str, Any] | None
    schedule: ScheduleView | None
    created_at: str | None
    updated_at: str | None
    dial_decisions: list[DialDecisionOutput] = []  # every dial-time decision, oldest first


class BulkCallsResponse(BaseModel):
    count: int
    calls: list[CallSummaryResponse]


class FanoutView(BaseModel):
    pass_: int = Field(alias="pass")
    state: str
    created: int
    skipped: dict[str, int]
    started_at: str | None
    finished_at: str | None


class SkippedContact(BaseModel):
    contact_id: str
    reason: str


class CampaignCall(BaseModel):
    """A call of the fan-out's first page, written now or found from an earlier pass."""

    call_id: str
    status: CallStatus
    scheduled_time: str


class CampaignTriggerResponse(BaseModel):
    campaign_id: str
    status: str
    calls: list[CampaignCall]
    skipped: list[SkippedContact]
    fanout: FanoutView


class ContactBrief(BaseModel):
    contact_id: str
    name: str
    phone: str


class RecentCall(BaseModel):
    call_id: str
    call_purpose: str
    status: CallStatus
    outcome: str | None
    duration: str | None
    actions_taken: list[Any]
    scheduled_time: str


class CallStatusResponse(BaseModel):
    """The seed's ``autonomous_call_status`` answer."""

    contact: ContactBrief
    recent_calls: list[RecentCall]


class ContactResponse(BaseModel):
    contact_id: str
    name: str
    phone: str
    email: str | None
    company: str | None
    time_zone: str
    time_zones: list[str]
    contact_type: ContactType
    tags: list[str]
    consent: bool
    consent_text: str | None
    consent_source: str | None
    consent_at: str | None
    form_submissions: list[dict[str, Any]]
    last_contacted: str | None
    ai_interaction_history: list[Any]
    custom_context: dict[str, Any]


class ContactListResponse(BaseModel):
    contacts: list[ContactResponse]
    count: int


class ConsentRecordView(BaseModel):
    """One entry of the consent ledger; fields without a value are left out."""

    kind: str
    source: str
    at: str
    contact_id: str | None = None
    text: str | None = None
    form_id: str | None = None
    call_id: str | None = None
    basis: str | None = None
    page_url: str | None = None
    ip: str | None = None
    user_agent: str | None = None


class ConsentResponse(BaseModel):
    contact_id: str
    phone: str
    consent: bool
    opted_out: bool
    records: list[ConsentRecordView]


class ConsentRecordedResponse(ConsentResponse):
    recorded: ConsentRecordView


class CampaignCounts(BaseModel):
    total: int
    by_status: dict[str, int]
    by_outcome: dict[str, int]


class CampaignViewCounts(CampaignCounts):
    held: int  # scheduled calls a pause took the schedule of


class CampaignResponse(BaseModel):
    campaign_id: str
    name: str
    purpose: str
    status: str
    contact_ids: list[str]
    tag: str | None
    context: dict[str, Any]
    calling_window: dict[str, Any]
    stagger_minutes: float
    max_attempts: int
    voice_mode: VoiceMode | None = None  # None: the DEFAULT_VOICE_MODE setting when its calls are written
    counts: CampaignViewCounts
    fanout: FanoutView | None


class CostEstimate(BaseModel):
    voice: float
    speech_recognition: float
    answering_machine_detection: float
    total: float
    prices: dict[str, Any]


class CampaignStatsResponse(BaseModel):
    campaign_id: str
    status: str
    counts: CampaignCounts
    dialed: int
    attempts: int
    answered: int
    answer_rate: float | None
    positive_outcomes: int
    conversion_rate: float | None
    average_duration_seconds: float | None
    cost_estimate_usd: CostEstimate
    fanout: FanoutView | None


class SweepView(BaseModel):
    action: str
    state: str
    changed: int | None = None
    pages: int | None = None


class CampaignSteeringResponse(BaseModel):
    """Pause, resume or cancel: the campaign's new status at once; its calls follow in a sweep."""

    campaign_id: str
    status: str
    fanout: FanoutView | None
    sweep: SweepView


class FormCallResponse(CallSummaryResponse):
    """A form's grant: the contact, and the call placed (or already pending) for it."""

    already_pending: bool | None = None


class FormOptOutResponse(BaseModel):
    phone: str
    opted_out: bool
