"""The defects a deploy review found behind a green suite (issue 13), each driven through the real
entry point with the function's own environment and events shaped as API Gateway sends them on the
execute-api host (stage in ``requestContext.path``) or a custom domain with a base path."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import Mock
from urllib.parse import urlencode, urljoin, urlsplit
from xml.etree import ElementTree

import boto3
import pytest
from autocall.clock import CLOCK
from autocall.stores.tables import CallRow
from twilio.request_validator import RequestValidator

from local.lambdas import FunctionRegistry, route_moto_lambda
from tests.support.helpers import DOMAIN, STAGE, api_event, public_url

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # Wednesday 10:00 in New York
GROUP = "autocall-calls"
TOKEN = "local-twilio-auth-token"


def new_call(aws: Any, at: datetime | None = None) -> str:
    CLOCK.freeze(NOW)
    status, contact = aws.api(
        "POST", "/contacts", {"name": "Dana Whitfield", "phone": "+12125550142", "consent": True}
    )
    assert status == 201, contact
    request = {"contact_id": contact["contact_id"], "call_purpose": "sales_outreach", "context": {}}
    if at is not None:
        request["scheduled_time"] = at.isoformat()
    status, body = aws.api("POST", "/calls/api/calls/trigger_autonomous_call/", request)
    assert status == 202, body
    return str(body["call_id"])


def placed_call(aws: Any, monkeypatch: Any, sid: str) -> str:
    """A call the dialer placed with Twilio as ``sid``: only that call's webhooks may act on it."""
    import autocall.domain.dialer as dialer

    class Placed:
        def create_call(self, **kwargs: str) -> str:
            return sid

    monkeypatch.setattr(dialer, "_telephony", lambda: Placed())
    call_id = new_call(aws, at=NOW + timedelta(minutes=5))
    CLOCK.freeze(NOW + timedelta(minutes=5))
    assert aws.registry.invoke("SchedulerFunction", {"call_id": call_id})["action"] == "dialed"
    return call_id


def webhook(
    registry: FunctionRegistry,
    route_path: str,
    params: dict[str, str],
    *,
    domain: str = DOMAIN,
    stage: str = STAGE,
    base_path: str = "",
    signed_url: str | None = None,
) -> dict[str, Any]:
    """A Twilio webhook as API Gateway hands it over: on the execute-api host ``path`` has no stage
    and ``requestContext.path`` has it; on a custom domain both carry the base path."""
    route = next(r for r in registry.template.routes() if r.matches("POST", route_path) is not None)
    path = f"/{base_path}{route_path}" if base_path else route_path
    public = f"https://{domain}{path}" if base_path else f"https://{domain}/{stage}{path}"
    signature = RequestValidator(TOKEN).compute_signature(signed_url or public, params)
    event = api_event(
        route,
        "POST",
        route_path,
        raw_body=urlencode(params),
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
        stage=stage,
        domain=domain,
    )
    event["path"] = path
    event["requestContext"]["path"] = path if base_path else f"/{stage}{path}"
    return dict(registry.invoke(route.function, event))


def urls_in(document: str) -> list[str]:
    """Every URL Twilio would follow: Gather actions and Redirects."""
    root = ElementTree.fromstring(document)
    found = [e.attrib["action"] for e in root.iter() if "action" in e.attrib]
    return sorted(set(found + [e.text or "" for e in root.iter("Redirect")]))


# --- 1. every URL in our TwiML keeps the stage ------------------------------------------------------


def test_twiml_urls_are_absolute_and_keep_the_stage_when_twilio_resolves_them(
    aws: Any, monkeypatch: Any
) -> None:
    call_id = placed_call(aws, monkeypatch, "CAfidelity")
    answered = webhook(aws.registry, f"/twilio/answer/{call_id}", {"CallSid": "CAfidelity"})
    assert answered["statusCode"] == 200, answered
    document_url = public_url(f"/twilio/answer/{call_id}")
    [action] = urls_in(answered["body"])
    # Twilio resolves the action against the URL of the document it came from
    assert urljoin(document_url, action) == public_url(f"/twilio/turn/{call_id}/1") == action

    turn = webhook(
        aws.registry, f"/twilio/turn/{call_id}/1", {"CallSid": "CAfidelity", "SpeechResult": "Sure."}
    )
    [action] = urls_in(turn["body"])
    assert action == public_url(f"/twilio/turn/{call_id}/2")


def test_the_dialer_gives_twilio_absolute_callback_urls_under_the_stage(aws: Any, monkeypatch: Any) -> None:
    placed: dict[str, str] = {}

    class Recorder:
        def create_call(self, **kwargs: str) -> str:
            placed.update(kwargs)
            return "CA" + "f" * 32

    import autocall.domain.dialer as dialer

    monkeypatch.setattr(dialer, "_telephony", lambda: Recorder())
    call_id = new_call(aws, at=NOW + timedelta(minutes=5))
    CLOCK.freeze(NOW + timedelta(minutes=5))
    result = aws.registry.invoke("SchedulerFunction", {"call_id": call_id})
    assert result["action"] == "dialed", result
    base = f"https://{aws.template.api_domain}/{aws.template.stage}"
    assert placed["answer_url"] == f"{base}/twilio/answer/{call_id}"
    assert placed["status_callback_url"] == f"{base}/twilio/status/{call_id}"
    assert placed["amd_callback_url"] == f"{base}/twilio/amd/{call_id}"
    assert not any(urlsplit(url).query for url in placed.values() if url.startswith("https"))


# --- 3. the dialer's own schedules fire the dialer, and its watchdog starts the chain --------------


def test_a_dialer_reschedule_targets_the_dialer_alias_from_the_template(aws: Any) -> None:
    call_id = new_call(aws, at=NOW + timedelta(minutes=5))
    CLOCK.freeze(datetime(2026, 11, 26, 2, 0, tzinfo=UTC))  # 21:00 in New York: outside the window
    result = aws.registry.invoke("SchedulerFunction", {"call_id": call_id})
    assert (result["action"], result["reason"]) == ("rescheduled", "outside_calling_window")
    name = CallRow.get(call_id, consistent_read=True).schedule_name
    schedule = boto3.client("scheduler").get_schedule(Name=name, GroupName=GROUP)
    dialer = aws.registry.function_env("SchedulerFunction")["SCHEDULER_FUNCTION_ARN"]
    assert schedule["Target"]["Arn"] == dialer
    name = aws.template.function_name("SchedulerFunction")
    assert dialer == f"arn:aws:lambda:us-east-1:123456789012:function:{name}:live"
    assert "autocall-scheduler" not in schedule["Target"]["Arn"]


def test_the_watchdog_closes_a_call_whose_last_callback_was_lost_and_starts_the_chain(
    aws: Any, monkeypatch: Any
) -> None:
    import autocall.domain.dialer as dialer
    from autocall.integrations.twilio import client as telephony_adapter

    call_id = new_call(aws, at=NOW + timedelta(minutes=5))
    CLOCK.freeze(NOW + timedelta(minutes=5))

    class Twilio:
        def create_call(self, **kwargs: str) -> str:
            return "CA" + "e" * 32

        def fetch_call(self, sid: str) -> Any:
            return telephony_adapter.CallInfo(
                sid=sid,
                to="+12125550142",
                from_="+15005550006",
                status="completed",
                start_time=None,
                duration=61,
            )

    monkeypatch.setattr(dialer, "_telephony", lambda: Twilio())
    assert aws.registry.invoke("SchedulerFunction", {"call_id": call_id})["action"] == "dialed"
    CLOCK.freeze(NOW + timedelta(hours=2))
    watched = aws.registry.invoke("SchedulerFunction", {"call_id": call_id, "watch": True})
    assert watched["action"] != "skipped", watched
    assert CallRow.get(call_id, consistent_read=True).status == "completed"
    machine = aws.registry.function_env("SchedulerFunction")["POST_CALL_STATE_MACHINE_ARN"]
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    assert any(call_id in e["name"] for e in executions), executions


# --- 4. the signature check behind API Gateway -------------------------------------------------


def test_signatures_with_443_and_on_a_custom_domain_with_a_base_path_are_accepted(
    aws: Any, monkeypatch: Any
) -> None:
    call_id = placed_call(aws, monkeypatch, "CAport")
    with_port = f"https://{DOMAIN}:443/{STAGE}/twilio/answer/{call_id}"
    answered = webhook(aws.registry, f"/twilio/answer/{call_id}", {"CallSid": "CAport"}, signed_url=with_port)
    assert answered["statusCode"] == 200, answered

    custom = FunctionRegistry(aws.template, env_overrides={"API_BASE_PATH": "voice"})
    route_moto_lambda(custom)
    try:
        turn = webhook(
            custom,
            f"/twilio/turn/{call_id}/1",
            {"CallSid": "CAport", "SpeechResult": "Yes, go on."},
            domain="calls.example.com",
            base_path="voice",
        )
        assert turn["statusCode"] == 200, turn
        [action] = urls_in(turn["body"])
        assert action == f"https://calls.example.com/voice/twilio/turn/{call_id}/2"
        forged = webhook(
            custom,
            f"/twilio/turn/{call_id}/2",
            {"CallSid": "CAport", "SpeechResult": "Yes."},
            domain="calls.example.com",
            base_path="voice",
            signed_url=f"https://calls.example.com/voice/voice/twilio/turn/{call_id}/2",  # base path twice
        )
        assert forged["statusCode"] == 403
    finally:
        custom.shutdown()
        route_moto_lambda(aws.registry)


def test_a_webhook_with_a_query_api_gateway_reordered_cannot_carry_call_state(aws: Any) -> None:
    """Call state is in the path: the routes have no query parameters to reorder."""
    voice = [r for r in aws.template.routes() if r.function == "VoiceWebhookFunction"]
    assert voice and all(re.search(r"\{call_id\}", r.path) for r in voice)
    assert {r.path for r in voice} == {
        "/twilio/answer/{call_id}",
        "/twilio/turn/{call_id}/{turn}",
        "/twilio/amd/{call_id}",
        "/twilio/status/{call_id}",
        "/twilio/relay/{call_id}",
    }


# --- 5. a schedule name per arming ------------------------------------------------------------------


def test_a_reschedule_right_after_a_schedule_fired_gets_a_name_of_its_own(aws: Any) -> None:
    call_id = new_call(aws, at=NOW + timedelta(minutes=5))
    fired = CallRow.get(call_id, consistent_read=True).schedule_name
    scheduler = boto3.client("scheduler")
    assert scheduler.get_schedule(Name=fired, GroupName=GROUP)  # still there: the service deletes it later
    CLOCK.freeze(datetime(2026, 11, 26, 2, 0, tzinfo=UTC))  # fires at 21:00 in New York: moved to 09:00
    assert aws.registry.invoke("SchedulerFunction", {"call_id": call_id})["action"] == "rescheduled"
    moved = CallRow.get(call_id, consistent_read=True).schedule_name
    assert moved != fired
    scheduler.delete_schedule(Name=fired, GroupName=GROUP)  # the service finishes deleting the fired one
    kept = scheduler.get_schedule(Name=moved, GroupName=GROUP)
    assert kept["ScheduleExpression"] == "at(2026-11-26T14:00:00)"  # 09:00 in New York
    assert json.loads(kept["Target"]["Input"]) == {"call_id": call_id}


# --- 6. timeouts and secrets ------------------------------------------------------------------------


def test_dynamodb_requests_fit_in_the_voice_turn_budget() -> None:
    from autocall.stores.tables import ALL_TABLES, MAX_RETRIES

    from local.template import LocalTemplate

    template = LocalTemplate()
    env = template.function_environment("VoiceWebhookFunction")
    timeout = float(template.resolve(template.resources["VoiceWebhookFunction"]["Properties"]["Timeout"]))
    worst = (1 + MAX_RETRIES) * (
        float(env["DYNAMODB_CONNECT_TIMEOUT_S"]) + float(env["DYNAMODB_READ_TIMEOUT_S"])
    )
    assert worst < timeout < 15  # inside the function's time and Twilio's 15 s
    assert all(model.Meta.max_retry_attempts == MAX_RETRIES for model in ALL_TABLES.values())


def test_a_rotated_twilio_token_is_used_once_the_secrets_cache_expires(aws: Any, monkeypatch: Any) -> None:
    from autocall import secrets
    from autocall.integrations.twilio.client import get_telephony
    from aws_lambda_powertools.utilities.parameters import base as parameters_base

    first = get_telephony()
    client = boto3.client("secretsmanager")
    arn = aws.template.overrides["AutocallSecrets"]
    values = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])
    client.put_secret_value(SecretId=arn, SecretString=json.dumps({**values, "twilio_auth_token": "rotated"}))
    assert get_telephony() is first  # within five minutes: the cached token
    later = datetime.now() + timedelta(seconds=secrets._MAX_AGE_S + 1)
    monkeypatch.setattr(parameters_base, "datetime", Mock(now=lambda: later))  # Powertools' cache clock
    rotated = get_telephony()
    assert rotated is not first and rotated._client.password == "rotated"


@pytest.fixture(autouse=True)
def _clock() -> Any:
    yield
    CLOCK.reset()
