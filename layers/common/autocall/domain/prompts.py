"""What the caller hears, in our own terms: the conversation decides the steps (say, listen, hang up,
transfer, pause) as plain data; the telephony integration renders them (``integrations.twilio.twiml``).

Text from the LLM or the callee only ever becomes the text of a ``Say``: ``speakable`` makes it
plain, bounded and free of characters a document cannot carry, and the renderer escapes it, so it
can never add a step. A turn stores its steps (``to_data``) so a repeated webhook is answered with
exactly the same document (``from_data``)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LANGUAGE = "en-US"
MAX_SAY_CHARS = 1200
LISTEN_TIMEOUT_S = 6
RING_TIMEOUT_S = 25
NOBODY_TO_TAKE_IT = "Sorry, nobody could take the call right now. We'll call you back. Goodbye."
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def speakable(text: str) -> str:
    """Plain, bounded text that can be said (no characters a voice document cannot carry)."""
    cleaned = _NOT_XML.sub("", text or "").strip()
    cleaned = re.sub(r"\s+", " ", cleaned)
    return cleaned[:MAX_SAY_CHARS]


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


Step = Say | Listen | HangUp | Transfer | Pause
Prompt = tuple[Step, ...]


# --- the prompts of a call ---------------------------------------------------------------------


def listen(text: str, next_turn: int) -> Prompt:
    """Say ``text`` and listen: the callee's answer is turn ``next_turn``."""
    return (Listen(Say(speakable(text)), next_turn),)


def say_and_hang_up(text: str) -> Prompt:
    spoken = speakable(text)  # an empty say is an error to the carrier (Twilio 13520), not silence
    return ((Say(spoken),) if spoken else ()) + (HangUp(),)


def say_and_transfer(text: str, number: str, caller_id: str) -> Prompt:
    """Say ``text``, connect the callee to ``number``; if nobody answers, say so and hang up."""
    return (
        Say(speakable(text)),
        Transfer(number, caller_id),
        Say(speakable(NOBODY_TO_TAKE_IT)),
        HangUp(),
    )


def voicemail(text: str) -> Prompt:
    """For a machine: the message after the beep, then hang up."""
    return (Pause(1), Say(speakable(text)), HangUp())


def listened(turn: Mapping[str, Any]) -> bool:
    """The stored turn (as ``GET /calls/{id}`` shows it) listened for the callee: one speech
    recognition, billed at least one unit."""
    return any(step.get("step") == "listen" for step in turn.get("prompt") or ())


# --- the stored form of a turn's prompt ----------------------------------------------------------

_KINDS: dict[str, type[Step]] = {
    "say": Say,
    "listen": Listen,
    "hang_up": HangUp,
    "transfer": Transfer,
    "pause": Pause,
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
    if kind == "say":
        return Say(str(item["text"]), str(item["language"]), item.get("voice"))
    if kind == "transfer":
        return Transfer(str(item["number"]), str(item["caller_id"]), int(item["ring_timeout_s"]))
    if kind == "pause":
        return Pause(int(item["seconds"]))
    if kind == "hang_up":
        return HangUp()
    raise ValueError(f"unknown prompt step {kind!r}")
