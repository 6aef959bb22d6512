"""What the reliability tests share: signed Twilio webhooks, a conversation driver, a held line,
DynamoDB throttling at the wire, EMF parsing, snapshots of the tables and the comparison of call
records."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit
from xml.etree import ElementTree

from autocall.domain.calls import place_request, prepare_call
from autocall.domain.contacts import create_contact
from autocall.integrations.twilio import twiml
from autocall.models import prompts
from autocall.models.api import ContactCreateRequest
from autocall.models.records import Call
from autocall.stores import calls as repo
from autocall.stores.tables import ALL_TABLES
from pynamodb.models import Model
from twilio.request_validator import RequestValidator

from local.carrier import CarrierSimulator
from local.gateway import Gateway

COUNTS: Counter[str] = Counter()  # what the suite tried, printed at the end of the run
NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)  # Wednesday, noon in New York
FORM = "application/x-www-form-urlencoded"
_numbers = itertools.count(1000)


def tables_snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every item of every table, as DynamoDB holds it."""
    return {
        name: sorted(json.dumps(item.serialize(), sort_keys=True, default=str) for item in model.scan())
        for name, model in ALL_TABLES.items()
    }


def new_number() -> str:
    return f"+1212555{next(_numbers):04d}"


def new_contact(name: str = "Dana Whitfield", phone: str | None = None, **fields: Any) -> Any:
    return create_contact(
        ContactCreateRequest.model_validate(
            {
                "name": name,
                "phone": phone or new_number(),
                "company": "TechCorp",
                "time_zone": "America/New_York",
                "consent": True,
                **fields,
            }
        )
    )


@contextmanager
def as_function(logical_id: str) -> Iterator[None]:
    """Run the body as the function's own code runs: with only its environment from the template
    (the test process has Globals only, so a schedule target or role would be missing)."""
    from local.environ import function_environment
    from local.lambdas import active_registry

    with function_environment(active_registry().function_env(logical_id)):
        yield


def new_call(contact: Any, purpose: str = "sales_outreach", at: datetime | None = None) -> str:
    """A scheduled call (due ``at``, by default five minutes after NOW, so nothing dials it yet),
    placed as the trigger function places it."""
    due = at or NOW + timedelta(minutes=5)
    with as_function("TriggerFunction"):
        return place_request(prepare_call(contact.contact_id, purpose, {}, due)).call_id


def on_the_line(call_id: str, sid: str = "CAreliability") -> str:
    """The dialer's part without a carrier: the call goes scheduled → dialing → queued, with ``sid``
    saved as its attempt's Twilio call (the webhooks of that call are signed with it)."""
    from autocall.domain import dialer

    assert repo.mark_dialing(row(call_id))
    with as_function("SchedulerFunction"):  # the SID save arms the call's watchdog schedule
        dialer._record_sid(row(call_id), sid)
    return call_id


def live_call(contact: Any, purpose: str = "sales_outreach", sid: str = "CAreliability") -> str:
    """A call placed and waiting for Twilio's answer webhook of ``sid``."""
    return on_the_line(new_call(contact, purpose), sid)


def row(call_id: str) -> Call:
    found = repo.get_call(call_id)
    assert found is not None
    return found


# --- Twilio webhooks -----------------------------------------------------------------------------


@dataclass
class Twilio:
    """Posts webhooks as Twilio does (signed over the public URL) into the gateway's handling."""

    gateway: Gateway
    auth_token: str
    base_url: str
    secrets: dict[str, Any]
    sent: int = 0

    def stored_twiml(self, call_id: str, turn: dict[str, Any]) -> str:
        """The TwiML of a turn as stored on the call (its prompt), rendered as the webhook renders it."""
        urls = twiml.turn_urls(f"{self.base_url}/{self.gateway.stage}", call_id)
        return twiml.render(prompts.from_data(turn["prompt"]), urls)

    def sign(self, path: str, params: dict[str, str]) -> str:
        """Over the public URL, stage included, as Twilio signs it."""
        url = f"{self.base_url}/{self.gateway.stage}{path}"
        return str(RequestValidator(self.auth_token).compute_signature(url, params))

    def post(
        self,
        path: str,
        params: dict[str, str] | None = None,
        *,
        signature: str | None = "sign",
        content_type: str | None = FORM,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        params = params or {}
        raw = body if body is not None else urlencode(params).encode()
        sent = {"Host": "api.example.test", **(headers or {})}
        if content_type:
            sent["Content-Type"] = content_type
        if signature is not None:
            sent["X-Twilio-Signature"] = self.sign(path, params) if signature == "sign" else signature
        self.sent += 1
        status, _, answer = self.gateway.handle("POST", f"/{self.gateway.stage}{path}", sent, raw)
        return status, answer.decode()

    def settle(self, timeout: float = 10) -> None:
        """Wait for the async invocations a request started (a call due now goes to the dialer)."""
        deadline = time.monotonic() + timeout
        while self.gateway.registry.busy and time.monotonic() < deadline:
            time.sleep(0.01)

    def api(self, method: str, path: str, body: Any = None, token: str | None = "ok") -> tuple[int, Any]:
        """The REST API through the gateway, with the bearer token unless told otherwise."""
        headers = {"Content-Type": "application/json", "Host": "api.example.test"}
        if token is not None:
            headers["Authorization"] = f"Bearer {self.secrets['api_token'] if token == 'ok' else token}"
        raw = json.dumps(body).encode() if body is not None else b""
        status, _, answer = self.gateway.handle(method, f"/{self.gateway.stage}{path}", headers, raw)
        return status, json.loads(answer) if answer else None

    def answer(self, call_id: str, sid: str = "CAreliability") -> str:
        params = {"CallSid": sid, "CallStatus": "in-progress"}
        status, twiml = self.post(f"/twilio/answer/{call_id}", params)
        assert status == 200, twiml
        return twiml

    def say(self, call_id: str, turn: int, speech: str | None, sid: str = "CAreliability") -> str:
        params = {"CallSid": sid, "CallStatus": "in-progress"}
        if speech is not None:
            params |= {"SpeechResult": speech, "Confidence": "0.92"}
        status, twiml = self.post(f"/twilio/turn/{call_id}/{turn}", params)
        assert status == 200, twiml
        return twiml

    def status(self, call_id: str, status: str, sid: str = "CAreliability", duration: int = 42) -> int:
        params = {"CallSid": sid, "CallStatus": status, "CallDuration": str(duration)}
        return self.post(f"/twilio/status/{call_id}", params)[0]

    def converse(self, call_id: str, lines: list[str | None], sid: str = "CAreliability") -> list[str]:
        """Answer, say ``lines`` one per <Gather> until the agent hangs up, then report completed.
        Returns every TwiML document the caller heard."""
        heard = [self.answer(call_id, sid)]
        for line in lines:
            verbs = twiml_verbs(heard[-1])
            if "Hangup" in verbs or "Dial" in verbs:
                break
            heard.append(self.say(call_id, next_turn(heard[-1]), line, sid))
        assert self.status(call_id, "completed", sid) == 200
        return heard


# --- TwiML ---------------------------------------------------------------------------------------


def twiml_tree(document: str) -> ElementTree.Element:
    return ElementTree.fromstring(document)  # our own output under test


def twiml_verbs(document: str) -> list[str]:
    return [element.tag for element in twiml_tree(document)]


def spoken(document: str) -> str:
    return " ".join("".join(say.itertext()) for say in twiml_tree(document).iter("Say"))


def next_turn(document: str) -> int:
    gather = twiml_tree(document).find("Gather")
    assert gather is not None, document
    return int(urlsplit(gather.attrib["action"]).path.rsplit("/", 1)[-1])  # /twilio/turn/{call_id}/{turn}


# --- a line whose webhooks can be held -------------------------------------------------------------


@dataclass
class Line:
    """The carrier simulator calling our gateway; ``hold()`` parks every webhook until ``release()``."""

    aws: Any
    gateway: Gateway
    carrier: CarrierSimulator
    _open: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._open.set()
        handle = self.gateway.handle

        def held(*args: Any, **kwargs: Any) -> Any:
            self._open.wait(10)
            return handle(*args, **kwargs)

        self.gateway.handle = held  # type: ignore[method-assign]

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def dial(self, call_id: str) -> dict[str, Any]:
        """Fire the dialer as its schedule (or Lambda's retry of it) would."""
        return dict(self.aws.registry.invoke("SchedulerFunction", {"call_id": call_id}))

    def wait_terminal(self, call_id: str, timeout: float = 20) -> Call:
        from autocall.models.enums import CallStatus

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = row(call_id)
            if CallStatus(current.status).terminal:
                return current
            time.sleep(0.02)
        raise AssertionError(f"call {call_id} is still {row(call_id).status}")


# --- faults at the wire ---------------------------------------------------------------------------


@dataclass
class WireFault:
    remaining: int  # -1: every request
    refused: int = 0
    seen: int = 0
    bodies: list[bytes] = field(default_factory=list)


@contextmanager
def wire_fault(
    client: Any, operation: str, status: int, body: bytes, *, times: int = -1, only: Any = None
) -> Iterator[WireFault]:
    """Answer ``operation`` on a botocore ``client`` with ``status`` and ``body`` before it leaves:
    the client's own retries and error parsing run for real. ``only(request)`` narrows the match."""
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import MockRawResponse

    state = WireFault(times)
    kind = "application/x-amz-json-1.0" if body.startswith(b"{") else "text/xml"

    def refuse(request: Any, **_: Any) -> AWSResponse | None:
        request.url = getattr(request, "refused_url", request.url)  # a retry of a refused request
        if only is not None and not only(request):
            return None
        state.seen += 1
        if state.remaining == 0:
            return None
        state.remaining -= 1
        state.refused += 1
        state.bodies.append(request.body or b"")
        # Every before-send handler runs: an in-process moto would still apply the request unless it
        # names a host moto does not serve. A retry gets its URL back first.
        request.refused_url, request.url = request.url, "https://refused.invalid/"
        return AWSResponse(request.url, status, {"Content-Type": kind}, MockRawResponse(body))

    event = f"before-send.{client.meta.service_model.endpoint_prefix}.{operation}"
    client.meta.events.register_first(event, refuse)
    try:
        yield state
    finally:
        client.meta.events.unregister(event, refuse)


def throttled(model: type[Model], operation: str, times: int = -1) -> Any:
    """DynamoDB answering ProvisionedThroughputExceededException on ``model``'s table; botocore's
    retries (pynamodb's settings) run for real."""
    body = json.dumps(
        {
            "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": "The level of configured provisioned throughput for the table was exceeded.",
        }
    ).encode()
    table = model.Meta.table_name
    return wire_fault(
        model._get_connection().connection.client,
        operation,
        400,
        body,
        times=times,
        only=lambda request: json.loads(request.body or b"{}").get("TableName") == table,
    )


# --- metrics -------------------------------------------------------------------------------------


def emitted_metrics(stdout: str) -> list[str]:
    """Metric names of the EMF documents (one JSON object per line) in ``stdout``."""
    names: list[str] = []
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            names += [metric["Name"] for metric in directive["Metrics"]]
    return names


# --- comparing call records ------------------------------------------------------------------------

# ids and moments; a dial decision also records the local time of its dial and the consent id
_VOLATILE = {"at", "scheduled_time", "twilio_sid", "call_id", "contact_id", "campaign_id", "local_time",
             "consent_evidence_id"}  # fmt: skip


def _volatile(key: str) -> bool:
    return key in _VOLATILE or key.endswith("_at")


def comparable(call: dict[str, Any]) -> Any:
    """A call record (the API's full view) minus timestamps, ids and anything naming them."""
    ids = {str(call[key]) for key in ("call_id", "contact_id", "twilio_sid", "campaign_id") if call.get(key)}

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if not _volatile(k)}
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, str):
            for known in ids:
                value = value.replace(known, "<id>")
            return value
        return value

    # a doubled run is sent more webhooks, and counts the late ones it ignores: not the call's record
    ignored = ("schedule", "confidence", "ignored_webhooks", "last_ignored_webhook")
    return clean({k: v for k, v in call.items() if k not in ignored})
