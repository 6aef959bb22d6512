"""The carrier simulator speaking ConversationRelay (local/carrier/relay.py): a call whose answer
TwiML is ``<Connect><ConversationRelay>`` runs over the local WebSocket API, against a test double
of the realtime function (tests/support/fakes/relay_double.py) and a small voice app for the
answer and ``<Connect action>`` webhooks (tests/support/fakes/voice_app.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from autocall.config import reset_settings
from autocall.integrations.twilio.client import Telephony, get_telephony

from local.carrier import CarrierSimulator, SimCall
from local.carrier.engine import WORDS_PER_SECOND
from local.personas import PERSONAS
from tests.support.fakes.relay_double import GOODBYE, REPLY
from tests.support.fakes.voice_app import CONNECTING, GREETING, TRANSFER_TO, FakeVoiceApp
from tests.support.websocket_double import RealtimeDouble, realtime_double

TOKEN = "relay-auth-token"
ACCOUNT = "AC" + "3" * 32
CALLER = "+15005550006"
CALLEE = "+15551230002"


@pytest.fixture
def sim() -> Iterator[CarrierSimulator]:
    with CarrierSimulator(auth_token=TOKEN, account_sid=ACCOUNT) as simulator:
        yield simulator


@pytest.fixture
def telephony(sim: CarrierSimulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Telephony]:
    monkeypatch.setenv("TWILIO_API_BASE_URL", sim.base_url)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)  # lent to the double: it checks the handshake
    reset_settings()
    yield get_telephony()
    reset_settings()


@pytest.fixture
def app() -> Iterator[FakeVoiceApp]:
    voice_app = FakeVoiceApp(TOKEN)
    yield voice_app
    voice_app.stop()


def relay_call(telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp, ws: RealtimeDouble) -> SimCall:
    """Dial the callee with the app answering realtime TwiML for the double's WebSocket API (whose
    public name the carrier resolves to the local gateway); the finished call."""
    app.relay_url = ws.gateway.api.url
    sim.resolve(ws.gateway.api.domain, ws.gateway.address)
    sid = telephony.create_call(CALLEE, CALLER, app.url("/answer"), app.url("/status"), app.url("/amd"))
    assert sim.wait_idle(60)
    assert ws.double.post_errors == []
    return sim.get_call(sid)


def spoken(call: SimCall) -> list[tuple[str, str]]:
    return [(entry.speaker, entry.text) for entry in call.transcript]


def test_a_relay_call_greets_prompts_each_line_and_ends_through_the_action(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    sim.script_callee(CALLEE, lines=["Yes, this is Dana.", "Tell me more.", "Okay, bye."])
    with realtime_double() as ws:
        call = relay_call(telephony, sim, app, ws)
        prompts = [json.loads(e["body"]) for e in ws.double.routes("$default")]
        disconnects = ws.double.routes("$disconnect")

    assert spoken(call) == [
        ("agent", GREETING),  # spoken from the TwiML: never lost to a cold start
        ("callee", "Yes, this is Dana."),
        ("agent", REPLY),  # the concatenation of the reply's text tokens
        ("callee", "Tell me more."),
        ("agent", REPLY),
        ("callee", "Okay, bye."),
        ("agent", GOODBYE),
    ]
    setup = prompts[0]
    assert setup["type"] == "setup" and setup["callSid"] == call.sid
    assert setup["customParameters"] == {"call_id": "c1"}
    assert (setup["from"], setup["to"], setup["direction"]) == (CALLER, CALLEE, "outbound-api")
    assert [p["voicePrompt"] for p in prompts[1:]] == ["Yes, this is Dana.", "Tell me more.", "Okay, bye."]
    assert all(p["type"] == "prompt" and p["last"] is True and p["lang"] == "en-US" for p in prompts[1:])

    (session,) = call.relay_sessions
    assert session.status == "ended" and session.handshake_status is None
    assert session.sent == {"setup": 1, "prompt": 3}
    tokens = 2 * len(REPLY.split()) + len(GOODBYE.split())
    assert session.received == {"text": tokens, "end": 1}
    assert len(session.first_token_ms) == 3 and all(ms > 0 for ms in session.first_token_ms)
    assert json.loads(session.handoff_data)["reason"] == "hangup"

    (action,) = app.hits("/relay")
    assert action.signature_ok
    assert action.params["CallSid"] == call.sid and action.params["AccountSid"] == ACCOUNT
    assert action.params["SessionId"] == session.session_id and action.params["SessionStatus"] == "ended"
    assert json.loads(action.params["HandoffData"]) == {"reason": "hangup", "call_id": "double"}
    assert int(action.params["SessionDuration"]) > 0
    assert call.status == "completed" and call.ended_by == "agent"  # the action's <Hangup/>
    assert call.status_callbacks[-1] == "completed"
    assert len(disconnects) == 1  # the carrier closed the socket


def test_a_callee_talking_over_the_agent_interrupts_and_the_transcript_keeps_what_was_heard(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    """The callee's second line barges in after four words of the agent's reply; the function's
    superseded reply still has two tokens in flight: they are never spoken."""
    lines = ["Yes, this is Dana.", "Sorry, how much does it cost?", "Okay, bye."]
    sim.script_callee(CALLEE, lines=lines, barge_in={1: 4})
    with realtime_double(late_tokens=2, token_delay_s=0.02) as ws:
        call = relay_call(telephony, sim, app, ws)
        messages = [json.loads(e["body"]) for e in ws.double.routes("$default")]

    heard = " ".join(REPLY.split()[:4])
    assert spoken(call) == [
        ("agent", GREETING),
        ("callee", lines[0]),
        ("agent", heard),  # only what the callee heard before talking over it
        ("callee", lines[1]),
        ("agent", REPLY),
        ("callee", lines[2]),
        ("agent", GOODBYE),
    ]
    (interrupt,) = [m for m in messages if m["type"] == "interrupt"]
    assert interrupt["utteranceUntilInterrupt"] == heard
    assert interrupt["durationUntilInterruptMs"] == int(4 / WORDS_PER_SECOND * 1000)
    kinds = [m["type"] for m in messages]
    assert kinds.index("interrupt") < kinds.index("prompt", kinds.index("interrupt"))  # then the line
    (session,) = call.relay_sessions
    (record,) = session.interrupts
    assert (record.line, record.utterance_until_interrupt) == (1, heard)
    assert record.unspoken_tokens == 2 == session.unspoken_tokens
    assert session.sent == {"setup": 1, "prompt": 3, "interrupt": 1}


def test_a_persona_scripted_to_talk_over_the_agent_interrupts_its_second_reply(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    persona = PERSONAS["talks_over_agent"]
    sim.register_callee(CALLEE, "talks_over_agent", name="Dana")
    with realtime_double() as ws:
        call = relay_call(telephony, sim, app, ws)
    (session,) = call.relay_sessions
    (record,) = session.interrupts
    assert record.line == 1 and len(record.utterance_until_interrupt.split()) == persona.barge_in[1]
    assert ("callee", persona.lines[1]) in spoken(call)


def test_a_transfer_handoff_runs_the_actions_say_and_dial(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    sim.script_callee(CALLEE, lines=["Hi.", "Can you transfer me to a person?"])
    with realtime_double() as ws:
        call = relay_call(telephony, sim, app, ws)
    assert spoken(call)[-2:] == [("agent", GOODBYE), ("agent", CONNECTING)]
    assert call.transfers == [TRANSFER_TO] and call.ended_by == "transfer"
    (action,) = app.hits("/relay")
    assert json.loads(action.params["HandoffData"])["reason"] == "transfer"


def test_the_callee_hanging_up_closes_the_socket_and_tells_the_action(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    sim.script_callee(CALLEE, lines=["Hi, who is this?"])
    with realtime_double() as ws:
        call = relay_call(telephony, sim, app, ws)
        disconnects = ws.double.routes("$disconnect")
    assert spoken(call)[-1] == ("agent", REPLY)  # the reply is heard, then the callee hangs up
    assert call.ended_by == "callee" and call.status == "completed"
    (action,) = app.hits("/relay")
    assert action.params["SessionStatus"] == "completed" and action.params["CallStatus"] == "completed"
    assert "HandoffData" not in action.params
    assert len(disconnects) == 1


def test_a_refused_handshake_fails_the_session_and_the_action_decides(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The function's token differs from the carrier's: the handshake's signature does not verify,
    the socket is refused, the function hears nothing beyond $connect and the action hangs up."""
    sim.script_callee(CALLEE, lines=["Hello?"])
    with realtime_double() as ws:
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", "another-token")  # what the function is lent
        call = relay_call(telephony, sim, app, ws)
        routes = [e["requestContext"]["routeKey"] for e in ws.double.events]
    (session,) = call.relay_sessions
    assert session.status == "failed" and session.handshake_status == 403
    assert routes == ["$connect"]
    (action,) = app.hits("/relay")
    assert action.params["SessionStatus"] == "failed"
    assert call.ended_by == "agent" and spoken(call) == []


def test_a_socket_dropped_mid_reply_fails_the_session_and_the_action_takes_over(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    sim.script_callee(CALLEE, lines=["Hi.", "Please drop this.", "Hello?"])
    with realtime_double() as ws:
        call = relay_call(telephony, sim, app, ws)
    (session,) = call.relay_sessions
    assert session.status == "failed"
    assert any("closed without an end message" in error for error in session.errors)
    assert spoken(call)[-1] == ("agent", " ".join(REPLY.split()[:3]))  # heard before the drop
    (action,) = app.hits("/relay")
    assert action.params["SessionStatus"] == "failed" and action.params["CallStatus"] == "in-progress"
    assert call.ended_by == "agent"  # the action's <Hangup/>: no dead air after the drop
