"""Nothing leaks into the logs: a whole campaign on the local stack (``make demo``'s book: campaign,
single, bulk, scheduled and web-form calls, their post-call chains), plus calls that fail on the
way, with every log line and everything printed captured. No full phone number, e-mail address or
utterance may appear in any of it."""

from __future__ import annotations

import contextlib
import io
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from autocall.clock import CLOCK
from rich.console import Console

from local.demo import DemoOptions, run_demo
from local.demo.book import BOOK, DEMO_START, DemoContact
from local.personas import PERSONAS
from local.stack import LocalStack
from tests.support.reliability import COUNTS
from tests.support.stack import Client, rest_clock


class Captured(logging.Handler):
    """Every record, formatted as the Lambda would write it (the Powertools JSON for ours)."""

    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        if formatter is not None:
            self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextlib.contextmanager
def everything_logged() -> Iterator[list[str]]:
    ours = logging.getLogger("autocall")
    powertools = next((h.formatter for h in ours.handlers if h.formatter), None)
    mine, others = Captured(powertools), Captured(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root, level = logging.getLogger(), logging.getLogger().level
    root.setLevel(logging.INFO)  # as with Lambda's ApplicationLogLevel INFO: libraries' INFO lines too
    printed = io.StringIO()
    lines: list[str] = []
    ours.addHandler(mine)
    root.addHandler(others)
    try:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            yield lines
    finally:
        ours.removeHandler(mine)
        root.removeHandler(others)
        root.setLevel(level)
        lines += mine.lines + others.lines + printed.getvalue().splitlines()


def secrets_of(book: tuple[DemoContact, ...]) -> dict[str, str]:
    """What must never be logged → what it is."""
    found: dict[str, str] = {}
    for contact in book:
        digits = contact.phone.lstrip("+")
        found[contact.phone] = "phone"
        found[digits] = "phone digits"
        found[digits[-10:]] = "national number"
        if contact.email:
            found[contact.email] = "email"
        for line in PERSONAS[contact.persona].lines:
            spoken = line.replace("{name}", contact.first_name)
            for sentence in re.split(r"(?<=[.!?])\s+", spoken):
                if len(sentence) >= 18:  # distinctive enough not to be the agent's own words
                    found[sentence] = f"utterance of {contact.persona}"
    return found


FAILING = {"+12125550911": "500_placed", "+12125550912": "500", "+12125550913": "429"}
FAULTY = tuple(
    DemoContact(
        "Quinn Faulty",
        "Faulty Inc",
        phone,
        "interested_buyer",
        "sales_outreach",
        "single",
        email="quinn@faulty.example",
    )
    for phone in FAILING
)


@pytest.fixture(scope="module")
def campaign_logs(
    stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[list[str], Any]]:
    start = DEMO_START + timedelta(weeks=3)  # after the other tests' calls and the retries they planned
    CLOCK.freeze(start)
    try:
        with everything_logged() as lines:
            options = DemoOptions(
                live=False, report=tmp_path_factory.mktemp("privacy") / "report.html", start=start
            )
            result = run_demo(stack, options, Console(file=io.StringIO(), width=200))
            CLOCK.freeze(CLOCK.now())  # the retries the demo planned stay in the future: faults hit ours
            failing_calls(Client(stack))
    finally:
        rest_clock()
    yield lines, result


def settled(view: dict[str, Any]) -> bool:
    """Refused by Twilio and rescheduled with a reason, or placed after all (500 yet placed: the
    dialer reconciles) and over."""
    return bool(view["reasons"]) or view["status"] in {"completed", "busy", "no_answer", "failed", "canceled"}


def failing_calls(api: Client) -> None:
    """Calls whose placing fails (Twilio 5xx, 429) and a webhook with a forged signature: the error
    paths log too."""
    for contact, fault in zip(FAULTY, FAILING.values(), strict=True):
        created = api.contact(contact.name, contact.phone, time_zone="America/New_York", email=contact.email)
        api.stack.carrier.register_callee(contact.phone, contact.persona, name=contact.first_name)
        api.stack.carrier.inject_fault(fault)
        response = api.post(
            "/calls/api/calls/trigger_autonomous_call/",
            json={"contact_id": created["contact_id"], "call_purpose": contact.purpose},
        )
        assert response.status_code == 202
        call_id = response.json()["call_id"]
        api.wait_for(lambda call_id=call_id: settled(api.get(f"/calls/{call_id}").json()), timeout=90)
    forged = requests.post(
        f"{api.stack.url}/twilio/status/nope",
        data={"CallSid": "CAx", "CallStatus": "completed", "To": FAULTY[0].phone},
        headers={"X-Twilio-Signature": "Zm9yZ2Vk"},
        timeout=10,
    )
    assert forged.status_code == 403
    assert api.stack.carrier.wait_idle(20)


def test_a_whole_campaign_logs_no_phone_number_email_or_utterance(
    campaign_logs: tuple[list[str], Any],
) -> None:
    lines, result = campaign_logs
    assert result.calls and len(lines) > 200, "the campaign ran and logged"
    assert any('"to":"+1******' in line for line in lines), "the dialer's masked numbers are in the capture"
    secrets = secrets_of((*BOOK, *FAULTY))
    leaks = [
        (what, secret, line[:300]) for line in lines for secret, what in secrets.items() if secret in line
    ]
    COUNTS[f"log lines searched for {len(secrets)} phone numbers, e-mails and utterances (0 found)"] += len(
        lines
    )
    assert not leaks, "\n".join(f"{what}: {secret!r} in {line}" for what, secret, line in leaks[:20])
