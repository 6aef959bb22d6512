"""Realtime voice mode, through its real entry points: the answer webhook's ConversationRelay TwiML,
WebSocket events as API Gateway sends them into the realtime function, the replies it posts to the
@connections API (a stand-in on loopback), and the signed <Connect action> and status webhooks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest
from autocall.clock import CLOCK
from autocall.config import reset_settings
from autocall.stores.suppression import is_suppressed

from local.gateway import Gateway
from local.openai_fake import FakeOpenAI
from tests.support.aws import Aws
from tests.support.realtime import Connections, Relay, message_event
from tests.support.reliability import (
    NOW,
    Twilio,
    new_contact,
    on_the_line,
    row,
    tables_snapshot,
    twiml_tree,
    twiml_verbs,
)

SID = "CArealtime"
DEADLINE_S = 1.5
PLAYBOOK_LINES = [
    "Yes, this is Dana. What's this about?",
    "We are looking at upgrading our infrastructure.",
    "Yes, that would be helpful.",
    "Tuesday at 2 pm works for me.",
    "Yes, that's right.",
    "No, that's all. Thanks, bye!",
]


@dataclass
class Session:
    twilio: Twilio
    relay: Relay
    connections: Connections
    aws: Aws

    def realtime_call(self, voice_mode: str | None = "realtime") -> tuple[str, Any]:
        """A call triggered through the API (due later: nothing dials it), then put on the line."""
        contact = new_contact()
        body: dict[str, Any] = {
            "contact_id": contact.contact_id,
            "call_purpose": "sales_outreach",
            "scheduled_time": (NOW + timedelta(minutes=5)).isoformat(),
        }
        if voice_mode:
            body["voice_mode"] = voice_mode
        status, answer = self.twilio.api("POST", "/calls/api/calls/trigger_autonomous_call/", body)
        assert status == 202, answer
        on_the_line(answer["call_id"], SID)
        return answer["call_id"], contact

    def answered(self) -> tuple[str, str, Any]:
        """A realtime call answered and its session connected: (call id, connection id, contact)."""
        call_id, contact = self.realtime_call()
        twiml = self.twilio.answer(call_id, SID)
        assert "ConversationRelay" in twiml_verbs(twiml) or "Connect" in twiml_verbs(twiml), twiml
        return call_id, self.relay.connect(call_id), contact

    def relay_ended(self, call_id: str, handoff: dict[str, Any] | None, status: str = "in-progress") -> str:
        params = {"CallSid": SID, "CallStatus": status, "AccountSid": "ACtest", "SessionId": "VX1",
                  "SessionStatus": "ended", "SessionDuration": "42"}  # fmt: skip
        if handoff is not None:
            params["HandoffData"] = json.dumps(handoff)
        code, twiml = self.twilio.post(f"/twilio/relay/{call_id}", params)
        assert code == 200, twiml
        return twiml


@pytest.fixture
def session(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    connections = Connections().start()
    # the local stack's gateway lends REALTIME_CALLBACK_URL to the function as it lends the other
    # endpoint swaps; here the stand-in @connections API is that endpoint
    aws.registry.add_local_variables("RealtimeFunction", {"REALTIME_CALLBACK_URL": connections.url})
    monkeypatch.setenv("REALTIME_CALLBACK_URL", connections.url)
    monkeypatch.setenv("TWILIO_API_BASE_URL", "http://127.0.0.1:9")  # nothing dials out from here
    reset_settings()
    CLOCK.freeze(NOW)
    gateway = Gateway(aws.template, aws.registry)
    token = aws.secrets["twilio_auth_token"]
    twilio = Twilio(gateway, token, "https://api.example.test", aws.secrets)
    yield Session(twilio, Relay(aws.registry, token, connections), connections, aws)
    gateway.server.server_close()
    connections.stop()
    reset_settings()


@pytest.fixture(scope="module")
def openai_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def llm(openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """The LLM brain against the streaming OpenAI fake (deadline 1.5 s)."""
    openai_server.reset()
    openai_server.set_timing(0.0, 0.0)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-realtime")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("LLM_TURN_DEADLINE_S", str(DEADLINE_S))
    reset_settings()
    yield openai_server
    monkeypatch.delenv("OPENAI_API_KEY")
    reset_settings()


def _wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


# --- the mode, the TwiML, the handshake ----------------------------------------------------------


def test_realtime_call_is_answered_with_conversation_relay_and_shows_its_mode(session: Session) -> None:
    call_id, _ = session.realtime_call()
    status, shown = session.twilio.api("GET", f"/calls/{call_id}")
    assert status == 200 and shown["voice_mode"] == "realtime"
    twiml = session.twilio.answer(call_id, SID)
    connect = twiml_tree(twiml).find("Connect")
    assert connect is not None, twiml
    assert connect.get("action") == f"https://api.example.test/prod/twilio/relay/{call_id}"
    relay = connect.find("ConversationRelay")
    assert relay is not None
    assert relay.get("url", "").startswith("wss://") and relay.get("url", "").endswith(f"?call_id={call_id}")
    assert relay.get("interruptible") == "speech" and relay.get("welcomeGreetingInterruptible") == "speech"
    assert "AI assistant" in relay.get("welcomeGreeting", "") or "automated" in relay.get(
        "welcomeGreeting", ""
    )
    parameter = relay.find("Parameter")
    assert parameter is not None and parameter.get("value") == call_id
    assert row(call_id).turns[0]["prompt"][0]["step"] == "converse"


def test_calls_default_to_gather_mode(session: Session) -> None:
    call_id, _ = session.realtime_call(voice_mode=None)
    assert session.twilio.api("GET", f"/calls/{call_id}")[1]["voice_mode"] == "gather"
    assert "Gather" in twiml_verbs(session.twilio.answer(call_id, SID))


def test_an_unknown_voice_mode_is_refused_naming_the_field(session: Session) -> None:
    contact = new_contact()
    body = {"contact_id": contact.contact_id, "call_purpose": "sales_outreach", "voice_mode": "telepathy"}
    status, answer = session.twilio.api("POST", "/calls/api/calls/trigger_autonomous_call/", body)
    assert status in (400, 422) and "voice_mode" in json.dumps(answer)


def test_a_forged_handshake_is_refused_and_writes_nothing(session: Session) -> None:
    call_id, _ = session.realtime_call()
    session.twilio.answer(call_id, SID)
    before = tables_snapshot()
    from tests.support.realtime import connect_event

    for forged in (None, "bm90IGEgc2lnbmF0dXJl", session.relay.sign("another-call")):
        result = session.relay.invoke(connect_event(call_id, "conn-forged=", forged))
        assert result["statusCode"] == 403
    assert tables_snapshot() == before
    # and the frames of a connection that never bound are ignored, not answered
    session.relay.prompt("conn-forged=", "Hello?")
    assert session.connections.messages("conn-forged=") == []


def test_bad_frames_are_ignored_and_the_socket_stays_up(session: Session) -> None:
    _, connection, _ = session.answered()
    for frame in (
        "{not json",
        json.dumps({"type": "telepathy"}),
        json.dumps([1, 2]),
        json.dumps({"no": "type"}),
    ):
        assert session.relay.invoke(message_event(connection, frame))["statusCode"] == 200
    assert session.connections.messages(connection) == []
    session.relay.prompt(connection, "Yes, this is Dana. What's this about?")
    assert session.connections.texts(connection), "the session still answers"


# --- conversations with both brains ----------------------------------------------------------------


def _converse(session: Session, call_id: str, connection: str, lines: list[str]) -> dict[str, Any]:
    """Say ``lines`` one prompt at a time until the agent ends the session: its ``end`` message."""
    for line in lines:
        before = len(session.connections.messages(connection))
        session.relay.prompt(connection, line)
        new = session.connections.messages(connection)[before:]
        assert any(m["type"] == "text" for m in new), f"no reply to {line!r}"
        assert new[-1].get("last") is True or new[-1]["type"] == "end"
        end = [m for m in new if m["type"] == "end"]
        if end:
            return dict(end[0])
    raise AssertionError("the agent never ended the session")


def test_playbook_conversation_streams_saves_turns_and_ends_through_the_relay_webhook(
    session: Session,
) -> None:
    call_id, connection, _ = session.answered()
    end = _converse(session, call_id, connection, PLAYBOOK_LINES)
    handoff = json.loads(end["handoffData"])
    assert handoff == {"reason": "hangup", "call_id": call_id}
    call = row(call_id)
    assert call.outcome == "demo_scheduled"
    said = [t["reply"] for t in call.turns[1:]]
    assert all(said) and [t["utterance"] for t in call.turns[1:]] == PLAYBOOK_LINES[: len(said)]
    assert [t["turn"] for t in call.turns] == list(range(len(call.turns)))
    assert {t["brain"] for t in call.turns[1:]} == {"playbook"}
    # what was streamed is what was stored, piece by piece
    assert session.connections.spoken(connection).replace("  ", " ").endswith(said[-1])
    twiml = session.relay_ended(call_id, handoff)
    assert twiml_verbs(twiml) == ["Hangup"]
    assert session.twilio.status(call_id, "completed", SID) == 200
    ended = row(call_id)
    assert ended.status == "completed" and ended.outcome == "demo_scheduled"
    executions = boto3.client("stepfunctions").list_executions(
        stateMachineArn=session.aws.template.overrides.get("PostCallStateMachine") or _state_machine_arn()
    )["executions"]
    started = [e for e in executions if call_id in e["name"]]
    assert started, "the post-call chain started"
    _wait_for(
        lambda: (
            boto3.client("stepfunctions").describe_execution(executionArn=started[0]["executionArn"])[
                "status"
            ]
            != "RUNNING"
        ),
        timeout=30,
    )


def _state_machine_arn() -> str:
    machines = boto3.client("stepfunctions").list_state_machines()["stateMachines"]
    return str(next(m["stateMachineArn"] for m in machines if "post" in m["name"].lower()))


def test_llm_reply_streams_its_first_piece_before_the_model_has_finished(
    session: Session, llm: FakeOpenAI
) -> None:
    call_id, connection, _ = session.answered()
    reply = (
        "Great to hear, Dana. We help teams like yours cut their infrastructure costs by a third, "
        "without a migration project. Would a short demo next week work for you?"
    )
    first_token_s, rate = 0.3, 25.0
    llm.enqueue(reply, first_token_s=first_token_s, tokens_per_s=rate)
    started = time.perf_counter()
    session.relay.prompt(connection, "We are looking at upgrading our infrastructure.")
    finished = time.perf_counter()
    first = session.connections.first_text_at(connection, after=started)
    last = session.connections.posted[-1].at  # the last piece leaves once the model has finished
    assert first is not None
    streaming_s = (len(reply.split()) - 1) / rate  # the model's time from its first to its last token
    assert last - first > streaming_s - 0.3, "the first piece left while the model was still writing"
    assert finished - started >= first_token_s + streaming_s
    texts = session.connections.texts(connection)
    assert len(texts) >= 3 and texts[-1]["last"] is True and not any(t["last"] for t in texts[:-1])
    assert session.connections.spoken(connection) == reply
    turn = row(call_id).turns[-1]
    assert turn["reply"] == reply and turn["brain"] == "llm" and turn["turn"] == 1
    assert llm.requests[-1].get("stream") is True


def test_llm_tool_call_ends_the_session_and_the_relay_webhook_hangs_up(
    session: Session, llm: FakeOpenAI
) -> None:
    call_id, connection, _ = session.answered()
    llm.enqueue("Understood, Dana. Thanks for your time, goodbye!", tool_calls=[("end_call", {})])
    session.relay.prompt(connection, "Not interested, thanks.")
    messages = session.connections.messages(connection)
    assert messages[-1]["type"] == "end"
    assert json.loads(messages[-1]["handoffData"])["reason"] == "hangup"
    assert twiml_verbs(session.relay_ended(call_id, json.loads(messages[-1]["handoffData"]))) == ["Hangup"]


# --- barge-in, superseding, duplicates --------------------------------------------------------------


def test_interrupt_mid_stream_stops_sending_and_keeps_only_what_was_heard(
    session: Session, llm: FakeOpenAI
) -> None:
    call_id, connection, _ = session.answered()
    reply = (
        "Sure, Dana. Our platform watches every server you run, around the clock. "
        "It flags problems before users notice them. It also plans capacity for you. "
        "Would you like to see it?"
    )
    llm.enqueue(reply, tokens_per_s=12)
    with session.relay.in_background(connection, "What does it do exactly?"):
        _wait_for(lambda: session.connections.texts(connection))
        heard = "Sure, Dana."
        session.relay.interrupt(connection, heard)
        interrupted_at = time.perf_counter()
    late = [
        p
        for p in session.connections.posted
        if p.at > interrupted_at + 0.05 and p.connection_id == connection
    ]
    assert late == [], "nothing was sent after the interrupt"
    assert session.connections.spoken(connection) != reply
    turn = row(call_id).turns[-1]
    assert turn["reply"] == heard and turn["interrupted"] is True and turn["said"].startswith(heard)
    # a second interrupt for the same turn, or one older than it, changes nothing
    session.relay.interrupt(connection, "Sure")
    assert row(call_id).turns[-1]["reply"] == heard


def test_interrupt_after_the_reply_was_sent_cuts_the_stored_line(session: Session) -> None:
    call_id, connection, _ = session.answered()
    session.relay.prompt(connection, "Yes, this is Dana. What's this about?")
    full = row(call_id).turns[-1]["reply"]
    session.relay.interrupt(connection, full[:12])
    turn = row(call_id).turns[-1]
    assert turn["reply"] == full[:12] and turn["interrupted"] is True


def test_a_new_prompt_supersedes_the_streaming_reply(session: Session, llm: FakeOpenAI) -> None:
    call_id, connection, _ = session.answered()
    old = "Let me explain. First, we look at your servers. Then we look at your costs. Then we plan."
    llm.enqueue(old, tokens_per_s=10)
    llm.enqueue("Of course, Dana. What would you like to know?", tokens_per_s=0)
    with session.relay.in_background(connection, "What does it do?"):
        _wait_for(lambda: session.connections.texts(connection))
        session.relay.prompt(connection, "Sorry, actually, I have a question first.")
        superseded_at = time.perf_counter()
    old_pieces = [
        p for p in session.connections.posted
        if p.at > superseded_at and p.message and p.message.get("type") == "text"
    ]  # fmt: skip
    assert old_pieces == [], "nothing of the superseded reply left after the new one"
    spoken = session.connections.spoken(connection)
    assert spoken.endswith("Of course, Dana. What would you like to know?")
    assert "Then we plan" not in spoken
    turns = row(call_id).turns
    assert [t["turn"] for t in turns] == [0, 1, 2]
    assert turns[1].get("superseded") is True and turns[1]["reply"] == "Let me explain."
    assert turns[2]["reply"] == "Of course, Dana. What would you like to know?"


def test_the_same_prompt_twice_and_an_older_prompt_change_nothing(session: Session) -> None:
    call_id, connection, _ = session.answered()
    at = int(time.time() * 1000)
    session.relay.prompt(connection, "Yes, this is Dana. What's this about?", at_ms=at, message_id="m-1")
    messages, turns = session.connections.messages(connection), row(call_id).turns
    session.relay.prompt(connection, "Yes, this is Dana. What's this about?", at_ms=at, message_id="m-1")
    session.relay.prompt(connection, "An older prompt, delivered late.", at_ms=at - 5000, message_id="m-0")
    assert session.connections.messages(connection) == messages, "no reply spoken twice"
    assert row(call_id).turns == turns


# --- faults: a stalled model, a dropped socket ---------------------------------------------------------


def test_a_model_that_stalls_after_its_first_tokens_gets_a_fallback_line(
    session: Session, llm: FakeOpenAI
) -> None:
    call_id, connection, _ = session.answered()
    llm.enqueue("Sure, Dana. Let me check that for you right away.", stall_after=3)
    started = time.perf_counter()
    session.relay.prompt(connection, "Can you tell me more about pricing?")
    elapsed = time.perf_counter() - started
    texts = session.connections.texts(connection)
    assert texts[0]["token"].strip() == "Sure, Dana."
    assert any(t["token"].startswith("Sorry, one moment.") for t in texts[1:]), texts
    gap = session.connections.posted[-1].at - session.connections.posted[0].at
    # no dead air past the deadline (the margins allow for a loaded 2-core CI machine)
    assert gap < DEADLINE_S + 2.0 and elapsed < DEADLINE_S + 3.0, (gap, elapsed)
    turn = row(call_id).turns[-1]
    assert turn["brain"] == "llm_fallback" and turn["reply"].startswith("Sure, Dana. Sorry, one moment.")


def test_a_socket_gone_mid_reply_stops_the_loop_and_saves_what_was_sent(
    session: Session, llm: FakeOpenAI
) -> None:
    call_id, connection, _ = session.answered()
    llm.enqueue("Sure, Dana. It watches your servers. It plans capacity. It cuts costs. Want a demo?")
    session.connections.gone_after[connection] = 1  # the second post finds the socket closed
    session.relay.prompt(connection, "What does it do?")
    texts = session.connections.texts(connection)
    assert [t["token"].strip() for t in texts] == ["Sure, Dana."]
    turn = row(call_id).turns[-1]
    assert turn["reply"] == "Sure, Dana." and turn["socket_gone"] is True
    session.relay.invoke({"requestContext": {"routeKey": "$disconnect", "connectionId": connection}})


# --- opt-out, transfer, a session that fails ----------------------------------------------------------


def test_opt_out_said_in_realtime_suppresses_the_number_and_hangs_up(session: Session) -> None:
    call_id, connection, contact = session.answered()
    session.relay.prompt(connection, "Please stop calling me and take me off your list.")
    messages = session.connections.messages(connection)
    assert messages[-1]["type"] == "end" and json.loads(messages[-1]["handoffData"])["reason"] == "hangup"
    assert is_suppressed(contact.phone)
    assert twiml_verbs(session.relay_ended(call_id, json.loads(messages[-1]["handoffData"]))) == ["Hangup"]


def test_asking_for_a_person_transfers_through_end_and_the_relay_webhook(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRANSFER_NUMBER", "+12125550199")
    reset_settings()
    call_id, connection, _ = session.answered()
    session.relay.prompt(connection, "Can I speak to a real person please?")
    messages = session.connections.messages(connection)
    assert messages[-1]["type"] == "end", messages
    handoff = json.loads(messages[-1]["handoffData"])
    assert handoff["reason"] == "transfer"
    twiml = session.relay_ended(call_id, handoff)
    assert twiml_verbs(twiml)[:1] == ["Dial"] and "+12125550199" in twiml
    assert row(call_id).outcome == "transferred"


def test_a_session_that_fails_carries_on_in_gather_mode_with_a_line(session: Session) -> None:
    call_id, connection, _ = session.answered()
    session.relay.prompt(connection, "Yes, this is Dana. What's this about?")
    twiml = session.relay_ended(call_id, None)
    assert twiml_verbs(twiml) == ["Gather", "Redirect"] and "lost you" in twiml
    assert f"/twilio/turn/{call_id}/2" in twiml


def test_the_relay_webhook_ends_a_call_whose_line_is_gone(session: Session) -> None:
    call_id, connection, _ = session.answered()
    session.relay.prompt(connection, "Yes, this is Dana. What's this about?")
    session.relay_ended(call_id, None, status="completed")
    assert row(call_id).status == "completed"


def test_the_relay_webhook_checks_the_signature(session: Session) -> None:
    call_id, _ = session.realtime_call()
    status, _ = session.twilio.post(f"/twilio/relay/{call_id}", {"CallSid": SID}, signature="forged")
    assert status == 403


def test_a_campaign_in_realtime_mode_writes_realtime_calls(session: Session) -> None:
    from tests.support.campaigns import add_campaign, add_contact, campaign_calls, trigger

    api = session.aws
    for phone in ("+12125550181", "+12125550182"):
        add_contact(api, phone, tag="rt")
    campaign = add_campaign(api, tag="rt", voice_mode="realtime")
    assert campaign["voice_mode"] == "realtime"
    assert trigger(api, campaign["campaign_id"])[0] == 202
    calls = campaign_calls(campaign["campaign_id"])
    assert len(calls) == 2 and {c.voice_mode for c in calls} == {"realtime"}
    plain = add_campaign(api, tag="rt", name="Q4 plain")
    assert plain["voice_mode"] is None
