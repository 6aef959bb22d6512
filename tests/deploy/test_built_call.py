"""One whole call through the BUILT handlers, each with only its own environment.

moto's server runs in this process with every resource of template.yaml (``create_resources``), the
carrier simulator offers Twilio's REST API, and each function of `sam build`'s output runs in its own
python3.12 worker (tests/support/built.py) with exactly what the template gives it (Globals and its
own variables, references resolved to the local resources) plus what Lambda and the endpoints add:
AWS_ENDPOINT_URL and dummy credentials for moto, TWILIO_API_BASE_URL for the carrier, the region
and AWS_LAMBDA_FUNCTION_NAME. Nothing else, and no union of functions.

The test then plays API Gateway and Twilio itself: every event has the shape `sam local
generate-event apigateway aws-proxy` prints, with ``path`` without the stage, ``requestContext.path``
with it, the execute-api host in ``requestContext.domainName``, ``resource`` and ``pathParameters``
as API Gateway fills them from the template's routes; every webhook is signed with
``RequestValidator.compute_signature`` over its PUBLIC URL (https, host, stage, path) and the
POSTed parameters, and every next URL is taken from the TwiML the previous answer gave, as Twilio
takes it. The carrier never dials through HTTP here: its call is created, then the test delivers
the webhooks.

Step Functions: moto runs the post-call chain when it is started, and its Lambda tasks would invoke
the post-call function through moto's Lambda backend, which cannot run a built handler. That backend
is replaced for the module by a recorder that answers every invoke with an empty step result: what
is asserted is that the chain was started for this call (and aimed at the deployed post-call
function), not what the chain did.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import boto3
import pytest
from twilio.request_validator import RequestValidator

from local.template import LocalTemplate, load_template
from tests.support import built

SECRETS = {
    "api_token": "deploy-tier-api-token",
    "twilio_auth_token": "deploy-tier-twilio-auth-token",
    "openai_api_key": "",  # no LLM: the playbook brain answers (and vaderSentiment scores each turn)
    "form_secrets": {},
    "crm_webhook_secret": "deploy-tier-crm-secret",
}
# Numbers that each pin one zone down, spread round the clock (all in the local AllowedCountries).
CALLEES = ("+18085550142", "+14155550142", "+12125550142", "+551132345678", "+442079460142",
           "+493090182744", "+918041234567", "+81335550142", "+61291234567")  # fmt: skip


def callee_at_midday(moment: datetime) -> str:
    """The number whose callee's clock is nearest 12:30 at ``moment``: the calling window is open
    there whatever the hour this test runs (the built dialer reads wall time). A zone of its own
    cannot be given instead: the API accepts only a zone the number can be in."""
    from zoneinfo import ZoneInfo

    from phonenumbers import parse
    from phonenumbers.timezone import time_zones_for_number

    def distance(phone: str) -> float:
        [zone] = time_zones_for_number(parse(phone))
        local = moment.astimezone(ZoneInfo(zone))
        return abs(local.hour + local.minute / 60 - 12.5)

    return min(CALLEES, key=distance)


PHONE = callee_at_midday(datetime.now(UTC))
PERSONA = "interested_buyer"  # six lines: three turns never end the call
TURNS = 3
FUNCTIONS = ("AuthorizerFunction", "TriggerFunction", "SchedulerFunction", "VoiceWebhookFunction")


@dataclass
class LambdaInvokes:
    """moto's Lambda backend for this module: records each Invoke (function, qualifier, payload,
    invocation type) and answers an empty post-call step result."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from moto.awslambda_simple.models import LambdaSimpleBackend

        recorded = self.calls

        def invoke(
            self: Any, name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
        ) -> bytes:
            recorded.append(
                {
                    "function": name,
                    "qualifier": qualifier,
                    "payload": json.loads(body) if body else {},
                    "type": headers.get("X-Amz-Invocation-Type") or "RequestResponse",
                }
            )
            return (
                b"" if headers.get("X-Amz-Invocation-Type") == "Event" else b'{"labels": [], "actions": []}'
            )

        monkeypatch.setattr(LambdaSimpleBackend, "invoke", invoke)


@dataclass
class Deployed:
    """The local resources, the carrier, and one built worker per function."""

    template: LocalTemplate  # the BUILT template, bound to the local resources
    moto_url: str
    carrier: Any
    placed: list[str]  # call SIDs the carrier was asked to create (never dialed by it)
    invokes: LambdaInvokes
    functions: dict[str, built.BuiltFunction]
    envs: dict[str, dict[str, str]]

    @property
    def stage(self) -> str:
        return self.template.stage

    @property
    def domain(self) -> str:
        return self.template.api_domain

    @property
    def public_base(self) -> str:
        return f"https://{self.domain}/{self.stage}"

    def aws(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.moto_url, region_name=built.REGION)

    # --- API Gateway --------------------------------------------------------------------------
    def event(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: str | None = None,
        query: list[tuple[str, str]] | None = None,
        authorizer: dict[str, Any] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """(function, proxy event) for ``method path`` (``path`` without the stage), as API Gateway
        routes it: the template's route gives ``resource`` and ``pathParameters``."""
        for route in self.template.routes():
            found = route.matches(method, path)
            if found is not None:
                break
        else:
            raise AssertionError(f"no route of the template serves {method} {path}")
        event = built.rest_event(
            method,
            path,
            resource=route.path,
            stage=self.stage,
            domain=self.domain,
            headers=headers,
            query=query,
            path_parameters=found or None,
            body=body,
            authorizer=authorizer if route.authorized else None,
        )
        assert event["requestContext"]["path"] == f"/{self.stage}{path}"
        return route.function, event

    def authorize(self) -> dict[str, Any]:
        """What the built authorizer's answer puts in requestContext.authorizer (a TOKEN authorizer:
        the principal, and the policy must allow the API)."""
        method_arn = (
            f"arn:aws:execute-api:{built.REGION}:{built.ACCOUNT_ID}:{self.template.ref('Api')}"
            f"/{self.stage}/POST/contacts"
        )
        answer = self.functions["AuthorizerFunction"].invoke(
            {"type": "TOKEN", "authorizationToken": f"Bearer {SECRETS['api_token']}", "methodArn": method_arn}
        )
        statement = answer["policyDocument"]["Statement"][0]
        assert statement["Effect"] == "Allow", answer
        return {"principalId": answer["principalId"], "integrationLatency": 0, **answer.get("context", {})}

    def api(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        """An authorized JSON request to the REST API, through the built authorizer and function."""
        function, event = self.event(
            method,
            path,
            headers={
                "Authorization": f"Bearer {SECRETS['api_token']}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            body=json.dumps(payload) if payload is not None else None,
            authorizer=self.authorize(),
        )
        response = self.functions[function].invoke(event)
        body = response.get("body")
        return int(response["statusCode"]), json.loads(body) if body else None

    # --- Twilio -------------------------------------------------------------------------------
    def webhook(
        self, url: str, params: dict[str, str], *, signed_url: str | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """POST ``params`` to ``url`` as Twilio does: form-encoded, signed over the public URL (or
        ``signed_url``) with the account's auth token (or ``token``); the built function's answer."""
        parts = urlsplit(url)
        assert parts.scheme == "https" and parts.netloc == self.domain, url
        assert parts.path.startswith(f"/{self.stage}/twilio/") and not parts.query, url
        signer = RequestValidator(token or SECRETS["twilio_auth_token"])
        function, event = self.event(
            "POST",
            parts.path[len(self.stage) + 1 :],
            headers={
                "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
                "X-Twilio-Signature": signer.compute_signature(signed_url or url, params),
                "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
                "User-Agent": "TwilioProxy/1.1",
                "Accept": "*/*",
            },
            body=urlencode(params),
        )
        assert function == "VoiceWebhookFunction"
        return dict(self.functions[function].invoke(event))

    def executions(self) -> list[dict[str, Any]]:
        machine = self.template.ref("PostCallStateMachine")
        return list(self.aws("stepfunctions").list_executions(stateMachineArn=machine)["executions"])


def function_env(template: LocalTemplate, logical_id: str, endpoints: dict[str, str]) -> dict[str, str]:
    """The template's variables for this function alone, plus the runtime's and the endpoints'."""
    env = template.function_environment(logical_id)
    clash = set(env) & set(endpoints)
    assert not clash, f"{logical_id}: the template sets {sorted(clash)}, which the runtime sets"
    return {**env, **endpoints, "AWS_LAMBDA_FUNCTION_NAME": template.function_name(logical_id)}


@pytest.fixture(scope="module")
def deployed(build: Path, moved_layer: Path, python312: str) -> Iterator[Deployed]:
    from moto.server import ThreadedMotoServer

    from local.carrier import CarrierSimulator
    from local.resources import LOCAL_PARAMETERS, configure_moto, create_resources
    from local.stack import free_port

    configure_moto()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    moto_url = f"http://127.0.0.1:{port}"
    carrier = CarrierSimulator(SECRETS["twilio_auth_token"]).start()
    placed: list[str] = []
    carrier._launch = placed.append  # the test is Twilio: the created call is never dialed over HTTP
    workers: dict[str, built.BuiltFunction] = {}
    try:
        with pytest.MonkeyPatch.context() as mp:
            # this process creates the resources in the server as `sam deploy` would
            for key in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
                mp.delenv(key, raising=False)
            runtime = {
                "AWS_ENDPOINT_URL": moto_url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "AWS_REGION": built.REGION,
                "AWS_DEFAULT_REGION": built.REGION,
            }
            for key, value in runtime.items():
                mp.setenv(key, value)
            mp.setenv("MOTO_PORT", str(port))  # create_resources sets it; restored afterwards
            invokes = LambdaInvokes()
            invokes.install(mp)
            source = LocalTemplate()
            source.overrides.update(LOCAL_PARAMETERS)
            source.overrides.update(create_resources(source, SECRETS))
            # each function's environment from the BUILT template (what `sam deploy` ships)
            template = LocalTemplate(
                overrides=dict(source.overrides), template=load_template(build / "template.yaml")
            )
            endpoints = {**runtime, "TWILIO_API_BASE_URL": carrier.base_url}
            envs = {lid: function_env(template, lid, endpoints) for lid in FUNCTIONS}
            for lid in FUNCTIONS:
                workers[lid] = built.BuiltFunction(lid, moved_layer, envs[lid], build=build, python=python312)
            with ThreadPoolExecutor(len(workers)) as pool:  # cold starts side by side
                list(pool.map(lambda worker: worker.start(), workers.values()))
            yield Deployed(template, moto_url, carrier, placed, invokes, workers, envs)
    finally:
        for worker in workers.values():
            worker.close()
        carrier.stop()
        server.stop()


def gather_action(document: str, call_id: str, turn: int, deployed: Deployed, source_url: str) -> str:
    """The <Gather action> of a TwiML document, resolved as Twilio resolves it against the URL the
    document came from; it must already be absolute, on the API's host, under its stage."""
    root = ET.fromstring(document)
    gathers = root.findall("Gather")
    assert len(gathers) == 1, document
    gather = gathers[0]
    assert "speech" in gather.get("input", ""), document
    action = gather.get("action", "")
    expected = f"{deployed.public_base}/twilio/turn/{call_id}/{turn}"
    assert action == expected, f"<Gather action> is {action!r}, not the absolute {expected!r}"
    assert urljoin(source_url, action) == action  # what Twilio requests next
    for redirect in root.iter("Redirect"):  # the fallback after the Gather, never relative either
        assert (redirect.text or "").startswith(f"{deployed.public_base}/twilio/"), document
    return action


def twiml_of(response: dict[str, Any]) -> str:
    assert response["statusCode"] == 200, response
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    multi = {k.lower(): v for k, v in (response.get("multiValueHeaders") or {}).items()}
    content_type = headers.get("content-type") or (multi.get("content-type") or [""])[0]
    assert content_type.startswith("application/xml"), response
    return str(response["body"])


def test_one_whole_call_through_the_built_handlers(deployed: Deployed) -> None:
    started = time.monotonic()
    domain, stage = deployed.domain, deployed.stage
    assert stage == LocalTemplate().stage  # the Api's StageName, as template.yaml resolves it
    deployed.carrier.register_callee(PHONE, PERSONA, name="Dana")

    # --- the API: a contact, then a call (trigger → the dialer, as the trigger hands it over) ---------
    status, contact = deployed.api(
        "POST",
        "/contacts",
        {
            "name": "Dana Scully",
            "phone": PHONE,
            "consent": True,
            "consent_text": "agreed on the web form",
            "company": "Acme",
        },
    )
    assert status == 201, contact
    status, call = deployed.api(
        "POST",
        "/calls/api/calls/trigger_autonomous_call/",
        {
            "contact_id": contact["contact_id"],
            "call_purpose": "sales_outreach",
            "context": {"product": "cloud"},
        },
    )
    assert status == 202, call
    call_id = call["call_id"]
    dialer_arn = deployed.envs["TriggerFunction"]["SCHEDULER_FUNCTION_ARN"]
    handed = [i for i in deployed.invokes.calls if i["payload"] == {"call_id": call_id}]
    assert [(i["function"], i["type"]) for i in handed] == [(dialer_arn, "Event")], deployed.invokes.calls
    assert dialer_arn.endswith(f":function:{deployed.template.function_name('SchedulerFunction')}:live")

    # --- the built dialer places the call on the carrier with absolute public callback URLs ---------
    result = deployed.functions["SchedulerFunction"].invoke(handed[0]["payload"])
    assert result["action"] == "dialed", result
    sid = result["twilio_sid"]
    assert deployed.placed == [sid]
    placed = deployed.carrier.get_call(sid)
    assert placed.to == PHONE and placed.from_ == deployed.envs["SchedulerFunction"]["TWILIO_CALLER_ID"]
    assert placed.url == f"https://{domain}/{stage}/twilio/answer/{call_id}"
    assert placed.status_callback == f"https://{domain}/{stage}/twilio/status/{call_id}"
    assert placed.amd_callback == f"https://{domain}/{stage}/twilio/amd/{call_id}"
    assert placed.machine_detection == "DetectMessageEnd" and placed.async_amd
    # its watchdog schedule fires the dialer itself (not a placeholder)
    schedules = deployed.aws("scheduler").list_schedules(
        GroupName=deployed.envs["SchedulerFunction"]["SCHEDULE_GROUP"]
    )["Schedules"]
    watchdogs = [s for s in schedules if s["Name"].startswith("watch-")]
    assert [s["Target"]["Arn"] for s in watchdogs] == [dialer_arn], schedules

    twilio = {
        "AccountSid": deployed.envs["VoiceWebhookFunction"]["TWILIO_ACCOUNT_SID"],
        "ApiVersion": "2010-04-01",
        "CallSid": sid,
        "Called": PHONE,
        "Caller": placed.from_,
        "Direction": "outbound-api",
        "From": placed.from_,
        "To": PHONE,
    }

    # --- Twilio: answered (status callback signed over the URL with :443), the greeting -----------
    sequence = iter(range(100))

    def status_params(call_status: str, **extra: str) -> dict[str, str]:
        return {
            **twilio,
            "CallStatus": call_status,
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(next(sequence)),
            "Timestamp": "Thu, 03 Dec 2026 12:00:00 +0000",
            **extra,
        }

    with_port = placed.status_callback.replace(f"https://{domain}/", f"https://{domain}:443/", 1)
    assert with_port != placed.status_callback
    answered = deployed.webhook(placed.status_callback, status_params("in-progress"), signed_url=with_port)
    assert answered["statusCode"] == 200, f"a signature over the :443 URL was refused: {answered}"

    greeting = twiml_of(deployed.webhook(placed.url, {**twilio, "CallStatus": "in-progress"}))
    next_url = gather_action(greeting, call_id, 1, deployed, placed.url)
    env = deployed.envs["VoiceWebhookFunction"]
    assert f"{env['AGENT_NAME']}, an automated AI assistant calling from {env['BUSINESS_NAME']}" in greeting

    amd = deployed.webhook(
        placed.amd_callback,
        {
            "AccountSid": twilio["AccountSid"],
            "CallSid": sid,
            "AnsweredBy": "human",
            "MachineDetectionDuration": "1800",
        },
    )
    assert amd["statusCode"] == 200, amd

    # --- three turns with speech, each posted to the action the previous TwiML named -------------
    callee = deployed.carrier.callee_for(PHONE)
    for turn in range(1, TURNS + 1):
        line = callee.line(turn - 1)
        assert line
        document_url = next_url
        reply = twiml_of(
            deployed.webhook(
                document_url,
                {**twilio, "CallStatus": "in-progress", "SpeechResult": line, "Confidence": "0.92"},
            )
        )
        if "missed that" in reply:  # the turn raised inside the built function: say why
            logs = deployed.functions["VoiceWebhookFunction"].logs[-4000:]
            raise AssertionError(f"turn {turn} failed inside the built function: {reply}\n{logs}")
        next_url = gather_action(reply, call_id, turn + 1, deployed, document_url)

    # --- a forged completed callback: 403, and nothing changed ------------------------------------
    status, before = deployed.api("GET", f"/calls/{call_id}")
    assert status == 200 and before["status"] == "in_progress", before
    forged = deployed.webhook(
        placed.status_callback,
        status_params("completed", CallDuration="42", Duration="1"),
        token="not-the-auth-token",
    )
    assert forged["statusCode"] == 403, forged
    assert json.loads(forged["body"])["error"] == "invalid_signature"
    status, after = deployed.api("GET", f"/calls/{call_id}")
    assert after == before
    assert deployed.executions() == []

    # --- the real completed callback (twice: Twilio may repeat it) ends the call once ---------------
    for _ in range(2):
        done = deployed.webhook(
            placed.status_callback,
            status_params("completed", CallDuration="42", Duration="1", SipResponseCode="200"),
        )
        assert done["statusCode"] == 200, done

    status, final = deployed.api("GET", f"/calls/{call_id}")
    assert status == 200, final
    assert final["status"] == "completed", final
    assert final["twilio_sid"] == sid and final["answered_by"] == "human"
    assert final["duration_seconds"] == 42
    spoken = [t for t in final["turns"] if t["utterance"]]
    assert [t["turn"] for t in final["turns"]] == list(range(TURNS + 1)), final["turns"]
    assert [t["utterance"] for t in spoken] == [callee.line(n) for n in range(TURNS)]
    for turn in spoken:
        assert turn["brain"] == "playbook", turn
        assert turn["sentiment"] in ("positive", "neutral", "negative"), turn
        assert isinstance(turn["sentiment_score"], float), turn
        assert turn["objective_progress"] is not None, turn

    # --- the post-call chain was started for this call, once --------------------------------------
    executions = deployed.executions()
    assert len(executions) == 1, executions
    described = deployed.aws("stepfunctions").describe_execution(executionArn=executions[0]["executionArn"])
    assert json.loads(described["input"]) == {"call_id": call_id, "attempt": 1}
    assert executions[0]["name"] == f"{call_id}-a1"
    post_call = deployed.template.function_name("PostCallFunction")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # moto runs the chain: its first step asks the post-call function
        steps = [
            i
            for i in deployed.invokes.calls
            if i["payload"].get("call_id") == call_id and i["payload"].get("step")
        ]
        if steps:
            break
        time.sleep(0.1)
    assert steps and steps[0]["payload"]["step"] == "analyze", deployed.invokes.calls
    assert steps[0]["function"].endswith(f":function:{post_call}"), steps[0]
    while time.monotonic() < deadline:  # not asserted: let moto's run end before its server stops
        arn = executions[0]["executionArn"]
        if deployed.aws("stepfunctions").describe_execution(executionArn=arn)["status"] != "RUNNING":
            break
        time.sleep(0.1)

    assert time.monotonic() - started < 60
