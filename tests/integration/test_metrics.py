"""The metrics a call emits (EMF on stdout, as CloudWatch reads them from the Lambda logs), and the
alarms and dashboard that watch them: a handler driven by an API Gateway event, its stdout parsed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from autocall.clock import CLOCK
from autocall.config import get_settings, reset_settings
from autocall.domain import conversation
from autocall.domain.brain.engine import PlaybookBrain
from autocall.integrations.twilio import signature as twilio_signature
from autocall.observability import metrics

from local.carrier import CarrierSimulator
from local.openai_fake import FakeOpenAI
from local.template import ROOT, load_template
from tests.support.aws import Aws
from tests.support.helpers import api_event, public_url
from tests.support.template import transformed

NOON_EASTERN = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)  # a Wednesday
SERVICE = {"service": "autocall"}


@dataclass(frozen=True)
class Emitted:
    namespace: str
    name: str
    unit: str
    dimensions: dict[str, str]
    values: list[float]


def emitted(stdout: str) -> list[Emitted]:
    """Every metric in the EMF documents printed on stdout."""
    found = []
    for line in stdout.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if not isinstance(document, dict):
            continue
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            dimensions = {name: str(document[name]) for group in directive["Dimensions"] for name in group}
            for metric in directive["Metrics"]:
                raw = document[metric["Name"]]
                values = raw if isinstance(raw, list) else [raw]
                found.append(
                    Emitted(directive["Namespace"], metric["Name"], metric["Unit"], dimensions, values)
                )
    return found


def one(found: list[Emitted], name: str) -> Emitted:
    matches = [m for m in found if m.name == name]
    assert len(matches) == 1, f"{name}: {matches or 'not emitted'}"
    return matches[0]


@pytest.fixture
def line(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[CarrierSimulator]:
    """The carrier simulator as Twilio; its own callbacks go nowhere, the test delivers them."""
    sim = CarrierSimulator(aws.secrets["twilio_auth_token"]).start()
    monkeypatch.setenv("TWILIO_API_BASE_URL", sim.base_url)
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://127.0.0.1:9")  # the discard port: refused at once
    monkeypatch.setenv("POST_CALL_STATE_MACHINE_ARN", "")  # no chain running on after the test
    reset_settings()
    metrics.clear_metrics()
    CLOCK.freeze(NOON_EASTERN)
    yield sim
    sim.stop()


def scheduled_call(aws: Aws, phone: str = "+12125550199", purpose: str = "sales_outreach") -> str:
    status, contact = aws.api(
        "POST", "/contacts", {"name": "Dana Whitfield", "phone": phone, "consent": True}
    )
    assert status == 201, contact
    status, call = aws.api(
        "POST",
        "/calls/api/calls/trigger_autonomous_call/",
        {
            "contact_id": contact["contact_id"],
            "call_purpose": purpose,
            "scheduled_time": (NOON_EASTERN + timedelta(hours=1)).isoformat(),
        },
    )
    assert status == 202, call
    return str(call["call_id"])


def dial(aws: Aws, call_id: str) -> dict[str, Any]:
    return dict(aws.registry.invoke("SchedulerFunction", {"call_id": call_id}))


def webhook(aws: Aws, path: str, params: dict[str, str]) -> dict[str, Any]:
    """A Twilio webhook as API Gateway hands it to the function: form body, signed public URL."""
    route = next(r for r in aws.template.routes() if r.matches("POST", path.split("?")[0]) is not None)
    url = public_url(path)
    event = api_event(
        route,
        "POST",
        path,
        raw_body=urlencode(params),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature.compute(aws.secrets["twilio_auth_token"], url, params),
        },
    )
    response = dict(aws.registry.invoke(route.function, event))
    assert response["statusCode"] == 200, response
    return response


def answered_call(aws: Aws, line: CarrierSimulator) -> tuple[str, str]:
    """A call placed with the carrier and answered by a person: (call id, Twilio SID)."""
    call_id = scheduled_call(aws)
    line.register_callee("+12125550199", "busy")
    placed = dial(aws, call_id)
    assert placed["action"] == "dialed", placed
    sid = str(placed["twilio_sid"])
    webhook(aws, f"/twilio/status/{call_id}", {"CallSid": sid, "CallStatus": "in-progress"})
    webhook(aws, f"/twilio/answer/{call_id}", {"CallSid": sid, "CallStatus": "in-progress"})
    return call_id, sid


def test_a_call_emits_triggered_placed_answered_turn_latency_and_outcome(
    aws: Aws, line: CarrierSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    call_id, sid = answered_call(aws, line)
    speech = {
        "CallSid": sid,
        "SpeechResult": "Please stop calling me and take me off your list.",
        "Confidence": "0.9",
    }
    webhook(aws, f"/twilio/turn/{call_id}/1", speech)
    done = {"CallSid": sid, "CallStatus": "completed", "CallDuration": "21", "AnsweredBy": "human"}
    webhook(aws, f"/twilio/status/{call_id}", done)

    found = emitted(capsys.readouterr().out)
    assert {m.namespace for m in found} == {"Autocall"}
    for name in ("CallsTriggered", "CallsPlaced", "CallsAnswered"):
        metric = one(found, name)
        assert (metric.unit, metric.dimensions, metric.values) == ("Count", SERVICE, [1.0])
    latency = one(found, "TurnLatency")
    assert latency.unit == "Milliseconds" and latency.dimensions == SERVICE and 0 < latency.values[0] < 15_000
    outcome = one(found, "CallOutcome")
    assert outcome.dimensions == {"outcome": "opted_out", "purpose": "sales_outreach", **SERVICE}
    assert not [m for m in found if m.name in ("LlmFallbacks", "TwilioErrors", "GuardRejections")]


def test_a_repeated_status_callback_counts_nothing_twice(
    aws: Aws, line: CarrierSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    call_id, sid = answered_call(aws, line)
    done = {"CallSid": sid, "CallStatus": "completed", "CallDuration": "5"}
    webhook(aws, f"/twilio/status/{call_id}", done)
    capsys.readouterr()
    webhook(aws, f"/twilio/status/{call_id}", done)
    assert [m.name for m in emitted(capsys.readouterr().out)] == []


def test_metrics_turned_off_print_nothing_not_even_the_dimensioned_ones(
    aws: Aws, line: CarrierSimulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    call_id, sid = answered_call(aws, line)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    capsys.readouterr()
    done = {"CallSid": sid, "CallStatus": "completed", "CallDuration": "0", "AnsweredBy": "machine_start"}
    webhook(aws, f"/twilio/status/{call_id}", done)
    assert emitted(capsys.readouterr().out) == []
    status, view = aws.api("GET", f"/calls/{call_id}")
    assert (status, view["outcome"]) == (200, "voicemail")  # a CallOutcome metric when they are on


def test_twilio_refusing_the_call_counts_a_twilio_error_and_the_guard_reason(
    aws: Aws, line: CarrierSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    call_id = scheduled_call(aws)
    line.unverified_caller_ids = {get_settings().caller_id}
    capsys.readouterr()

    assert dial(aws, call_id)["action"] == "ended"

    found = emitted(capsys.readouterr().out)
    assert one(found, "TwilioErrors").dimensions == SERVICE
    assert one(found, "GuardRejections").dimensions == {"reason": "twilio_rejected", **SERVICE}
    assert not [m for m in found if m.name == "CallsPlaced"]


def test_llm_turn_emits_its_latency_and_a_failed_one_one_fallback(
    aws: Aws, line: CarrierSimulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAI() as fake:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        reset_settings()
        call_id, sid = answered_call(aws, line)
        fake.enqueue("Great to hear. What challenges are you facing with your current setup?")
        fake.enqueue(status=500)
        capsys.readouterr()

        speech = {
            "CallSid": sid,
            "SpeechResult": "Yes, this is Dana. What's this about?",
            "Confidence": "0.9",
        }
        webhook(aws, f"/twilio/turn/{call_id}/1", speech)
        first = emitted(capsys.readouterr().out)
        speech["SpeechResult"] = "We are looking at upgrading our infrastructure."
        webhook(aws, f"/twilio/turn/{call_id}/2", speech)
        second = emitted(capsys.readouterr().out)

    assert one(first, "LlmLatency").unit == "Milliseconds" and one(first, "LlmLatency").dimensions == SERVICE
    assert not [m for m in first if m.name == "LlmFallbacks"]
    assert len(one(second, "LlmLatency").values) == 1  # the failed request's time is measured too
    assert one(second, "LlmFallbacks").values == [1.0]


def test_a_brain_that_raises_is_counted_as_one_fallback(
    aws: Aws, line: CarrierSimulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken(PlaybookBrain):
        def respond(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("the model answered nonsense")

    monkeypatch.setattr(conversation, "_brain", Broken)
    call_id, sid = answered_call(aws, line)
    capsys.readouterr()
    speech = {"CallSid": sid, "SpeechResult": "Yes, this is Dana.", "Confidence": "0.9"}
    webhook(aws, f"/twilio/turn/{call_id}/1", speech)
    assert one(emitted(capsys.readouterr().out), "LlmFallbacks").values == [1.0]


# --- what the template watches ----------------------------------------------------------------------


def _watched() -> set[str]:
    """Autocall metric names the alarms and the dashboard read."""
    resources = load_template()["Resources"]
    names: set[str] = set()
    for res in resources.values():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::CloudWatch::Alarm":
            stats = [props] + [
                m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m
            ]
            names |= {s["MetricName"] for s in stats if s.get("Namespace") == "Autocall"}
        if res["Type"] == "AWS::CloudWatch::Dashboard":
            body = props["DashboardBody"]["Fn::Sub"]
            names |= set(re.findall(r'\["Autocall", "(\w+)"', body))
            names |= set(re.findall(r'\{Autocall,[\w,]+\} MetricName=\\"(\w+)\\"', body))
    return names


def test_every_metric_the_alarms_and_dashboard_watch_is_one_the_code_emits() -> None:
    source = "\n".join(p.read_text() for p in Path(ROOT, "layers/common/autocall").rglob("*.py"))
    in_code = set(re.findall(r'count\(\s*"(\w+)"', source)) | set(
        re.findall(r'add_metric\(name="(\w+)"', source)
    )
    watched = _watched()
    expected = {"CallsTriggered", "CallsPlaced", "CallsAnswered", "CallOutcome", "TurnLatency", "LlmLatency"}
    assert expected | {"LlmFallbacks", "GuardRejections", "PostCallFailures", "TwilioErrors"} <= watched
    assert watched <= in_code, watched - in_code


def test_api_alarm_watches_the_rest_api_sam_creates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    resources = transformed()["Resources"]
    api = next(r for r in resources.values() if r["Type"] == "AWS::ApiGateway::RestApi")
    alarm = resources["ApiServerErrorsAlarm"]["Properties"]
    dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert dimensions["ApiName"] == api["Properties"].get("Name", api["Properties"]["Body"]["info"]["title"])
    assert dimensions["Stage"] == {"Ref": "Stage"}
    assert all(
        r["Properties"]["AlarmActions"] == [{"Ref": "AlertsTopic"}]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    )
    assert "KmsMasterKeyId" not in resources["AlertsTopic"]["Properties"]  # alarms can't use aws/sns
    assert resources["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"
