"""What the stores return: the domain's records, plain dataclasses (no pynamodb).

Field names are the stored attribute names, so a record reads as the row did; ``version`` is the
optimistic-lock version the store's next conditional write checks. A ``Call`` is frozen: every
change goes through a named store operation that returns the fresh record. A ``Contact`` is
amended in place by the domain and saved whole (under its version)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from autocall.models.enums import TERMINAL_STATUSES, CallStatus


@dataclass(frozen=True)
class Call:
    call_id: str
    contact_id: str = ""
    purpose: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    status: str = CallStatus.SCHEDULED.value
    status_rank: int = 0  # CallStatus.rank: the store's conditions move a call forward only
    scheduled_time: str = ""  # ISO-8601 UTC, sortable
    schedule_name: str | None = None
    campaign_id: str | None = None
    fanout_pass: int | None = None  # the campaign fan-out pass that created the call
    attempts: int = 0
    max_attempts: int = 3
    attempt_history: list[dict[str, Any]] = field(default_factory=list)
    twilio_sid: str | None = None
    dial_started_at: datetime | None = None
    answered_by: str | None = None
    duration_s: float | None = None
    turns: list[dict[str, Any]] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None
    analysis: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    actions_taken: list[Any] = field(default_factory=list)
    reasons: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Any] = field(default_factory=list)
    # Twilio webhooks refused because they belong to no current attempt (stores.calls.record_ignored_webhook)
    ignored_webhooks: int | None = None
    last_ignored_webhook: dict[str, Any] | None = None
    # the callee asked for a person: open until someone closes it ({"status": "open" | "closed", ...})
    handoff: dict[str, Any] | None = None
    # realtime voice mode (ConversationRelay); see stores.calls.start_relay_turn
    voice_mode: str | None = None  # None: gather
    relay_connection: str | None = None
    relay_turn: int | None = None
    relay_turn_at: int | None = None
    relay_seen: set[str] | None = None
    relay_interrupted: int | None = None
    relay_heard: str | None = None
    source: str = "api"
    idempotency_key: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int | None = None

    @property
    def call_status(self) -> CallStatus:
        return CallStatus(self.status)

    @property
    def terminal(self) -> bool:
        """Ended for good: no status moves it again."""
        return self.call_status in TERMINAL_STATUSES

    @property
    def realtime(self) -> bool:
        """Talks over ConversationRelay (streamed replies) rather than turn-by-turn ``<Gather>``."""
        return self.voice_mode == "realtime"


@dataclass
class Contact:
    contact_id: str
    name: str = ""
    phone: str = ""
    email: str | None = None
    company: str | None = None
    time_zone: str | None = None  # the zone times are said in: given, or picked from the number
    time_zone_given: bool | None = None  # given: it narrows the number's zones (None: older rows)
    country: str | None = None
    contact_type: str = "lead"
    tags: set[str] | None = None
    consent: bool = False
    consent_text: str | None = None
    consent_source: str | None = None
    consent_at: datetime | None = None
    last_contacted: datetime | None = None
    ai_interaction_history: list[dict[str, Any]] = field(default_factory=list)
    custom_context: dict[str, Any] = field(default_factory=dict)
    form_submissions: list[dict[str, Any]] = field(default_factory=list)  # newest last
    on_call_sid: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int | None = None


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    name: str = ""
    purpose: str = ""
    contact_ids: list[str] = field(default_factory=list)
    tag: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    calling_window: dict[str, Any] = field(default_factory=dict)
    stagger_minutes: float = 0
    max_attempts: int = 3
    status: str = "draft"
    fanout: dict[str, Any] = field(default_factory=dict)
    voice_mode: str | None = None  # its calls' voice mode (None: DEFAULT_VOICE_MODE)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int | None = None


@dataclass(frozen=True)
class ConsentRecord:
    """One grant, revocation or re-consent of a number; never changed once written."""

    phone: str
    kind: str  # grant | revocation | re_consent
    source: str  # form | api | call | sms
    at: datetime
    record_id: str = ""  # sorts by time; given by the store
    contact_id: str | None = None
    text: str | None = None
    form_id: str | None = None
    call_id: str | None = None
    basis: str | None = None
    page_url: str | None = None
    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class CrmRecord:
    contact_id: str
    record_id: str
    kind: str
    call_id: str | None = None
    title: str | None = None
    content: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass
class NumberState:
    """A number's pending call per purpose and its dials of the last 31 days (domain/numbers.py)."""

    phone: str
    pending: dict[str, Any] = field(default_factory=dict)  # purpose → {"call_id", "at"}
    # [{"at": epoch s, "call_id", "attempt", "purpose"}]
    dials: list[dict[str, Any]] = field(default_factory=list)
    expires_at: int | None = None
    version: int | None = None


@dataclass(frozen=True)
class DialDecision:
    """One dial-time decision on a call's attempt, allowed or refused, as the audit table keeps it
    (domain/dial_gate.py): what a user shows a regulator. Never changed once written."""

    call_id: str
    at: datetime  # when the dialer decided
    attempt: int  # the attempt it decided on (1 = the first dial)
    contact_id: str = ""
    decision_key: str = ""  # "<at ISO>#<attempt>": the sort key, given by the store
    allowed: bool = False
    outcome: str = ""  # dial | reschedule | end
    reason: str | None = None  # why refused (or why a dial was put off after the rules allowed it)
    next_allowed: datetime | None = None  # the rules' next allowed moment when refused
    rescheduled_to: datetime | None = None  # where the call went (rules, campaign window, pacing)
    purpose: str | None = None
    campaign_id: str | None = None
    jurisdictions: list[str] = field(default_factory=list)
    zones: list[str] = field(default_factory=list)
    rules_version: str | None = None
    rules: list[dict[str, Any]] = field(default_factory=list)  # [{"id", "version"}]
    checks: list[dict[str, Any]] = field(default_factory=list)  # each check's inputs and verdict
    resolution: dict[str, Any] = field(default_factory=dict)  # how the jurisdictions were found
    consent_evidence_id: str | None = None  # the consent ledger record that allowed the call
    prior_attempts: list[dict[str, Any]] = field(default_factory=list)  # [{"at", "purpose"}] counted
    expires_at: int | None = None  # TTL (epoch s)
