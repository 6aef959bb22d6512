"""Pause, resume and cancel of a campaign larger than one page, through the API: the request answers
202 with the new status at once, and the calls follow page by page in invocations of the campaign
worker function that hand the rest on to the next (as on AWS, where one sweep of thousands of calls would
outlast API Gateway's 29 s)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from autocall.domain import campaigns
from autocall.domain.campaigns import steering

from local.lambdas import FakeLambdaContext
from tests.support import campaigns as builders
from tests.support.campaigns import (
    add_campaign,
    add_contact,
    campaign_calls,
    reasons,
    schedule_of,
    trigger,
    wait_view,
)

api = builders.api  # the fixture: moto in-process, the clock at 01:00 in New York (windows shut)

CALLS = 10
PAGE = 4  # 10 calls: pages of 4, 4 and 2


@pytest.fixture
def sweeps(api: Any, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Small pages, one page per invocation (each has 1 s left), and the sweeps' invocations counted."""
    monkeypatch.setattr(steering, "STEERING_PAGE_SIZE", PAGE)
    monkeypatch.setattr(FakeLambdaContext, "get_remaining_time_in_millis", lambda self: 1000)
    invoked: Counter[str] = Counter()
    invoke_async = api.registry.invoke_async

    def counting(function: str, event: Any) -> None:
        if isinstance(event, dict) and "sweep" in event:
            assert function.endswith(":function:autocall-campaign-worker")  # the worker, by its fixed name
            invoked[event["sweep"]["action"]] += 1
        invoke_async(function, event)

    monkeypatch.setattr(api.registry, "invoke_async", counting)
    return invoked


def campaign_of(api: Any) -> str:
    for n in range(CALLS):
        add_contact(api, f"+1212555{200 + n:04d}")
    campaign = add_campaign(api, stagger_minutes=5)
    assert trigger(api, campaign["campaign_id"])[0] == 202
    assert len(campaign_calls(campaign["campaign_id"])) == CALLS
    return str(campaign["campaign_id"])


def test_pause_resume_and_cancel_of_a_campaign_larger_than_a_page_sweep_every_call(api, sweeps):
    campaign_id = campaign_of(api)
    armed = {c.call_id: c.scheduled_time for c in campaign_calls(campaign_id)}

    status, paused = api.api("POST", f"/campaigns/{campaign_id}/pause")

    assert status == 202 and paused["status"] == "paused" and paused["sweep"]["state"] == "started"
    wait_view(api, campaign_id, lambda v: v["counts"]["held"] == CALLS)
    assert sweeps["pause"] == 3  # one invocation per page, each handing the rest to the next
    calls = campaign_calls(campaign_id)
    assert [schedule_of(c) for c in calls] == [None] * CALLS
    assert all(reasons(c) == ["campaign_paused"] for c in calls)

    status, again = api.api("POST", f"/campaigns/{campaign_id}/pause")  # repeated: changes nothing

    assert status == 202 and again["status"] == "paused"
    wait_view(api, campaign_id, lambda v: v["counts"]["held"] == CALLS)
    assert all(reasons(c) == ["campaign_paused"] for c in campaign_calls(campaign_id))

    status, resumed = api.api("POST", f"/campaigns/{campaign_id}/resume")

    assert status == 202 and resumed["status"] == "running"
    wait_view(api, campaign_id, lambda v: v["counts"]["held"] == 0)
    calls = campaign_calls(campaign_id)
    assert {c.call_id: c.scheduled_time for c in calls} == armed  # due times still ahead are kept
    assert all(schedule_of(c) is not None for c in calls)
    assert all(reasons(c) == ["campaign_paused", "campaign_resumed"] for c in calls)

    status, canceled = api.api("POST", f"/campaigns/{campaign_id}/cancel")

    assert status == 202 and canceled["status"] == "canceled"
    wait_view(api, campaign_id, lambda v: v["counts"]["by_status"] == {"canceled": CALLS})
    assert all(schedule_of(c) is None for c in campaign_calls(campaign_id))
    assert sweeps["resume"] >= 3 and sweeps["cancel"] >= 3
    assert api.registry.async_errors == []


def test_a_pause_overtaken_by_a_resume_stops_and_leaves_every_call_armed(api, sweeps, monkeypatch):
    campaign_id = campaign_of(api)
    invoke_async = api.registry.invoke_async
    # the pause's sweep is slow to start: the resume lands before its first page
    monkeypatch.setattr(api.registry, "invoke_async", lambda function, event: None)
    assert api.api("POST", f"/campaigns/{campaign_id}/pause")[1]["status"] == "paused"
    monkeypatch.setattr(api.registry, "invoke_async", invoke_async)
    status, resumed = api.api("POST", f"/campaigns/{campaign_id}/resume")
    assert status == 202 and resumed["status"] == "running"
    wait_view(api, campaign_id, lambda v: v["counts"]["held"] == 0)

    late = campaigns.continue_sweep(
        {"campaign_id": campaign_id, "action": "pause", "started_at": "2026-11-25T06:00:00+00:00"},
        lambda: 60.0,
    )

    assert late == {
        "more": False,
        "sweep": {"action": "pause", "state": "overtaken", "changed": 0, "pages": 0},
    }
    assert wait_view(api, campaign_id, lambda v: True)["counts"]["held"] == 0
    assert all(schedule_of(c) is not None for c in campaign_calls(campaign_id))
