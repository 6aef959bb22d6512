"""The CRM webhook has one retry owner: the post-call state machine. Each NotifyCrm attempt POSTs
once and raises a typed error; the state machine's Retry waits between attempts (no Lambda sleeps,
billed), and an answer that would be refused again (4xx but 408/429) is final at once."""

from __future__ import annotations

import inspect
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from autocall.config import reset_settings
from autocall.integrations import crm_webhook

from tests.support import post_call
from tests.support.post_call import GREETING, call, finished_call, run_chain

chain, contact = post_call.chain, post_call.contact  # the chain's fixtures: a moto stack, a contact
ROOT = Path(__file__).resolve().parents[2]
OUR_CODE = (str(ROOT / "layers" / "common" / "autocall"), str(ROOT / "functions"))


class _Webhook(BaseHTTPRequestHandler):
    status = 503
    posts: list[bytes] = []
    url = ""

    def do_POST(self) -> None:
        self.posts.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Webhook]]:
    """A CRM webhook answering ``_Webhook.status`` to every POST; CRM_WEBHOOK_URL points at it."""
    _Webhook.status, _Webhook.posts = 503, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Webhook.url = f"http://127.0.0.1:{server.server_address[1]}/autocall"
    monkeypatch.setenv("CRM_WEBHOOK_URL", _Webhook.url)
    reset_settings()
    yield _Webhook
    server.shutdown()
    server.server_close()


@pytest.fixture
def lambda_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every time.sleep called from our code (the layer or a handler), not moto's own waits."""
    slept: list[float] = []
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        if any(frame.filename.startswith(OUR_CODE) for frame in inspect.stack()[1:]):
            slept.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep)
    return slept


def notify_crm_attempts() -> int:
    """How many times the state machine runs NotifyCrm on an error it retries."""
    from local.resources import state_machine_definition
    from local.template import LocalTemplate

    definition = json.loads(state_machine_definition(LocalTemplate(), "PostCallStateMachine"))
    [backoff] = [r for r in definition["States"]["NotifyCrm"]["Retry"] if r["ErrorEquals"] == ["States.ALL"]]
    return 1 + int(backoff["MaxAttempts"])


def test_a_failing_crm_webhook_gets_one_post_per_state_machine_attempt_and_no_lambda_sleeps(
    chain: Any, contact: Any, webhook: type[_Webhook], lambda_sleeps: list[float]
) -> None:
    call_id = finished_call(contact, "sales_outreach", "interested", [GREETING])
    run_chain(call_id)
    assert notify_crm_attempts() == 4
    assert len(webhook.posts) == notify_crm_attempts()  # was 12: three POSTs inside each attempt
    assert len(set(webhook.posts)) == 1  # the same signed delivery every time
    assert lambda_sleeps == []
    [failure] = call(call_id).failures
    assert failure["step"] == "webhook" and failure["error"] == "WebhookUnavailable"
    assert failure["cause"] == "CRM webhook answered 503"
    assert "crm_webhook_notified" not in call(call_id).actions_taken


def test_a_crm_webhook_refusing_the_delivery_is_posted_once(
    chain: Any, contact: Any, webhook: type[_Webhook], lambda_sleeps: list[float]
) -> None:
    webhook.status = 401
    call_id = finished_call(contact, "sales_outreach", "interested", [GREETING])
    run_chain(call_id)
    assert len(webhook.posts) == 1 and lambda_sleeps == []
    [failure] = call(call_id).failures
    assert failure["step"] == "webhook" and failure["error"] == "WebhookRejected"
    assert failure["cause"] == "CRM webhook answered 401"


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, crm_webhook.WebhookRejected), (403, crm_webhook.WebhookRejected),
     (404, crm_webhook.WebhookRejected), (422, crm_webhook.WebhookRejected),
     (408, crm_webhook.WebhookUnavailable), (429, crm_webhook.WebhookUnavailable),
     (500, crm_webhook.WebhookUnavailable), (503, crm_webhook.WebhookUnavailable)],
)  # fmt: skip
def test_one_post_per_call_retryable_or_final_by_the_answer(
    webhook: type[_Webhook], status: int, error: type[crm_webhook.WebhookFailed], lambda_sleeps: list[float]
) -> None:
    webhook.status = status
    with pytest.raises(error) as raised:
        crm_webhook.post_signed(webhook.url, {"call_id": "c-1"}, "secret", 1_764_000_000)
    assert raised.value.status == status and raised.value.retryable is (
        error is crm_webhook.WebhookUnavailable
    )
    assert len(webhook.posts) == 1 and lambda_sleeps == []


def test_an_unreachable_webhook_is_retryable_after_one_try(lambda_sleeps: list[float]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    port = server.server_address[1]
    server.server_close()  # nothing listens there any more
    with pytest.raises(crm_webhook.WebhookUnavailable) as raised:
        crm_webhook.post_signed(f"http://127.0.0.1:{port}/autocall", {}, "secret", 1_764_000_000)
    assert raised.value.status is None and lambda_sleeps == []


def test_a_delivery_taken_returns_its_status(webhook: type[_Webhook]) -> None:
    webhook.status = 202
    assert crm_webhook.post_signed(webhook.url, {"call_id": "c-1"}, "secret", 1_764_000_000) == 202
    assert len(webhook.posts) == 1
