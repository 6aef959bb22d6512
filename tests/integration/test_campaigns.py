"""Campaigns at scale, driven through the real entry points (API Gateway events, the EventBridge
event, the scheduler's {"call_id"} event, signed Twilio status callbacks) with moto in-process:
fan-out counts and times, a fan-out resumed after a crash, pause/resume/cancel, pacing under
concurrent dialers, the attempt cap, and the stats users read."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from autocall.clock import CLOCK
from autocall.domain.calendar.windows import CallingWindow, is_open
from autocall.domain.campaigns import fanout
from autocall.domain.pacing import acquire_dial_slot, release_dial_slot, slot_holders
from autocall.integrations import scheduler
from autocall.stores import calls as calls_repo
from autocall.stores import suppression
from autocall.stores.campaigns import set_status_if_in
from autocall.stores.tables import CallRow, PacingRow

from tests.support import campaigns as builders
from tests.support.campaigns import (
    CHICAGO,
    LONDON,
    LOS_ANGELES,
    NEW_YORK,
    add_campaign,
    add_contact,
    campaign_calls,
    dial,
    limits,
    reasons,
    schedule_of,
    status_callback,
    trigger,
    wait_fanout,
    wait_view,
)

# the fixtures: moto in-process at 01:00 in New York, the carrier simulator
api, carrier = builders.api, builders.carrier


# --- fan-out ------------------------------------------------------------------------------------


def test_fanout_staggers_calls_into_each_callee_window_and_skips_with_reasons(api):
    people = {phone: add_contact(api, phone) for phone in [*NEW_YORK, CHICAGO, LOS_ANGELES, LONDON]}
    unconsented = add_contact(api, "+12125550104", consent=False)
    suppressed = add_contact(api, "+12125550105")
    suppression.suppress(suppressed["phone"], "opted_out")
    campaign = add_campaign(api, stagger_minutes=10)

    status, body = trigger(api, campaign["campaign_id"])

    assert status == 202, body
    assert body["fanout"]["state"] == "done" and body["fanout"]["created"] == 6
    assert body["fanout"]["skipped"] == {"no_consent": 1, "suppressed": 1}
    assert sorted((s["contact_id"], s["reason"]) for s in body["skipped"]) == sorted(
        [(unconsented["contact_id"], "no_consent"), (suppressed["contact_id"], "suppressed")]
    )
    due = {c.contact_id: c.scheduled_time for c in campaign_calls(campaign["campaign_id"])}
    by_phone = {phone: due[contact["contact_id"]] for phone, contact in people.items()}
    # 10-minute slots from 06:00 UTC; each callee gets the first free one once its window opens
    assert by_phone[LONDON] == "2026-11-25T09:00:00Z"
    assert sorted(by_phone[p] for p in NEW_YORK) == [
        "2026-11-25T14:00:00Z",
        "2026-11-25T14:10:00Z",
        "2026-11-25T14:20:00Z",
    ]
    assert by_phone[CHICAGO] == "2026-11-25T15:00:00Z"
    assert by_phone[LOS_ANGELES] == "2026-11-25T17:00:00Z"
    for call in campaign_calls(campaign["campaign_id"]):
        schedule = schedule_of(call)
        assert schedule is not None and json.loads(schedule["Target"]["Input"]) == {"call_id": call.call_id}
        assert schedule["ScheduleExpression"] == f"at({call.scheduled_time[:-1]})"


def test_large_campaign_answers_after_the_first_page_and_finishes_asynchronously(api, monkeypatch):
    monkeypatch.setattr(fanout, "FANOUT_PAGE_SIZE", 3)
    for n in range(11):
        add_contact(api, f"+1212555{200 + n:04d}", tag="big")
    campaign = add_campaign(api, tag="big")

    status, body = trigger(api, campaign["campaign_id"])

    assert status == 202
    assert body["fanout"]["state"] == "running" and body["fanout"]["created"] == len(body["calls"]) <= 3
    view = wait_fanout(api, campaign["campaign_id"])
    assert view["fanout"]["created"] == 11 and view["counts"]["by_status"] == {"scheduled": 11}
    calls = campaign_calls(campaign["campaign_id"])
    assert len({c.contact_id for c in calls}) == 11
    times = sorted(datetime.fromisoformat(c.scheduled_time) for c in calls)
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(times))  # 1 call/s
    assert all(schedule_of(c) is not None for c in calls)


def test_fanout_that_dies_half_way_resumes_without_duplicates_and_with_the_same_times(api, monkeypatch):
    monkeypatch.setattr(fanout, "FANOUT_PAGE_SIZE", 4)
    for n in range(10):
        add_contact(api, f"+1212555{300 + n:04d}" if n % 2 else f"+1415555{300 + n:04d}")
    crashed, clean = add_campaign(api, stagger_minutes=5), add_campaign(api, stagger_minutes=5)
    put = scheduler.put_one_time_schedule
    created: list[str] = []

    def dies_after_six(
        name: str, at: datetime, payload: dict[str, Any], target_arn: str | None = None
    ) -> str:
        if len(created) == 6:
            raise RuntimeError("the invocation was killed")
        created.append(name)
        return put(name, at, payload, target_arn)

    monkeypatch.setattr(scheduler, "put_one_time_schedule", dies_after_six)
    assert trigger(api, crashed["campaign_id"])[0] == 202  # page 1; page 2 goes to an async invocation
    deadline = time.monotonic() + 30
    while not api.registry.async_errors and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "the invocation was killed" in api.registry.async_errors[0]
    assert len(campaign_calls(crashed["campaign_id"])) == 8  # page 2 written, half of it armed
    assert api.api("GET", f"/campaigns/{crashed['campaign_id']}")[1]["fanout"]["created"] == 4
    monkeypatch.setattr(scheduler, "put_one_time_schedule", put)

    assert trigger(api, crashed["campaign_id"])[0] == 202  # runs again: resumes at page 2
    assert trigger(api, clean["campaign_id"])[0] == 202
    resumed, reference = wait_fanout(api, crashed["campaign_id"]), wait_fanout(api, clean["campaign_id"])

    assert resumed["fanout"]["created"] == reference["fanout"]["created"] == 10
    assert resumed["counts"]["total"] == 10
    times = {c.contact_id: c.scheduled_time for c in campaign_calls(crashed["campaign_id"])}
    assert times == {c.contact_id: c.scheduled_time for c in campaign_calls(clean["campaign_id"])}
    assert all(schedule_of(c) is not None for c in campaign_calls(crashed["campaign_id"]))


def test_eventbridge_rule_starts_the_campaign(api):
    add_contact(api, NEW_YORK[0])
    campaign = add_campaign(api)
    event = {
        "detail-type": "StartCampaign",
        "source": "autocall.campaigns",
        "detail": {"campaign_id": campaign["campaign_id"]},
    }

    result = api.registry.invoke("CampaignWorkerFunction", event)  # the rule's target

    assert result["created"] == 1 and result["state"] == "done"
    [call] = campaign_calls(campaign["campaign_id"])
    assert call.source == "eventbridge" and call.scheduled_time == "2026-11-25T14:00:00Z"


# --- steering -----------------------------------------------------------------------------------


def test_pause_holds_every_call_and_resume_rearms_past_due_ones_paced(api, carrier, monkeypatch):
    for phone in NEW_YORK:
        add_contact(api, phone)
    campaign = add_campaign(api, stagger_minutes=10)
    trigger(api, campaign["campaign_id"])
    calls = campaign_calls(campaign["campaign_id"])

    status, paused = api.api("POST", f"/campaigns/{campaign['campaign_id']}/pause")

    assert status == 202 and paused["status"] == "paused" and paused["sweep"]["state"] == "started"
    wait_view(api, campaign["campaign_id"], lambda v: v["counts"]["held"] == 3)
    assert [schedule_of(c) for c in calls] == [None, None, None]
    assert {c.status for c in campaign_calls(campaign["campaign_id"])} == {"scheduled"}
    assert all(reasons(c) == ["campaign_paused"] for c in calls)
    CLOCK.freeze(datetime(2026, 11, 25, 14, 15, tzinfo=UTC))  # two of the three due times go by
    assert dial(api, calls[0].call_id)["reason"] == "campaign_paused"  # a schedule that fired anyway
    assert trigger(api, campaign["campaign_id"])[0] == 409
    handed: list[str] = []  # calls sent to the dialer at once: kept here, so their times stay put
    invoke_async = api.registry.invoke_async

    def dialer_held(function: str, event: Any) -> None:
        if "call_id" in event:
            handed.append(event["call_id"])
        else:
            invoke_async(function, event)

    monkeypatch.setattr(api.registry, "invoke_async", dialer_held)

    status, resumed = api.api("POST", f"/campaigns/{campaign['campaign_id']}/resume")

    assert status == 202 and resumed["status"] == "running"
    wait_view(api, campaign["campaign_id"], lambda v: v["counts"]["held"] == 0)
    after = sorted(campaign_calls(campaign["campaign_id"]), key=lambda c: c.scheduled_time)
    assert [c.scheduled_time for c in after] == [
        "2026-11-25T14:15:00Z",  # past due: now
        "2026-11-25T14:15:01Z",  # past due: the next dial slot
        "2026-11-25T14:20:00Z",  # still ahead: kept
    ]
    assert schedule_of(after[2]) is not None  # the two due within the minute went to the dialer at once
    assert sorted(handed) == sorted(c.call_id for c in after[:2])
    assert all("campaign_resumed" in reasons(c) for c in after)


def test_cancel_ends_every_call_not_dialed_and_the_dialer_refuses_the_campaign(api):
    for phone in NEW_YORK:
        add_contact(api, phone)
    campaign = add_campaign(api)
    trigger(api, campaign["campaign_id"])
    calls = campaign_calls(campaign["campaign_id"])
    # a call the cancel sweep has not reached yet (the race the dialer guards against)
    set_status_if_in(campaign["campaign_id"], "canceled", ("running",))
    assert dial(api, calls[0].call_id) == {
        "call_id": calls[0].call_id,
        "action": "ended",
        "reason": "campaign_canceled",
        "twilio_sid": None,
        "at": None,
    }
    set_status_if_in(campaign["campaign_id"], "running", ("canceled",))

    status, body = api.api("POST", f"/campaigns/{campaign['campaign_id']}/cancel")

    assert status == 202 and body["status"] == "canceled"
    wait_view(api, campaign["campaign_id"], lambda v: v["counts"]["by_status"] == {"canceled": 3})
    assert all(schedule_of(c) is None for c in calls[1:])
    assert all(reasons(c) == ["campaign_canceled"] for c in calls)
    assert trigger(api, campaign["campaign_id"])[0] == 409


# --- pacing and the dialer ----------------------------------------------------------------------


def test_concurrent_slots_are_never_more_than_the_limit_and_free_exactly_once(api, monkeypatch):
    limits(monkeypatch, per_second=1000, concurrent=5)
    ids = [f"call-{n}" for n in range(40)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        waits = dict(zip(ids, pool.map(acquire_dial_slot, ids), strict=True))
    granted = sorted(cid for cid, wait in waits.items() if wait is None)
    assert len(granted) == 5 and sorted(slot_holders() or {}) == granted
    assert all(timedelta(seconds=15) <= w <= timedelta(seconds=45) for w in waits.values() if w is not None)
    assert acquire_dial_slot(granted[0]) is None and len(slot_holders() or {}) == 5  # its own slot again
    assert [release_dial_slot(granted[0]), release_dial_slot(granted[0])] == [True, False]
    assert acquire_dial_slot("call-late") is None and len(slot_holders() or {}) == 5


def test_calls_per_second_are_counted_in_the_clock_second(api, monkeypatch):
    limits(monkeypatch, per_second=2, concurrent=100)
    waits = [acquire_dial_slot(f"c{n}") for n in range(5)]
    assert waits[:2] == [None, None] and all(
        timedelta(seconds=1) <= w <= timedelta(seconds=4) for w in waits[2:]
    )
    CLOCK.advance(timedelta(seconds=1))
    assert acquire_dial_slot("c5") is None


def test_a_refused_dial_leaves_both_counters_as_they_were(api, monkeypatch):
    """The two counters change together or not at all (one transaction), here and on AWS."""
    second = f"cps#{int(CLOCK.now().timestamp())}"
    limits(monkeypatch, per_second=1000, concurrent=1)
    assert acquire_dial_slot("first") is None
    assert acquire_dial_slot("over-the-concurrency-limit") is not None
    assert PacingRow.get(second).hits == 1  # the second's dial count was rolled back

    release_dial_slot("first")
    limits(monkeypatch, per_second=1, concurrent=10)
    assert acquire_dial_slot("over-the-second's-limit") is not None
    counter = PacingRow.get("concurrent")
    assert (counter.hits, sorted(counter.holders or {})) == (0, [])  # no slot was taken
    assert PacingRow.get(second).hits == 1


def test_concurrent_dialers_never_exceed_the_limit_and_an_ended_call_frees_its_slot(
    api, carrier, monkeypatch
):
    limits(monkeypatch, per_second=100, concurrent=3)
    for n in range(12):
        add_contact(api, f"+1212555{400 + n:04d}")
    campaign = add_campaign(api)
    trigger(api, campaign["campaign_id"])
    CLOCK.freeze(datetime(2026, 11, 25, 15, 0, tzinfo=UTC))  # 10:00 in New York: all are due
    calls = campaign_calls(campaign["campaign_id"])
    barrier = threading.Barrier(len(calls))

    def fire(call: CallRow) -> dict[str, Any]:
        barrier.wait()
        return dial(api, call.call_id)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        results = list(pool.map(fire, calls))

    actions = Counter(r["action"] for r in results)
    assert actions == {"dialed": 3, "rescheduled": 9}
    assert {r["reason"] for r in results if r["action"] == "rescheduled"} == {"pacing_limit"}
    assert len(carrier.calls()) == 3
    dialed = [calls_repo.get_call(r["call_id"]) for r in results if r["action"] == "dialed"]
    assert sorted(slot_holders() or {}) == sorted(c.call_id for c in dialed)  # type: ignore[union-attr]
    waiting = [calls_repo.get_call(r["call_id"]) for r in results if r["action"] == "rescheduled"]
    assert all(schedule_of(c) is not None for c in waiting)  # type: ignore[arg-type]

    ended = dialed[0]
    assert status_callback(api, ended, "completed", CallDuration="42", AnsweredBy="human") == 200  # type: ignore[arg-type]
    assert status_callback(api, ended, "completed", CallDuration="42", AnsweredBy="human") == 200  # type: ignore[arg-type]
    assert len(slot_holders() or {}) == 2  # freed once, though the callback came twice
    CLOCK.advance(timedelta(seconds=1))
    assert dial(api, waiting[0].call_id)["action"] == "dialed"  # type: ignore[union-attr]
    assert dial(api, waiting[1].call_id)["reason"] == "pacing_limit"  # type: ignore[union-attr]


def test_attempts_stop_at_the_cap_with_every_attempt_in_the_history(api, carrier):
    add_contact(api, NEW_YORK[0])
    campaign = add_campaign(api, max_attempts=2)
    trigger(api, campaign["campaign_id"])
    CLOCK.freeze(datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
    [call] = campaign_calls(campaign["campaign_id"])

    for attempt in (1, 2):
        assert dial(api, call.call_id)["action"] == "dialed"
        placed = calls_repo.get_call(call.call_id)
        assert placed is not None and status_callback(api, placed, "no-answer") == 200
        finished = calls_repo.get_call(call.call_id)
        assert finished is not None and finished.status == "no_answer" and finished.attempts == attempt
        # what the post-call chain does for a call worth retrying
        CLOCK.advance(timedelta(hours=1))
        assert calls_repo.reopen_for_retry(finished, CLOCK.now(), "retry_no_answer", None)

    result = dial(api, call.call_id)

    assert (result["action"], result["reason"]) == ("ended", "max_attempts_reached")
    final = calls_repo.get_call(call.call_id)
    assert final is not None and final.status == "canceled" and final.attempts == 2
    assert [a["result"] for a in final.attempt_history] == ["no_answer", "no_answer"]
    assert len(carrier.calls()) == 2 and slot_holders() == {}


# --- what users read ----------------------------------------------------------------------------


def test_stats_count_outcomes_rates_durations_and_cost(api, carrier):
    for phone in NEW_YORK:
        add_contact(api, phone)
    campaign = add_campaign(api)
    trigger(api, campaign["campaign_id"])
    CLOCK.freeze(datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
    calls = campaign_calls(campaign["campaign_id"])
    for call in calls:
        CLOCK.advance(timedelta(seconds=1))
        assert dial(api, call.call_id)["action"] == "dialed"
    human, machine, silent = (calls_repo.get_call(c.call_id) for c in calls)
    calls_repo.save_fields(human, {"outcome": "renewed"})  # type: ignore[arg-type]  # the brain's
    status_callback(api, human, "completed", CallDuration="95", AnsweredBy="human")  # type: ignore[arg-type]
    status_callback(api, machine, "completed", CallDuration="20", AnsweredBy="machine_end_beep")  # type: ignore[arg-type]
    status_callback(api, silent, "no-answer")  # type: ignore[arg-type]

    status, stats = api.api("GET", f"/campaigns/{campaign['campaign_id']}/stats")

    assert status == 200
    assert stats["counts"]["by_status"] == {"completed": 2, "no_answer": 1}
    # a machine answered and no AMD callback came: voicemail (retried), not "no conversation"
    assert stats["counts"]["by_outcome"] == {"renewed": 1, "voicemail": 1, "no_answer": 1}
    assert (stats["dialed"], stats["answered"], stats["positive_outcomes"]) == (3, 1, 1)
    assert stats["answer_rate"] == 0.3333 and stats["conversion_rate"] == 1.0
    assert stats["average_duration_seconds"] == 57.5
    cost = stats["cost_estimate_usd"]
    # 2 + 1 started minutes of voice, 7 units of 15 s of speech on the answered call, AMD on the
    # 2 attempts it classified (the one nobody answered has no verdict): the report's rule
    assert cost["voice"] == 0.042 and cost["speech_recognition"] == 0.14
    assert cost["answering_machine_detection"] == 0.015 and cost["total"] == 0.197
    assert cost["prices"]["as_of"] == "2026-11"


def test_every_dial_of_a_fanned_out_campaign_is_inside_the_window(api):
    """Calls that a stale schedule fires outside the callee's window are moved, never dialed."""
    add_contact(api, LOS_ANGELES)
    campaign = add_campaign(api, calling_window={"start": "09:00", "end": "20:00", "exclude_weekends": True})
    trigger(api, campaign["campaign_id"])
    [call] = campaign_calls(campaign["campaign_id"])
    CLOCK.freeze(datetime(2026, 11, 28, 18, 0, tzinfo=UTC))  # Saturday 10:00 in Los Angeles

    result = dial(api, call.call_id)

    assert (result["action"], result["reason"]) == ("rescheduled", "outside_calling_window")
    assert result["at"] == "2026-11-30T17:00:00Z"  # Monday 09:00
    window = CallingWindow.from_config(campaign["calling_window"])
    assert is_open(datetime.fromisoformat(result["at"]), "America/Los_Angeles", window, "US")
    schedule = schedule_of(call)  # the new arming's own schedule, at Monday 09:00
    assert schedule is not None and schedule["ScheduleExpression"] == "at(2026-11-30T17:00:00)"
