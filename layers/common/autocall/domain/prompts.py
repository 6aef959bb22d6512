"""What the caller hears, decided in our own terms: the conversation's prompts as steps
(``models.prompts``); the telephony integration renders them (``integrations.twilio.twiml``).

Text from the LLM or the callee only ever becomes the text of a ``Say``: ``speakable`` makes it
plain, bounded and free of characters a document cannot carry, and the renderer escapes it, so it
can never add a step."""

from __future__ import annotations

import re

from autocall.models.prompts import Converse, HangUp, Listen, Pause, Prompt, Say, Step, Transfer

MAX_SAY_CHARS = 1200
NOBODY_TO_TAKE_IT = "Sorry, nobody could take the call right now. We'll call you back. Goodbye."
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def speakable(text: str) -> str:
    """Plain, bounded text that can be said (no characters a voice document cannot carry)."""
    cleaned = _NOT_XML.sub("", text or "").strip()
    cleaned = re.sub(r"\s+", " ", cleaned)
    return cleaned[:MAX_SAY_CHARS]


# --- the prompts of a call ---------------------------------------------------------------------


def listen(text: str, next_turn: int) -> Prompt:
    """Say ``text`` and listen: the callee's answer is turn ``next_turn``."""
    return (Listen(Say(speakable(text)), next_turn),)


def speak(text: str) -> Prompt:
    """Realtime mode: say ``text`` (the session listens on by itself)."""
    spoken = speakable(text)
    return (Say(spoken),) if spoken else ()


def converse(greeting: str) -> Prompt:
    """Realtime mode: say ``greeting`` and hand the line to the streaming session."""
    return (Converse(Say(speakable(greeting))),)


def after_speaking(prompt: Prompt) -> Prompt:
    """What is left of a turn's prompt once its words were spoken over the realtime session: the
    steps after the first ``Say`` (hang up; or transfer, and what follows if nobody answers)."""
    steps: list[Step] = list(prompt)
    if steps and isinstance(steps[0], Say):
        steps = steps[1:]
    return tuple(steps)


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
