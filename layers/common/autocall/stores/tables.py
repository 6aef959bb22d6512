"""The DynamoDB tables, as pynamodb models. template.yaml declares the same keys and indexes
(tests/unit/test_template.py fails when they drift apart).

Table names come from the settings; ``bind_tables()`` re-reads them (tests, local stack)."""

from __future__ import annotations

from typing import Any

from autocall.config import get_settings
from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

# Every request inside a voice turn's budget: the voice function has 12 s and Twilio waits 15 s for
# the whole webhook, which reads and writes the call (pynamodb's defaults, 15 s to connect and 30 s
# to read, would outlast both). A DynamoDB request takes milliseconds; one that hangs is retried
# (with backoff) rather than waited for: at most (1 + retries) x (connect + read) = 9 s with the
# template's values (Globals: DYNAMODB_CONNECT_TIMEOUT_S, DYNAMODB_READ_TIMEOUT_S).
CONNECT_TIMEOUT_S = get_settings().dynamodb_connect_timeout_s
READ_TIMEOUT_S = get_settings().dynamodb_read_timeout_s
MAX_RETRIES = 2


class _RequestBudget:
    """Every table's Meta: the request timeouts and retries above."""

    connect_timeout_seconds = CONNECT_TIMEOUT_S
    read_timeout_seconds = READ_TIMEOUT_S
    max_retry_attempts = MAX_RETRIES


class ContactPhoneIndex(GlobalSecondaryIndex["ContactRow"]):
    class Meta:
        index_name = "by-phone"
        projection = AllProjection()

    phone = UnicodeAttribute(hash_key=True)


class ContactRow(Model):
    class Meta(_RequestBudget):
        table_name = get_settings().contacts_table

    contact_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    phone = UnicodeAttribute()
    email = UnicodeAttribute(null=True)
    company = UnicodeAttribute(null=True)
    time_zone = UnicodeAttribute(null=True)  # the zone times are said in: given, or picked from the number
    time_zone_given = BooleanAttribute(null=True)  # given: it narrows the number's zones (None: older rows)
    country = UnicodeAttribute(null=True)
    contact_type = UnicodeAttribute(default="lead")
    tags = UnicodeSetAttribute(null=True)
    consent = BooleanAttribute(default=False)
    consent_text = UnicodeAttribute(null=True)
    consent_source = UnicodeAttribute(null=True)
    consent_at = UTCDateTimeAttribute(null=True)
    last_contacted = UTCDateTimeAttribute(null=True)
    ai_interaction_history = JSONAttribute(default=list)
    custom_context = JSONAttribute(default=dict)
    # what web forms brought for this number (name, e-mail, company, zone, page), newest last; the
    # contact's own fields above are never overwritten by a form
    form_submissions = JSONAttribute(default=list)
    on_call_sid = UnicodeAttribute(null=True)  # set while the contact is on a live call
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    by_phone = ContactPhoneIndex()


class CallContactIndex(GlobalSecondaryIndex["CallRow"]):
    class Meta:
        index_name = "by-contact"
        projection = AllProjection()

    contact_id = UnicodeAttribute(hash_key=True)
    scheduled_time = UnicodeAttribute(range_key=True)


class CallCampaignIndex(GlobalSecondaryIndex["CallRow"]):
    class Meta:
        index_name = "by-campaign"
        projection = AllProjection()

    campaign_id = UnicodeAttribute(hash_key=True)
    scheduled_time = UnicodeAttribute(range_key=True)


class CallRow(Model):
    class Meta(_RequestBudget):
        table_name = get_settings().calls_table

    call_id = UnicodeAttribute(hash_key=True)
    contact_id = UnicodeAttribute()
    purpose = UnicodeAttribute()
    context = JSONAttribute(default=dict)
    status = UnicodeAttribute()
    status_rank = NumberAttribute(default=0)  # CallStatus.rank: conditions move a call forward only
    scheduled_time = UnicodeAttribute()  # ISO-8601 UTC, sortable
    schedule_name = UnicodeAttribute(null=True)
    campaign_id = UnicodeAttribute(null=True)
    fanout_pass = NumberAttribute(null=True)  # the campaign fan-out pass that created the call
    attempts = NumberAttribute(default=0)
    max_attempts = NumberAttribute(default=3)
    attempt_history = JSONAttribute(default=list)
    twilio_sid = UnicodeAttribute(null=True)
    dial_started_at = UTCDateTimeAttribute(null=True)
    answered_by = UnicodeAttribute(null=True)
    duration_s = NumberAttribute(null=True)
    turns = JSONAttribute(default=list)
    memory = JSONAttribute(default=dict)
    outcome = UnicodeAttribute(null=True)
    analysis = JSONAttribute(null=True)
    result = JSONAttribute(null=True)
    actions_taken = JSONAttribute(default=list)
    reasons = JSONAttribute(default=list)
    failures = JSONAttribute(default=list)
    # Twilio webhooks refused because they belong to no current attempt (a late or replayed one):
    # counted, with the last one's kind and reason (stores/calls.record_ignored_webhook)
    ignored_webhooks = NumberAttribute(null=True)
    last_ignored_webhook = JSONAttribute(null=True)
    # the callee asked for a person: the follow-up is the team's, never dialed by the agent, open
    # until someone closes it through the API ({"status": "open" | "closed", ...})
    handoff = JSONAttribute(null=True)
    # realtime voice mode (ConversationRelay): the mode, the connection carrying the call, and the
    # turn version a new prompt bumps (the streaming reply checks it), outside the row's version
    voice_mode = UnicodeAttribute(null=True)  # None: gather
    relay_connection = UnicodeAttribute(null=True)
    relay_turn = NumberAttribute(null=True)
    relay_turn_at = NumberAttribute(null=True)  # the prompt's arrival (epoch ms, API Gateway's)
    relay_seen = UnicodeSetAttribute(null=True)  # message ids of the prompts acted on
    relay_interrupted = NumberAttribute(null=True)  # the turn version the callee talked over
    relay_heard = UnicodeAttribute(null=True)  # what they heard of it (utteranceUntilInterrupt)
    source = UnicodeAttribute(default="api")
    idempotency_key = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    by_contact = CallContactIndex()
    by_campaign = CallCampaignIndex()


class CampaignRow(Model):
    class Meta(_RequestBudget):
        table_name = get_settings().campaigns_table

    campaign_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    purpose = UnicodeAttribute()
    contact_ids = JSONAttribute(default=list)
    tag = UnicodeAttribute(null=True)
    context = JSONAttribute(default=dict)
    calling_window = JSONAttribute(default=dict)  # {"start": "09:00", "end": "20:00", ...}
    stagger_minutes = NumberAttribute(default=0)
    max_attempts = NumberAttribute(default=3)
    voice_mode = UnicodeAttribute(null=True)  # its calls' voice mode (None: DEFAULT_VOICE_MODE)
    status = UnicodeAttribute(default="draft")
    fanout = JSONAttribute(default=dict)  # progress of the fan-out (resumable)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()


class CrmRecordRow(Model):
    """Notes, opportunities, tickets, appointments, contract preparations: one table, by contact."""

    class Meta(_RequestBudget):
        table_name = get_settings().crm_table

    contact_id = UnicodeAttribute(hash_key=True)
    record_id = UnicodeAttribute(range_key=True)  # "<kind>#<call_id>[#n]": deterministic
    kind = UnicodeAttribute()
    call_id = UnicodeAttribute(null=True)
    title = UnicodeAttribute(null=True)
    content = UnicodeAttribute(null=True)
    fields = JSONAttribute(default=dict)
    created_at = UTCDateTimeAttribute()


class SuppressionRow(Model):
    class Meta(_RequestBudget):
        table_name = get_settings().suppression_table

    phone = UnicodeAttribute(hash_key=True)
    reason = UnicodeAttribute()
    source = UnicodeAttribute(null=True)
    call_id = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()


class IdempotencyRow(Model):
    """Powertools' idempotency table (``aws_lambda_powertools.utilities.idempotency``, DynamoDB
    persistence with its default attribute names). Only Powertools reads and writes it
    (autocall.stores.idempotency); the model declares the table for the local stack and tests."""

    class Meta(_RequestBudget):
        table_name = get_settings().idempotency_table

    id = UnicodeAttribute(hash_key=True)  # "autocall#<sha256 of scope#key>"
    status = UnicodeAttribute()  # INPROGRESS | COMPLETED
    expiration = NumberAttribute()  # epoch seconds, the TTL attribute
    in_progress_expiration = NumberAttribute(null=True)  # epoch ms: the claiming invocation's deadline
    data = UnicodeAttribute(null=True)  # the first answer, JSON
    validation = UnicodeAttribute(null=True)  # hash of the request body


class ConsentRow(Model):
    """The consent ledger: one row per grant, revocation or re-consent of a number, never changed
    or deleted. ``record_id`` sorts by time ("<ISO time>#<random>")."""

    class Meta(_RequestBudget):
        table_name = get_settings().consent_table

    phone = UnicodeAttribute(hash_key=True)
    record_id = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()  # grant | revocation | re_consent
    source = UnicodeAttribute()  # form | api | call | sms
    contact_id = UnicodeAttribute(null=True)
    text = UnicodeAttribute(null=True)  # the consent text shown, or the callee's words
    form_id = UnicodeAttribute(null=True)
    call_id = UnicodeAttribute(null=True)
    basis = UnicodeAttribute(null=True)  # the API caller's account of where a re-consent came from
    page_url = UnicodeAttribute(null=True)
    ip = UnicodeAttribute(null=True)
    user_agent = UnicodeAttribute(null=True)
    at = UTCDateTimeAttribute()


class PacingRow(Model):
    """Atomic counters that pace dialing across concurrent Lambda invocations."""

    class Meta(_RequestBudget):
        table_name = get_settings().pacing_table

    counter_id = UnicodeAttribute(hash_key=True)
    hits = NumberAttribute(default=0)
    expires_at = NumberAttribute(null=True)
    # the concurrency counter's holders: call id → epoch second at which its slot is stale
    holders: MapAttribute[str, Any] = MapAttribute(null=True)


class RealtimeConnectionRow(Model):
    """Which call a realtime WebSocket connection carries (only ``$connect`` sees the call's URL)."""

    class Meta(_RequestBudget):
        table_name = get_settings().realtime_connections_table

    connection_id = UnicodeAttribute(hash_key=True)
    call_id = UnicodeAttribute()
    expires_at = NumberAttribute()  # epoch seconds, the TTL attribute
    gone = BooleanAttribute(null=True)  # $disconnect came


class NumberRow(Model):
    """One row per E.164 number, whatever contacts share it: the call pending for each purpose and
    the number's dials of the last 7 days (the per-number frequency caps; see domain/numbers.py)."""

    class Meta(_RequestBudget):
        table_name = get_settings().numbers_table

    phone = UnicodeAttribute(hash_key=True)
    pending = JSONAttribute(default=dict)  # purpose → {"call_id", "at"}: the one live or scheduled call
    dials = JSONAttribute(default=list)  # [{"at": epoch s, "call_id", "attempt", "purpose"}], 31 days
    expires_at = NumberAttribute(null=True)  # TTL: past every pending call's horizon and the last dial
    version = VersionAttribute()


class DialAuditContactIndex(GlobalSecondaryIndex["DialAuditRow"]):
    class Meta:
        index_name = "by-contact"
        projection = AllProjection()

    contact_id = UnicodeAttribute(hash_key=True)
    at = UTCDateTimeAttribute(range_key=True)


class DialAuditRow(Model):
    """One row per dial-time decision on a call's attempt (stores/audit.py), never changed; kept
    for ``stores.audit.RETENTION`` by its TTL."""

    class Meta(_RequestBudget):
        # only the functions that keep or read decisions get DIAL_AUDIT_TABLE: the store binds the
        # name when it is used (stores/audit.py), so importing the tables does not read it
        table_name = ""

    call_id = UnicodeAttribute(hash_key=True)
    decision_key = UnicodeAttribute(range_key=True)  # "<at ISO>#<attempt>"
    contact_id = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    attempt = NumberAttribute()
    allowed = BooleanAttribute()
    outcome = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    next_allowed = UTCDateTimeAttribute(null=True)
    rescheduled_to = UTCDateTimeAttribute(null=True)
    purpose = UnicodeAttribute(null=True)
    campaign_id = UnicodeAttribute(null=True)
    jurisdictions = JSONAttribute(default=list)
    zones = JSONAttribute(default=list)
    rules_version = UnicodeAttribute(null=True)
    rules = JSONAttribute(default=list)
    checks = JSONAttribute(default=list)
    resolution = JSONAttribute(default=dict)
    consent_evidence_id = UnicodeAttribute(null=True)
    prior_attempts = JSONAttribute(default=list)
    expires_at = NumberAttribute(null=True)  # TTL

    by_contact = DialAuditContactIndex()


ALL_TABLES: dict[str, type[Model]] = {
    "ContactsTable": ContactRow,
    "CallsTable": CallRow,
    "CampaignsTable": CampaignRow,
    "CrmTable": CrmRecordRow,
    "SuppressionTable": SuppressionRow,
    "IdempotencyTable": IdempotencyRow,
    "PacingTable": PacingRow,
    "ConsentTable": ConsentRow,
    "NumbersTable": NumberRow,
    "DialAuditTable": DialAuditRow,
    "RealtimeConnectionsTable": RealtimeConnectionRow,
}

_SETTING_FOR = {
    "ContactsTable": "contacts_table",
    "CallsTable": "calls_table",
    "CampaignsTable": "campaigns_table",
    "CrmTable": "crm_table",
    "SuppressionTable": "suppression_table",
    "IdempotencyTable": "idempotency_table",
    "PacingTable": "pacing_table",
    "ConsentTable": "consent_table",
    "NumbersTable": "numbers_table",
    "DialAuditTable": "dial_audit_table",
    "RealtimeConnectionsTable": "realtime_connections_table",
}


def bind_tables() -> None:
    """Point every model at the table names of the current settings and drop cached connections."""
    settings = get_settings()
    for logical_id, model in ALL_TABLES.items():
        model.Meta.table_name = getattr(settings, _SETTING_FOR[logical_id])
        model.Meta.connect_timeout_seconds = settings.dynamodb_connect_timeout_s
        model.Meta.read_timeout_seconds = settings.dynamodb_read_timeout_s
        model._connection = None
