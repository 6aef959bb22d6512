"""An API Gateway WebSocket API in front of the in-process handlers.

The API, its routes, the function behind each and its stage come from template.yaml
(``LocalTemplate.websocket_apis``). Clients open ``ws://{host}:{port}/{stage}`` (behind the public
``wss://{api}.execute-api.{region}.amazonaws.com/{stage}``, whose name a client resolves here as a
hosts-file entry would); each connection goes through the life API Gateway gives it:

- the opening handshake invokes ``$connect`` with the request's headers and query; the socket is
  accepted only when the function answers 2xx, refused with that status otherwise (the 101 waits for
  the function, as on AWS);
- every frame invokes the route its body selects (``$default`` here) in a thread of its own, so two
  frames of one connection run at once (an ``interrupt`` while a ``prompt`` still streams). Frames a
  client sends before ``$connect`` has returned (pipelined behind the upgrade request) are held and
  delivered once it has, never dropped;
- the end of the socket, from either side, invokes ``$disconnect`` with the close code and reason.

Functions answer through the ``@connections`` management API, served over HTTP at
``http://{host}:{port}/{stage}/@connections/{id}`` (``callback_url``; what ``apigatewaymanagementapi``
is pointed at): POST sends the body as one text frame, GET describes the connection, DELETE closes it;
a connection that is gone answers 410 ``GoneException`` as AWS does.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import string
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request
from websockets.sync.server import Server, ServerConnection, serve

from local.awscalls import serve_connections
from local.lambdas import FunctionRegistry
from local.template import ACCOUNT_ID, WebSocketApi

_log = logging.getLogger("autocall.local.websocket")
MAX_MESSAGE = 128 * 1024  # API Gateway's WebSocket message limit
CONNECT_TIMEOUT_S = 29.0  # API Gateway's integration timeout: a $connect slower than this is refused
INTERNAL_ERROR = "Internal server error"


@dataclass
class Connection:
    """One client socket as API Gateway tracks it."""

    connection_id: str
    socket: ServerConnection
    source_ip: str
    user_agent: str
    domain: str
    connected_at: float  # epoch seconds
    last_active_at: float
    accepted: threading.Event = field(default_factory=threading.Event)  # $connect said yes
    open: threading.Event = field(default_factory=threading.Event)  # the 101 has gone out
    gone: bool = False
    messages_in: int = 0
    messages_out: int = 0


@dataclass
class Invocation:
    """One route invocation, for tests and benches: when it started and ended, on which route."""

    connection_id: str
    route_key: str
    started: float  # time.monotonic()
    ended: float = 0.0
    received: float = 0.0  # when the frame reached the gateway (MESSAGE only)
    status: int | None = None
    error: str = ""


class WebSocketGateway:
    """The template's WebSocket API on loopback (one API; the template has one)."""

    def __init__(
        self,
        api: WebSocketApi,
        registry: FunctionRegistry,
        host: str = "127.0.0.1",
        port: int = 0,
        management_port: int = 0,
    ) -> None:
        self.api = api
        self.registry = registry
        self.stage = api.stage
        self._connections: dict[str, Connection] = {}
        self._lock = threading.Lock()
        self.invocations: list[Invocation] = []
        self._server: Server = serve(
            self._serve_socket,
            host,
            port,
            process_request=self._connect,
            open_timeout=CONNECT_TIMEOUT_S + 1,
            max_size=MAX_MESSAGE,
            compression=None,
            ping_interval=None,  # API Gateway does not ping; an idle socket lives 10 minutes
        )
        self._management = _ManagementServer((host, management_port), _management_handler(self))
        self._threads: list[threading.Thread] = []

    # --- addresses ----------------------------------------------------------------------------
    @property
    def address(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"{host}:{port}"

    @property
    def url(self) -> str:
        """The API's URL on loopback, stage included."""
        return f"ws://{self.address}/{self.stage}"

    @property
    def callback_url(self) -> str:
        """The ``@connections`` endpoint functions post to (``REALTIME_CALLBACK_URL``)."""
        host, port = self._management.server_address[:2]
        return f"http://{host}:{port}/{self.stage}"

    def start(self) -> WebSocketGateway:
        serve_connections(self.callback_url, self.api.api_id, self.stage)  # IAM sees the API's ARN
        for name, target in (
            ("ws-gateway", self._server.serve_forever),
            ("ws-management", self._management.serve_forever),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._management.shutdown()
        self._management.server_close()

    # --- what tests and benches read ------------------------------------------------------------
    def connection(self, connection_id: str) -> Connection | None:
        with self._lock:
            return self._connections.get(connection_id)

    def connection_ids(self) -> list[str]:
        """The connections open now (accepted by $connect, not closed)."""
        with self._lock:
            return [cid for cid, c in self._connections.items() if not c.gone and c.accepted.is_set()]

    # --- $connect: during the opening handshake -------------------------------------------------
    def _connect(self, socket: ServerConnection, request: Request) -> Any:
        parts = urlsplit(request.path)
        if parts.path.rstrip("/") != f"/{self.stage}":
            return socket.respond(403, json.dumps({"message": "Forbidden"}))
        now = time.time()
        headers = {k: v for k, v in request.headers.raw_items()}
        host = next((v for k, v in headers.items() if k.lower() == "host"), self.address)
        domain = host.removesuffix(":443")
        source_ip = str(socket.remote_address[0]) if socket.remote_address else "127.0.0.1"
        connection = Connection(
            _connection_id(),
            socket,
            source_ip,
            next((v for k, v in headers.items() if k.lower() == "user-agent"), ""),
            domain,
            now,
            now,
        )
        with self._lock:
            self._connections[connection.connection_id] = connection
        socket.connection_id = connection.connection_id  # type: ignore[attr-defined]
        # API Gateway's edge terminates TLS and adds these
        headers = {
            **headers,
            "X-Forwarded-For": source_ip,
            "X-Forwarded-Port": "443",
            "X-Forwarded-Proto": "https",
            "X-Amzn-Trace-Id": f"Root=1-{int(now):08x}-{secrets.token_hex(12)}",
        }
        multi_query = parse_qs(parts.query, keep_blank_values=True)
        event = {
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "requestContext": self._context(connection, "$connect", "CONNECT"),
            "isBase64Encoded": False,
        }
        status = self._invoke(connection, "$connect", event)
        if status is None or not 200 <= status < 300:
            with self._lock:
                connection.gone = True
            answer = status if status is not None and status >= 400 else 502
            message = "Forbidden" if answer == 403 else INTERNAL_ERROR
            return socket.respond(answer, json.dumps({"message": message}))
        connection.accepted.set()
        return None

    # --- frames and $disconnect: after the handshake --------------------------------------------
    def _serve_socket(self, socket: ServerConnection) -> None:
        connection_id: str = socket.connection_id  # type: ignore[attr-defined]
        connection = self.connection(connection_id)
        assert connection is not None
        connection.open.set()
        code, reason = 1005, ""
        try:
            for frame in socket:  # frames that arrived during $connect come first: nothing is lost
                received = time.monotonic()
                connection.last_active_at = time.time()
                connection.messages_in += 1
                thread = threading.Thread(
                    target=self._message,
                    args=(connection, frame, received),
                    name=f"ws-frame-{connection_id}",
                    daemon=True,
                )
                thread.start()
        except ConnectionClosed:
            pass
        finally:
            closing = socket.protocol.close_rcvd or socket.protocol.close_sent
            if closing is not None:
                code, reason = closing.code, closing.reason
            with self._lock:
                connection.gone = True
            event = {
                "requestContext": {
                    **self._context(connection, "$disconnect", "DISCONNECT"),
                    "disconnectStatusCode": code,
                    "disconnectReason": reason,
                },
                "isBase64Encoded": False,
            }
            self._invoke(connection, "$disconnect", event)

    def _message(self, connection: Connection, frame: str | bytes, received: float) -> None:
        if isinstance(frame, bytes):
            body, is_b64 = base64.b64encode(frame).decode(), True
        else:
            body, is_b64 = frame, False
        route_key = self._select_route(body if not is_b64 else "")
        context = self._context(connection, route_key, "MESSAGE")
        context["messageId"] = base64.b64encode(secrets.token_bytes(9)).decode()
        event = {"requestContext": context, "body": body, "isBase64Encoded": is_b64}
        status = self._invoke(connection, route_key, event, received)
        if status is None:  # what API Gateway tells the client when the integration failed
            self._send(
                connection,
                json.dumps(
                    {
                        "message": INTERNAL_ERROR,
                        "connectionId": connection.connection_id,
                        "requestId": context["requestId"],
                    }
                ),
            )

    def _select_route(self, body: str) -> str:
        """The route the frame's body selects (``$request.body.<path>``), else ``$default``."""
        expression = self.api.route_selection
        custom = any(not key.startswith("$") for key in self.api.routes)
        if custom and expression.startswith("$request.body."):
            try:
                value: Any = json.loads(body)
                for key in expression.removeprefix("$request.body.").split("."):
                    value = value[key] if isinstance(value, dict) else None
            except ValueError:
                value = None
            if isinstance(value, str) and value in self.api.routes:
                return value
        return "$default"

    def _invoke(
        self, connection: Connection, route_key: str, event: dict[str, Any], received: float = 0.0
    ) -> int | None:
        """Invoke the route's function; its status code (200 when it answers none), None if it failed
        (or the route has no function: API Gateway then answers as for a failed integration)."""
        record = Invocation(connection.connection_id, route_key, time.monotonic(), received=received)
        with self._lock:
            self.invocations.append(record)
        function = self.api.routes.get(route_key)
        try:
            if function is None:
                if route_key == "$connect":  # no $connect route: every socket is accepted
                    record.status = 200
                    return 200
                record.error = f"no route {route_key}"
                return None if route_key != "$disconnect" else 200
            result = self.registry.invoke(function, event)
        except Exception as exc:
            _log.exception("function %s failed on %s", function, route_key)
            record.error = f"{type(exc).__name__}: {exc}"
            return None
        finally:
            record.ended = time.monotonic()
        status = int(result.get("statusCode", 200)) if isinstance(result, dict) else 200
        record.status = status
        return status

    def _context(self, connection: Connection, route_key: str, event_type: str) -> dict[str, Any]:
        now = time.time()
        return {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": secrets.token_urlsafe(12),
            "requestTime": formatdate(now, usegmt=True),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": int(connection.connected_at * 1000),
            "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
            "requestId": str(uuid.uuid4()),
            "domainName": connection.domain,
            "connectionId": connection.connection_id,
            "apiId": self.api.api_id,
            "accountId": ACCOUNT_ID,
        }

    # --- the @connections API ---------------------------------------------------------------------
    def _send(self, connection: Connection, data: str | bytes) -> bool:
        try:
            connection.socket.send(data)
        except ConnectionClosed:
            with self._lock:
                connection.gone = True
            return False
        connection.messages_out += 1
        return True

    def post(self, connection_id: str, data: bytes) -> tuple[int, dict[str, Any] | None]:
        connection = self._live(connection_id)
        if connection is None:
            return 410, {"message": None}
        if len(data) > MAX_MESSAGE:
            return 413, {"message": "Message too long"}
        try:
            frame: str | bytes = data.decode("utf-8")
        except UnicodeDecodeError:
            frame = data
        if not self._send(connection, frame):
            return 410, {"message": None}
        return 200, None

    def describe(self, connection_id: str) -> tuple[int, dict[str, Any] | None]:
        connection = self._live(connection_id)
        if connection is None:
            return 410, {"message": None}
        return 200, {  # the wire names of GetConnection (boto3 maps them to ConnectedAt, ...)
            "connectedAt": _iso(connection.connected_at),
            "lastActiveAt": _iso(connection.last_active_at),
            "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
        }

    def delete(self, connection_id: str) -> tuple[int, dict[str, Any] | None]:
        connection = self._live(connection_id)
        if connection is None:
            return 410, {"message": None}
        connection.socket.close(1000, "")
        return 204, None

    def _live(self, connection_id: str) -> Connection | None:
        """The connection if it is open: one still in ``$connect`` or already closed is gone. One
        that ``$connect`` accepted is open once its 101 is out (microseconds later)."""
        with self._lock:
            connection = self._connections.get(connection_id)
            if connection is None or connection.gone or not connection.accepted.is_set():
                return None
        return connection if connection.open.wait(2.0) and not connection.gone else None


def _connection_id() -> str:
    """An id shaped like API Gateway's: 11 letters and digits, then ``=``."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(11)) + "="


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


class _ManagementServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


_ERROR_TYPES = {410: "GoneException", 413: "PayloadTooLargeException", 403: "ForbiddenException"}


def _management_handler(gateway: WebSocketGateway) -> type[BaseHTTPRequestHandler]:
    prefix = f"/{gateway.stage}/@connections/"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = urlsplit(self.path).path
            raw_id = path[len(prefix) :]
            connection_id = unquote(raw_id)
            status: int = 403
            payload: dict[str, Any] | None = {"message": "Forbidden"}  # what AWS answers off the API
            if path.startswith(prefix) and raw_id and "/" not in raw_id:
                if self.command == "POST":
                    status, payload = gateway.post(connection_id, body)
                elif self.command == "GET":
                    status, payload = gateway.describe(connection_id)
                elif self.command == "DELETE":
                    status, payload = gateway.delete(connection_id)
            encoded = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            if status in _ERROR_TYPES:
                self.send_header("x-amzn-ErrorType", _ERROR_TYPES[status])
            if encoded:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(encoded)))
            self.end_headers()
            self.wfile.write(encoded)

        do_GET = do_POST = do_DELETE = do_PUT = _serve

    return Handler
