"""The realtime session of a call: Twilio ConversationRelay over the API Gateway WebSocket API.

``$connect`` checks the handshake's X-Twilio-Signature (403 on a bad one, nothing written) and
binds the connection to the call named in the URL; ``$default`` takes one JSON frame from Twilio
(a bad or unknown one is logged, counted and ignored: the socket stays up); ``$disconnect`` notes
that the socket is gone. The replies leave through the @connections API, piece by piece."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from autocall.domain import realtime
from autocall.integrations import realtime as relay
from autocall.integrations.twilio import signature as twilio_signature
from autocall.observability import count, logger, metrics, tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

OK: dict[str, Any] = {"statusCode": 200}
MAX_FRAME_CHARS = 32 * 1024


def _header(event: Mapping[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _handshake_urls(event: Mapping[str, Any]) -> list[str]:
    """The URL Twilio opened, as the TwiML wrote it (``wss://{host}/{stage}?call_id=...``), rebuilt
    from the event; ``ws://`` too, for a socket without TLS in front (the local stack)."""
    context = event.get("requestContext") or {}
    query = event.get("queryStringParameters") or {}
    tail = f"{context.get('domainName')}/{context.get('stage')}"
    suffix = f"?{urlencode(query)}" if query else ""
    return [f"wss://{tail}{suffix}", f"ws://{tail}{suffix}"]


def _connect(event: Mapping[str, Any]) -> dict[str, Any]:
    signature = _header(event, "X-Twilio-Signature")
    if not any(twilio_signature.is_valid(url, {}, signature) for url in _handshake_urls(event)):
        logger.warning("rejected a realtime handshake with a bad Twilio signature")
        count("RealtimeHandshakesRefused", reason="invalid_signature")
        return {"statusCode": 403}
    call_id = str((event.get("queryStringParameters") or {}).get("call_id") or "")
    if not call_id or len(call_id) > 64:
        count("RealtimeHandshakesRefused", reason="no_call_id")
        return {"statusCode": 400}
    logger.append_keys(call_id=call_id)
    if not realtime.connected(call_id, event["requestContext"]["connectionId"]):
        count("RealtimeHandshakesRefused", reason="no_live_realtime_call")
        return {"statusCode": 404}
    return OK


def _ignored(reason: str) -> dict[str, Any]:
    count("RealtimeFramesIgnored", reason=reason)
    logger.warning("ignored a realtime frame", extra={"reason": reason})
    return OK


def _message(event: Mapping[str, Any]) -> dict[str, Any]:
    context = event["requestContext"]
    body = event.get("body") or ""
    if len(body) > MAX_FRAME_CHARS:
        return _ignored("frame_too_large")
    try:
        frame = json.loads(body)
    except ValueError:
        return _ignored("not_json")
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        return _ignored("no_type")
    call_id = realtime.call_of(context["connectionId"])
    if call_id is None:
        return _ignored("unbound_connection")
    logger.append_keys(call_id=call_id)
    at_ms = int(context.get("requestTimeEpoch") or 0)
    kind = frame["type"]
    if kind == "prompt":
        if not frame.get("last", True):
            return OK  # a partial transcript: only the final one is answered
        speech = frame.get("voicePrompt")
        if not isinstance(speech, str) or not speech.strip():
            return _ignored("prompt_without_voicePrompt")
        connection = realtime.Connection(
            context["connectionId"], relay.endpoint(str(context.get("domainName")), str(context.get("stage")))
        )
        message_id = str(context.get("messageId") or context.get("requestId") or "")
        answered = realtime.prompted(call_id, connection, message_id, at_ms, speech)
        count("RealtimePrompts", result=answered.result)
    elif kind == "interrupt":
        heard = frame.get("utteranceUntilInterrupt")
        realtime.interrupted(call_id, at_ms, heard if isinstance(heard, str) else "")
    elif kind == "setup":
        parameters = frame.get("customParameters") or {}
        realtime.setup(call_id, parameters.get("call_id") if isinstance(parameters, dict) else None)
    elif kind in ("dtmf", "info"):
        pass  # not acted on: keys are not part of a conversation yet
    elif kind == "error":
        count("RealtimeErrors")
        logger.warning(
            "ConversationRelay reported an error", extra={"description": str(frame.get("description"))[:200]}
        )
    else:
        return _ignored("unknown_type")
    return OK


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    route = (event.get("requestContext") or {}).get("routeKey")
    if route == "$connect":
        return _connect(event)
    if route == "$disconnect":
        realtime.disconnected(event["requestContext"]["connectionId"])
        return OK
    if route == "$default":
        return _message(event)
    return {"statusCode": 400}
