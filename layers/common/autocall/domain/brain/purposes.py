"""The five call purposes as data: what the agent wants, asks, may do and says.

``PlaybookBrain`` interprets these; ``LlmBrain`` turns them into its system prompt. Templates use
``str.format`` fields filled per call: {first} {agent} {business} {company} {product} {label}
{duration} {pains} {renewal}, and {callback_number} in voicemails.

A ``Rule`` says: when the callee's utterance carries one of ``intents`` (and the call is in one of
``stages``, if given), make ``move`` - one of the generic moves the brain knows - say ``say``, ask
``ask`` and set ``outcome``. Rules are tried in order; the first that matches wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from autocall.models.enums import PURPOSE_OUTCOMES, AgentActionKind, CallPurpose, Outcome

# Generic moves the brain implements once for every purpose.
MOVES = frozenset(
    {"ask", "offer", "propose_slot", "probe", "troubleshoot", "ticket", "escalate", "wrap", "close"}
)
# Objective keys every playbook uses (with its own wording), in order.
OBJECTIVE_KEYS = ("reach_contact", "identify_needs", "present_offer", "secure_commitment")


@dataclass(frozen=True)
class Objective:
    key: str
    text: str


@dataclass(frozen=True)
class Rule:
    intents: frozenset[str]
    move: str
    outcome: Outcome | None = None
    say: str = ""
    ask: str = ""
    stages: frozenset[str] = frozenset()  # empty: any stage
    to: str = ""  # the stage after the move; empty: the move's default


def rule(
    intents: str,
    move: str,
    outcome: Outcome | None = None,
    say: str = "",
    ask: str = "",
    stages: str = "",
    to: str = "",
) -> Rule:
    """A rule from space-separated intent and stage names (keeps the tables below readable)."""
    assert move in MOVES, move
    return Rule(frozenset(intents.split()), move, outcome, say, ask, frozenset(stages.split()), to)


@dataclass(frozen=True)
class Booking:
    label: str  # what is booked: "demo", "meeting"
    duration_minutes: int = 30


@dataclass(frozen=True)
class Playbook:
    purpose: CallPurpose
    product: str  # default for {product} when the trigger's context names none
    objectives: tuple[Objective, ...]
    opening: str
    pitch: str  # why we call, said when the callee asks or confirms who they are
    discovery: tuple[str, ...]
    offer: str  # the question that offers the next step
    rules: tuple[Rule, ...]
    allowed_actions: frozenset[AgentActionKind]
    voicemail: str
    closing: dict[Outcome | None, str]  # by the call's outcome; None: any other
    commitment_outcomes: frozenset[Outcome]  # outcomes that reach the last objective
    booking: Booking | None = None
    tips: dict[str, str] = field(default_factory=dict)  # troubleshooting tip by pain keyword
    topic: str = "about {product}"  # why we call, in a message left with a receptionist

    @property
    def outcomes(self) -> tuple[Outcome, ...]:
        return PURPOSE_OUTCOMES[self.purpose]


def _objectives(*texts: str) -> tuple[Objective, ...]:
    return tuple(Objective(k, t) for k, t in zip(OBJECTIVE_KEYS, texts, strict=True))


_ALWAYS = frozenset(
    {
        AgentActionKind.SCHEDULE_CALLBACK,
        AgentActionKind.OPT_OUT,
        AgentActionKind.TRANSFER,
        AgentActionKind.REQUEST_HUMAN,
    }
)
_SLOTS = frozenset({AgentActionKind.PROPOSE_SLOT, AgentActionKind.CONFIRM_SLOT})
_VOICEMAIL_TAIL = (
    " You can call us back at {callback_number}, or just wait for our next call."
    " Thanks, and have a great day!"
)
_ANYTHING_ELSE = "Is there anything else I can help you with?"

SALES = Playbook(
    topic="about our {product}",
    purpose=CallPurpose.SALES_OUTREACH,
    product="cloud solutions",
    objectives=_objectives(
        "Confirm you are speaking with the contact and that they have a minute",
        "Learn their current setup, challenges and pain points",
        "Relate our product to their pain points and offer a 30-minute demo",
        "Book the demo at a time that suits them (or note interest or a callback time)",
    ),
    opening="Hi {first}! I hope I'm not catching you at a bad time. I'm reaching out because {company} might "
    "benefit from our {product}. Do you have a quick minute?",
    pitch="We help companies like {company} cut infrastructure costs and scale without the headaches.",
    discovery=(
        "What challenges are you facing with your current setup?",
        "What would make the biggest difference for your team this year?",
    ),
    offer="Would you like to see how it works? I can schedule a 30-minute demo.",
    rules=(
        rule(
            "not_interested",
            "probe",
            Outcome.NOT_INTERESTED,
            "Understood, {first}.",
            "Just so I know, is it the timing, or are you happy with your current setup?",
        ),
        rule("agree interest", "propose_slot", Outcome.INTERESTED, "Perfect!", stages="offer"),
        rule("decline", "wrap", None, "No problem at all.", _ANYTHING_ELSE, stages="offer"),
        rule(
            "interest pain_point",
            "offer",
            Outcome.INTERESTED,
            "That makes sense. {pains}Many companies like yours see real savings and easier scaling with our "
            "{product}.",
        ),
        rule(
            "ask_price ask_proposal",
            "offer",
            Outcome.INTERESTED,
            "It depends on your setup, and the demo covers pricing in detail.",
        ),
    ),
    allowed_actions=_ALWAYS | _SLOTS,
    voicemail="Hi {first}, this is {agent}, an automated AI assistant calling from {business} about our "
    "{product}. I'd love to show you how we can help {company}." + _VOICEMAIL_TAIL,
    closing={
        Outcome.DEMO_SCHEDULED: "Thanks, {first}! The calendar invite is on its way. Goodbye!",
        Outcome.NOT_INTERESTED: "No problem at all, {first}. Thanks for your time. Goodbye!",
        Outcome.CALLBACK_REQUESTED: "Thanks, {first}. Talk to you then. Goodbye!",
        None: "Thanks for your time, {first}. Have a great day. Goodbye!",
    },
    commitment_outcomes=frozenset({Outcome.DEMO_SCHEDULED}),
    booking=Booking("demo"),
)

FOLLOW_UP = Playbook(
    topic="to follow up on {product}",
    purpose=CallPurpose.FOLLOW_UP,
    product="our proposal",
    objectives=_objectives(
        "Confirm you are speaking with the contact and that they have a minute",
        "Learn where their decision stands since the last conversation",
        "Address their concerns (price, timing, implementation, competitors)",
        "Move the deal forward: agree to send a proposal, or note the objection",
    ),
    opening="Hi {first}! I'm following up on our last conversation about {product}. Do you have a "
    "quick minute?",
    pitch="I'm following up on our last conversation about {product}.",
    discovery=(
        "Have you had a chance to discuss it with your team?",
        "Is there anything holding you back from moving forward?",
    ),
    offer="Would you like me to send over a proposal with pricing?",
    rules=(
        rule(
            "ask_proposal",
            "wrap",
            Outcome.PROPOSAL_REQUESTED,
            "Great! I'll have a proposal with pricing emailed to you today.",
            "Is there anything specific you'd like it to cover?",
        ),
        rule(
            "agree",
            "wrap",
            Outcome.PROPOSAL_REQUESTED,
            "Great! I'll have it emailed to you today.",
            _ANYTHING_ELSE,
            stages="offer",
        ),
        rule(
            "price_objection concern competitor not_interested cancel",
            "offer",
            Outcome.OBJECTION_NOTED,
            "That's a fair concern, and I've noted it. Most teams are up and running within a few weeks, and "
            "we can phase the costs.",
            "Would a proposal that spells out the timeline and costs help?",
        ),
        rule("decline", "wrap", None, "No problem.", _ANYTHING_ELSE, stages="offer"),
        rule("interest agree", "offer", None, "Good to hear."),
    ),
    allowed_actions=_ALWAYS,
    voicemail="Hi {first}, this is {agent}, an automated AI assistant calling from {business}, "
    "following up on our last conversation about {product}." + _VOICEMAIL_TAIL,
    closing={
        Outcome.PROPOSAL_REQUESTED: "Thanks, {first}! Watch your inbox for the proposal. Goodbye!",
        Outcome.OBJECTION_NOTED: "Thanks for being open with me, {first}. Take your time. Goodbye!",
        None: "Thanks for your time, {first}. Have a great day. Goodbye!",
    },
    commitment_outcomes=frozenset({Outcome.PROPOSAL_REQUESTED, Outcome.OBJECTION_NOTED}),
)

SUPPORT = Playbook(
    topic="to check in on how {product} is working",
    purpose=CallPurpose.CUSTOMER_SUPPORT,
    product="our service",
    objectives=_objectives(
        "Confirm you are speaking with the contact and that they have a minute",
        "Check whether everything works and learn about any open issue",
        "Try a quick fix for the issue",
        "Resolve it, open a ticket, or escalate when the customer is upset or it keeps failing",
    ),
    opening="Hi {first}! I'm calling to check in on how things are going with {product}. Do you have a quick "
    "minute?",
    pitch="I'm calling to check in on how things are going with {product}.",
    discovery=("Are you having any issues with {product} right now?",),
    offer="",
    rules=(
        rule(
            "frustration ask_human",
            "escalate",
            Outcome.ESCALATED,
            "I'm really sorry, {first}. That's not the experience we want for you. I'm escalating this to a "
            "senior support engineer right now, with high priority.",
            "They'll contact you today. Is there anything else I should pass on?",
        ),
        rule(
            "problem_unresolved repeat_issue",
            "escalate",
            Outcome.ESCALATED,
            "I'm sorry it's still not fixed, {first}. I'm escalating your ticket to a senior "
            "engineer right now.",
            "They'll contact you today. Is there anything else I should pass on?",
            stages="ticket",
        ),
        rule(
            "problem_unresolved decline",
            "ticket",
            Outcome.TICKET_OPENED,
            "I'm sorry that didn't help. I've opened a ticket for our support team with all the details, and "
            "they'll follow up within one business day.",
            _ANYTHING_ELSE,
            stages="troubleshoot",
        ),
        rule(
            "problem_resolved agree",
            "wrap",
            Outcome.RESOLVED,
            "Great, I'm glad that fixed it!",
            _ANYTHING_ELSE,
            stages="troubleshoot",
        ),
        rule(
            "problem_resolved",
            "wrap",
            Outcome.RESOLVED,
            "Glad to hear everything is working!",
            _ANYTHING_ELSE,
        ),
        rule("problem_unresolved pain_point", "troubleshoot", None, "I'm sorry to hear that."),
        rule(
            "decline",
            "wrap",
            Outcome.RESOLVED,
            "Glad to hear everything is working!",
            _ANYTHING_ELSE,
            stages="discovery",
        ),
        rule("agree", "ask", None, "I'm sorry to hear that.", "What's going on?", stages="discovery"),
    ),
    allowed_actions=_ALWAYS | {AgentActionKind.ESCALATE},
    voicemail="Hi {first}, this is {agent}, an automated AI assistant calling from {business} to check in on "
    "{product}." + _VOICEMAIL_TAIL,
    closing={
        Outcome.RESOLVED: "Thanks, {first}! Have a great day. Goodbye!",
        Outcome.TICKET_OPENED: "Thanks for your patience, {first}. Our team will be in touch. Goodbye!",
        Outcome.ESCALATED: "Thank you, {first}, and sorry again. We'll be in touch today. Goodbye!",
        None: "Thanks for your time, {first}. Have a great day. Goodbye!",
    },
    commitment_outcomes=frozenset({Outcome.RESOLVED, Outcome.TICKET_OPENED, Outcome.ESCALATED}),
    tips={
        "billing": "Could you try signing out and back in, then re-running the sync from the Billing page in "
        "Settings?",
        "integration": "Could you try disconnecting and reconnecting the integration in Settings, "
        "then running a manual sync?",
        "performance": "Could you try clearing your browser cache and reloading the page?",
        "": "Could you try signing out and back in, and restarting the app?",
    },
)

APPOINTMENT = Playbook(
    topic="to set up a {duration}-minute {label} with our team",
    purpose=CallPurpose.APPOINTMENT_BOOKING,
    product="meeting",
    objectives=_objectives(
        "Confirm you are speaking with the contact and that they have a minute",
        "Find a day and time that suits them",
        "Propose a concrete slot (weekdays, 8 AM to 6 PM their time)",
        "Confirm the appointment and read it back",
    ),
    opening="Hi {first}! I'm calling to set up a {duration}-minute {label} with our team. Do you "
    "have a quick "
    "minute?",
    pitch="I'm calling to set up a {duration}-minute {label} with our team.",
    discovery=("When would be a good time for you? I have openings this week.",),
    offer="Shall I find a time that works for you?",
    rules=(
        rule(
            "not_interested",
            "probe",
            Outcome.DECLINED,
            "No problem, {first}.",
            "Would a later date suit you better, or shall I leave it for now?",
        ),
        rule("pain_point", "offer", None, "Got it. Our team will come prepared. {pains}"),
        rule("agree interest", "propose_slot", None, "Great!", stages="offer discovery"),
        rule("decline", "close", Outcome.DECLINED, "Understood.", stages="offer"),
    ),
    allowed_actions=_ALWAYS | _SLOTS,
    voicemail="Hi {first}, this is {agent}, an automated AI assistant calling from {business} to set up a "
    "{duration}-minute {label} with our team." + _VOICEMAIL_TAIL,
    closing={
        Outcome.APPOINTMENT_CONFIRMED: "Thanks, {first}! An invite and a reminder are on their way. Goodbye!",
        Outcome.DECLINED: "No problem at all, {first}. Thanks for your time. Goodbye!",
        None: "Thanks for your time, {first}. Have a great day. Goodbye!",
    },
    commitment_outcomes=frozenset({Outcome.APPOINTMENT_CONFIRMED}),
    booking=Booking("meeting"),
)

RENEWAL = Playbook(
    topic="about the renewal of {company}'s {product}",
    purpose=CallPurpose.RENEWAL_REMINDER,
    product="subscription",
    objectives=_objectives(
        "Confirm you are speaking with the contact and that they have a minute",
        "Learn whether they plan to renew and any concerns",
        "Address concerns about price or value; offer to negotiate terms",
        "Renew, or agree the next step for a negotiation",
    ),
    opening="Hi {first}! I'm calling because your {product} with us is coming up for "
    "renewal{renewal}. Do you "
    "have a quick minute?",
    pitch="Your {product} with us is coming up for renewal{renewal}.",
    discovery=("Would you like to go ahead and renew for another year?",),
    offer="If we could work something out on the price, would you consider renewing?",
    rules=(
        rule(
            "negotiate",
            "wrap",
            Outcome.NEGOTIATION,
            "I appreciate that, {first}. I'll have your account manager prepare an offer and reach out to go "
            "over the terms.",
            "Is there anything else you'd like them to know?",
        ),
        rule(
            "agree",
            "wrap",
            Outcome.NEGOTIATION,
            "Great. I'll have your account manager prepare an offer and reach out to go over the terms.",
            "Is there anything else you'd like them to know?",
            stages="offer",
        ),
        rule(
            "price_objection competitor cancel not_interested concern",
            "offer",
            Outcome.CHURN_RISK,
            "I understand, and thanks for telling me. We'd hate to lose you.",
        ),
        rule(
            "renew",
            "wrap",
            Outcome.RENEWED,
            "Wonderful! I'll process the renewal and email you the confirmation.",
            _ANYTHING_ELSE,
        ),
        rule(
            "agree",
            "wrap",
            Outcome.RENEWED,
            "Wonderful! I'll process the renewal and email you the confirmation.",
            _ANYTHING_ELSE,
            stages="discovery",
        ),
        rule(
            "decline",
            "ask",
            Outcome.CHURN_RISK,
            "Understood.",
            "May I ask what's holding you back?",
            stages="discovery",
            to="discovery",
        ),
        rule(
            "decline",
            "wrap",
            Outcome.CHURN_RISK,
            "Understood, I've noted that.",
            _ANYTHING_ELSE,
            stages="offer",
        ),
    ),
    allowed_actions=_ALWAYS,
    voicemail="Hi {first}, this is {agent}, an automated AI assistant calling from {business}. Your "
    "{product} is "
    "coming up for renewal{renewal}, and I'd like to make sure everything is in order." + _VOICEMAIL_TAIL,
    closing={
        Outcome.RENEWED: "Thank you for staying with us, {first}! Goodbye!",
        Outcome.NEGOTIATION: "Thanks, {first}. Your account manager will be in touch soon. Goodbye!",
        Outcome.CHURN_RISK: "Thanks for your honesty, {first}. Have a great day. Goodbye!",
        None: "Thanks for your time, {first}. Have a great day. Goodbye!",
    },
    commitment_outcomes=frozenset({Outcome.RENEWED, Outcome.NEGOTIATION}),
)

PLAYBOOKS: dict[CallPurpose, Playbook] = {
    p.purpose: p for p in (SALES, FOLLOW_UP, SUPPORT, APPOINTMENT, RENEWAL)
}


def playbook_for(purpose: CallPurpose) -> Playbook:
    return PLAYBOOKS[purpose]
