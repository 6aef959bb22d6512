"""One call end to end on the local stack: trigger → dialer → carrier simulator → Twilio webhooks
→ brain → completed call with transcript and per-turn analysis."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
import requests
from autocall.integrations.twilio import twiml
from autocall.models import prompts
from autocall.models.enums import CallPurpose

from local.personas import EXPECTED_OUTCOMES, PERSONAS, expected_outcome
from tests.support.stack import rest_clock, run_clock_from

WEDNESDAY_NOON_EASTERN = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
TERMINAL = {"completed", "busy", "no_answer", "failed", "canceled"}
_numbers = itertools.count(100)


def next_number() -> str:
    return f"+1212555{next(_numbers):04d}"


@pytest.fixture(autouse=True)
def business_hours():
    run_clock_from(WEDNESDAY_NOON_EASTERN)
    yield
    rest_clock()


def run_call(
    api,
    persona: str | None,
    purpose: str,
    lines: list[str] | None = None,
    answer: str = "human",
    voice_mode: str = "gather",
):
    phone = next_number()
    contact = api.contact("John Smith", phone, company="TechCorp", time_zone="America/New_York")
    if persona:
        api.stack.carrier.register_callee(phone, persona, name="John")
    else:
        api.stack.carrier.script_callee(phone, answer=answer, lines=lines or [], name="John")
    response = api.post(
        "/calls/api/calls/trigger_autonomous_call/",
        json={
            "contact_id": contact["contact_id"],
            "call_purpose": purpose,
            "context": {"budget_range": "$10k-50k"},
            "voice_mode": voice_mode,
        },
    )
    assert response.status_code == 202, response.text
    call_id = response.json()["call_id"]
    api.wait_for(lambda: api.get(f"/calls/{call_id}").json()["status"] in TERMINAL)
    assert api.stack.carrier.wait_idle(10)
    return contact, api.get(f"/calls/{call_id}").json()


CASES = sorted(
    {
        (persona, purpose)
        for persona, table in EXPECTED_OUTCOMES.items()
        for purpose in ([p.value for p in CallPurpose] if "*" in table else table)
    }
)


@pytest.mark.parametrize("voice_mode", ["gather", "realtime"])
@pytest.mark.parametrize(("persona", "purpose"), CASES)
def test_persona_reaches_its_outcome(api, persona, purpose, voice_mode):
    """Every persona and purpose in both voice modes: the same brains and guards reach the same outcome
    whether the callee hears <Gather> turns or streamed ConversationRelay replies."""
    _, call = run_call(api, persona, purpose, voice_mode=voice_mode)
    assert call["voice_mode"] == voice_mode
    assert call["outcome"] == expected_outcome(persona, purpose), call["turns"]
    answer = PERSONAS[persona].answer
    if answer == "human":
        assert call["status"] == "completed"
        assert call["turns"][0]["reply"].startswith("Hi, this is Alex, an automated AI assistant")
        spoken = [t for t in call["turns"] if t["utterance"]]
        assert spoken, "the callee's lines reached the brain"
        assert all(t["sentiment"] in {"positive", "neutral", "negative"} for t in spoken)
        assert all(isinstance(t["intents"], list) for t in spoken)
        assert call["duration_seconds"] and call["duration_seconds"] > 0
    elif answer == "machine":
        assert call["status"] == "completed" and call["answered_by"].startswith("machine")
        sim = api.stack.carrier.get_call(call["twilio_sid"])
        assert any("TechSolutions" in line.text for line in sim.transcript if line.speaker == "agent")
    else:
        assert call["status"] == {"busy": "busy", "no_answer": "no_answer"}[answer]
    assert call["attempts"] == 1


def test_every_purpose_greets_with_the_disclosure_and_records_analysis(api):
    for purpose in CallPurpose:
        _, call = run_call(api, "interested_buyer", purpose.value)
        assert call["status"] == "completed"
        assert "automated AI assistant" in call["turns"][0]["reply"]
        assert len(call["turns"]) >= 3


def test_stop_calling_me_puts_the_number_on_the_dnc_list_and_refuses_the_next_trigger(api):
    contact, call = run_call(
        api, None, "sales_outreach", lines=["Hello?", "Stop calling me. Take me off your list."]
    )
    assert call["outcome"] == "opted_out"
    assert call["agent_actions"][0]["kind"] == "opt_out"
    again = api.post(
        "/calls/api/calls/trigger_autonomous_call/",
        json={"contact_id": contact["contact_id"], "call_purpose": "follow_up"},
    )
    assert again.status_code == 409 and again.json()["error"] == "suppressed"


def test_call_due_outside_the_window_moves_to_the_opening_in_the_callee_zone(api):
    run_clock_from(datetime(2026, 11, 25, 6, 0, tzinfo=UTC))  # 22:00 the day before in Los Angeles
    # a Los Angeles number: a zone given must be one the number can be in
    contact = api.contact("Late Larry", f"+1415555{next(_numbers):04d}", time_zone="America/Los_Angeles")
    response = api.post(
        "/calls/api/calls/trigger_autonomous_call/",
        json={"contact_id": contact["contact_id"], "call_purpose": "follow_up"},
    )
    call_id = response.json()["call_id"]
    # the dialer records the reason, then creates the schedule: wait for both
    call = api.wait_for(lambda: (c := api.get(f"/calls/{call_id}").json())["reasons"] and c["schedule"] and c)
    assert call["status"] == "scheduled" and call["attempts"] == 0
    assert call["reasons"][-1]["reason"] == "outside_calling_window"
    assert call["scheduled_time"] == "2026-11-25T17:00:00Z"  # 09:00 in Los Angeles
    assert call["schedule"]["expression"] == "at(2026-11-25T17:00:00)"
    assert api.stack.carrier.calls(to=contact["phone"]) == []


def stored_twiml(api, call_id: str, turn: dict) -> str:
    """The TwiML of a turn as stored on the call (its prompt), rendered as the webhook renders it."""
    return twiml.render(prompts.from_data(turn["prompt"]), twiml.turn_urls(api.stack.public_url, call_id))


def _webhook(api, call, path: str, params: dict, signature: str | None = None) -> requests.Response:
    return api.twilio(path, params, signature)


def test_duplicated_turn_and_forged_signature_change_nothing(api):
    _, call = run_call(api, "interested_buyer", "sales_outreach")
    before = api.get(f"/calls/{call['call_id']}").json()
    turn = before["turns"][2]
    params = {"CallSid": call["twilio_sid"], "SpeechResult": "Something else entirely", "Confidence": "0.9"}
    replay = _webhook(api, call, f"/twilio/turn/{call['call_id']}/2", params)
    assert replay.status_code == 200 and replay.text == stored_twiml(api, call["call_id"], turn)
    forged = _webhook(
        api, call, f"/twilio/status/{call['call_id']}", {"CallStatus": "busy"}, signature="Zm9yZ2Vk"
    )
    assert forged.status_code == 403
    after = api.get(f"/calls/{call['call_id']}").json()
    assert after["turns"] == before["turns"] and after["status"] == before["status"] == "completed"


def test_duplicate_webhook_delivery_gives_the_same_record(api):
    api.stack.carrier.duplicate_webhooks = True
    try:
        _, doubled = run_call(api, "busy_call_me_back", "sales_outreach")
    finally:
        api.stack.carrier.duplicate_webhooks = False
    _, clean = run_call(api, "busy_call_me_back", "sales_outreach")
    strip = lambda c: [(t["utterance"], t["reply"], t["intents"]) for t in c["turns"]]  # noqa: E731
    assert strip(doubled) == strip(clean)
    assert doubled["outcome"] == clean["outcome"] == "callback_requested"
    assert doubled["attempts"] == 1


def test_silence_reprompts_twice_then_says_goodbye(api):
    _, call = run_call(api, None, "follow_up", lines=["", "", "", "Hello?"])
    replies = [t["reply"] for t in call["turns"]]
    assert replies[1].startswith("Sorry, I didn't catch that") and replies[2].startswith(
        "Sorry, I didn't catch that"
    )
    assert "Goodbye" in replies[3] and len(replies) == 4
    assert call["outcome"] == "no_conversation"


def test_llm_or_callee_text_never_becomes_a_twiml_verb(api):
    _, call = run_call(
        api, None, "sales_outreach", lines=["<Hangup/> </Say><Dial>+19005550000</Dial>", "bye"]
    )
    for turn in call["turns"]:
        assert "<Dial" not in stored_twiml(api, call["call_id"], turn)
    assert api.stack.carrier.get_call(call["twilio_sid"]).transfers == []


def test_scheduled_call_fires_when_its_time_comes(api):
    contact = api.contact("Later Lena", next_number(), time_zone="America/New_York")
    api.stack.carrier.register_callee(contact["phone"], "renewal_happy", name="Lena")
    due = WEDNESDAY_NOON_EASTERN + timedelta(hours=2)
    response = api.post(
        "/calls/api/calls/trigger_autonomous_call/",
        json={
            "contact_id": contact["contact_id"],
            "call_purpose": "renewal_reminder",
            "scheduled_time": due.isoformat(),
        },
    )
    call_id = response.json()["call_id"]
    assert api.get(f"/calls/{call_id}").json()["status"] == "scheduled"
    run_clock_from(due + timedelta(seconds=1))
    call = api.wait_for(lambda: (c := api.get(f"/calls/{call_id}").json())["status"] in TERMINAL and c)
    assert call["outcome"] == "renewed"
