"""No dead air: whatever the LLM or DynamoDB does, the caller hears a line within Twilio's budget,
the call completes, retries are bounded, and the failure is recorded and alarmed."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from autocall.stores.tables import MAX_RETRIES, CallRow

from local.openai_fake import FakeOpenAI
from tests.support.reliability import (
    COUNTS,
    Twilio,
    live_call,
    new_contact,
    next_turn,
    row,
    spoken,
    throttled,
    twiml_verbs,
)

TWILIO_BUDGET_S = 15.0
DEADLINE_S = 1.5  # LLM_TURN_DEADLINE_S of the ``llm`` fixture
SLOT = "2026-12-01T14:00:00-05:00"  # next Tuesday 2 pm in New York

# fault → what the caller hears: the bridge line before the playbook's answer, or a correction
FAULTS: dict[str, tuple[dict[str, Any], str]] = {
    "timeout": ({"delay": DEADLINE_S + 3}, "bridge"),
    "http_500": ({"status": 500}, "bridge"),
    "http_429": ({"status": 429}, "bridge"),
    "empty_answer": ({"text": ""}, "bridge"),
    "unknown_tool_only": ({"tool_calls": [("delete_all_records", {})]}, "bridge"),
    "bad_json_arguments": ({"tool_calls": [("confirm_slot", "{not json")]}, "correction"),
    "bad_arguments_and_a_false_claim": (
        {"text": "Done, you're booked!", "tool_calls": [("confirm_slot", "[1]")]},
        "correction",
    ),
}
BRIDGE = "Sorry, one moment."


def started_call(twilio: Twilio, purpose: str = "sales_outreach") -> str:
    call_id = live_call(new_contact(), purpose)
    twilio.answer(call_id)
    return call_id


def timed_turn(twilio: Twilio, call_id: str, turn: int, speech: str) -> tuple[float, str]:
    started = time.perf_counter()
    twiml = twilio.say(call_id, turn, speech)
    return time.perf_counter() - started, twiml


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_llm_fault_gets_a_bridge_line_in_budget_and_the_call_completes(
    twilio: Twilio, llm: FakeOpenAI, emf: Any, fault: str
) -> None:
    call_id = started_call(twilio)
    script, heard = FAULTS[fault]
    llm.enqueue(**script)
    elapsed, twiml = timed_turn(twilio, call_id, 1, "Yes, this is Dana. What's this about?")
    assert elapsed < DEADLINE_S + 1.5 < TWILIO_BUDGET_S, f"{fault}: the caller waited {elapsed:.2f} s"
    said = spoken(twiml)
    assert len(said) > len(BRIDGE) and "booked" not in said, said
    assert said.startswith(BRIDGE) == (heard == "bridge"), said
    assert twiml_verbs(twiml) == ["Gather", "Redirect"] and next_turn(twiml) == 2
    assert ("LlmFallbacks" in emf()) == (heard == "bridge")  # a real failure is alarmed
    llm.enqueue("Thanks Dana, talk soon. Goodbye!", tool_calls=[("end_call", {})])
    last = twilio.say(call_id, 2, "Not right now, thanks.")
    assert "Hangup" in twiml_verbs(last)
    assert twilio.status(call_id, "completed") == 200
    call = row(call_id)
    assert call.status == "completed" and call.outcome
    first = "llm_fallback" if heard == "bridge" else "llm"
    assert [t["brain"] for t in call.turns[1:]] == [first, "llm"]  # recorded on each turn
    counts = call.memory["brain"]["counts"]
    assert counts.get("llm_failures", 0) + counts.get("llm_tools_dropped_bad_args", 0) == 1
    assert not [a for a in call.memory.get("agent_actions", []) if a["kind"] == "confirm_slot"]
    assert len(llm.requests) == 2  # one request per turn: the SDK's own retries are off
    COUNTS["LLM faults on a turn (7 kinds): a line within the deadline + 1.5 s, call completed"] += 1


def test_llm_failing_twice_hands_the_rest_of_the_call_to_the_playbook(
    twilio: Twilio, llm: FakeOpenAI, emf: Any
) -> None:
    call_id = started_call(twilio)
    for _ in range(10):
        llm.enqueue(status=500)
    heard = [twilio.say(call_id, 1, "Yes, this is Dana. What's this about?")]
    lines = [
        "We are looking at upgrading our infrastructure.",
        "Yes, that would be helpful.",
        "Tuesday at 2 pm works for me.",
        "Yes, that's right.",
        "No, that's all. Thanks, bye!",
    ]
    for line in lines:
        if "Hangup" in twiml_verbs(heard[-1]):
            break
        heard.append(twilio.say(call_id, next_turn(heard[-1]), line))
    assert all(spoken(twiml) for twiml in heard)
    assert len(llm.requests) == 2, "bounded: after two failures the LLM is not asked again this call"
    twilio.status(call_id, "completed")
    call = row(call_id)
    assert call.status == "completed" and call.outcome == "demo_scheduled"
    assert {t["brain"] for t in call.turns[1:]} == {"llm_fallback"}
    assert call.memory["brain"]["llm_disabled"] is True
    assert emf().count("LlmFallbacks") >= len(heard)
    COUNTS["turns after two LLM failures in a row (LLM not asked again)"] += len(heard) - 2


def test_throttled_dynamodb_on_a_turn_still_answers_in_budget_and_is_alarmed(
    twilio: Twilio, emf: Any
) -> None:
    call_id = started_call(twilio)
    with throttled(CallRow, "UpdateItem") as throttle:
        elapsed, twiml = timed_turn(twilio, call_id, 1, "Yes, this is Dana. What's this about?")
    assert elapsed < TWILIO_BUDGET_S, f"{elapsed:.1f} s of silence"
    assert throttle.refused == 1 + MAX_RETRIES  # botocore's real backoff, bounded by the tables' retries
    assert spoken(twiml) and next_turn(twiml) == 1  # the same turn is asked again
    assert "TurnFailures" in emf()
    assert len(row(call_id).turns) == 1  # nothing half-written
    again = twilio.say(call_id, 1, "Yes, this is Dana. What's this about?")  # Twilio's next try
    assert next_turn(again) == 2 and len(row(call_id).turns) == 2
    COUNTS[f"DynamoDB throttles on a turn save (line heard after {elapsed:.1f} s)"] += throttle.refused


def test_same_turn_delivered_by_two_threads_at_once_is_recorded_once(twilio: Twilio) -> None:
    races, divergent = 40, 0
    for _ in range(races):
        call_id = started_call(twilio)
        barrier, answers = threading.Barrier(2), []

        def deliver(speech: str, call_id: str, barrier: threading.Barrier, answers: list[str]) -> None:
            barrier.wait()
            answers.append(twilio.say(call_id, 1, speech))

        threads = [
            threading.Thread(target=deliver, args=(speech, call_id, barrier, answers))
            for speech in ("Yes, speaking.", "Who is this?")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        call = row(call_id)
        assert len(call.turns) == 2, call.turns
        divergent += answers[0] != answers[1] or twilio.stored_twiml(call_id, call.turns[1]) != answers[0]
    assert divergent == 0
    COUNTS["same turn delivered by two threads at once (0 divergent)"] += races


def test_two_llm_turn_deliveries_racing_give_the_caller_one_answer(twilio: Twilio, llm: FakeOpenAI) -> None:
    call_id = started_call(twilio)
    llm.enqueue("First answer, Dana. What challenges are you facing?", delay=0.2)
    llm.enqueue("Second answer, Dana. How is your infrastructure?", delay=0.2)
    barrier, answers = threading.Barrier(2), []

    def deliver() -> None:
        barrier.wait()
        answers.append(twilio.say(call_id, 1, "We're upgrading our infrastructure."))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(llm.requests) == 2 and answers[0] == answers[1]
    call = row(call_id)
    assert len(call.turns) == 2 and twilio.stored_twiml(call_id, call.turns[1]) == answers[0]


def test_metrics_of_concurrent_invocations_in_one_process_never_fail_a_handler() -> None:
    """The local stack runs invocations side by side in one process, sharing one metric set: a flush
    must never meet another invocation's add halfway (it failed the webhook with a 502). The guard
    is the local stack's (Lambda runs one invocation per process), applied where it loads handlers."""
    import contextlib
    import io
    import sys
    import warnings

    from autocall.observability import metrics

    from local.lambdas import guard_shared_metrics

    guard_shared_metrics()
    errors: list[Exception] = []

    def hammer(action: Any) -> None:
        for i in range(20_000):
            try:
                action(i)
            except RuntimeError as exc:
                errors.append(exc)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # preempt often, as a loaded local stack does
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # flushing an empty set warns
            add = lambda i: metrics.add_metric(name=f"Stress{i % 90}", unit="Count", value=1)  # noqa: E731
            flush = lambda i: metrics.flush_metrics()  # noqa: E731
            threads = [threading.Thread(target=hammer, args=(a,)) for a in (add, add, add, add, flush, flush)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        sys.setswitchinterval(switch)
        metrics.clear_metrics()
    assert errors == []
    COUNTS["metric adds and flushes from six threads at once (0 failures)"] += 120_000
