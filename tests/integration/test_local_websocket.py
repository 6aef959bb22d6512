"""The local stack's WebSocket API (local/websocket_gateway.py), driven over real sockets as Twilio's
ConversationRelay drives API Gateway, with a test double of the realtime function behind it
(tests/support/fakes/relay_double.py): the events it gets, the sockets it refuses, the
@connections API it answers through."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from twilio.request_validator import RequestValidator
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from local.template import LocalTemplate
from tests.support.websocket_double import RealtimeDouble, realtime_double

TOKEN = "ws-test-auth-token"


@pytest.fixture(autouse=True)
def auth_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)  # lent to the function as the local stack does


@pytest.fixture
def ws() -> Iterator[RealtimeDouble]:
    with realtime_double() as running:
        yield running


def public_url(ws: RealtimeDouble, query: str = "call_id=c1") -> str:
    return f"{ws.gateway.api.url}?{query}" if query else ws.gateway.api.url


def open_socket(
    ws: RealtimeDouble, query: str = "call_id=c1", signature: str | None = None
) -> ClientConnection:
    """Open the API as Twilio does: the public wss:// URL (its name resolving to the gateway), the
    handshake signed over that URL with no parameters."""
    url = public_url(ws, query)
    sig = signature if signature is not None else RequestValidator(TOKEN).compute_signature(url, {})
    host, port = ws.gateway.address.split(":")
    plain = url.replace("wss://", "ws://", 1)  # TLS ends at API Gateway's edge
    return connect(
        plain,
        sock=socket.create_connection((host, int(port))),
        additional_headers={"X-Twilio-Signature": sig},
        open_timeout=10,
    )


def management(ws: RealtimeDouble) -> Any:
    return boto3.client(
        "apigatewaymanagementapi", endpoint_url=ws.gateway.callback_url, region_name="us-east-1"
    )


def wait_for(predicate: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("condition not reached in time")


def test_the_gateway_serves_the_templates_websocket_api_under_its_stage() -> None:
    (api,) = LocalTemplate().websocket_apis()
    assert api.routes == {
        "$connect": "RealtimeFunction",
        "$default": "RealtimeFunction",
        "$disconnect": "RealtimeFunction",
    }
    assert api.stage == LocalTemplate().stage  # the Stage parameter, like the REST API's
    env = LocalTemplate().function_environment("VoiceWebhookFunction")
    assert env["REALTIME_URL"] == api.url == f"wss://{api.domain}/{api.stage}"


def test_connect_and_message_events_have_api_gateways_shape(ws: RealtimeDouble) -> None:
    with open_socket(ws) as client:
        client.send(json.dumps({"type": "setup", "callSid": "CA1"}))
        wait_for(lambda: ws.double.routes("$default"))
    (connect_event,) = ws.double.routes("$connect")
    context = connect_event["requestContext"]
    assert context["eventType"] == "CONNECT"
    assert context["domainName"] == ws.gateway.api.domain  # the public host the client asked for
    assert context["stage"] == ws.gateway.api.stage
    assert context["apiId"] == ws.gateway.api.api_id
    assert context["connectionId"] and context["requestId"]
    assert context["connectedAt"] <= context["requestTimeEpoch"]
    assert connect_event["queryStringParameters"] == {"call_id": "c1"}
    assert connect_event["multiValueQueryStringParameters"] == {"call_id": ["c1"]}
    assert connect_event["headers"]["X-Twilio-Signature"]
    assert connect_event["headers"]["X-Forwarded-Proto"] == "https"
    assert connect_event["multiValueHeaders"]["X-Twilio-Signature"] == [
        connect_event["headers"]["X-Twilio-Signature"]
    ]
    assert connect_event["isBase64Encoded"] is False and "body" not in connect_event

    (message,) = ws.double.routes("$default")
    assert message["requestContext"]["eventType"] == "MESSAGE"
    assert message["requestContext"]["connectionId"] == context["connectionId"]
    assert message["requestContext"]["connectedAt"] == context["connectedAt"]
    assert message["requestContext"]["messageId"]
    assert json.loads(message["body"]) == {"type": "setup", "callSid": "CA1"}
    assert message["isBase64Encoded"] is False and "headers" not in message


def test_replies_posted_to_the_connection_reach_the_client_in_order(ws: RealtimeDouble) -> None:
    with open_socket(ws) as client:
        client.send(json.dumps({"type": "prompt", "voicePrompt": "hello", "lang": "en-US", "last": True}))
        tokens: list[str] = []
        while True:
            message = json.loads(client.recv(timeout=20))  # the first reply imports boto3: cold
            tokens.append(message["token"])
            if message["last"]:
                break
    from tests.support.fakes.relay_double import REPLY

    assert "".join(tokens) == REPLY


def test_a_forged_handshake_is_refused_and_the_function_hears_only_connect(ws: RealtimeDouble) -> None:
    forged = RequestValidator("not-the-token").compute_signature(public_url(ws), {})
    with pytest.raises(InvalidStatus) as refused:
        open_socket(ws, signature=forged)
    assert refused.value.response.status_code == 403
    time.sleep(0.2)  # a $default or $disconnect would have been invoked by now
    assert [e["requestContext"]["routeKey"] for e in ws.double.events] == ["$connect"]
    assert ws.gateway.connection_ids() == []

    # a handshake signed over another call's URL is forged too
    other = RequestValidator(TOKEN).compute_signature(public_url(ws, "call_id=c2"), {})
    with pytest.raises(InvalidStatus):
        open_socket(ws, signature=other)


def test_a_path_outside_the_stage_is_refused_without_invoking_the_function(ws: RealtimeDouble) -> None:
    host, port = ws.gateway.address.split(":")
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://{ws.gateway.api.domain}/other", sock=socket.create_connection((host, int(port))))
    assert refused.value.response.status_code == 403
    assert ws.double.events == []


def test_frames_of_one_connection_invoke_the_function_concurrently() -> None:
    with realtime_double(frame_delay_s=0.6) as ws, open_socket(ws) as client:
        client.send(json.dumps({"type": "echo", "n": -1}))  # warm: the environments import boto3
        assert json.loads(client.recv(timeout=20))["n"] == -1
        ws.gateway.invocations.clear()
        started = time.monotonic()
        for n in range(4):
            client.send(json.dumps({"type": "echo", "n": n}))
        echoed = sorted(json.loads(client.recv(timeout=5))["n"] for _ in range(4))
        elapsed = time.monotonic() - started
    assert echoed == [0, 1, 2, 3]
    assert elapsed < 1.5, f"4 frames of 0.6 s each took {elapsed:.2f} s: they ran one after another"
    frames = [i for i in ws.gateway.invocations if i.route_key == "$default"]
    assert max(i.started for i in frames) < min(i.ended for i in frames)  # all four overlapped


def test_post_to_a_gone_connection_is_410_gone_exception(ws: RealtimeDouble) -> None:
    api = management(ws)
    with pytest.raises(ClientError) as never:
        api.post_to_connection(ConnectionId="Zm9yZ2VkaWQ=", Data=b"{}")
    assert never.value.response["Error"]["Code"] == "GoneException"
    assert never.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410

    with open_socket(ws) as client:
        (connection_id,) = wait_for(ws.gateway.connection_ids)
        api.post_to_connection(ConnectionId=connection_id, Data=b'{"type": "text", "token": "hi"}')
        assert json.loads(client.recv(timeout=5)) == {"type": "text", "token": "hi"}
        time.sleep(0.01)
        info = api.get_connection(ConnectionId=connection_id)
        assert info["Identity"]["SourceIp"] == "127.0.0.1"
        assert info["ConnectedAt"] <= info["LastActiveAt"]
    wait_for(lambda: ws.double.routes("$disconnect"))
    for call in (
        lambda: api.post_to_connection(ConnectionId=connection_id, Data=b"{}"),
        lambda: api.get_connection(ConnectionId=connection_id),
        lambda: api.delete_connection(ConnectionId=connection_id),
    ):
        with pytest.raises(ClientError) as gone:
            call()
        assert gone.value.response["Error"]["Code"] == "GoneException"


def test_delete_connection_closes_the_socket_and_invokes_disconnect(ws: RealtimeDouble) -> None:
    with open_socket(ws) as client:
        (connection_id,) = wait_for(ws.gateway.connection_ids)
        management(ws).delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            client.recv(timeout=5)
    (event,) = wait_for(lambda: ws.double.routes("$disconnect"))
    assert event["requestContext"]["connectionId"] == connection_id
    assert event["requestContext"]["disconnectStatusCode"] == 1000


def test_the_client_closing_invokes_disconnect_with_its_code_and_reason(ws: RealtimeDouble) -> None:
    client = open_socket(ws)
    client.close(1000, "session ended")
    (event,) = wait_for(lambda: ws.double.routes("$disconnect"))
    context = event["requestContext"]
    assert context["eventType"] == "DISCONNECT"
    assert context["disconnectStatusCode"] == 1000
    assert context["disconnectReason"] == "session ended"
    assert "body" not in event and "headers" not in event


def _masked_text_frame(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + masked


def test_a_first_frame_sent_during_a_slow_cold_connect_is_held_and_delivered() -> None:
    """Cold start: the client sends its first frame right behind the upgrade request, while
    ``$connect`` takes 1 s; the frame is held until ``$connect`` has said yes, then delivered."""
    with realtime_double(connect_delay_s=1.0) as ws:
        url = public_url(ws)
        signature = RequestValidator(TOKEN).compute_signature(url, {})
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /{ws.gateway.api.stage}?call_id=c1 HTTP/1.1\r\nHost: {ws.gateway.api.domain}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nX-Twilio-Signature: {signature}\r\n\r\n"
        ).encode()
        first = json.dumps({"type": "setup", "callSid": "CA-cold"})
        host, port = ws.gateway.address.split(":")
        with socket.create_connection((host, int(port))) as raw:
            sent = time.monotonic()
            raw.sendall(request + _masked_text_frame(first))  # before the 101 has come back
            answer = raw.recv(4096)
            assert answer.startswith(b"HTTP/1.1 101"), answer[:80]
            (message,) = wait_for(lambda: ws.double.routes("$default"))
            delivered = time.monotonic()
    assert json.loads(message["body"]) == {"type": "setup", "callSid": "CA-cold"}
    (connected,) = [i for i in ws.gateway.invocations if i.route_key == "$connect"]
    (frame,) = [i for i in ws.gateway.invocations if i.route_key == "$default"]
    assert frame.started >= connected.ended  # held until $connect returned, not before
    assert 1.0 <= delivered - sent < 2.0


def test_the_first_frame_after_a_slow_connect_handshake_is_delivered() -> None:
    with realtime_double(connect_delay_s=0.8) as ws:
        started = time.monotonic()
        with open_socket(ws) as client:
            handshake = time.monotonic() - started
            client.send(json.dumps({"type": "setup", "callSid": "CA-first"}))
            (message,) = wait_for(lambda: ws.double.routes("$default"))
    assert handshake >= 0.8  # the 101 waits for $connect, as API Gateway's does
    assert json.loads(message["body"])["callSid"] == "CA-first"


def test_a_failing_function_tells_the_client_internal_server_error(ws: RealtimeDouble) -> None:
    with open_socket(ws) as client:
        client.send("not json")  # the double's json.loads raises: the invocation fails
        answer = json.loads(client.recv(timeout=5))
    assert answer["message"] == "Internal server error"
    assert answer["connectionId"] and answer["requestId"]


def test_a_reply_is_authorized_as_manage_connections_on_the_apis_own_stage(ws: RealtimeDouble) -> None:
    """What IAM checks for a PostToConnection through the local endpoint: the template's policy
    names ``execute-api:ManageConnections`` on ``{api}/{stage}/POST/@connections/*``."""
    from local.awscalls import Recorder

    with Recorder() as recorder, open_socket(ws) as client:
        (connection_id,) = wait_for(ws.gateway.connection_ids)
        client.send(json.dumps({"type": "echo"}))
        client.recv(timeout=20)
    api = ws.gateway.api
    arn = f"arn:aws:execute-api:us-east-1:123456789012:{api.api_id}/{api.stage}"
    resource = f"{arn}/POST/@connections/{connection_id}"
    (call,) = [c for c in recorder.calls if c.resource == resource]
    assert call.function == "RealtimeFunction"
    assert call.action == "execute-api:ManageConnections"
    assert call.operation == "PostToConnection"
