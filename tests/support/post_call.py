"""The post-call chain's fixtures and builders (tests/integration/test_post_call_chain.py, the CRM
webhook and reliability tests): a moto stack at NOW, a contact, a finished call written as the
conversation leaves it, the chain run to its end, and what users see afterwards (e-mails, the team's
notifications, schedules, CallCompleted events).

The fixtures (``chain``, ``contact``, ``carrier``, ``events``) are taken into a test module by name:
``chain, contact = post_call.chain, post_call.contact``."""

from __future__ import annotations

import email
import json
import re
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from autocall.clock import CLOCK
from autocall.config import reset_settings
from autocall.domain.contacts import create_contact
from autocall.integrations.workflows import execution_name, start_post_call
from autocall.models.api import ContactCreateRequest
from autocall.models.records import Call
from autocall.stores import calls as calls_repo
from autocall.stores import crm

from local.carrier import CarrierSimulator
from local.template import ACCOUNT_ID, REGION
from tests.support.helpers import as_function, settings_of

NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # Tuesday 09:00 in Los Angeles
SLOT = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)  # next Tuesday 2 pm PST
GROUP = "autocall-calls"


@pytest.fixture
def chain(aws: Any) -> Iterator[Any]:
    CLOCK.freeze(NOW)
    yield aws


@pytest.fixture
def contact(chain: Any) -> Any:
    return create_contact(
        ContactCreateRequest.model_validate(
            {
                "name": "John Smith",
                "phone": "+14155550123",
                "email": "john@techcorp.example",
                "company": "TechCorp",
                "consent": True,
            }
        )
    )


@pytest.fixture
def carrier(chain: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[CarrierSimulator]:
    """The carrier simulator standing in for Twilio's Messages API (SMS)."""
    with CarrierSimulator(chain.secrets["twilio_auth_token"]) as simulator:
        monkeypatch.setenv("TWILIO_API_BASE_URL", simulator.base_url)
        reset_settings()
        yield simulator


def turn(n: int, utterance: str | None, reply: str, intents: Sequence[str] = (), keywords: Sequence[str] = (),
         score: float = 0.0) -> dict[str, Any]:  # fmt: skip
    sentiment = "positive" if score >= 0.05 else "negative" if score <= -0.05 else "neutral"
    return {
        "turn": n,
        "utterance": utterance,
        "confidence": 0.93 if utterance else None,
        "reply": reply,
        "sentiment": sentiment,
        "sentiment_score": score,
        "intents": list(intents),
        "keywords": list(keywords),
        "objective_progress": min(1.0, n / 5),
        "brain": "playbook",
        "at": (NOW - timedelta(minutes=5) + timedelta(seconds=30 * n)).isoformat(),
    }


GREETING = turn(
    0,
    None,
    "Hi, this is Alex, an automated AI assistant calling from TechSolutions. Am I speaking with John?",
)
DEMO_TURNS = [
    GREETING,
    turn(1, "Yes, this is John. What's this about?", "I'm reaching out about our cloud solutions.",
         ["greeting_confirm", "ask_purpose"]),
    turn(2, "Well, we are looking at upgrading our infrastructure.", "What challenges are you facing?",
         ["interest"], ["upgrading", "infrastructure"], 0.2),
    turn(3, "Our costs are getting too high and we need better scalability. I'm the CTO, it's my call.",
         "Would a 30-minute demo help?", ["interest", "pain_point"], ["cost", "scalability"], 0.3),
    turn(4, "Yes, Tuesday at 2 works great.", "Perfect, you're booked for Tuesday at 2 pm.",
         ["agree", "time_proposal"], [], 0.8),
]  # fmt: skip


def finished_call(
    contact: Any,
    purpose: str,
    outcome: str | None,
    turns: list[dict[str, Any]] | None = None,
    agent_actions: list[dict[str, Any]] | None = None,
    context: dict[str, Any] | None = None,
    *,
    status: str = "completed",
    answered_by: str | None = "human",
    attempts: int = 1,
    max_attempts: int = 3,
    call_id: str | None = None,
) -> str:
    call_id = call_id or f"call-{purpose}-{outcome}"
    row = Call(
        call_id=call_id,
        contact_id=contact.contact_id,
        purpose=purpose,
        context=context or {},
        status=status,
        scheduled_time=calls_repo.iso(NOW - timedelta(minutes=6)),
        attempts=attempts,
        max_attempts=max_attempts,
        attempt_history=[{"attempt": attempts, "started_at": calls_repo.iso(NOW - timedelta(minutes=6))}],
        answered_by=answered_by,
        duration_s=255 if status == "completed" else 0,
        turns=turns or [],
        memory={"agent_actions": agent_actions or [], "pains": []},
        outcome=outcome,
        actions_taken=[],
        reasons=[],
        failures=[],
    )
    assert calls_repo.new_call(row)
    return call_id


def run_chain(call_id: str, attempt: int = 1, name: str | None = None) -> dict[str, Any]:
    """Start the chain and wait for moto's execution thread to finish it."""
    sfn = boto3.client("stepfunctions")
    if name is None:
        with as_function("VoiceWebhookFunction"):
            assert start_post_call(call_id, attempt) is True
        name = execution_name(call_id, attempt)
        machine = settings_of("VoiceWebhookFunction").post_call_state_machine_arn
        arn = f"{machine.replace(':stateMachine:', ':execution:')}:{name}"
    else:
        arn = sfn.start_execution(
            stateMachineArn=settings_of("VoiceWebhookFunction").post_call_state_machine_arn,
            name=name,
            input=json.dumps({"call_id": call_id, "attempt": attempt}),
        )["executionArn"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        execution = sfn.describe_execution(executionArn=arn)
        if execution["status"] != "RUNNING":
            assert execution["status"] == "SUCCEEDED", execution
            return execution
        time.sleep(0.05)
    raise AssertionError(f"execution {name} still running")


def call(call_id: str) -> Call:
    row = calls_repo.get_call(call_id)
    assert row is not None
    return row


def records(contact: Any, kind: str) -> list[Any]:
    return crm.records_for_contact(contact.contact_id, kind)


def sent_emails() -> list[email.message.Message]:
    from moto.ses.models import ses_backends

    return [email.message_from_string(m.raw_data) for m in ses_backends[ACCOUNT_ID][REGION].sent_messages]


def notifications() -> list[tuple[str, str, dict[str, Any]]]:
    """(subject, message, attributes) published on the team topic."""
    from moto.sns.models import sns_backends

    topic = sns_backends[ACCOUNT_ID][REGION].topics[settings_of("PostCallFunction").sales_topic_arn]
    return [(subject, message, attrs) for _, message, subject, attrs, _ in topic.sent_notifications]


def schedules() -> dict[str, dict[str, Any]]:
    """Every schedule by name, a call's own without the moment that makes each arming's name
    unique (``call-{id}-{epoch ms}`` → ``call-{id}``)."""
    client = boto3.client("scheduler")
    names = [s["Name"] for s in client.list_schedules(GroupName=GROUP)["Schedules"]]
    return {
        re.sub(r"^(call-.+)-\d{13}$", r"\1", n): client.get_schedule(Name=n, GroupName=GROUP) for n in names
    }


@pytest.fixture
def events(chain: Any) -> Any:
    """A queue receiving every CallCompleted event from the default bus."""
    sqs, bus = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="call-completed")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus.put_rule(
        Name="call-completed",
        EventPattern=json.dumps({"source": ["autocall"], "detail-type": ["CallCompleted"]}),
    )
    bus.put_targets(Rule="call-completed", Targets=[{"Id": "queue", "Arn": arn}])

    def received() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    return received


def slot_action(start: datetime = SLOT, minutes: int = 30) -> dict[str, Any]:
    return {
        "kind": "confirm_slot",
        "params": {"start": start.isoformat(), "duration_minutes": minutes},
        "turn": 4,
    }
