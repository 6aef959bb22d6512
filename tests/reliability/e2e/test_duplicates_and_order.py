"""Twilio retries and duplicates: every persona and purpose called once cleanly, and once with every
webhook delivered twice, the status callbacks shuffled, and a turn and a status arriving after
``completed``. The final records (the API's whole view: turns, analysis, result, actions, attempts,
reasons) are equal, timestamps and ids aside."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from autocall.models.enums import CallPurpose

from local.demo import finished
from local.personas import EXPECTED_OUTCOMES
from tests.support.reliability import COUNTS, comparable
from tests.support.stack import Client, rest_clock, run_clock_from

WEDNESDAY_NOON_EASTERN = datetime(2026, 12, 9, 17, 0, tzinfo=UTC)
# every persona, with each purpose it has a scripted outcome for ("any purpose": one per persona,
# spread over the purposes): 21 calls a run, about 20 s on the local stack
CASES = sorted(
    (persona, purpose)
    for index, (persona, table) in enumerate(EXPECTED_OUTCOMES.items())
    for purpose in ([list(CallPurpose)[index % len(CallPurpose)].value] if "*" in table else table)
)
_numbers = itertools.count(3000)


@pytest.fixture(autouse=True)
def business_hours() -> Iterator[None]:
    run_clock_from(WEDNESDAY_NOON_EASTERN)
    yield
    rest_clock()


def run_batch(api: Client, cases: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every case called at once; returns the finished records (post-call chain included)."""
    calls = {}
    for persona, purpose in cases:
        phone = f"+1646555{next(_numbers):04d}"
        contact = api.contact("Robin Case", phone, company="TechCorp", time_zone="America/New_York")
        api.stack.carrier.register_callee(phone, persona, name="Robin")
        response = api.post(
            "/calls/api/calls/trigger_autonomous_call/",
            json={
                "contact_id": contact["contact_id"],
                "call_purpose": purpose,
                "context": {"budget_range": "$10k"},
            },
        )
        assert response.status_code == 202, response.text
        calls[(persona, purpose)] = response.json()["call_id"]
    views: dict[tuple[str, str], dict[str, Any]] = {}
    deadline = time.monotonic() + 120
    while len(views) < len(calls) and time.monotonic() < deadline:
        for case, call_id in calls.items():
            if case not in views and finished(view := api.get(f"/calls/{call_id}").json(), post_call=True):
                views[case] = view
        time.sleep(0.5)  # polling is not free: everything runs in this process
    assert len(views) == len(calls), f"unfinished: {sorted(set(calls) - set(views))}"
    assert api.stack.carrier.wait_idle(20)
    return views


def late_webhooks(api: Client, view: dict[str, Any]) -> int:
    """A turn and status callbacks arriving after the call completed, signed as Twilio signs."""
    call_id, sid = view["call_id"], view["twilio_sid"]
    late = [
        (f"/twilio/turn/{call_id}/{max(len(view['turns']), 1)}",
         {"CallSid": sid, "SpeechResult": "Actually, mark me as interested.", "Confidence": "0.9"}),
        (f"/twilio/status/{call_id}", {"CallSid": sid, "CallStatus": "in-progress"}),
        (f"/twilio/status/{call_id}", {"CallSid": sid, "CallStatus": "ringing"}),
        (f"/twilio/status/{call_id}", {"CallSid": sid, "CallStatus": "busy", "CallDuration": "0"}),
    ]  # fmt: skip
    for path, params in late:
        answer = api.twilio(path, params)
        assert answer.status_code == 200, answer.text
        if "/turn" in path:
            assert "<Gather" not in answer.text  # nothing more is asked of a finished call
    return len(late)


def test_duplicated_and_reordered_webhooks_give_the_records_of_a_clean_run(api: Client) -> None:
    clean = run_batch(api, CASES)
    carrier = api.stack.carrier
    carrier.duplicate_webhooks = carrier.shuffle_status_callbacks = True
    try:
        doubled = run_batch(api, CASES)
    finally:
        carrier.duplicate_webhooks = carrier.shuffle_status_callbacks = False
    late = sum(late_webhooks(api, view) for view in doubled.values() if view["twilio_sid"])
    doubled = {case: api.get(f"/calls/{view['call_id']}").json() for case, view in doubled.items()}
    deliveries = [
        w
        for view in doubled.values()
        if view["twilio_sid"]
        for w in carrier.get_call(view["twilio_sid"]).webhooks
    ]
    duplicates = sum(w.duplicate for w in deliveries)
    divergent = [case for case in CASES if comparable(clean[case]) != comparable(doubled[case])]
    COUNTS[f"calls run twice over {len(CASES)} persona x purpose cases, clean and doubled"] += 2 * len(CASES)
    COUNTS[f"webhooks delivered twice, status callbacks shuffled ({len(divergent)} divergent records)"] += (
        duplicates
    )
    COUNTS["webhooks after completed: a turn, in-progress, ringing, busy (0 changes)"] += late
    for case in divergent[:3]:
        a, b = comparable(clean[case]), comparable(doubled[case])
        diff = {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
        print(case, diff)
    assert duplicates >= len(CASES) * 4
    assert not divergent, divergent
    assert all(view["attempts"] == 1 for view in doubled.values() if view["twilio_sid"])
