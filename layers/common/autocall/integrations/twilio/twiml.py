"""TwiML the caller hears. Text from the LLM or the callee only ever becomes the text content of a
<Say>: it is cleaned of characters XML cannot carry and escaped (by ElementTree, or by ``_text`` and
``_attribute`` on the two documents of every turn), so it can never add a verb or break the document."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from twilio.twiml.voice_response import VoiceResponse

VOICE = "Polly.Joanna-Neural"
LANGUAGE = "en-US"
MAX_SAY_CHARS = 1200
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def speakable(text: str) -> str:
    """Plain, XML-safe, bounded text for <Say>."""
    cleaned = _NOT_XML.sub("", text or "").strip()
    cleaned = re.sub(r"\s+", " ", cleaned)
    return cleaned[:MAX_SAY_CHARS]


def webhook_url(base_url: str, route: str, *parts: str | int) -> str:
    """An absolute webhook URL: the API's public base (scheme, host, stage or base path), the route,
    then its path parameters. Never relative: Twilio resolves a relative URL against the URL of the
    document it came from, and under a stage (``.../Prod/twilio/answer``) a root-relative one loses
    the stage. Call state travels in the path, so no query order can matter to the signature."""
    if not urlsplit(base_url).scheme or not urlsplit(base_url).netloc:
        raise ValueError(f"webhook URLs must be absolute; base {base_url!r} is not")
    return "/".join([base_url.rstrip("/") + route, *(quote(str(part), safe="") for part in parts)])


# The documents of every turn are written as strings: the twilio library builds an ElementTree and
# serializes it (~0.1 ms a turn). The same bytes as the library writes.
_HEAD = '<?xml version="1.0" encoding="UTF-8"?><Response>'
_SAY = f'<Say language="{LANGUAGE}" voice="{VOICE}"'


def _text(value: str) -> str:
    """Escaped as ElementTree escapes text content."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attribute(value: str) -> str:
    """Escaped as ElementTree escapes an attribute value."""
    value = _text(value).replace('"', "&quot;")
    return value.replace("\r", "&#13;").replace("\n", "&#10;").replace("\t", "&#09;")


def _say(spoken: str) -> str:
    return f"{_SAY}>{_text(spoken)}</Say>" if spoken else f"{_SAY} />"


def say_and_gather(text: str, action_url: str, timeout_s: int = 6) -> str:
    """Say ``text`` (interruptible) and listen for speech; silence posts back too.

    The redirect is only reached if Twilio cannot post the gather result: never a silent line."""
    return (
        f'{_HEAD}<Gather action="{_attribute(action_url)}" actionOnEmptyResult="true" bargeIn="true" '
        f'input="speech" language="{LANGUAGE}" method="POST" speechTimeout="auto" timeout="{int(timeout_s)}">'
        f"{_say(speakable(text))}</Gather>"
        f'<Redirect method="POST">{_text(action_url)}</Redirect></Response>'
    )


def say_and_hangup(text: str) -> str:
    spoken = speakable(text)  # an empty <Say> is an error to Twilio (13520), not silence
    return f"{_HEAD}{_say(spoken) if spoken else ''}<Hangup /></Response>"


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
