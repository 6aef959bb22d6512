"""TwiML: the one place our prompt steps (``models.prompts``) become what Twilio plays.

Every ``<Say>`` gets the configured voice and the step's language. Text only ever becomes the text
content of a ``<Say>``: it is cleaned of characters XML cannot carry and escaped as ElementTree
escapes it, so it can never add a verb or break the document. The documents are written as strings,
the same bytes the twilio library writes (it builds an ElementTree and serializes it, ~0.1 ms a
turn), attributes in the library's (sorted) order."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

from autocall.models.prompts import Converse, HangUp, Listen, Pause, Say, Step, Transfer

VOICE = "Polly.Joanna-Neural"
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

TurnUrl = Callable[[int], str]  # the absolute URL of the turn webhook for a turn number


def webhook_url(base_url: str, route: str, *parts: str | int) -> str:
    """An absolute webhook URL: the API's public base (scheme, host, stage or base path), the route,
    then its path parameters. Never relative: Twilio resolves a relative URL against the URL of the
    document it came from, and under a stage (``.../Prod/twilio/answer``) a root-relative one loses
    the stage. Call state travels in the path, so no query order can matter to the signature."""
    if not urlsplit(base_url).scheme or not urlsplit(base_url).netloc:
        raise ValueError(f"webhook URLs must be absolute; base {base_url!r} is not")
    return "/".join([base_url.rstrip("/") + route, *(quote(str(part), safe="") for part in parts)])


def turn_urls(base_url: str, call_id: str) -> TurnUrl:
    """The turn webhook URLs of ``call_id`` under ``base_url``."""
    return lambda number: webhook_url(base_url, "/twilio/turn", call_id, number)


@dataclass(frozen=True)
class RelayUrls:
    """Where a realtime call's ConversationRelay session connects (``socket``: the WebSocket API's
    URL) and the webhook Twilio posts when the session ends (``action``)."""

    call_id: str
    socket: str
    action: str


def relay_urls(base_url: str, realtime_url: str, call_id: str) -> RelayUrls:
    """The URLs of ``call_id``'s realtime session: the WebSocket URL carries the call's id (the
    handshake's signature covers it), the end-of-session webhook is under the REST API's base."""
    if not realtime_url:
        raise ValueError("a realtime call needs REALTIME_URL (the WebSocket API's URL)")
    socket = f"{realtime_url.rstrip('/')}?{urlencode({'call_id': call_id})}"
    return RelayUrls(call_id, socket, webhook_url(base_url, "/twilio/relay", call_id))


_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'


def render(prompt: Sequence[Step], turn_url: TurnUrl | None = None, relay: RelayUrls | None = None) -> str:
    """The TwiML document of ``prompt``; ``turn_url`` gives the action of a ``Listen``, ``relay``
    the session URLs of a ``Converse``."""
    if not prompt:
        return f"{_HEAD}<Response />"
    return f"{_HEAD}<Response>{''.join(_verb(step, turn_url, relay) for step in prompt)}</Response>"


def empty() -> str:
    """An answer that asks Twilio to do nothing (status and AMD callbacks)."""
    return render(())


def _verb(step: Step, turn_url: TurnUrl | None, relay: RelayUrls | None = None) -> str:
    if isinstance(step, Say):
        return _say(step)
    if isinstance(step, Converse):
        if relay is None:
            raise ValueError("a Converse needs the realtime session's URLs")
        return _converse(step, relay)
    if isinstance(step, Listen):
        if turn_url is None:
            raise ValueError("a Listen needs the turn webhook's URL")
        return _gather(step, turn_url(step.next_turn))
    if isinstance(step, HangUp):
        return "<Hangup />"
    if isinstance(step, Transfer):
        attributes = _attributes(callerId=step.caller_id, timeout=str(int(step.ring_timeout_s)))
        return f"<Dial{attributes}>{_text(step.number)}</Dial>"
    if isinstance(step, Pause):
        return f"<Pause{_attributes(length=str(int(step.seconds)))} />"
    raise TypeError(f"no TwiML for {step!r}")


def _say(step: Say) -> str:
    attributes = _attributes(language=step.language, voice=step.voice or VOICE)
    text = _text(step.text)
    return f"<Say{attributes}>{text}</Say>" if text else f"<Say{attributes} />"


def _converse(step: Converse, relay: RelayUrls) -> str:
    """``<Connect><ConversationRelay>``: Twilio speaks the greeting, then streams the callee's speech
    to the WebSocket and speaks the text we send back; the callee may talk over any of it."""
    attributes = _attributes(
        interruptible="speech",
        language=step.greeting.language,
        url=relay.socket,
        voice=step.greeting.voice or "",
        welcomeGreeting=_NOT_XML.sub("", step.greeting.text),
        welcomeGreetingInterruptible="speech",
    )
    parameter = f"<Parameter{_attributes(name='call_id', value=relay.call_id)} />"
    return (
        f"<Connect{_attributes(action=relay.action)}>"
        f"<ConversationRelay{attributes}>{parameter}</ConversationRelay></Connect>"
    )


def _gather(step: Listen, action_url: str) -> str:
    """The redirect is only reached if Twilio cannot post the gather result: never a silent line;
    ``actionOnEmptyResult`` makes silence post back too."""
    attributes = _attributes(
        action=action_url,
        actionOnEmptyResult="true",
        bargeIn="true",
        hints=",".join(step.hints),
        input="speech",
        language=step.prompt.language,
        method="POST",
        speechTimeout="auto",
        timeout=str(int(step.timeout_s)),
    )
    return (
        f"<Gather{attributes}>{_say(step.prompt)}</Gather>"
        f'<Redirect method="POST">{_text(action_url)}</Redirect>'
    )


def _attributes(**values: str) -> str:
    """Sorted as the twilio library sorts them; an empty value is left out."""
    return "".join(f' {name}="{_attribute(value)}"' for name, value in sorted(values.items()) if value)


def _text(value: str) -> str:
    """Cleaned of what XML cannot carry, escaped as ElementTree escapes text content."""
    value = _NOT_XML.sub("", value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attribute(value: str) -> str:
    """Escaped as ElementTree escapes an attribute value."""
    value = _text(value).replace('"', "&quot;")
    return value.replace("\r", "&#13;").replace("\n", "&#10;").replace("\t", "&#09;")
