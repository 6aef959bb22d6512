"""What a finished call leads to, through the real entry points (signed Twilio webhooks, the post-call
state machine run by moto): a machine that answered without an AMD callback is voicemail and is
retried with backoff; a callee who keeps asking to be called back gets at most MAX_FOLLOW_UPS
follow-up calls, then the team is told instead."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from autocall.clock import CLOCK
from autocall.config import reset_settings
from autocall.domain.post_call import actions
from autocall.integrations.twilio import signature as twilio_signature
from autocall.integrations.workflows import execution_name, start_post_call
from autocall.models.enums import CallStatus
from autocall.models.records import Call
from autocall.stores import calls as calls_repo

from local.carrier import CarrierSimulator
from local.template import ACCOUNT_ID, REGION
from tests.support.helpers import as_function, public_url, settings_of
from tests.support.post_call import GREETING, turn

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # Wednesday 10:00 in New York
GROUP = "autocall-calls"


@pytest.fixture
def line(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The carrier simulator as Twilio's REST API; the test delivers Twilio's webhooks itself."""
    CLOCK.freeze(NOW)
    with CarrierSimulator(aws.secrets["twilio_auth_token"]) as simulator:
        monkeypatch.setenv("TWILIO_API_BASE_URL", simulator.base_url)
        reset_settings()
        yield aws


def twilio(api: Any, path: str, form: dict[str, str]) -> tuple[int, str]:
    """A webhook signed as Twilio signs it (over the public URL and the sorted form)."""
    signature = twilio_signature.compute(api.secrets["twilio_auth_token"], public_url(path), form)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    status, body = api.api("POST", path, raw_body=urlencode(form), headers=headers)
    return int(status), str(body)


def new_contact(api: Any, phone: str = "+12125550144") -> str:
    status, body = api.api("POST", "/contacts", {"name": "Robin Vale", "phone": phone, "consent": True})
    assert status == 201, body
    return str(body["contact_id"])


def row(call_id: str) -> Call:
    found = calls_repo.get_call(call_id)
    assert found is not None
    return found


def chain_done(call_id: str, attempt: int = 1) -> None:
    """Wait for the post-call execution of this attempt (moto runs it in a thread)."""
    sfn = boto3.client("stepfunctions")
    machine = settings_of("VoiceWebhookFunction").post_call_state_machine_arn
    arn = f"{machine.replace(':stateMachine:', ':execution:')}:{execution_name(call_id, attempt)}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            execution = sfn.describe_execution(executionArn=arn)
        except sfn.exceptions.ExecutionDoesNotExist:
            execution = {"status": "RUNNING"}
        if execution["status"] != "RUNNING":
            assert execution["status"] == "SUCCEEDED", execution
            return
        time.sleep(0.05)
    raise AssertionError(f"post-call chain of {call_id} still running")


# --- a machine answered, no AMD callback came ----------------------------------------------------


@pytest.mark.parametrize("agent_talked", [True, False], ids=["agent-talked-to-the-machine", "status-only"])
def test_machine_answer_without_amd_callback_is_voicemail_and_retried_with_backoff(line, agent_talked):
    contact_id = new_contact(line)
    status, placed = line.api(
        "POST",
        "/calls/api/calls/trigger_autonomous_call/",
        {
            "contact_id": contact_id,
            "call_purpose": "sales_outreach",
            "scheduled_time": "2026-11-25T15:10:00Z",
        },
    )
    assert status == 202, placed
    call_id = placed["call_id"]
    CLOCK.freeze(NOW + timedelta(minutes=10))
    assert line.registry.invoke("SchedulerFunction", {"call_id": call_id})["action"] == "dialed"
    sid = str(row(call_id).twilio_sid)
    live = {"CallSid": sid, "CallStatus": "in-progress"}
    if agent_talked:  # the agent greets and re-prompts a machine that never answers, then hangs up
        assert twilio(line, f"/twilio/answer/{call_id}", live)[0] == 200
        for number in (1, 2, 3):
            assert twilio(line, f"/twilio/turn/{call_id}/{number}", live)[0] == 200
        assert row(call_id).outcome == "no_conversation"  # what the agent concluded on the line

    ended = {"CallSid": sid, "CallStatus": "completed", "CallDuration": "31", "AnsweredBy": "machine_start"}
    assert twilio(line, f"/twilio/status/{call_id}", ended)[0] == 200

    assert row(call_id).outcome == "voicemail"
    chain_done(call_id)
    call = row(call_id)
    assert call.status == CallStatus.SCHEDULED.value  # the retry path: the next attempt, 2 h later
    assert call.scheduled_time == "2026-11-25T17:10:00Z"  # 12:10 in New York, inside the window
    assert call.actions_taken == ["attempt_2_scheduled"]
    assert call.result is not None and call.result["outcome"] == "voicemail"
    assert call.result["next_action"] == "retry_call"
    assert any(r["reason"] == "retry after voicemail" for r in call.reasons)
    assert call.attempt_history[0]["result"] == "completed" and call.answered_by == "machine_start"
    schedule = boto3.client("scheduler").get_schedule(Name=str(call.schedule_name), GroupName=GROUP)
    assert schedule["ScheduleExpression"] == "at(2026-11-25T17:10:00)"
    status, view = line.api("GET", f"/calls/api/calls/autonomous_call_status/?contact_id={contact_id}")
    assert status == 200 and view["recent_calls"][0]["outcome"] == "voicemail"

    # the second attempt is a new call on the line: a person answering hears a greeting, not the
    # re-prompts the machine got; the first attempt's conversation stays in its history entry
    CLOCK.freeze(datetime(2026, 11, 25, 17, 10, tzinfo=UTC))
    assert line.registry.invoke("SchedulerFunction", {"call_id": call_id})["action"] == "dialed"
    second = row(call_id)
    assert (second.turns, second.outcome, second.answered_by, second.memory) == ([], None, None, {})
    first = second.attempt_history[0]
    assert first["outcome"] == "voicemail" and first["answered_by"] == "machine_start"
    assert len(first["turns"]) == (4 if agent_talked else 0)
    live = {"CallSid": str(second.twilio_sid), "CallStatus": "in-progress"}
    assert twilio(line, f"/twilio/answer/{call_id}", live)[0] == 200
    said = {**live, "SpeechResult": "Yes, this is Robin. Who is this?", "Confidence": "0.9"}
    status, heard = twilio(line, f"/twilio/turn/{call_id}/1", said)
    assert status == 200 and "didn't catch that" not in heard and "<Hangup" not in heard
    assert [t["utterance"] for t in row(call_id).turns] == [None, "Yes, this is Robin. Who is this?"]


# --- "call me back later", again and again ------------------------------------------------------


def _asked_for_a_callback(call_id: str) -> None:
    """The call ended with the callee asking to be called back (as the voice webhook leaves it)."""
    call = row(call_id)
    assert calls_repo.save_fields(
        call,
        {
            "status": CallStatus.COMPLETED.value,
            "status_rank": CallStatus.COMPLETED.rank,
            "attempts": 1,
            "attempt_history": [{"attempt": 1, "started_at": call.scheduled_time, "result": "completed"}],
            "answered_by": "human",
            "duration_s": 40,
            "outcome": "callback_requested",
            "turns": [
                GREETING,
                turn(1, "I'm busy, call me back later.", "Of course, I'll call back.", ["callback_request"]),
            ],
            "memory": {"agent_actions": []},
        },
    )


def _notifications() -> list[tuple[str, dict[str, Any]]]:
    from moto.sns.models import sns_backends

    topic = sns_backends[ACCOUNT_ID][REGION].topics[settings_of("PostCallFunction").sales_topic_arn]
    return [(subject, attrs) for _, _, subject, attrs, _ in topic.sent_notifications]


@pytest.mark.parametrize("cap", [3, 1])
def test_callbacks_stop_at_max_follow_ups_and_the_team_is_told_instead(line, monkeypatch, cap):
    if cap != 3:  # 3 is the default
        monkeypatch.setenv("MAX_FOLLOW_UPS", str(cap))
        reset_settings()
    contact_id = new_contact(line)
    status, placed = line.api(
        "POST",
        "/calls/api/calls/trigger_autonomous_call/",
        {
            "contact_id": contact_id,
            "call_purpose": "sales_outreach",
            "scheduled_time": "2026-11-25T15:10:00Z",
        },
    )
    assert status == 202
    thread = [placed["call_id"]]
    for _ in range(cap):  # each call of the thread ends with "call me back later"
        _asked_for_a_callback(thread[-1])
        with as_function("VoiceWebhookFunction"):
            assert start_post_call(thread[-1], 1)
        chain_done(thread[-1])
        follow_up = actions.follow_up_call_id("callback", thread[-1])
        assert row(thread[-1]).actions_taken[-1].startswith("callback_scheduled_")
        assert row(follow_up).status == "scheduled" and row(follow_up).context["source_call_id"] == thread[-1]
        thread.append(follow_up)
    last = thread[-1]
    _asked_for_a_callback(last)

    with as_function("VoiceWebhookFunction"):
        assert start_post_call(last, 1)
    chain_done(last)

    call = row(last)
    assert (
        calls_repo.get_call(actions.follow_up_call_id("callback", last)) is None
    )  # no follow-up past the cap
    assert call.actions_taken[-2:] == [
        "callback_skipped_max_follow_ups_reached",
        "sales_team_notified_to_follow_up",
    ]
    assert [r["reason"] for r in call.reasons] == ["max_follow_ups_reached"]
    status, view = line.api("GET", f"/calls/api/calls/autonomous_call_status/?contact_id={contact_id}")
    [seen] = [c for c in view["recent_calls"] if c["call_id"] == last]  # what the seed's status shows
    assert "callback_skipped_max_follow_ups_reached" in seen["actions_taken"]
    [(subject, attributes)] = [
        n for n in _notifications() if n[1].get("kind", {}).get("Value") == "follow_up_limit"
    ]
    assert "Follow-up limit reached" in subject
    assert attributes["team"]["Value"] == "sales"
    assert len(thread) == cap + 1  # the first call and its `cap` follow-ups: nobody is called forever
