"""TwiML the caller hears. Text from the LLM or the callee only ever becomes the text content of a
<Say>: it is cleaned of characters XML cannot carry and escaped by ElementTree, so it can never
add a verb or break the document."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from twilio.twiml.voice_response import Gather, VoiceResponse

VOICE = "Polly.Joanna-Neural"
LANGUAGE = "en-US"
MAX_SAY_CHARS = 1200
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def speakable(text: str) -> str:
    """Plain, XML-safe, bounded text for <Say>."""
    cleaned = _NOT_XML.sub("", text or "").strip()
    cleaned = re.sub(r"\s+", " ", cleaned)
    return cleaned[:MAX_SAY_CHARS]


def webhook_url(base_url: str, path: str, **params: str | int) -> str:
    return f"{base_url.rstrip('/')}{path}?{urlencode(params)}" if params else f"{base_url.rstrip('/')}{path}"


def say_and_gather(text: str, action_url: str, timeout_s: int = 6) -> str:
    """Say ``text`` (interruptible) and listen for speech; silence posts back too."""
    response = VoiceResponse()
    gather = Gather(
        input="speech",
        action=action_url,
        method="POST",
        speech_timeout="auto",
        timeout=timeout_s,
        action_on_empty_result=True,
        barge_in=True,
        language=LANGUAGE,
    )
    gather.say(speakable(text), voice=VOICE, language=LANGUAGE)
    response.append(gather)
    # Only reached if Twilio cannot post the gather result: never leave the line silent.
    response.redirect(action_url, method="POST")
    return str(response)


def say_and_hangup(text: str) -> str:
    response = VoiceResponse()
    if speakable(text):  # an empty <Say> is an error to Twilio (13520), not silence
        response.say(speakable(text), voice=VOICE, language=LANGUAGE)
    response.hangup()
    return str(response)


def say_and_transfer(text: str, number: str, caller_id: str) -> str:
    response = VoiceResponse()
    response.say(speakable(text), voice=VOICE, language=LANGUAGE)
    response.dial(number, caller_id=caller_id, timeout=25)
    response.say(speakable("Sorry, nobody could take the call right now. We'll call you back. Goodbye."))
    response.hangup()
    return str(response)


def voicemail(text: str) -> str:
    """For a machine: the message after the beep, then hang up."""
    response = VoiceResponse()
    response.pause(length=1)
    response.say(speakable(text), voice=VOICE, language=LANGUAGE)
    response.hangup()
    return str(response)


def empty() -> str:
    return str(VoiceResponse())
