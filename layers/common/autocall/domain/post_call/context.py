"""What a post-call step knows about the call: the records, the final outcome, the agreed slot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from autocall.clock import now
from autocall.domain.calendar.windows import CallingWindow
from autocall.domain.contacts import callee_time_zone, callee_time_zones, get_contact
from autocall.errors import CallNotFound
from autocall.models.enums import AgentActionKind, CallPurpose, CallStatus, Outcome
from autocall.models.records import Call, Contact
from autocall.stores import calls as calls_repo
from autocall.stores.campaigns import get_campaign

UNANSWERED = frozenset({Outcome.VOICEMAIL, Outcome.NO_ANSWER, Outcome.BUSY, Outcome.FAILED})
_STATUS_OUTCOME = {
    CallStatus.BUSY.value: Outcome.BUSY,
    CallStatus.NO_ANSWER.value: Outcome.NO_ANSWER,
    CallStatus.FAILED.value: Outcome.FAILED,
    CallStatus.CANCELED.value: Outcome.CANCELED,
}
_OUTCOMES = frozenset(o.value for o in Outcome)
DEFAULT_SLOT_MINUTES = 30


@dataclass(frozen=True)
class Slot:
    start: datetime  # tz-aware UTC
    minutes: int

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)


@dataclass(frozen=True)
class PostCall:
    call: Call
    contact: Contact
    attempt: int
    outcome: Outcome
    window: CallingWindow

    @property
    def call_id(self) -> str:
        return str(self.call.call_id)

    @property
    def purpose(self) -> CallPurpose:
        return CallPurpose(self.call.purpose)

    @property
    def context(self) -> dict[str, Any]:
        return dict(self.call.context or {})

    @property
    def time_zone(self) -> str:
        """The zone times are said in to the callee."""
        return callee_time_zone(self.contact)

    @property
    def time_zones(self) -> tuple[str, ...]:
        """Every zone the callee can be in: a call is booked only when the window is open in all."""
        return callee_time_zones(self.contact)

    @property
    def conversation(self) -> bool:
        """Someone (a person) was on the line: the CRM hears about it and actions may follow."""
        return self.outcome not in UNANSWERED and self.outcome is not Outcome.CANCELED

    @property
    def attempts_left(self) -> bool:
        return int(self.call.attempts or 0) < int(self.call.max_attempts or 1)

    @property
    def closes_contact(self) -> bool:
        """The CRM is told once per call: when there was a conversation or no attempt is left."""
        if self.outcome is Outcome.CANCELED:
            return False
        return self.conversation or not self.attempts_left

    def agent_actions(self, kind: AgentActionKind) -> list[dict[str, Any]]:
        actions = (self.call.memory or {}).get("agent_actions") or []
        return [a for a in actions if a.get("kind") == kind.value]

    @property
    def slot(self) -> Slot | None:
        confirmed = self.agent_actions(AgentActionKind.CONFIRM_SLOT)
        if not confirmed:
            return None
        params = confirmed[-1].get("params") or {}
        minutes = int(params.get("duration_minutes") or DEFAULT_SLOT_MINUTES)
        return Slot(parse_utc(str(params["start"])), minutes)

    @property
    def callback_at(self) -> datetime | None:
        requested = self.agent_actions(AgentActionKind.SCHEDULE_CALLBACK)
        at = (requested[-1].get("params") or {}).get("at") if requested else None
        return parse_utc(str(at)) if at else None

    @property
    def person_requested_at(self) -> datetime | None:
        """The time the callee prefers for the person's call, if they named one."""
        requests = self.agent_actions(AgentActionKind.REQUEST_HUMAN)
        at = next(
            (
                (r.get("params") or {}).get("at")
                for r in reversed(requests)
                if (r.get("params") or {}).get("at")
            ),
            None,
        )
        return parse_utc(str(at)) if at else None

    @property
    def escalation_reason(self) -> str | None:
        escalations = self.agent_actions(AgentActionKind.ESCALATE)
        if not escalations:
            return None
        return str((escalations[-1].get("params") or {}).get("reason") or "escalated by the agent")


def parse_utc(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def resolve_outcome(call: Call) -> Outcome:
    """The call's final outcome: an opt-out wins, then the brain's outcome (but "no conversation" with
    a machine is voicemail), then the line's status."""
    actions = (call.memory or {}).get("agent_actions") or []
    if call.outcome == Outcome.OPTED_OUT.value or any(
        a.get("kind") == AgentActionKind.OPT_OUT.value for a in actions
    ):
        return Outcome.OPTED_OUT
    machine = (call.answered_by or "").startswith(("machine", "fax"))
    if call.outcome in _OUTCOMES and not (call.outcome == Outcome.NO_CONVERSATION.value and machine):
        return Outcome(call.outcome)
    if call.status in _STATUS_OUTCOME:
        return _STATUS_OUTCOME[call.status]
    if machine:  # Twilio said a machine answered, though no AMD callback came: voicemail, retried
        return Outcome.VOICEMAIL
    return Outcome.NO_CONVERSATION


def load_call(call_id: str) -> Call:
    call = calls_repo.get_call(call_id)
    if call is None:
        raise CallNotFound(call_id)
    return call


def load(call_id: str, attempt: int | None = None) -> PostCall:
    """The call as this attempt's steps see it. The outcome is the one the analysis stored for the
    attempt when there is one: a retry reopens the call, and later steps must not read it anew."""
    call = load_call(call_id)
    attempt = int(attempt or call.attempts or 1)
    campaign = get_campaign(call.campaign_id) if call.campaign_id else None
    stored = call.analysis or {}
    analysed = stored.get("outcome") if stored.get("attempt") == attempt else None
    return PostCall(
        call=call,
        contact=get_contact(call.contact_id),
        attempt=attempt,
        outcome=Outcome(analysed) if analysed in _OUTCOMES else resolve_outcome(call),
        window=CallingWindow.from_config(campaign.calling_window if campaign else None),
    )


def amend_call(call_id: str, change: Callable[[Call], dict[str, Any] | None]) -> Call:
    """Apply ``change(fresh call)`` under the call's version, re-reading on a concurrent write.

    ``change`` returns the fields to change, or None when there is nothing (more) to do."""
    for _ in range(8):
        call = load_call(call_id)
        changes = change(call)
        if not changes:
            return call
        saved = calls_repo.save_fields(call, changes)
        if saved is not None:
            return saved
    raise ConcurrentUpdate(f"call {call_id} kept changing while the post-call chain wrote to it")


class ConcurrentUpdate(Exception):
    """Retried by the state machine."""


def iso_now() -> str:
    return calls_repo.iso(now())
