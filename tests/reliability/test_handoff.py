"""Human handoff that keeps its promise (issue 14, finding 9).

"Can I talk to a real person?" with no transfer number: the agent promises a person's call back and
asks when. The call ends ``human_requested``; the post-call chain (Step Functions running the real
post-call tasks) notifies the team with the callee's preferred time and marks the follow-up for a
person; the agent does not call the contact until someone closes it through the API. A receptionist
offering to take a message gets a short one: who, about what, how to call back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from autocall.config import reset_settings
from autocall.domain import dialer

from local.openai_fake import FakeOpenAI
from local.personas import PERSONAS
from local.template import ACCOUNT_ID, REGION
from tests.support.aws import Aws
from tests.support.reliability import (
    COUNTS,
    Twilio,
    live_call,
    new_call,
    new_contact,
    row,
    spoken,
    twiml_tree,
    twiml_verbs,
)

HANDOFF = "callees asking for a person with no transfer number: team notified, follow-up for a person"
HELD = "calls to a contact awaiting a person's call back: held, dialed after the API closed it"
MESSAGE = "receptionists offering to take a message: who, why and how to call back left"


class Placed:
    def __init__(self) -> None:
        self.created: list[dict[str, str]] = []

    def create_call(self, **kwargs: str) -> str:
        self.created.append(kwargs)
        return f"CAplaced{len(self.created)}"


@pytest.fixture
def chain(twilio: Twilio, aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The post-call chain on: a call's last status callback starts it, as deployed."""
    arn = aws.template.function_environment("VoiceWebhookFunction")["POST_CALL_STATE_MACHINE_ARN"]
    monkeypatch.setenv("POST_CALL_STATE_MACHINE_ARN", arn)
    reset_settings()
    yield


def chain_finished(call_id: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (call := row(call_id)).result is not None:
            return call
        time.sleep(0.05)
    raise AssertionError(f"the post-call chain of {call_id} did not finish")


def team_notifications(aws: Aws) -> list[tuple[str, str]]:
    from moto.sns.models import sns_backends

    arn = aws.template.function_environment("PostCallFunction")["SALES_TOPIC_ARN"]
    topic = sns_backends[ACCOUNT_ID][REGION].topics[arn]
    return [(subject, message) for _, message, subject, _, _ in topic.sent_notifications]


@pytest.mark.parametrize("brain", ["playbook", "llm"])
def test_a_callee_asking_for_a_person_is_handed_to_the_team_and_not_called_by_the_agent(
    twilio: Twilio, aws: Aws, chain: None, monkeypatch: pytest.MonkeyPatch, request: Any, brain: str
) -> None:
    fake: FakeOpenAI | None = request.getfixturevalue("llm") if brain == "llm" else None
    contact = new_contact("Dana Whitfield")
    call_id = live_call(contact, sid="CAperson")
    lines = [line.format(name="Dana") for line in PERSONAS["asks_for_a_person"].lines]
    heard = twilio.converse(call_id, lines, sid="CAperson")
    assert "person from our team to call you back" in spoken(heard[2])
    assert "Thursday at 10 AM" in spoken(heard[3]) and twiml_verbs(heard[3]) == ["Say", "Hangup"]
    if fake is not None:
        assert len(fake.requests) == 1  # the model answered "Yes, speaking."; the handoff is not its call

    call = chain_finished(call_id)
    assert call.outcome == "human_requested"
    assert call.handoff["status"] == "open" and call.handoff["assignee"] == "person"
    assert call.handoff["preferred_time"] == "2026-11-26T15:00:00Z"  # 10 am in New York, Thursday
    assert {"person_follow_up_opened", "sales_team_notified_to_call_back"} <= set(call.actions_taken)
    assert not any(a.startswith(("callback_scheduled", "attempt_")) for a in call.actions_taken)
    [(subject, message)] = [n for n in team_notifications(aws) if call_id in n[1]]
    assert "Callee asked for a person" in subject and "Dana Whitfield" in subject
    assert "Preferred time: Thursday, November 26 at 10 AM EST" in message
    assert f"POST /calls/{call_id}/handoff/close" in message
    status, view = twilio.api("GET", f"/calls/{call_id}")
    assert status == 200 and view["handoff"]["status"] == "open"
    COUNTS[HANDOFF] += 1

    # the agent does not call the contact meanwhile: a new call for them is held, not dialed
    placed = Placed()
    monkeypatch.setattr(dialer, "_telephony", lambda: placed)
    other = new_call(contact, "follow_up")
    fired = aws.registry.invoke("SchedulerFunction", {"call_id": other})
    assert (fired["action"], fired["reason"]) == ("rescheduled", "awaiting_person_follow_up")
    assert placed.created == [] and row(other).status == "scheduled"

    # a person called Dana back: they close the follow-up through the API (twice: a retried request)
    body = {"closed_by": "Sam from sales", "note": "Called back, demo booked."}
    for _ in range(2):
        status, view = twilio.api("POST", f"/calls/{call_id}/handoff/close", body)
        assert status == 200, view
        assert view["handoff"]["status"] == "closed" and view["handoff"]["closed_by"] == "Sam from sales"
    fired = aws.registry.invoke("SchedulerFunction", {"call_id": other})
    assert fired["action"] == "dialed" and len(placed.created) == 1
    COUNTS[HELD] += 1


def test_closing_a_follow_up_names_what_is_wrong(twilio: Twilio) -> None:
    call_id = new_call(new_contact())
    status, body = twilio.api("POST", f"/calls/{call_id}/handoff/close", {})
    assert (status, body["error"], body["field"]) == (409, "conflict", "call_id")
    status, body = twilio.api("POST", "/calls/no-such-call/handoff/close")
    assert (status, body["field"]) == (404, "call_id")
    status, body = twilio.api("POST", f"/calls/{call_id}/handoff/close", {"note": "x" * 2001})
    assert status == 422 and body["field"] == "note", body
    status, body = twilio.api("POST", f"/calls/{call_id}/handoff/close", {"status": "closed"})
    assert status == 422 and body["field"] == "status", body


@pytest.mark.parametrize("brain", ["playbook", "llm"])
def test_a_receptionist_offering_to_take_a_message_gets_who_why_and_how_to_call_back(
    twilio: Twilio, request: Any, brain: str
) -> None:
    if brain == "llm":
        request.getfixturevalue("llm")
    call_id = live_call(new_contact("Dana Whitfield"), sid="CAdesk")
    lines = [line.format(name="Dana") for line in PERSONAS["gatekeeper_message"].lines]
    heard = twilio.converse(call_id, lines, sid="CAdesk")
    said = spoken(heard[2])
    assert (
        "Please tell Dana that Alex, an automated AI assistant from TechSolutions, called about our cloud "
        "solutions. Dana can call us back at (500) 555-0006." in said
    ), said
    assert twiml_verbs(heard[2]) == ["Say", "Hangup"]
    call = row(call_id)
    assert call.outcome == "callback_requested" and call.memory["brain"]["message_left"] in said
    COUNTS[MESSAGE] += 1


def test_a_callee_asking_for_a_person_is_transferred_with_every_line_in_the_agent_voice(
    twilio: Twilio, monkeypatch: pytest.MonkeyPatch, request: Any
) -> None:
    """With a transfer number: the agent says it connects them, dials the number, and if nobody takes
    the call says so. Both lines in the agent's configured voice (the second one used to fall back
    to Twilio's default voice)."""
    monkeypatch.setenv("TRANSFER_NUMBER", "+14155550100")
    reset_settings()
    request.addfinalizer(reset_settings)  # the settings are read again without it
    call_id = live_call(new_contact("Dana Whitfield"), sid="CAtransfer")
    lines = [line.format(name="Dana") for line in PERSONAS["asks_for_a_person"].lines]
    heard = twilio.converse(call_id, lines, sid="CAtransfer")
    document = heard[-1]
    assert twiml_verbs(document) == ["Say", "Dial", "Say", "Hangup"], document
    says = list(twiml_tree(document).iter("Say"))
    assert {(say.get("voice"), say.get("language")) for say in says} == {("Polly.Joanna-Neural", "en-US")}
    assert "nobody could take the call" in spoken(document)
    assert twiml_tree(document).find("Dial").text == "+14155550100"  # type: ignore[union-attr]
    assert row(call_id).outcome == "transferred"
