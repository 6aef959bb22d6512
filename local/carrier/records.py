"""What the carrier simulator knows and remembers: callees, calls with their transcripts, messages;
and what its parts ask of it (``Exchange`` for a running call, ``Carrier`` for the REST face), so
that ``engine`` and ``rest`` never import the simulator that runs them."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

ANSWERS = ("human", "machine", "busy", "no_answer", "fail")
TERMINAL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
MACHINE_GREETING = "Hi, you've reached {name}. Please leave a message after the tone."


@dataclass(frozen=True)
class Callee:
    """Who picks up at a number: how they answer and what they say, one line per <Gather>."""

    answer: str  # one of ANSWERS
    lines: tuple[str, ...] = ()  # "" is silence; for a machine, the lines are its greeting
    name: str = "there"
    persona: str = ""  # the persona it came from, "" for a scripted callee
    barge_in: dict[int, int] = field(default_factory=dict)  # line index → agent words let pass first

    def __post_init__(self) -> None:
        if self.answer not in ANSWERS:
            raise ValueError(f"answer must be one of {ANSWERS}, not {self.answer!r}")

    def line(self, index: int) -> str | None:
        """The callee's ``index``-th line with the name filled in; None once it has nothing left."""
        return self.lines[index].replace("{name}", self.name) if index < len(self.lines) else None

    def greeting(self) -> str:
        """What an answering machine plays before the beep."""
        return " ".join(self.lines or (MACHINE_GREETING,)).replace("{name}", self.name)


@dataclass
class TranscriptEntry:
    speaker: str  # "agent" | "callee"
    text: str  # "" is a silent turn
    at: datetime


@dataclass
class WebhookDelivery:
    """One HTTP request the simulator made to the application (every attempt and copy is kept)."""

    kind: str  # "voice" (answer URL), "action" (Gather), "redirect", "amd", "status"
    url: str
    method: str
    params: dict[str, str]
    token: str  # I-Twilio-Idempotency-Token: the same on a retry and on a duplicate
    attempt: int  # 2 is Twilio's one retry after a 5xx or a timeout
    duplicate: bool  # the second copy delivered by ``duplicate_webhooks``
    http_status: int | None  # None: no answer (timeout or connection error)
    error: str  # the connection error, or the start of the body of a 4xx/5xx answer
    at: datetime


@dataclass
class RelayInterrupt:
    """The callee talking over the agent in a ConversationRelay session."""

    line: int  # the callee's line said over the agent
    utterance_until_interrupt: str  # the words of the agent's reply the callee heard
    duration_until_interrupt_ms: int
    unspoken_tokens: int = 0  # tokens of the superseded reply that arrived after the interrupt


@dataclass
class RelaySession:
    """One ``<Connect><ConversationRelay>`` session as the carrier saw it."""

    url: str
    session_id: str
    status: str = "active"  # then "ended" (the app sent end), "completed" (the callee hung up), "failed"
    handshake_status: int | None = None  # HTTP status of a refused handshake
    handoff_data: str = ""
    sent: dict[str, int] = field(default_factory=dict)  # message type → count, carrier → app
    received: dict[str, int] = field(default_factory=dict)  # message type → count, app → carrier
    first_token_ms: list[float] = field(default_factory=list)  # each prompt sent → its first text token
    interrupts: list[RelayInterrupt] = field(default_factory=list)
    unspoken_tokens: int = 0  # every token never spoken (superseded replies, after an end)
    errors: list[str] = field(default_factory=list)


@dataclass
class SimCall:
    sid: str
    account_sid: str
    to: str
    from_: str
    url: str
    method: str
    twiml: str
    status_callback: str
    status_callback_method: str
    status_callback_events: tuple[str, ...]
    machine_detection: str  # "", "Enable", "DetectMessageEnd"
    async_amd: bool
    amd_callback: str
    amd_callback_method: str
    timeout: int
    date_created: datetime
    callee: Callee
    status: str = "queued"
    answered_by: str | None = None
    start_time: datetime | None = None
    answer_time: datetime | None = None
    end_time: datetime | None = None
    duration: int | None = None
    ended_by: str = ""  # "agent", "callee", "api", "error", "limit", "carrier"
    transcript: list[TranscriptEntry] = field(default_factory=list)
    webhooks: list[WebhookDelivery] = field(default_factory=list)
    transfers: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    relay_sessions: list[RelaySession] = field(default_factory=list)
    hangup_requested: str | None = None  # set by a REST update: "completed" or "canceled"
    redirect_requested: tuple[str, str, str] | None = None  # (url, method, twiml) from a REST update

    @property
    def status_callbacks(self) -> list[str]:
        """The CallStatus of each status callback, in delivery order (first attempts, first copies)."""
        return [
            w.params["CallStatus"]
            for w in self.webhooks
            if w.kind == "status" and w.attempt == 1 and not w.duplicate
        ]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("hangup_requested", "redirect_requested"):
            data.pop(name)
        data["from"] = data.pop("from_")
        data["callee"] = {
            "answer": self.callee.answer,
            "persona": self.callee.persona,
            "name": self.callee.name,
        }
        data["status_callbacks"] = self.status_callbacks
        return _iso(data)


@dataclass
class SimMessage:
    sid: str
    account_sid: str
    to: str
    from_: str
    body: str
    status: str
    date_created: datetime

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["from"] = data.pop("from_")
        return _iso(data)


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _iso(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_iso(item) for item in value]
    return value


# -- what the simulator's parts ask of it ---------------------------------------------------------


class Exchange(Protocol):
    """The carrier a call runs on, as ``engine.CallRun`` uses it: how webhooks are signed and
    delivered (switches read as the call goes, a test may flip them), the lock that guards every
    call record, and the news that a call is over."""

    auth_token: str
    webhook_timeout: float
    duplicate_webhooks: bool
    shuffle_status_callbacks: bool
    hosts: dict[str, str]
    _lock: threading.Lock

    def _call_finished(self) -> None: ...


class Carrier(Protocol):
    """The carrier as its REST face (``rest``) serves it: Twilio's calls and messages resources,
    and the simulator's own ``/sim/`` controls."""

    auth_token: str
    account_sid: str | None
    duplicate_webhooks: bool
    shuffle_status_callbacks: bool
    unverified_caller_ids: set[str]

    def register_callee(self, number: str, persona: str, name: str | None = None) -> Callee: ...

    def script_callee(
        self,
        number: str,
        answer: str = "human",
        lines: Iterable[str] = (),
        name: str | None = None,
        barge_in: dict[int, int] | None = None,
    ) -> Callee: ...

    def set_default_persona(self, persona: str) -> None: ...

    def inject_fault(self, kind: str, count: int = 1) -> None: ...

    def pending_faults(self) -> list[str]: ...

    def config(self) -> dict[str, Any]: ...

    def reset(self) -> None: ...

    def get_call(self, sid: str) -> SimCall: ...

    def calls(self, to: str | None = None) -> list[SimCall]: ...

    def messages(self) -> list[SimMessage]: ...

    def wait_idle(self, timeout: float = 10.0) -> bool: ...

    def _take_fault(self) -> str | None: ...

    def _new_call(self, **fields: Any) -> SimCall: ...

    def _launch(self, sid: str) -> None: ...

    def _request_hangup(self, sid: str, status: str) -> SimCall: ...

    def _request_redirect(self, sid: str, url: str, method: str, twiml: str) -> bool: ...

    def _new_message(self, account_sid: str, to: str, from_: str, body: str) -> SimMessage: ...
