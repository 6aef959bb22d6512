"""The brain's contract: what it is told about a call, and the decision it returns each turn.

Two implementations honour it: the playbook brain (offline, deterministic) and the LLM brain
(OpenAI). The conversation layer never knows which one answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from autocall.models.enums import AgentActionKind, CallPurpose, Outcome


@dataclass(frozen=True)
class Speaker:
    AGENT = "agent"
    CALLEE = "callee"


@dataclass(frozen=True)
class Utterance:
    speaker: str  # Speaker.AGENT or Speaker.CALLEE
    text: str


@dataclass(frozen=True)
class CallContext:
    """Everything the brain may know about the call. Built by the conversation layer each turn."""

    call_id: str
    purpose: CallPurpose
    contact_name: str
    company: str | None  # the callee's company
    time_zone: str  # IANA name of the callee's zone, e.g. "America/Chicago"
    now: datetime  # tz-aware UTC, from autocall.clock
    agent_name: str  # e.g. "Alex"
    business_name: str  # the caller's company, e.g. "TechSolutions"
    context: dict[str, Any] = field(default_factory=dict)  # the trigger's free-form context
    previous_interactions: list[dict[str, Any]] = field(default_factory=list)  # ai_interaction_history
    transcript: list[Utterance] = field(default_factory=list)  # the turns so far, oldest first
    memory: dict[str, Any] = field(default_factory=dict)  # the brain's own state from the last turn
    transfer_available: bool = False  # a human number is configured for <Dial>


@dataclass(frozen=True)
class AgentAction:
    kind: AgentActionKind
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TurnAnalysis:
    sentiment: str  # "positive" | "neutral" | "negative"
    sentiment_score: float  # -1.0 .. 1.0
    intents: list[str] = field(default_factory=list)  # e.g. ["interest", "ask_price"]
    keywords: list[str] = field(default_factory=list)  # e.g. ["upgrading", "infrastructure"]
    objective_progress: float = 0.0  # 0.0 .. 1.0 share of the purpose's objectives reached


@dataclass(frozen=True)
class Decision:
    """One turn's answer. ``reply`` is plain text (never markup); the TwiML layer escapes it."""

    reply: str
    end_call: bool
    analysis: TurnAnalysis
    actions: list[AgentAction] = field(default_factory=list)
    outcome: Outcome | None = None  # the call's outcome as it stands after this turn
    memory: dict[str, Any] = field(default_factory=dict)  # persisted and handed back next turn
    brain: str = "playbook"  # "playbook" | "llm" | "llm_fallback"


class Brain(Protocol):
    name: str

    def opening(self, ctx: CallContext) -> Decision:
        """What the agent says right after the disclosure greeting (first question)."""
        ...

    def respond(self, ctx: CallContext, utterance: str, confidence: float) -> Decision:
        """The agent's answer to what the callee just said. A brain whose ``streams`` is True also
        takes ``on_text``, a callback handed each piece of the reply's text as it is produced."""
        ...

    def voicemail(self, ctx: CallContext) -> str:
        """The message left after the beep when a machine answers."""
        ...
