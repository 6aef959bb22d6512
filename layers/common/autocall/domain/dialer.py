"""The dialer: fired by a call's schedule, it checks every guard at dial time, then dials once.

Exactly-once: ``mark_dialing`` moves scheduled → dialing with a conditional write before Twilio
is called. A later invocation that finds ``dialing`` without a Twilio SID (the dialer died, or
Twilio answered 5xx) asks Twilio for calls to that number since the attempt began instead of
dialing again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import takewhile
from typing import Any

from autocall.clock import now
from autocall.config import get_settings
from autocall.domain import dial_gate
from autocall.domain.call_end import Ending, call_ended
from autocall.domain.campaigns import CampaignStatus
from autocall.domain.numbers import PriorDial, claim_dial, release_dial
from autocall.domain.pacing import acquire_dial_slot, release_dial_slot
from autocall.domain.phones import NumberNotDialable, check_dialable
from autocall.integrations import scheduler
from autocall.integrations.twilio.client import (
    CallerIdNotVerified,
    CallNotFound,
    InvalidNumber,
    RateLimited,
    TelephonyError,
    TelephonyUnavailable,
    get_telephony,
)
from autocall.integrations.twilio.twiml import webhook_url
from autocall.models.enums import CallStatus
from autocall.models.records import Call, Contact
from autocall.observability import count, logger, mask_phone
from autocall.stores import calls as repo
from autocall.stores.campaigns import get_campaign
from autocall.stores.contacts import get_contact
from autocall.stores.suppression import is_suppressed

LIVE = {
    CallStatus.DIALING.value,
    CallStatus.QUEUED.value,
    CallStatus.RINGING.value,
    CallStatus.IN_PROGRESS.value,
}
BUSY_CONTACT_DELAY = timedelta(minutes=10)
# the callee asked for a person: until someone closes that follow-up (POST /calls/{id}/handoff/close)
# the agent does not call them; their other calls look again a day later
PERSON_FOLLOW_UP_HOLD = timedelta(days=1)
RATE_LIMIT_DELAY = timedelta(seconds=30)
RECONCILE_SKEW = timedelta(seconds=30)
LIVE_CHECK_AFTER = timedelta(hours=1)  # a call live this long may have lost its last status callback
LOST_LINE = "live_without_a_twilio_call"  # the repair's reason (see repair_lost_line)
MAX_UNPLACED_DIALS = 8  # creates Twilio refused (429) or lost (5xx, not placed) in a row: then give up
UNPLACED = frozenset({"twilio_rate_limited", "dial_not_placed"})


@dataclass(frozen=True)
class DialResult:
    call_id: str
    action: str  # dialed | reconciled | rescheduled | ended | skipped
    reason: str | None = None
    twilio_sid: str | None = None
    at: str | None = None


def _telephony() -> Any:
    return get_telephony()


def dial(call_id: str) -> DialResult:
    call = repo.get_call(call_id)
    if call is None:
        return DialResult(call_id, "skipped", "unknown_call")
    if call.status == CallStatus.DIALING.value and not call.twilio_sid:
        return _reconcile(call)
    if _lost_line(call):  # its retry's schedule fired on a call wrongly left live: repair, then dial
        repaired, returned = _repair_lost_line(call, arm=False)
        if repaired.action != "rescheduled":
            return repaired
        call = returned or repo.get_call(call_id) or call
    if call.status != CallStatus.SCHEDULED.value:
        return DialResult(call_id, "skipped", f"call_is_{call.status}")
    contact = get_contact(call.contact_id)
    if contact is None:
        return _end(call, CallStatus.CANCELED, "contact_deleted")
    verdict, checked = _guards(call, contact)
    if verdict is not None:
        return verdict
    dialing = repo.mark_dialing(call, checked)
    if dialing is None:
        fresh = repo.get_call(call_id)
        if fresh is None or fresh.status not in LIVE:  # not dialed by anyone: give the slot back
            release_dial_slot(call_id)
        return DialResult(call_id, "skipped", "already_dialing")
    return _place(_fresh_line(dialing), contact)


_LAST_ATTEMPT_FIELDS = ("outcome", "answered_by", "duration_s")


def _fresh_line(call: Call) -> Call:
    """A retry is a new call on the line: the last attempt's conversation (turns, outcome, who
    answered, the agent's memory) moves into that attempt's history entry, so the answer and turn
    webhooks of this attempt start afresh instead of replaying the last one's (a machine's silence
    must not be played back to the person who answers now)."""
    for _ in range(3):
        if call.status != CallStatus.DIALING.value:
            return call
        left = any(getattr(call, name) is not None for name in _LAST_ATTEMPT_FIELDS)
        if not (left or call.turns or call.memory):
            return call
        history = list(call.attempt_history or [])
        if len(history) >= 2:
            previous = {name: getattr(call, name) for name in _LAST_ATTEMPT_FIELDS}
            history[-2] = {**previous, **history[-2], "turns": list(call.turns or [])}
        cleared = repo.clear_last_attempt_while_dialing(call, history)
        if cleared is not None:
            return cleared
        fresh = repo.get_call(call.call_id)
        if fresh is None:
            return call
        call = fresh
    return call


def _guards(call: Call, contact: Contact) -> tuple[DialResult | None, dict[str, Any]]:
    """Checked at dial time, not only at trigger time. A failed guard never drops a call silently.

    Returns the verdict (None: dial) and what was checked, recorded with every decision from the
    calling window on: the zones the window had to be open in, the number's dial counts."""
    campaign = get_campaign(call.campaign_id) if call.campaign_id else None
    if campaign is not None and campaign.status == CampaignStatus.CANCELED:
        return _end(call, CallStatus.CANCELED, "campaign_canceled"), {}
    if campaign is not None and campaign.status == CampaignStatus.PAUSED:  # resume gives it a schedule again
        repo.hold_scheduled(call, "campaign_paused")
        return DialResult(call.call_id, "skipped", "campaign_paused"), {}
    if is_suppressed(contact.phone):
        return _end(call, CallStatus.CANCELED, "suppressed"), {}
    if not contact.consent:
        return _end(call, CallStatus.CANCELED, "no_consent"), {}
    if int(call.attempts or 0) >= int(call.max_attempts or get_settings().max_attempts):
        return _end(call, CallStatus.CANCELED, "max_attempts_reached"), {}
    try:  # the rules (allowed countries, caller id) may have changed since the trigger
        check_dialable(contact.phone, "phone", "the contact's phone")
    except NumberNotDialable as refused:
        return _end(call, CallStatus.CANCELED, f"number_not_dialable: {refused.reason}"), {}
    moment = now()
    others = [o for o in repo.calls_for_contact(contact.contact_id, limit=25) if o.call_id != call.call_id]
    if any((o.handoff or {}).get("status") == "open" for o in others):  # a person calls them back first
        return _reschedule(call, moment + PERSON_FOLLOW_UP_HOLD, "awaiting_person_follow_up"), {}
    # the compliance rules: campaign window ∩ every binding rule ∩ every zone, holidays, caps
    gate = dial_gate.evaluate(call, contact, campaign, moment)
    checked: dict[str, Any] = gate.checked()
    if not gate.allowed:
        return _refused(call, contact, gate), checked
    if _on_another_call(others):
        return _put_off(call, contact, gate, moment + BUSY_CONTACT_DELAY, "contact_on_another_call"), checked
    attempt = int(call.attempts or 0) + 1
    rechecked: list[dial_gate.Gate] = [gate]

    def admit(prior: list[PriorDial]) -> tuple[str, datetime | None] | None:
        """The rules' caps on the number's dials as this claim reads them (a race-free count)."""
        rechecked[0] = dial_gate.recheck(gate, call, contact, prior)
        return None if rechecked[0].allowed else (rechecked[0].reason, rechecked[0].first_allowed)

    claim = claim_dial(contact.phone, call.call_id, call.purpose, attempt, admit)
    counts = {"number_dials_24h": claim.dials_24h, "number_dials_7d": claim.dials_7d}
    if claim.reason == "duplicate_call":
        held = {**checked, "pending_call_id": claim.pending_call_id}
        dial_gate.record(call, contact, gate, "end", "duplicate_call")
        return _end(call, CallStatus.CANCELED, "duplicate_call", held), held
    if not rechecked[0].allowed:  # another call dialed the number meanwhile: a cap is reached now
        return _refused(call, contact, rechecked[0]), checked
    if not claim.granted:
        wanted = claim.not_before or moment + BUSY_CONTACT_DELAY
        return _put_off(call, contact, gate, wanted, str(claim.reason), counts), checked
    checked.update(counts)
    wait = acquire_dial_slot(call.call_id)
    if wait is not None:
        release_dial(contact.phone, call.call_id, attempt)  # not dialed now: the number's count drops it
        return _put_off(call, contact, gate, moment + wait, "pacing_limit"), checked
    dial_gate.record(call, contact, gate, "dial")
    return None, checked


def _refused(call: Call, contact: Contact, gate: dial_gate.Gate) -> DialResult:
    """The rules refuse this moment: to their next allowed moment, or ended with their reason when
    none comes (an unresolvable number, no moment open in all its zones within the horizon)."""
    checked = gate.checked()
    if gate.first_allowed is None:
        dial_gate.record(call, contact, gate, "end", gate.reason)
        return _end(call, CallStatus.CANCELED, gate.reason, checked)
    dial_gate.record(call, contact, gate, "reschedule", gate.reason, gate.first_allowed)
    return _reschedule(call, gate.first_allowed, gate.reason, checked)


def _put_off(
    call: Call,
    contact: Contact,
    gate: dial_gate.Gate,
    wanted: datetime,
    reason: str,
    detail: dict[str, Any] | None = None,
) -> DialResult:
    """The rules allow now but a guard after them does not: to the first moment from ``wanted`` on
    that the rules allow, recorded with the rules' decision and this guard's reason."""
    _, at = dial_gate.first_allowed(
        gate.resolution, wanted, gate.prior, gate.window, call.purpose, contact.country
    )
    checked = {**gate.checked(), **(detail or {})}
    if at is None:
        dial_gate.record(call, contact, gate, "end", f"{reason}; no_allowed_moment")
        return _end(call, CallStatus.CANCELED, "no_allowed_moment", checked)
    dial_gate.record(call, contact, gate, "reschedule", reason, at)
    return _reschedule(call, at, reason, checked)


def _on_another_call(others: list[Call]) -> bool:
    """Another call of the contact is live. One marked live without a Twilio call can never end on
    its own (no callback will come for it): it is repaired here instead of blocking the contact."""
    blocking = False
    for other in others:
        if other.status not in LIVE:
            continue
        if _lost_line(other):
            repair_lost_line(other, arm=True)
            continue
        blocking = True
    return blocking


def _urls(call_id: str) -> dict[str, str]:
    base = get_settings().required("public_base_url")  # no request here: the template gives it
    return {
        "answer_url": webhook_url(base, "/twilio/answer", call_id),
        "status_callback_url": webhook_url(base, "/twilio/status", call_id),
        "amd_callback_url": webhook_url(base, "/twilio/amd", call_id),
    }


def _place(call: Call, contact: Contact) -> DialResult:
    try:
        sid = _telephony().create_call(
            to=contact.phone, from_=get_settings().required("caller_id"), **_urls(call.call_id)
        )
    except (InvalidNumber, CallerIdNotVerified) as exc:
        count("TwilioErrors")  # the guard rejection is counted once, by _end, as twilio_rejected
        release_dial_slot(call.call_id)
        return _end(call, CallStatus.FAILED, f"twilio_rejected: {exc.code} {type(exc).__name__}")
    except RateLimited:
        return _release(call, now() + RATE_LIMIT_DELAY, "twilio_rate_limited")
    except TelephonyUnavailable:
        count("TwilioErrors")
        logger.warning("twilio unavailable while dialing; reconciling", extra={"call_id": call.call_id})
        return _reconcile(call)
    except TelephonyError as exc:
        count("TwilioErrors")
        release_dial_slot(call.call_id)
        return _end(call, CallStatus.FAILED, f"twilio_error: {exc.code}")
    _record_sid(call, sid)
    count("CallsPlaced")
    logger.info("call placed", extra={"call_id": call.call_id, "to": mask_phone(contact.phone)})
    return DialResult(call.call_id, "dialed", twilio_sid=sid)


def _record_sid(call: Call, sid: str) -> None:
    """Save the SID unless a status callback already did (they race); retry a lost version race."""
    for _ in range(3):
        fresh = repo.get_call(call.call_id) or call
        if fresh.twilio_sid:
            break
        saved = repo.record_sid_if_unset(fresh, sid)
        if saved is not None:
            fresh = saved
            break
    else:  # never live without a SID: fail, and Lambda's retry of this dial reconciles with Twilio
        raise RuntimeError(f"the Twilio SID of call {call.call_id} could not be saved")
    repo.apply_status(fresh, CallStatus.QUEUED)
    _watch_at(call.call_id, now() + LIVE_CHECK_AFTER)  # in case its last status callback is lost


def watch(call_id: str) -> DialResult:
    """The watchdog (its own schedule, never a dial): a call still live an hour after it was placed
    may have ended while our API could not take Twilio's last status callback. Twilio knows: a call
    that is over is closed as if the callback had come."""
    call = repo.get_call(call_id)
    if call is not None and _lost_line(call):
        return repair_lost_line(call, arm=True)
    if call is None or call.status not in LIVE or not call.twilio_sid:
        return DialResult(call_id, "skipped", f"call_is_{call.status if call else 'unknown'}")
    return _check_live(call, call.twilio_sid)


def _lost_line(call: Call) -> bool:
    """Live past dialing but with no Twilio call: no callback can ever end it. (Dialing without a
    SID is an attempt being placed; the dial's own retry reconciles it with Twilio.)"""
    return call.status in LIVE and call.status != CallStatus.DIALING.value and not call.twilio_sid


def repair_lost_line(call: Call, arm: bool) -> DialResult:
    """Close a call left live without a Twilio call, with the reason, and free its slot.

    If its attempt had already ended (it was waiting for its retry when something revived it), it
    goes back to waiting, its schedule armed again when ``arm``; otherwise the attempt ends as
    failed and the post-call chain plans the next one, as for any failed attempt."""
    return _repair_lost_line(call, arm)[0]


def _repair_lost_line(call: Call, arm: bool) -> tuple[DialResult, Call | None]:
    """``repair_lost_line``, and the call back on its schedule when it went back there."""
    fresh = repo.get_call(call.call_id)
    if fresh is None or not _lost_line(fresh):
        return DialResult(call.call_id, "skipped", f"call_is_{fresh.status if fresh else 'unknown'}"), None
    count("LostLinesRepaired")
    logger.warning("repairing a call live without a Twilio call", extra={"call_id": call.call_id})
    last = (fresh.attempt_history or [{}])[-1]
    if last.get("ended_at") or last.get("result"):
        at = max(_parse_utc(fresh.scheduled_time), now())
        name = _schedule_name(call.call_id, at) if arm else None
        returned = repo.return_to_schedule(fresh, at, name, LOST_LINE)
        if returned is not None:
            release_dial_slot(call.call_id)
            if arm:
                _arm(call.call_id, at)
        return DialResult(call.call_id, "rescheduled", LOST_LINE, at=repo.iso(at)), returned
    call_ended(call.call_id, Ending(CallStatus.FAILED, reason=LOST_LINE))
    return DialResult(call.call_id, "ended", LOST_LINE), None


def _parse_utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _watch_at(call_id: str, at: datetime) -> None:
    from autocall.domain.calls import watch_schedule_name

    scheduler.put_one_time_schedule(watch_schedule_name(call_id, at), at, {"call_id": call_id, "watch": True})


def _check_live(call: Call, sid: str) -> DialResult:
    try:
        info = _telephony().fetch_call(sid)
    except CallNotFound:
        count("TwilioErrors")
        call_ended(call.call_id, Ending(CallStatus.FAILED, reason="twilio_call_not_found"))
        return DialResult(call.call_id, "ended", "twilio_call_not_found")
    except Exception:
        info = None
    ended = info.call_status if info is not None else None
    if info is None or ended is None or not ended.terminal:
        _watch_at(call.call_id, now() + LIVE_CHECK_AFTER)
        return DialResult(call.call_id, "skipped", "call_still_live", twilio_sid=sid)
    count("LostStatusCallbacks")
    repo.add_reason(call, "status_callback_lost")
    call_ended(call.call_id, Ending(ended, info.sid, info.duration))
    return DialResult(call.call_id, "reconciled", "status_callback_lost", twilio_sid=info.sid)


def _reconcile(call: Call) -> DialResult:
    """The attempt may have reached Twilio: look for it before anything else. Never redial blind."""
    contact = get_contact(call.contact_id)
    if contact is None:
        return _end(call, CallStatus.CANCELED, "contact_deleted")
    since = (call.dial_started_at or now()) - RECONCILE_SKEW
    try:
        found = _telephony().find_calls_to(contact.phone, since)
    except Exception:
        logger.warning("reconcile failed; trying again shortly", extra={"call_id": call.call_id})
        _arm(call.call_id, now() + RATE_LIMIT_DELAY)
        return DialResult(call.call_id, "rescheduled", "reconcile_pending")
    if found:
        _record_sid(call, found[0].sid)
        return DialResult(call.call_id, "reconciled", twilio_sid=found[0].sid)
    return _release(call, now() + RATE_LIMIT_DELAY, "dial_not_placed")


def _release(call: Call, at: datetime, reason: str) -> DialResult:
    """dialing → scheduled when Twilio certainly did not place the call; the attempt is not counted."""
    fresh = repo.get_call(call.call_id) or call
    history = list(fresh.attempt_history or [])
    if history:
        history[-1] = {**history[-1], "result": reason}
    in_a_row = sum(1 for _ in takewhile(lambda h: h.get("result") in UNPLACED, reversed(history)))
    if in_a_row >= MAX_UNPLACED_DIALS:  # bounded: record the reason and alarm instead of retrying forever
        count("TwilioErrors")
        release_dial_slot(call.call_id)
        return _end(fresh, CallStatus.FAILED, f"{reason}: gave up after {in_a_row} tries")
    released = repo.release_unplaced(fresh, at, _schedule_name(call.call_id, at), reason, history)
    if released is not None:
        release_dial_slot(call.call_id)
        _arm(call.call_id, at)
    return DialResult(call.call_id, "rescheduled", reason, at=repo.iso(at))


def _schedule_name(call_id: str, at: datetime) -> str:
    from autocall.domain.calls import schedule_name

    return schedule_name(call_id, at)


def _arm(call_id: str, at: datetime) -> None:
    scheduler.put_one_time_schedule(_schedule_name(call_id, at), at, {"call_id": call_id})


def _reschedule(call: Call, at: datetime, reason: str, detail: dict[str, Any] | None = None) -> DialResult:
    count("GuardRejections", reason=reason)
    name = _schedule_name(call.call_id, at)
    if repo.reschedule(call, at, reason, name, detail):
        scheduler.put_one_time_schedule(name, at, {"call_id": call.call_id})
    logger.info("call rescheduled", extra={"call_id": call.call_id, "reason": reason, "at": repo.iso(at)})
    return DialResult(call.call_id, "rescheduled", reason, at=repo.iso(at))


def _end(call: Call, status: CallStatus, reason: str, detail: dict[str, Any] | None = None) -> DialResult:
    count("GuardRejections", reason=reason.split(":")[0])
    outcome = status.value if status != CallStatus.CANCELED else "canceled"
    repo.end_call(call, status, reason, outcome=outcome, detail=detail)
    logger.info("call ended before dialing", extra={"call_id": call.call_id, "reason": reason})
    return DialResult(call.call_id, "ended", reason)
