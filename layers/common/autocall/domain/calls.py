"""Asking for calls: single, bulk and campaign triggers, cancellation, and what users read back.

A trigger writes the call as ``scheduled`` and hands it to EventBridge Scheduler (or straight to
the dialer when it is due now). It never dials: the dialer does, after its guards."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from autocall.clock import now
from autocall.config import get_settings
from autocall.domain.contacts import get_contact
from autocall.domain.numbers import CallPending, claim_pending, pending_among
from autocall.domain.phones import check_dialable
from autocall.errors import CallNotFound, Conflict, ContactSuppressed, ValidationFailed
from autocall.integrations import scheduler
from autocall.models.api import BulkCallItem
from autocall.models.enums import CallPurpose, CallStatus
from autocall.models.records import Call, Contact
from autocall.observability import logger, metrics
from autocall.stores import calls as repo
from autocall.stores.suppression import is_suppressed

MAX_AHEAD = timedelta(days=90)
PAST_TOLERANCE = timedelta(seconds=60)
DUE_NOW = timedelta(seconds=60)  # EventBridge Scheduler's at() has one-minute precision
MAX_BULK = 1000
_ID_NAMESPACE = uuid.UUID("5f1c2a7e-9a51-4d55-9d1e-3c0b0c6a7e10")


@dataclass(frozen=True)
class CallRequest:
    """One call to place, as validated before anything is written."""

    contact: Contact
    purpose: CallPurpose
    context: dict[str, Any]
    at: datetime
    call_id: str
    campaign_id: str | None = None
    max_attempts: int | None = None
    source: str = "api"
    idempotency_key: str | None = None
    field: str = "contact_id"  # the request field an error about the contact names
    voice_mode: str | None = None  # None: the DEFAULT_VOICE_MODE setting


def schedule_name(call_id: str, at: datetime) -> str:
    """A name of its own for each time a call is armed: a one-time schedule that just fired may
    still be being deleted (ActionAfterCompletion DELETE), and a new one under its name could be
    lost with it. The same call and moment give the same name, so arming again is idempotent."""
    return f"call-{call_id}-{int(at.timestamp() * 1000)}"


def watch_schedule_name(call_id: str, at: datetime) -> str:
    return f"watch-{call_id}-{int(at.timestamp() * 1000)}"


def parse_purpose(value: str, field: str = "call_purpose") -> CallPurpose:
    try:
        return CallPurpose(value)
    except ValueError as exc:
        allowed = ", ".join(p.value for p in CallPurpose)
        raise ValidationFailed(f"{field} must be one of {allowed}", field) from exc


def check_due_time(at: datetime | None, field: str = "scheduled_time") -> datetime:
    moment = now()
    if at is None:
        return moment
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    if at < moment - PAST_TOLERANCE:
        raise ValidationFailed(f"{field} is in the past", field)
    if at > moment + MAX_AHEAD:
        raise ValidationFailed(f"{field} is more than 90 days ahead", field)
    return max(at, moment)


def prepare_call(
    contact_id: str,
    purpose: str | CallPurpose,
    context: dict[str, Any] | None = None,
    at: datetime | None = None,
    *,
    field_prefix: str = "",
    call_id: str | None = None,
    campaign_id: str | None = None,
    max_attempts: int | None = None,
    source: str = "api",
    idempotency_key: str | None = None,
    voice_mode: str | None = None,
) -> CallRequest:
    """Validate one call request completely, writing nothing."""
    contact = get_contact(contact_id, f"{field_prefix}contact_id")
    if is_suppressed(contact.phone):
        raise ContactSuppressed(f"{field_prefix}contact_id")
    check_dialable(contact.phone, f"{field_prefix}contact_id", "the contact's phone")
    due = check_due_time(at, f"{field_prefix}scheduled_time")
    if idempotency_key and not call_id:
        call_id = str(uuid.uuid5(_ID_NAMESPACE, f"key:{idempotency_key}"))
    return CallRequest(
        contact=contact,
        purpose=parse_purpose(purpose, f"{field_prefix}call_purpose"),
        context=dict(context or {}),
        at=due,
        call_id=call_id or str(uuid.uuid4()),
        campaign_id=campaign_id,
        max_attempts=max_attempts,
        source=source,
        idempotency_key=idempotency_key,
        field=f"{field_prefix}contact_id",
        voice_mode=voice_mode,
    )


def scheduled_call(
    call_id: str,
    contact_id: str,
    purpose: str,
    context: dict[str, Any],
    at: datetime,
    *,
    schedule_name: str | None = None,
    campaign_id: str | None = None,
    fanout_pass: int | None = None,
    max_attempts: int | None = None,
    source: str = "api",
    idempotency_key: str | None = None,
    voice_mode: str | None = None,
) -> Call:
    """A new call, scheduled at ``at`` and not dialed yet: the one place a call record is made
    (single and bulk triggers, a campaign's fan-out), for ``stores.calls.new_call(s)`` to write."""
    return Call(
        call_id=call_id,
        contact_id=contact_id,
        purpose=purpose,
        context=context,
        status=CallStatus.SCHEDULED.value,
        scheduled_time=repo.iso(at),
        schedule_name=schedule_name,
        campaign_id=campaign_id,
        fanout_pass=fanout_pass,
        attempts=0,
        max_attempts=max_attempts or get_settings().max_attempts,
        source=source,
        idempotency_key=idempotency_key,
        voice_mode=voice_mode or default_voice_mode(),
        attempt_history=[],
        turns=[],
        actions_taken=[],
        reasons=[],
        failures=[],
        memory={},
    )


VOICE_MODES = ("gather", "realtime")


def default_voice_mode() -> str:
    """The voice mode of a call that names none: DEFAULT_VOICE_MODE, Gather mode unless set."""
    mode = get_settings().default_voice_mode.strip().lower()
    return mode if mode in VOICE_MODES else "gather"


def place_request(request: CallRequest) -> Call:
    """Write the call and its schedule. Idempotent on the call id.

    The number is claimed for the call's purpose first: ``CallPending`` (409) when it already has a
    live or scheduled call for it (domain/numbers.py)."""
    claim_pending(request.contact.phone, request.purpose.value, request.call_id, request.field)
    call = repo.new_call(
        scheduled_call(
            request.call_id,
            request.contact.contact_id,
            request.purpose.value,
            request.context,
            request.at,
            campaign_id=request.campaign_id,
            max_attempts=request.max_attempts,
            source=request.source,
            idempotency_key=request.idempotency_key,
            voice_mode=request.voice_mode,
        )
    )
    if call is None:
        existing = repo.get_call(request.call_id)
        assert existing is not None
        if existing.status == CallStatus.SCHEDULED.value and existing.schedule_name is None:
            # the request that wrote it ended before arming it (a Lambda cut off mid-way): arm it
            # now; arming is idempotent and the dialer dials a call once whatever fires it
            return arm_schedule(existing, datetime.fromisoformat(existing.scheduled_time))
        return existing
    armed = arm_schedule(call, request.at)
    metrics.add_metric(name="CallsTriggered", unit="Count", value=1)
    logger.info(
        "call scheduled", extra={"call_id": call.call_id, "purpose": call.purpose, "due": call.scheduled_time}
    )
    return armed


def arm_schedule(call: Call, at: datetime) -> Call:
    """Make the dialer fire for this call at ``at``: a one-time schedule, or now. The call as armed."""
    payload = {"call_id": call.call_id}
    if at <= now() + DUE_NOW:
        scheduler.invoke_dialer_now(payload)
        return call
    name = scheduler.put_one_time_schedule(schedule_name(call.call_id, at), at, payload)
    return repo.set_schedule_name(call, name) or call


def trigger_call(
    contact_id: str,
    purpose: str | CallPurpose,
    context: dict[str, Any] | None = None,
    at: datetime | None = None,
    idempotency_key: str | None = None,
) -> Call:
    """Ask for one autonomous call. The Python API the seed shows; the REST handler calls it too."""
    return place_request(prepare_call(contact_id, purpose, context, at, idempotency_key=idempotency_key))


def trigger_bulk(items: list[BulkCallItem]) -> list[Call]:
    """Validate every call first; write only when all are valid."""
    if not items:
        raise ValidationFailed("calls must hold at least one call", "calls")
    if len(items) > MAX_BULK:
        raise ValidationFailed(f"calls holds {len(items)} calls; at most {MAX_BULK} per request", "calls")
    moment = now()
    requests = [
        prepare_call(
            item.contact_id,
            item.call_purpose,
            item.context,
            moment + timedelta(minutes=float(item.delay_minutes or 0)),
            field_prefix=f"calls[{index}].",
            source="bulk",
        )
        for index, item in enumerate(items)
    ]
    _refuse_pending(requests)
    return [place_request(request) for request in requests]


def _refuse_pending(requests: list[CallRequest]) -> None:
    """Before anything is written: no two calls of the batch for one number and purpose, and none
    for a number and purpose that already has a live or scheduled call."""
    seen: dict[tuple[str, str], str] = {}
    for request in requests:
        key = (request.contact.phone, request.purpose.value)
        if key in seen:
            raise Conflict(
                f"{seen[key]} asks for the same number and purpose: one call per number and purpose",
                request.field,
            )
        seen[key] = request.field
    for purpose in {request.purpose.value for request in requests}:
        asked = [r for r in requests if r.purpose.value == purpose]
        pending = pending_among([r.contact.phone for r in asked], purpose)
        for request in asked:
            if request.contact.phone in pending:
                raise CallPending(pending[request.contact.phone], purpose, request.field)


def get_call(call_id: str) -> Call:
    call = repo.get_call(call_id)
    if call is None:
        raise CallNotFound(call_id)
    return call


def cancel_call(call_id: str) -> Call:
    """Cancel a call that has not been dialed yet, and remove its schedule."""
    call = get_call(call_id)
    if call.status != CallStatus.SCHEDULED.value:
        raise Conflict(f"call is {call.status}; only a scheduled call can be cancelled", "call_id")
    canceled = repo.cancel(call, "canceled by user")
    if canceled is None:
        raise Conflict("the call changed while it was being cancelled; read it again", "call_id")
    if call.schedule_name:
        scheduler.delete_schedule(call.schedule_name)
    return canceled


def close_handoff(call_id: str, closed_by: str | None = None, note: str | None = None) -> Call:
    """A person has followed up on a callee who asked for one: the follow-up is closed, and the
    agent may call the contact again. Closing a closed one changes nothing (a retried request)."""
    for _ in range(5):
        call = get_call(call_id)
        handoff = dict(call.handoff or {})
        if not handoff:
            raise Conflict("this call has no follow-up for a person to close", "call_id")
        if handoff.get("status") == "closed":
            return call
        closed = {**handoff, "status": "closed", "closed_at": repo.iso(now()), "closed_by": closed_by,
                  "note": note}  # fmt: skip
        saved = repo.save_fields(call, {"handoff": closed})
        if saved is not None:
            logger.info("person follow-up closed", extra={"call_id": call_id})
            return saved
    raise Conflict("the call kept changing while its follow-up was being closed; try again", "call_id")


def format_duration(seconds: float | int | None) -> str | None:
    if seconds is None:
        return None
    total = int(seconds)
    return f"{total // 60}m {total % 60}s"


def call_view(row: Call, full: bool = True) -> dict[str, Any]:
    schedule = None
    if full and row.schedule_name and row.status == CallStatus.SCHEDULED.value:
        found = scheduler.get_schedule(row.schedule_name)
        if found is not None:
            schedule = {
                "name": found["Name"],
                "group": found.get("GroupName"),
                "expression": found["ScheduleExpression"],
                "target": found["Target"]["Arn"],
            }
    view: dict[str, Any] = {
        "call_id": row.call_id,
        "contact_id": row.contact_id,
        "call_purpose": row.purpose,
        "status": row.status,
        "outcome": row.outcome,
        "scheduled_time": row.scheduled_time,
        "duration": format_duration(row.duration_s),
        "duration_seconds": row.duration_s,
        "attempts": int(row.attempts or 0),
        "max_attempts": int(row.max_attempts or 0),
        "campaign_id": row.campaign_id,
        "actions_taken": row.actions_taken or [],
        "reasons": row.reasons or [],
        "handoff": row.handoff,
        "voice_mode": row.voice_mode or "gather",
    }
    if full:
        view.update(
            {
                "context": row.context or {},
                "twilio_sid": row.twilio_sid,
                "answered_by": row.answered_by,
                "attempt_history": row.attempt_history or [],
                "turns": row.turns or [],
                "agent_actions": (row.memory or {}).get("agent_actions", []),
                "analysis": row.analysis,
                "result": row.result,
                "failures": row.failures or [],
                "ignored_webhooks": int(row.ignored_webhooks or 0),
                "last_ignored_webhook": row.last_ignored_webhook,
                "schedule": schedule,
                "created_at": row.created_at.isoformat() if row.created_at else None,
                "updated_at": row.updated_at.isoformat() if row.updated_at else None,
            }
        )
    return view


def status_for_contact(contact_id: str, limit: int = 10) -> dict[str, Any]:
    """The seed's autonomous_call_status answer."""
    contact = get_contact(contact_id)
    recent = repo.calls_for_contact(contact_id, limit=limit)
    return {
        "contact": {"contact_id": contact.contact_id, "name": contact.name, "phone": contact.phone},
        "recent_calls": [
            {
                "call_id": row.call_id,
                "call_purpose": row.purpose,
                "status": row.status,
                "outcome": row.outcome,
                "duration": format_duration(row.duration_s),
                "actions_taken": row.actions_taken or [],
                "scheduled_time": row.scheduled_time,
            }
            for row in recent
        ],
    }
