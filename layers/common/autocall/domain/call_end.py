"""The end of a call's attempt, however we learn of it: Twilio's last status callback, the watchdog
asking Twilio about a call whose callback was lost, or the repair of a call left live without a
Twilio call. Every one goes through ``call_ended``, which records the end (a conditional move into
the terminal status: exactly one caller wins it), frees the call's dial slot and starts the
post-call chain, each once."""

from __future__ import annotations

from dataclasses import dataclass

from autocall.config import get_settings
from autocall.domain.conversation import status_changed
from autocall.domain.pacing import release_dial_slot
from autocall.integrations import workflows
from autocall.models.enums import CallStatus
from autocall.observability import logger
from autocall.stores import calls as repo


@dataclass(frozen=True)
class Ending:
    """How an attempt ended. ``call_sid`` is the carrier's call that ended, when the carrier says so
    (None: there is no call on the line and we close the attempt ourselves, for ``reason``)."""

    status: CallStatus
    call_sid: str | None = None
    duration_s: int | None = None
    answered_by: str | None = None
    reason: str | None = None


def status_reported(
    call_id: str, status: CallStatus, call_sid: str, duration_s: int | None, answered_by: str | None
) -> None:
    """The carrier reports the status of the call's attempt: a terminal one is its end."""
    if status.terminal:
        call_ended(call_id, Ending(status, call_sid, duration_s, answered_by))
    else:
        status_changed(call_id, status, duration_s, answered_by, call_sid)


def call_ended(call_id: str, ending: Ending) -> bool:
    """Record the end and start the post-call chain; True only for the one caller that ended it
    (late, repeated or stale reports change nothing)."""
    if not ending.status.terminal:
        raise ValueError(f"{ending.status} is not the end of a call")
    if ending.call_sid is not None:
        ended = status_changed(call_id, ending.status, ending.duration_s, ending.answered_by, ending.call_sid)
        recorded = ended is not None
    else:
        recorded = _close(call_id, ending)
    if not recorded:
        return False
    release_dial_slot(call_id)  # the one that ended the call frees its slot, once
    _start_post_call(call_id)
    return True


def _close(call_id: str, ending: Ending) -> bool:
    """No carrier call will ever report this attempt's end: close it with the reason."""
    call = repo.get_call(call_id)
    if call is None:
        return False
    ended = repo.end_call(call, ending.status, ending.reason or "ended", outcome=ending.status.value)
    return ended is not None


def _start_post_call(call_id: str) -> bool:
    """One Step Functions execution per attempt (named by it: a repeat cannot start a second)."""
    if not get_settings().post_call_state_machine_arn:
        logger.info("no post-call state machine configured", extra={"call_id": call_id})
        return False
    call = repo.get_call(call_id)
    if call is None:
        return False
    return workflows.start_post_call(call_id, int(call.attempts or 1))
