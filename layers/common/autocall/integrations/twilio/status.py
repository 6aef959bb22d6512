"""Twilio's words for a call, in ours: the one mapping of its ``CallStatus`` values (and of the
status callback events we ask for, and its ``AnsweredBy`` values) used everywhere."""

from __future__ import annotations

from autocall.models.enums import CallStatus

CALL_STATUS: dict[str, CallStatus] = {
    "queued": CallStatus.QUEUED,
    "initiated": CallStatus.QUEUED,
    "ringing": CallStatus.RINGING,
    "in-progress": CallStatus.IN_PROGRESS,
    "answered": CallStatus.IN_PROGRESS,
    "completed": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "no-answer": CallStatus.NO_ANSWER,
    "failed": CallStatus.FAILED,
    "canceled": CallStatus.CANCELED,
}
# the status callbacks a placed call asks for
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
# who (or what) picked up, from asynchronous answering-machine detection
ANSWERED_BY = frozenset(
    {
        "human",
        "machine_start",
        "machine_end_beep",
        "machine_end_silence",
        "machine_end_other",
        "fax",
        "unknown",
    }
)


def call_status(twilio_status: str) -> CallStatus | None:
    """Our status for Twilio's, None for a word Twilio does not use."""
    return CALL_STATUS.get(twilio_status)


def ended(twilio_status: str) -> bool:
    """Twilio says the call is over."""
    status = call_status(twilio_status)
    return status is not None and status.terminal
