"""A test double of the realtime function (``RealtimeFunction``): the handler the local WebSocket
gateway invokes in tests of the gateway and of the carrier's ConversationRelay, until (and beside)
the real one. It speaks the shared contract, nothing of the product:

- ``$connect`` checks X-Twilio-Signature over ``wss://{domainName}/{stage}?{query}`` (no params)
  with ``TWILIO_AUTH_TOKEN`` and answers 403 on a bad one; it sleeps ``connect_delay_s`` first (a
  cold start);
- a ``prompt`` (``last: true``) streams a scripted reply to the connection, one word per ``text``
  token every ``token_delay_s``, through ``apigatewaymanagementapi`` PostToConnection at
  ``REALTIME_CALLBACK_URL`` (else the API's own ``https://{domainName}/{stage}``); an ``interrupt``
  stops the reply still streaming (a versioned turn the loop checks); a prompt containing "bye"
  answers a goodbye and ``end`` with handoff data; "transfer" ends with reason transfer; "drop"
  closes the connection (DeleteConnection) after three words of the reply;
- every event it gets is kept in ``DOUBLE.events`` (one state for every execution environment).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

REPLY = "Thanks for telling me that, let me explain how our service helps teams like yours save time"
GOODBYE = "Thanks for your time, goodbye"


@dataclass
class RelayDouble:
    connect_delay_s: float = 0.0
    token_delay_s: float = 0.01
    frame_delay_s: float = 0.0  # every $default invocation sleeps this long first (concurrency tests)
    late_tokens: int = 0  # tokens a superseded reply still sends after the interrupt (in flight)
    events: list[dict[str, Any]] = field(default_factory=list)
    posted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (connection, message)
    post_errors: list[str] = field(default_factory=list)
    _turns: dict[str, int] = field(default_factory=dict)  # connection → the turn allowed to speak
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _clients: dict[str, Any] = field(default_factory=dict)

    def reset(self, **settings: float) -> None:
        with self._lock:
            self.events.clear()
            self.posted.clear()
            self.post_errors.clear()
            self._turns.clear()
        self.connect_delay_s = float(settings.get("connect_delay_s", 0.0))
        self.token_delay_s = float(settings.get("token_delay_s", 0.01))
        self.frame_delay_s = float(settings.get("frame_delay_s", 0.0))
        self.late_tokens = int(settings.get("late_tokens", 0))

    def routes(self, route_key: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e["requestContext"]["routeKey"] == route_key]

    # --- the handler ----------------------------------------------------------------------------
    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.events.append(event)
        context = event["requestContext"]
        route = context["routeKey"]
        if route == "$connect":
            time.sleep(self.connect_delay_s)
            return {"statusCode": 200 if self._signed(event) else 403}
        if route == "$disconnect":
            return {"statusCode": 200}
        time.sleep(self.frame_delay_s)
        message = json.loads(event.get("body") or "{}")
        connection = context["connectionId"]
        if message.get("type") == "interrupt":
            with self._lock:
                self._turns[connection] = self._turns.get(connection, 0) + 1
        elif message.get("type") == "prompt" and message.get("last"):
            with self._lock:
                turn = self._turns[connection] = self._turns.get(connection, 0) + 1
            self._reply(context, connection, turn, str(message.get("voicePrompt", "")))
        elif message.get("type") == "echo":
            self.post(context, connection, message)
        return {"statusCode": 200}

    def _signed(self, event: dict[str, Any]) -> bool:
        from twilio.request_validator import RequestValidator

        context = event["requestContext"]
        query = event.get("multiValueQueryStringParameters") or {}
        url = f"wss://{context['domainName']}/{context['stage']}"
        if query:
            from urllib.parse import urlencode

            url += "?" + urlencode([(k, v) for k, values in query.items() for v in values])
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        token = os.environ.get("TWILIO_AUTH_TOKEN", "")
        signature = headers.get("x-twilio-signature", "")
        return bool(token and signature and RequestValidator(token).validate(url, {}, signature))

    def _reply(self, context: dict[str, Any], connection: str, turn: int, heard: str) -> None:
        lowered = heard.lower()
        ending = "bye" in lowered or "transfer" in lowered
        words = (GOODBYE if ending else REPLY).split()
        late = self.late_tokens
        for index, word in enumerate(words):
            if "drop" in lowered and index == 3:
                self._client(context).delete_connection(ConnectionId=connection)
                return
            with self._lock:
                superseded = self._turns.get(connection) != turn
            if superseded and late == 0:
                return  # interrupted or superseded: not one more word
            if superseded:
                late -= 1  # a token already on its way when the interrupt came
            last = index == len(words) - 1
            token = word if index == 0 else f" {word}"
            self.post(
                context,
                connection,
                {"type": "text", "token": token, "last": last, "interruptible": True, "preemptible": True},
            )
            if not last:
                time.sleep(self.token_delay_s)
        if ending:
            reason = "transfer" if "transfer" in lowered else "hangup"
            handoff = json.dumps({"reason": reason, "call_id": "double"})
            self.post(context, connection, {"type": "end", "handoffData": handoff})

    def post(self, context: dict[str, Any], connection: str, message: dict[str, Any]) -> None:
        from botocore.exceptions import ClientError

        try:
            self._client(context).post_to_connection(
                ConnectionId=connection, Data=json.dumps(message).encode()
            )
        except ClientError as exc:
            with self._lock:
                self.post_errors.append(exc.response["Error"]["Code"])
            return
        with self._lock:
            self.posted.append((connection, message))

    def _client(self, context: dict[str, Any]) -> Any:
        endpoint = (
            os.environ.get("REALTIME_CALLBACK_URL") or f"https://{context['domainName']}/{context['stage']}"
        )
        with self._lock:
            client = self._clients.get(endpoint)
        if client is None:
            import boto3

            client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint, region_name="us-east-1")
            with self._lock:
                self._clients[endpoint] = client
        return client


DOUBLE = RelayDouble()


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # the registry loads this file once per execution environment; the state lives in the package's
    # own copy of the module, shared by every environment
    from tests.support.fakes import relay_double

    return relay_double.DOUBLE.handle(event)
