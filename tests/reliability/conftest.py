"""Fixtures of the in-process reliability suite: moto with the template's resources (the ``aws``
fixture of ``tests.support.aws``), the API gateway's request handling without a socket, signed
Twilio webhooks, the carrier simulator on a live loopback line, the OpenAI fake, and EMF capture.
Every test under this folder (tests/reliability/e2e too) carries the ``reliability`` marker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from autocall.clock import CLOCK
from autocall.config import reset_settings

from local.carrier import CarrierSimulator
from local.gateway import Gateway
from local.openai_fake import FakeOpenAI
from tests.support import aws as in_process
from tests.support.aws import Aws
from tests.support.reliability import COUNTS, NOW, Line, Twilio

aws = in_process.aws  # moto in-process with the template's resources, shared with the integration tests

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``-m reliability`` selects this folder's tests (the hook sees every collected item)."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.reliability)


@pytest.fixture
def twilio(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Twilio]:
    """Signed Twilio webhooks through the gateway's request handling (no socket), at NOW."""
    monkeypatch.setenv("POST_CALL_STATE_MACHINE_ARN", "")  # the chain has its own tests below
    monkeypatch.setenv("TWILIO_API_BASE_URL", "http://127.0.0.1:9")  # nothing dials out from here
    reset_settings()
    CLOCK.freeze(NOW)
    gateway = Gateway(aws.template, aws.registry)
    yield Twilio(gateway, aws.secrets["twilio_auth_token"], "https://api.example.test", aws.secrets)
    gateway.server.server_close()


@pytest.fixture
def line(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Line]:
    """A live line: the gateway on loopback and the carrier simulator dialing through it."""
    gateway = Gateway(aws.template, aws.registry)
    gateway.start()
    carrier = CarrierSimulator(aws.secrets["twilio_auth_token"]).start()
    carrier.resolve(aws.template.api_domain, gateway.address)  # the dialer's public URLs reach it
    monkeypatch.setenv("TWILIO_API_BASE_URL", carrier.base_url)
    monkeypatch.setenv("POST_CALL_STATE_MACHINE_ARN", "")
    reset_settings()
    CLOCK.freeze(NOW)
    held = Line(aws, gateway, carrier)
    yield held
    held.release()
    carrier.wait_idle(20)
    carrier.stop()
    gateway.stop()


@pytest.fixture(scope="session")
def openai_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def llm(openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """The LLM brain, against the OpenAI fake (deadline 1.5 s)."""
    openai_server.reset()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-reliability")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("LLM_TURN_DEADLINE_S", "1.5")
    reset_settings()
    yield openai_server
    monkeypatch.delenv("OPENAI_API_KEY")
    reset_settings()


@pytest.fixture
def emf(capsys: pytest.CaptureFixture[str]) -> Any:
    """Metric names emitted so far as CloudWatch EMF lines on stdout (each read drains stdout)."""
    from tests.support.reliability import emitted_metrics

    return lambda: emitted_metrics(capsys.readouterr().out)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if COUNTS:
        terminalreporter.section("reliability: what was tried")
        for what, count in sorted(COUNTS.items()):
            terminalreporter.write_line(f"{count:>7,}  {what}")
