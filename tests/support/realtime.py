"""The realtime session without a socket: WebSocket events as API Gateway sends them into the
realtime function, and a stand-in for the @connections management API that records what the
function posts (``REALTIME_CALLBACK_URL`` points the function at it)."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlencode

from twilio.request_validator import RequestValidator

from local.lambdas import FunctionRegistry

WS_DOMAIN = "rt123.execute-api.us-east-1.amazonaws.com"
STAGE = "prod"
_messages = itertools.count(1)


@dataclass
class Posted:
    """One message the function posted to a connection (or a close), with when it arrived."""

    connection_id: str
    message: dict[str, Any] | None  # None: the connection was closed (DELETE)
    at: float


@dataclass
class Connections:
    """``POST``/``DELETE {stage}/@connections/{id}`` on loopback, as API Gateway serves them: 410
    GoneException for a connection marked gone."""

    posted: list[Posted] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    gone_after: dict[str, int] = field(default_factory=dict)  # connection → posts before it drops
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def start(self) -> Connections:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/{STAGE}"

    def messages(self, connection_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [p.message for p in self.posted if p.connection_id == connection_id and p.message]

    def texts(self, connection_id: str) -> list[dict[str, Any]]:
        return [m for m in self.messages(connection_id) if m.get("type") == "text"]

    def spoken(self, connection_id: str) -> str:
        return "".join(m["token"] for m in self.texts(connection_id)).strip()

    def first_text_at(self, connection_id: str, after: float = 0.0) -> float | None:
        with self.lock:
            return next(
                (
                    p.at
                    for p in self.posted
                    if p.connection_id == connection_id
                    and p.at >= after
                    and (p.message or {}).get("type") == "text"
                ),
                None,
            )

    def clear(self) -> None:
        with self.lock:
            self.posted.clear()

    def _record(self, connection_id: str, message: dict[str, Any] | None) -> bool:
        with self.lock:
            left = self.gone_after.get(connection_id)
            if left is not None:
                if left <= 0:
                    self.gone.add(connection_id)
                self.gone_after[connection_id] = left - 1
            if connection_id in self.gone:
                return False
            self.posted.append(Posted(connection_id, message, time.perf_counter()))
            if message is None:
                self.gone.add(connection_id)
            return True


def _handler(connections: Connections) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _connection_id(self) -> str | None:
            prefix = f"/{STAGE}/@connections/"
            return unquote(self.path[len(prefix) :]) if self.path.startswith(prefix) else None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            connection_id = self._connection_id()
            if connection_id is None:
                self._answer(404, {"message": "no route"})
                return
            ok = connections._record(connection_id, json.loads(body))
            self._answer(200, None) if ok else self._gone()

        def do_DELETE(self) -> None:
            connection_id = self._connection_id()
            ok = connection_id is not None and connections._record(connection_id, None)
            self._answer(204, None) if ok else self._gone()

        def _gone(self) -> None:
            self._answer(410, {"message": "Gone"}, {"x-amzn-ErrorType": "GoneException"})

        def _answer(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


# --- events as API Gateway sends them -------------------------------------------------------------


def _context(route: str, event_type: str, connection_id: str, at_ms: int | None) -> dict[str, Any]:
    now_ms = at_ms if at_ms is not None else int(time.time() * 1000)
    return {
        "routeKey": route,
        "eventType": event_type,
        "connectionId": connection_id,
        "domainName": WS_DOMAIN,
        "stage": STAGE,
        "apiId": "rt123",
        "requestId": str(uuid.uuid4()),
        "connectedAt": now_ms,
        "requestTimeEpoch": now_ms,
    }


def socket_url(call_id: str) -> str:
    """The URL the answer TwiML gives ConversationRelay (REALTIME_URL plus the call's id)."""
    return f"wss://{WS_DOMAIN}/{STAGE}?{urlencode({'call_id': call_id})}"


def connect_event(call_id: str, connection_id: str, signature: str | None) -> dict[str, Any]:
    headers = {"Host": WS_DOMAIN, "Sec-WebSocket-Version": "13"}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return {
        "requestContext": _context("$connect", "CONNECT", connection_id, None),
        "isBase64Encoded": False,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {"call_id": call_id},
        "multiValueQueryStringParameters": {"call_id": [call_id]},
    }


def message_event(
    connection_id: str, frame: Any, at_ms: int | None = None, message_id: str | None = None
) -> dict[str, Any]:
    context = _context("$default", "MESSAGE", connection_id, at_ms)
    context["messageId"] = message_id or f"msg-{next(_messages)}"
    body = frame if isinstance(frame, str) else json.dumps(frame)
    return {"requestContext": context, "isBase64Encoded": False, "body": body}


def disconnect_event(connection_id: str) -> dict[str, Any]:
    context = _context("$disconnect", "DISCONNECT", connection_id, None)
    context.update(disconnectStatusCode=1000, disconnectReason="Client-side close frame status not set")
    return {"requestContext": context, "isBase64Encoded": False}


@dataclass
class Relay:
    """ConversationRelay as Twilio drives it, frame by frame into the realtime function."""

    registry: FunctionRegistry
    auth_token: str
    connections: Connections

    def sign(self, call_id: str) -> str:
        return str(RequestValidator(self.auth_token).compute_signature(socket_url(call_id), {}))

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.registry.invoke("RealtimeFunction", event)
        return result

    def connect(self, call_id: str, connection_id: str | None = None, signature: str | None = "sign") -> str:
        connection_id = connection_id or f"conn-{uuid.uuid4().hex[:12]}="
        sent = self.sign(call_id) if signature == "sign" else signature
        result = self.invoke(connect_event(call_id, connection_id, sent))
        assert result["statusCode"] == 200, result
        self.frame(
            connection_id,
            {"type": "setup", "callSid": "CArealtime", "customParameters": {"call_id": call_id}},
        )
        return connection_id

    def frame(self, connection_id: str, frame: Any, **kwargs: Any) -> dict[str, Any]:
        return self.invoke(message_event(connection_id, frame, **kwargs))

    def prompt(self, connection_id: str, speech: str, **kwargs: Any) -> dict[str, Any]:
        frame = {"type": "prompt", "voicePrompt": speech, "lang": "en-US", "last": True}
        return self.frame(connection_id, frame, **kwargs)

    def interrupt(self, connection_id: str, heard: str, **kwargs: Any) -> dict[str, Any]:
        frame = {"type": "interrupt", "utteranceUntilInterrupt": heard, "durationUntilInterruptMs": 900}
        return self.frame(connection_id, frame, **kwargs)

    @contextmanager
    def in_background(self, connection_id: str, speech: str, **kwargs: Any) -> Iterator[threading.Thread]:
        """A prompt whose invocation runs while the test sends other frames (as API Gateway invokes
        each frame on its own); joined on leaving."""
        thread = threading.Thread(target=self.prompt, args=(connection_id, speech), kwargs=kwargs)
        thread.start()
        try:
            yield thread
        finally:
            thread.join(30)
