"""``make demo``'s path, headless and with the small book, on the session's local stack: every call
finishes with its persona's outcome, and the report's figures are the ones the API gives."""

from __future__ import annotations

import io
import os
import re
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from autocall.models.enums import POSITIVE_OUTCOMES
from rich.console import Console

from local.demo import DemoOptions, DemoResult, run_demo
from local.demo.book import DEMO_START, SMALL_BOOK, TRIGGERS
from local.personas import PERSONAS
from local.stack import LocalStack
from tests.support.stack import Client, rest_clock

# A week before the other e2e tests' moment: the retries and follow-ups they left behind stay in
# the future while the demo runs.
START = DEMO_START - timedelta(weeks=2)


@pytest.fixture(scope="module")
def demo(
    stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DemoResult, str, str]]:
    report = tmp_path_factory.mktemp("demo") / "demo-report.html"
    out = io.StringIO()
    try:
        result = run_demo(
            stack,
            DemoOptions(small=True, live=False, report=report, start=START),
            Console(file=out, width=200),
        )
    finally:
        rest_clock()
    yield result, Path(report).read_text(encoding="utf-8"), out.getvalue()
    forget_what_the_agent_planned(stack, result)


def forget_what_the_agent_planned(stack: LocalStack, result: DemoResult) -> None:
    """Cancel the retries, follow-ups and reminders the demo planned, so that they do not ring in a
    later test that runs its clock past them."""
    api = Client(stack)
    for entry in result.calls:
        status = api.get(f"/calls/api/calls/autonomous_call_status/?contact_id={entry.view['contact_id']}")
        for call in status.json()["recent_calls"]:
            if call["status"] == "scheduled":
                assert api.request("DELETE", f"/calls/{call['call_id']}").status_code == 200
    group = os.environ["SCHEDULE_GROUP"]
    scheduler = boto3.client("scheduler")
    ids = {entry.view["call_id"] for entry in result.calls}
    for schedule in scheduler.list_schedules(GroupName=group, NamePrefix="reminder-")["Schedules"]:
        if any(call_id in schedule["Name"] for call_id in ids):
            scheduler.delete_schedule(Name=schedule["Name"], GroupName=group)


def test_every_call_finishes_with_its_personas_outcome(demo: tuple[DemoResult, str, str]) -> None:
    result, _, printed = demo
    assert result.ok, result.problems
    assert len(result.calls) == len(SMALL_BOOK)
    assert {c.trigger for c in result.calls} == set(TRIGGERS)
    assert {c.name: c.view["outcome"] for c in result.calls} == {
        c.name: c.expected_outcome for c in SMALL_BOOK
    }
    assert "demo passed" in printed and "Transcript" in printed
    for contact in SMALL_BOOK:
        assert contact.name in printed


def test_report_funnel_and_statuses_are_the_apis(demo: tuple[DemoResult, str, str], api: Client) -> None:
    result, html, _ = demo
    views = [api.get(f"/calls/{c.view['call_id']}").json() for c in result.calls]
    humans = [
        v
        for v, c in zip(views, result.calls, strict=True)
        if v["status"] == "completed" and v["answered_by"] == "human"
    ]
    expected = {
        "dialed": sum(v["attempts"] >= 1 for v in views),
        "answered": len(humans),
        "conversation": sum(any(t["utterance"] for t in v["turns"]) for v in humans),
        "positive_outcome": sum(v["outcome"] in POSITIVE_OUTCOMES for v in humans),
    }
    shown = {m[1]: int(m[2]) for m in re.finditer(r'data-stage="(\w+)" data-count="(\d+)"', html)}
    assert shown == expected
    assert expected["answered"] == sum(PERSONAS[c.persona].answer == "human" for c in SMALL_BOOK)
    assert expected["dialed"] == len(SMALL_BOOK)

    rows = {
        m[1]: (m[2], m[3])
        for m in re.finditer(r'data-call-id="([^"]+)" data-status="(\w+)" data-outcome="(\w*)"', html)
    }
    assert rows == {v["call_id"]: (v["status"], v["outcome"]) for v in views}
    by_purpose = Counter((v["call_purpose"], v["outcome"]) for v in views)
    chips = {
        (m[1], m[2]): int(m[3])
        for m in re.finditer(r'data-purpose="(\w+)" data-outcome="(\w+)" data-count="(\d+)"', html)
    }
    assert chips == dict(by_purpose)


def test_campaign_figures_come_from_the_stats_route(demo: tuple[DemoResult, str, str], api: Client) -> None:
    result, html, _ = demo
    stats = api.get(f"/campaigns/{result.campaign_id}/stats").json()
    campaign_calls = [c for c in result.calls if c.trigger == "campaign"]
    assert stats["counts"]["total"] == len(campaign_calls)
    assert f'data-answered="{stats["answered"]}" data-dialed="{stats["dialed"]}"' in html


def test_follow_ups_and_retries_show_as_the_next_call(demo: tuple[DemoResult, str, str], api: Client) -> None:
    result, _, _ = demo
    by_name = {c.name: c for c in result.calls}
    assert by_name["Jake Moreno"].view["status"] == "scheduled"  # voicemail: the retry is planned
    assert by_name["Jake Moreno"].next_call and by_name["Jake Moreno"].next_call.startswith("retry")
    assert by_name["Priya Raman"].next_call and by_name["Priya Raman"].next_call.startswith("sales outreach")
    assert by_name["Laura Chen"].next_call is None  # opted out: nothing more
    status = api.get(
        f"/calls/api/calls/autonomous_call_status/?contact_id={by_name['Dana Whitfield'].view['contact_id']}"
    ).json()
    assert [c["call_purpose"] for c in status["recent_calls"] if c["status"] == "scheduled"] == ["follow_up"]


def test_report_is_one_offline_page_with_transcripts_and_notes(demo: tuple[DemoResult, str, str]) -> None:
    _, html, _ = demo
    assert "<script" not in html and not re.search(r'(src|href)="https?:', html)
    assert html.count("<details>") == len(SMALL_BOOK) and html.count('<svg class="spark"') >= 6
    assert "Yes, this is Dana. What&#x27;s this about?" in html  # escaped, as every text
    assert "AI Agent Call Summary" in html  # the CRM note
