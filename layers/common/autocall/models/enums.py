"""The enums users see in the API: values are the snake_case strings of the JSON."""

from __future__ import annotations

from enum import StrEnum


class CallPurpose(StrEnum):
    SALES_OUTREACH = "sales_outreach"
    FOLLOW_UP = "follow_up"
    CUSTOMER_SUPPORT = "customer_support"
    APPOINTMENT_BOOKING = "appointment_booking"
    RENEWAL_REMINDER = "renewal_reminder"


class CallStatus(StrEnum):
    """The life of a call. Terminal statuses never change once reached."""

    SCHEDULED = "scheduled"
    DIALING = "dialing"
    QUEUED = "queued"
    RINGING = "ringing"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def rank(self) -> int:
        """Order used to move a call forward only."""
        return _RANK[self]


TERMINAL_STATUSES = frozenset(
    {CallStatus.COMPLETED, CallStatus.BUSY, CallStatus.NO_ANSWER, CallStatus.FAILED, CallStatus.CANCELED}
)
_RANK = {
    CallStatus.SCHEDULED: 0,
    CallStatus.DIALING: 1,
    CallStatus.QUEUED: 2,
    CallStatus.RINGING: 3,
    CallStatus.IN_PROGRESS: 4,
    CallStatus.COMPLETED: 9,
    CallStatus.BUSY: 9,
    CallStatus.NO_ANSWER: 9,
    CallStatus.FAILED: 9,
    CallStatus.CANCELED: 9,
}


class Outcome(StrEnum):
    """What a call achieved. Set by the brain during the call, confirmed by the analysis after it."""

    # sales_outreach
    DEMO_SCHEDULED = "demo_scheduled"
    INTERESTED = "interested"
    NOT_INTERESTED = "not_interested"
    CALLBACK_REQUESTED = "callback_requested"
    # follow_up
    PROPOSAL_REQUESTED = "proposal_requested"
    OBJECTION_NOTED = "objection_noted"
    # customer_support
    RESOLVED = "resolved"
    TICKET_OPENED = "ticket_opened"
    ESCALATED = "escalated"
    # appointment_booking
    APPOINTMENT_CONFIRMED = "appointment_confirmed"
    DECLINED = "declined"
    # renewal_reminder
    RENEWED = "renewed"
    NEGOTIATION = "negotiation"
    CHURN_RISK = "churn_risk"
    # any purpose
    OPTED_OUT = "opted_out"
    WRONG_PERSON = "wrong_person"
    TRANSFERRED = "transferred"
    HUMAN_REQUESTED = "human_requested"  # asked for a person, none to transfer to: the team calls back
    NO_CONVERSATION = "no_conversation"
    VOICEMAIL = "voicemail"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    CANCELED = "canceled"


# Outcomes each purpose can reach in a conversation (besides the "any purpose" ones).
PURPOSE_OUTCOMES: dict[CallPurpose, tuple[Outcome, ...]] = {
    CallPurpose.SALES_OUTREACH: (
        Outcome.DEMO_SCHEDULED,
        Outcome.INTERESTED,
        Outcome.NOT_INTERESTED,
        Outcome.CALLBACK_REQUESTED,
    ),
    CallPurpose.FOLLOW_UP: (Outcome.PROPOSAL_REQUESTED, Outcome.OBJECTION_NOTED, Outcome.CALLBACK_REQUESTED),
    CallPurpose.CUSTOMER_SUPPORT: (Outcome.RESOLVED, Outcome.TICKET_OPENED, Outcome.ESCALATED),
    CallPurpose.APPOINTMENT_BOOKING: (
        Outcome.APPOINTMENT_CONFIRMED,
        Outcome.DECLINED,
        Outcome.CALLBACK_REQUESTED,
    ),
    CallPurpose.RENEWAL_REMINDER: (Outcome.RENEWED, Outcome.NEGOTIATION, Outcome.CHURN_RISK),
}

POSITIVE_OUTCOMES = frozenset(
    {
        Outcome.DEMO_SCHEDULED,
        Outcome.INTERESTED,
        Outcome.PROPOSAL_REQUESTED,
        Outcome.RESOLVED,
        Outcome.APPOINTMENT_CONFIRMED,
        Outcome.RENEWED,
        Outcome.NEGOTIATION,
    }
)


class ContactType(StrEnum):
    LEAD = "lead"
    QUALIFIED_LEAD = "qualified_lead"
    OPPORTUNITY = "opportunity"
    CUSTOMER = "customer"
    CHURN_RISK = "churn_risk"
    DO_NOT_CALL = "do_not_call"


class AgentActionKind(StrEnum):
    """What the agent may do during a call; every one is validated server-side."""

    PROPOSE_SLOT = "propose_slot"  # params: {"start": iso8601}
    CONFIRM_SLOT = "confirm_slot"  # params: {"start": iso8601, "duration_minutes": int}
    SCHEDULE_CALLBACK = "schedule_callback"  # params: {"at": iso8601}
    OPT_OUT = "opt_out"  # params: {}
    ESCALATE = "escalate"  # params: {"reason": str}
    TRANSFER = "transfer"  # params: {"reason": str}; number comes from config, never from the model
    REQUEST_HUMAN = "request_human"  # params: {"at": iso8601} or {}; a person calls back, never the agent
    END_CALL = "end_call"  # params: {}
