"""A campaign on the whole local stack, over HTTP, with the clock skipping idle time: callees in
three time zones, a pause and a resume, the concurrency limit binding, retries by the post-call
chain, a weekend in between. What the carrier saw is checked against what the app recorded."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from autocall.clock import CLOCK
from autocall.domain.calendar.windows import CallingWindow, is_open
from autocall.domain.pacing import slot_holders
from autocall.stores.calls import calls_for_contact

from tests.support.stack import rest_clock

FRIDAY_MORNING = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)  # 08:00 New York, 05:00 LA, 22:00 Tokyo
ZONES = {"+1212": "America/New_York", "+1415": "America/Los_Angeles", "+8133": "Asia/Tokyo"}
PERSONAS = ["interested_buyer", "not_interested", "busy", "voicemail", "no_answer", "gatekeeper"]
TERMINAL = {"completed", "busy", "no_answer", "failed", "canceled"}
LIMIT = 3
WINDOW = {"start": "09:00", "end": "20:00", "exclude_weekends": True, "exclude_holidays": True}


@pytest.fixture
def fast_stack(stack: Any) -> Iterator[Any]:
    previous = stack.set_env(
        {"MAX_CONCURRENT_CALLS": str(LIMIT), "CALLS_PER_SECOND": "1"}
    )  # a new Twilio account
    CLOCK.freeze(FRIDAY_MORNING)
    yield stack
    stack.pump.skip_idle = False
    stack.restore_env(previous)
    rest_clock()


class Peak:
    """The most calls alive at once, at the carrier and in the pacing counter."""

    def __init__(self, stack: Any) -> None:
        self.carrier = self.slots = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(stack,), daemon=True)
        self._thread.start()

    def _sample(self, stack: Any) -> None:
        while not self._stop.wait(0.01):
            self.carrier = max(self.carrier, stack.carrier._active)
            self.slots = max(self.slots, len(slot_holders() or {}))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def peak(fast_stack: Any) -> Iterator[Peak]:
    sampler = Peak(fast_stack)
    yield sampler
    sampler.stop()


def test_campaign_runs_to_completion_lawfully_paced_paused_and_resumed(fast_stack, api, request):
    stack = fast_stack
    phones: dict[str, str] = {}
    for n in range(24):
        prefix = list(ZONES)[n % 3]
        phone = f"{prefix}{5559000 + n}"
        stack.carrier.register_callee(phone, PERSONAS[n % len(PERSONAS)])
        contact = api.contact(f"Callee {n}", phone, tags=["scale"], time_zone=ZONES[prefix])
        phones[contact["contact_id"]] = phone
    created = api.post(
        "/campaigns",
        json={
            "name": "Scale",
            "purpose": "sales_outreach",
            "tag": "scale",
            "max_attempts": 2,
            "calling_window": WINDOW,
        },
    )
    campaign_id = created.json()["campaign_id"]

    trigger = api.post("/calls/api/calls/trigger_campaign_calls/", json={"campaign_id": campaign_id})
    assert trigger.status_code == 202 and trigger.json()["fanout"]["created"] == 24
    paused = api.post(f"/campaigns/{campaign_id}/pause")
    assert paused.status_code == 202 and paused.json()["status"] == "paused"  # the calls follow

    def held() -> int | None:
        """Calls a pause holds (the sweep runs after the 202); None while the read fails."""
        view = api.get(f"/campaigns/{campaign_id}")
        return int(view.json()["counts"]["held"]) if view.status_code == 200 else None

    api.wait_for(lambda: held() == 24)
    CLOCK.advance(timedelta(hours=2))  # New York's window opens while paused: nothing is dialed
    time.sleep(0.5)
    assert [sim for sim in stack.carrier.calls() if sim.to in phones.values()] == []
    resumed = api.post(f"/campaigns/{campaign_id}/resume")
    assert resumed.status_code == 202 and resumed.json()["status"] == "running"
    api.wait_for(lambda: held() == 0)

    peak = request.getfixturevalue("peak")
    stack.pump.skip_idle = True

    def finished() -> dict[str, Any] | None:
        """Every campaign call has ended and nothing that could reopen one is running. (The
        post-call chain may have booked follow-up calls: those are not the campaign's.)"""
        stats = api.get(f"/campaigns/{campaign_id}/stats").json()
        if not set(stats["counts"]["by_status"]) <= TERMINAL or not stack.idle():
            return None
        stack.pump.skip_idle = False  # the clock is frozen: from here on nothing else falls due
        return stats

    stats = api.wait_for(finished, timeout=240, interval=0.2)
    api.wait_for(stack.idle, timeout=30)
    peak.stop()

    # the carrier is read before the calls: an attempt is recorded before its dial, never after
    dials = {sim.sid: sim for sim in stack.carrier.calls() if sim.to in phones.values()}
    every_call = {cid: calls_for_contact(cid, limit=100) for cid in phones}
    campaign = [c for calls in every_call.values() for c in calls if c.campaign_id == campaign_id]
    window = CallingWindow.from_config(WINDOW)
    campaign_dials = [
        dials[a["twilio_sid"]] for c in campaign for a in c.attempt_history if a.get("twilio_sid")
    ]
    assert stats["counts"]["total"] == len(campaign) == 24 and stats["dialed"] == 24
    assert all(1 <= c.attempts <= 2 for c in campaign)
    assert len(campaign_dials) == sum(c.attempts for c in campaign)
    assert all(
        is_open(sim.date_created, ZONES[sim.to[:5]], window, "JP" if sim.to.startswith("+81") else "US")
        for sim in campaign_dials
    ), "a campaign call was placed outside its callee's window"
    per_number = Counter(sim.to for sim in dials.values())
    attempts = {phones[cid]: sum(int(c.attempts) for c in calls) for cid, calls in every_call.items()}
    assert attempts == dict(per_number)  # nobody dialed more often than attempts were recorded
    assert peak.slots <= LIMIT and peak.carrier <= LIMIT
    assert any(r["reason"] == "pacing_limit" for c in campaign for r in c.reasons)  # the limit did bind
    tokyo = [sim.date_created for sim in campaign_dials if sim.to.startswith("+81")]
    assert min(tokyo) >= datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # Monday 09:00 in Tokyo, not Saturday
    assert stats["answer_rate"] is not None and stats["cost_estimate_usd"]["total"] > 0
