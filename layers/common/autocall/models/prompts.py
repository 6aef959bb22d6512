"""The steps of what a caller hears, as plain data: say, listen, hang up, transfer, pause. The
conversation decides them (``domain.prompts``); the telephony integration renders them
(``integrations.twilio.twiml``). A turn stores its steps (``to_data``) so that a repeated webhook is
answered with exactly the same document (``from_data``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LANGUAGE = "en-US"
LISTEN_TIMEOUT_S = 6
RING_TIMEOUT_S = 25


@dataclass(frozen=True)
class Say:
    """Say ``text``. ``voice`` None is the configured voice; ``language`` is the call's language."""

    text: str
    language: str = LANGUAGE
    voice: str | None = None


@dataclass(frozen=True)
class Listen:
    """Say ``prompt`` (the callee may talk over it), then listen for speech: what the callee says, or
    their silence, is turn ``next_turn``."""

    prompt: Say
    next_turn: int
    timeout_s: int = LISTEN_TIMEOUT_S
    hints: tuple[str, ...] = ()


@dataclass(frozen=True)
class Converse:
    """Hand the line to the realtime session (ConversationRelay): the carrier says ``greeting`` and
    from then on streams the callee's speech to us and speaks our replies as they arrive, until we
    end the session. The greeting is in the document, so no cold start can lose it."""

    greeting: Say


@dataclass(frozen=True)
class HangUp:
    pass


@dataclass(frozen=True)
class Transfer:
    """Connect the callee to ``number`` (shown ``caller_id``), ringing at most ``ring_timeout_s``."""

    number: str
    caller_id: str
    ring_timeout_s: int = RING_TIMEOUT_S


@dataclass(frozen=True)
class Pause:
    seconds: int


Step = Say | Listen | Converse | HangUp | Transfer | Pause
Prompt = tuple[Step, ...]


# --- the stored form of a turn's prompt ----------------------------------------------------------

_KINDS: dict[str, type[Step]] = {
    "say": Say,
    "listen": Listen,
    "hang_up": HangUp,
    "transfer": Transfer,
    "pause": Pause,
    "converse": Converse,
}
_KIND_OF = {cls: kind for kind, cls in _KINDS.items()}


def to_data(prompt: Sequence[Step]) -> list[dict[str, Any]]:
    """The prompt as JSON-able data (what a turn stores)."""
    return [_step_data(step) for step in prompt]


def _step_data(step: Step) -> dict[str, Any]:
    data: dict[str, Any] = {"step": _KIND_OF[type(step)]}
    if isinstance(step, Listen):
        data.update(prompt=_step_data(step.prompt), next_turn=step.next_turn, timeout_s=step.timeout_s)
        if step.hints:
            data["hints"] = list(step.hints)
    elif isinstance(step, Converse):
        data["greeting"] = _step_data(step.greeting)
    elif isinstance(step, Say):
        data.update(text=step.text, language=step.language)
        if step.voice:
            data["voice"] = step.voice
    elif isinstance(step, Transfer):
        data.update(number=step.number, caller_id=step.caller_id, ring_timeout_s=step.ring_timeout_s)
    elif isinstance(step, Pause):
        data["seconds"] = step.seconds
    return data


def from_data(data: Sequence[Mapping[str, Any]]) -> Prompt:
    """The prompt a turn stored (``to_data``), as it was decided."""
    return tuple(_step(item) for item in data)


def _step(item: Mapping[str, Any]) -> Step:
    kind = item["step"]
    if kind == "listen":
        prompt = _step(item["prompt"])
        assert isinstance(prompt, Say)
        hints = tuple(str(h) for h in item.get("hints") or ())
        return Listen(prompt, int(item["next_turn"]), int(item["timeout_s"]), hints)
    if kind == "converse":
        greeting = _step(item["greeting"])
        assert isinstance(greeting, Say)
        return Converse(greeting)
    if kind == "say":
        return Say(str(item["text"]), str(item["language"]), item.get("voice"))
    if kind == "transfer":
        return Transfer(str(item["number"]), str(item["caller_id"]), int(item["ring_timeout_s"]))
    if kind == "pause":
        return Pause(int(item["seconds"]))
    if kind == "hang_up":
        return HangUp()
    raise ValueError(f"unknown prompt step {kind!r}")


def listened(turn: Mapping[str, Any]) -> bool:
    """The stored turn (as ``GET /calls/{id}`` shows it) listened for the callee: one speech
    recognition, billed at least one unit."""
    return any(step.get("step") == "listen" for step in turn.get("prompt") or ())
