"""The campaign tests' fixtures and builders (tests/integration/test_campaigns*.py): moto in-process
with the clock at 01:00 in New York (every window shut), the carrier simulator, contacts and
campaigns through the API, the scheduler's and Twilio's events, waiting for the async invocations.

The fixtures (``api``, ``carrier``) are taken into a test module by name: ``api = campaigns.api``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from autocall.clock import CLOCK
from autocall.config import reset_settings
from autocall.integrations import scheduler
from autocall.integrations.twilio import signature as twilio_signature
from autocall.stores import calls as calls_repo
from autocall.stores.tables import CallRow

from local.carrier import CarrierSimulator
from tests.support.helpers import public_url

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # Wednesday: 01:00 in New York, every window closed
GROUP = "autocall-calls"
NEW_YORK = ["+12125550101", "+12125550102", "+12125550103"]
CHICAGO, LOS_ANGELES, LONDON = "+13125550177", "+14155550123", "+442079460018"


@pytest.fixture
def api(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    CLOCK.freeze(NOW)
    monkeypatch.setenv("POST_CALL_STATE_MACHINE_ARN", "")  # the dialer is under test, not the chain
    reset_settings()
    yield aws
    reset_settings()


@pytest.fixture
def carrier(api: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[CarrierSimulator]:
    """The carrier simulator as Twilio. Its webhooks go to the unreachable public URL: calls stay
    live for the app until a test delivers their status callback itself."""
    with CarrierSimulator(api.secrets["twilio_auth_token"]) as simulator:
        monkeypatch.setenv("TWILIO_API_BASE_URL", simulator.base_url)
        reset_settings()
        yield simulator


def limits(monkeypatch: pytest.MonkeyPatch, per_second: int, concurrent: int) -> None:
    monkeypatch.setenv("CALLS_PER_SECOND", str(per_second))
    monkeypatch.setenv("MAX_CONCURRENT_CALLS", str(concurrent))
    reset_settings()


def add_contact(api: Any, phone: str, consent: bool = True, tag: str = "q4") -> dict[str, Any]:
    status, body = api.api(
        "POST", "/contacts", {"name": f"Callee {phone}", "phone": phone, "consent": consent, "tags": [tag]}
    )
    assert status == 201, body
    return dict(body)


def add_campaign(api: Any, tag: str = "q4", **fields: Any) -> dict[str, Any]:
    request = {"name": "Q4 renewals", "purpose": "renewal_reminder", "tag": tag, **fields}
    status, body = api.api("POST", "/campaigns", request)
    assert status == 201, body
    return dict(body)


def trigger(api: Any, campaign_id: str, **fields: Any) -> tuple[int, Any]:
    return api.api("POST", "/calls/api/calls/trigger_campaign_calls/", {"campaign_id": campaign_id, **fields})


def wait_fanout(api: Any, campaign_id: str) -> dict[str, Any]:
    """The rest of a fan-out runs in another (async) invocation: wait for it, in real time."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        view = api.api("GET", f"/campaigns/{campaign_id}")[1]
        if view["fanout"] and view["fanout"]["state"] == "done":
            return dict(view)
        time.sleep(0.05)
    raise AssertionError("the fan-out did not finish")


def campaign_calls(campaign_id: str) -> list[CallRow]:
    return list(calls_repo.calls_for_campaign(campaign_id))


def schedule_of(call: CallRow) -> dict[str, Any] | None:
    """The schedule the call's record names (each arming has a name of its own)."""
    fresh = CallRow.get(call.call_id, consistent_read=True)
    return scheduler.get_schedule(fresh.schedule_name) if fresh.schedule_name else None


def dial(api: Any, call_id: str) -> dict[str, Any]:
    """What EventBridge Scheduler does when a call's schedule fires."""
    return dict(api.registry.invoke("SchedulerFunction", {"call_id": call_id}))


def status_callback(api: Any, call: CallRow, status: str, **params: str) -> int:
    """A Twilio status callback, signed as Twilio signs it."""
    form = {"CallSid": str(call.twilio_sid), "CallStatus": status, **params}
    path = f"/twilio/status/{call.call_id}"
    url = public_url(path)
    signature = twilio_signature.compute(api.secrets["twilio_auth_token"], url, form)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    return int(api.api("POST", path, raw_body=urlencode(form), headers=headers)[0])


def wait_view(api: Any, campaign_id: str, done: Any) -> dict[str, Any]:
    """A pause, resume or cancel sweeps the calls in other (async) invocations: wait for them. The
    campaign is read once nothing runs: moto's in-process query is not atomic with its writes."""
    deadline = time.monotonic() + 60
    view: dict[str, Any] = {}
    while time.monotonic() < deadline:
        if not api.registry.busy:
            view = api.api("GET", f"/campaigns/{campaign_id}")[1]
            if done(view):
                return dict(view)
        time.sleep(0.05)
    raise AssertionError(f"the sweep did not finish: {view.get('counts')}")


def reasons(call: CallRow) -> list[str]:
    return [entry["reason"] for entry in calls_repo.get_call(call.call_id).reasons]  # type: ignore[union-attr]
