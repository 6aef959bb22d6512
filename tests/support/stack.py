"""The whole local stack on free loopback ports, driven over HTTP as a user would: the session-wide
``stack`` and the ``api`` client fixtures (imported by the e2e tiers' conftests), the resting clock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from autocall.clock import CLOCK
from twilio.request_validator import RequestValidator

from local.api_client import ApiClient
from local.stack import LocalStack, free_port

# Where the clock rests between tests: a fixed Wednesday noon in New York, earlier than every moment
# a test sets. Resting at wall time instead would let whatever a test planned for later (a retry, a
# follow-up) fall due between tests on some days of the year and not on others.
RESTING = datetime(2026, 11, 11, 17, 0, tzinfo=UTC)


def run_clock_from(moment: datetime) -> None:
    CLOCK.freeze(moment)
    CLOCK.set_speed(1.0)  # time moves on from ``moment``, as the pump and pacing expect


def rest_clock() -> None:
    run_clock_from(RESTING)


class Client(ApiClient):
    """The API as a user calls it (``local.api_client``), plus what a test needs beside it: the
    stack, a contact in one line, webhooks as Twilio sends them, waiting for a condition."""

    def __init__(self, stack: LocalStack) -> None:
        super().__init__(stack.url, stack.api_token)
        self.stack = stack
        self.as_twilio = ApiClient(stack.url, token=None, timeout=10)  # Twilio sends no bearer token

    def contact(self, name: str, phone: str, **fields: Any) -> dict[str, Any]:
        response = self.post("/contacts", json={"name": name, "phone": phone, "consent": True, **fields})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def twilio(self, path: str, params: dict[str, str], signature: str | None = None) -> requests.Response:
        """A webhook as Twilio sends it: to the API's public URL (stage included; its host resolves
        to the gateway here), signed over that URL unless ``signature`` is given."""
        url = self.stack.public_url + path
        token = self.stack.secrets["twilio_auth_token"]
        sig = signature or RequestValidator(token).compute_signature(url, params)
        headers = {"X-Twilio-Signature": sig, "Host": self.stack.template.api_domain}
        return self.as_twilio.post(path, data=params, headers=headers)

    def wait_for(self, predicate: Any, timeout: float = 30.0, interval: float = 0.05) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise AssertionError("condition not reached in time")


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    rest_clock()
    local = LocalStack(
        port=free_port(),
        carrier_port=free_port(),
        moto_port=free_port(),
        parameters={"CallsPerSecond": "50"},  # pacing has its own tests; here calls follow each other
    ).start()
    yield local
    local.stop()
    CLOCK.reset()


@pytest.fixture
def api(stack: LocalStack) -> Client:
    return Client(stack)
