"""Realtime voice mode on the whole local stack: the template's WebSocket API served on loopback,
the carrier simulator speaking ConversationRelay to the realtime function through it.

The tests that place a call need the realtime function (``functions/voice_webhook/realtime.py``,
issue 16's function part); until it is in the tree they are skipped, and the same simulator runs
against a test double in tests/integration/test_local_websocket_relay.py."""

from __future__ import annotations

import itertools
import json
import socket
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError
from twilio.request_validator import RequestValidator
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from local.personas import PERSONAS, expected_outcome
from tests.support.stack import rest_clock, run_clock_from

WEDNESDAY_NOON_EASTERN = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
TERMINAL = {"completed", "busy", "no_answer", "failed", "canceled"}
_numbers = itertools.count(700)


@pytest.fixture(autouse=True)
def business_hours():
    run_clock_from(WEDNESDAY_NOON_EASTERN)
    yield
    rest_clock()


def test_the_stack_serves_the_websocket_api_and_points_its_functions_at_it(stack):
    (api,) = stack.template.websocket_apis()
    websocket = stack.realtime
    assert websocket.api == api and websocket.stage == stack.template.stage
    # the function behind the routes replies through the local @connections endpoint ...
    env = stack.registry.function_env("RealtimeFunction")
    assert env["REALTIME_CALLBACK_URL"] == websocket.callback_url
    assert "REALTIME_CALLBACK_URL" not in stack.registry.function_env("VoiceWebhookFunction")
    # ... and the voice webhook renders the public URL, whose name reaches the local socket
    assert stack.registry.function_env("VoiceWebhookFunction")["REALTIME_URL"] == api.url
    assert stack.carrier.hosts[api.domain] == websocket.address
    management = boto3.client(
        "apigatewaymanagementapi", endpoint_url=websocket.callback_url, region_name="us-east-1"
    )
    with pytest.raises(ClientError) as gone:
        management.post_to_connection(ConnectionId="AAAAAAAAAAA=", Data=b"{}")
    assert gone.value.response["Error"]["Code"] == "GoneException"


def realtime_call(api, persona: str, purpose: str = "sales_outreach"):
    phone = f"+1212555{next(_numbers):04d}"
    contact = api.contact("John Smith", phone, company="TechCorp", time_zone="America/New_York")
    api.stack.carrier.register_callee(phone, persona, name="John")
    response = api.post(
        "/calls/api/calls/trigger_autonomous_call/",
        json={"contact_id": contact["contact_id"], "call_purpose": purpose, "voice_mode": "realtime"},
    )
    assert response.status_code == 202, response.text
    call_id = response.json()["call_id"]
    api.wait_for(lambda: api.get(f"/calls/{call_id}").json()["status"] in TERMINAL, timeout=90)
    assert api.stack.carrier.wait_idle(30)
    call = api.get(f"/calls/{call_id}").json()
    return call, api.stack.carrier.get_call(call["twilio_sid"])


def test_a_realtime_call_talks_over_the_websocket_api_and_reaches_its_outcome(api):
    call, sim = realtime_call(api, "interested_buyer")
    assert call["voice_mode"] == "realtime"
    assert call["outcome"] == expected_outcome("interested_buyer", "sales_outreach"), sim.transcript
    (session,) = sim.relay_sessions
    assert session.status == "ended" and session.errors == []
    assert session.sent["setup"] == 1 and session.sent["prompt"] >= 2
    assert session.received["text"] >= session.sent["prompt"] and session.received["end"] == 1
    assert len(session.first_token_ms) == session.sent["prompt"]
    assert sim.transcript[0].speaker == "agent" and sim.transcript[0].text.startswith("Hi, this is Alex")
    callee_lines = [e.text for e in sim.transcript if e.speaker == "callee"]
    assert callee_lines[0] == PERSONAS["interested_buyer"].lines[0].replace("{name}", "John")
    assert [w.kind for w in sim.webhooks].count("action") == 1  # the <Connect action>, once


def test_a_callee_talking_over_the_agent_is_heard_and_the_cut_reply_is_not_spoken(api):
    persona = PERSONAS["talks_over_agent"]
    call, sim = realtime_call(api, "talks_over_agent")
    (session,) = sim.relay_sessions
    (interrupt,) = session.interrupts
    assert interrupt.line == 1
    assert len(interrupt.utterance_until_interrupt.split()) == persona.barge_in[1]
    heard = [e.text for e in sim.transcript if e.speaker == "agent"]
    assert interrupt.utterance_until_interrupt in heard  # the cut reply as far as it was heard
    assert session.unspoken_tokens == 0, "the function kept streaming a superseded reply"
    assert call["status"] == "completed"
    assert call["outcome"] == expected_outcome("talks_over_agent", "sales_outreach"), sim.transcript


def test_a_forged_handshake_is_refused_on_the_stack(stack):
    websocket = stack.realtime
    url = f"{websocket.api.url}?call_id=forged"
    forged = RequestValidator("not-the-auth-token").compute_signature(url, {})
    host, port = websocket.address.split(":")
    before = len(websocket.invocations)
    with pytest.raises(InvalidStatus) as refused:
        connect(
            url.replace("wss://", "ws://", 1),
            sock=socket.create_connection((host, int(port))),
            additional_headers={"X-Twilio-Signature": forged},
            open_timeout=30,
        )
    assert refused.value.response.status_code == 403
    (connect_refused,) = [
        i for i in websocket.invocations[before:] if i.route_key == "$connect" and i.status == 403
    ]
    told = [i.route_key for i in websocket.invocations if i.connection_id == connect_refused.connection_id]
    assert told == ["$connect"]  # no frame, no $disconnect for a socket never opened
    assert json.loads(refused.value.response.body or b"{}") == {"message": "Forbidden"}
