"""The demo report's figures and its HTML: costs from Twilio's price units, the funnel, escaping."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from local.report import CallEntry, ReportMeta, call_cost, funnel, render_report, sparkline

LISTEN = [{"step": "listen", "prompt": {"step": "say", "text": "Hi.", "language": "en-US"}, "next_turn": 1}]
HANG_UP = [{"step": "hang_up"}]


def view(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "call_id": "c1",
        "contact_id": "p1",
        "call_purpose": "sales_outreach",
        "status": "completed",
        "outcome": "demo_scheduled",
        "attempts": 1,
        "max_attempts": 3,
        "answered_by": "human",
        "duration": "1m 1s",
        "duration_seconds": 61,
        "attempt_history": [{"attempt": 1, "twilio_sid": "CA1", "duration_s": 61, "result": "completed"}],
        "turns": [
            {"utterance": None, "reply": "Hi, this is Alex.", "prompt": LISTEN},
            {"utterance": "Yes.", "reply": "Great.", "sentiment_score": 0.4, "prompt": LISTEN},
            {"utterance": "Bye.", "reply": "Goodbye!", "sentiment_score": -0.2, "prompt": HANG_UP},
        ],
        "actions_taken": ["crm_updated"],
        "reasons": [],
        "failures": [],
        "result": {"probability": "65%", "estimated_value": "$35000", "summary": "Booked."},
    }
    return {**base, **fields}


def test_cost_counts_started_minutes_speech_units_amd_and_aws() -> None:
    cost = call_cost(view())
    assert cost.voice == pytest.approx(2 * 0.014)  # 61 s is two started minutes
    assert cost.speech == pytest.approx(5 * 0.02)  # 61 s is five 15-s units (more than the 2 gathers)
    assert (cost.amd, cost.aws) == (0.0075, 0.001)


def test_unanswered_attempt_costs_only_its_aws_share() -> None:
    busy = view(
        status="busy",
        outcome="busy",
        answered_by=None,
        duration_seconds=0,
        turns=[],
        attempt_history=[{"attempt": 1, "twilio_sid": "CA1", "duration_s": 0, "result": "busy"}],
    )
    assert (call_cost(busy).voice, call_cost(busy).speech, call_cost(busy).amd) == (0, 0, 0)
    assert call_cost(busy).total == pytest.approx(0.001)


def test_funnel_counts_dialed_answered_conversation_and_positive() -> None:
    views = [
        view(),
        view(call_id="c2", outcome="not_interested"),
        view(call_id="c3", answered_by="machine_end_beep", outcome="voicemail", status="scheduled"),
        view(call_id="c4", status="scheduled", attempts=0, turns=[], answered_by=None, outcome=None),
    ]
    assert funnel(views) == {"dialed": 3, "answered": 2, "conversation": 2, "positive_outcome": 1}


def test_sparkline_has_a_point_per_thing_the_callee_said() -> None:
    svg = sparkline(view()["turns"])
    assert svg.count("<circle") == 2 and 'class="pos"' in svg and 'class="neg"' in svg
    assert "no speech" in sparkline([{"utterance": None, "sentiment_score": 0.0}])


def test_every_text_is_escaped_and_the_page_needs_nothing_from_outside() -> None:
    hostile = view(
        turns=[{"utterance": "<script>alert(1)</script>", "reply": "I'm <b>sorry</b>", "sentiment_score": 0}],
        actions_taken=['note"><img src=x>'],
    )
    entry = CallEntry(
        hostile, "Eve <i>", "Acme & Co", "America/New_York", "form", "manipulator", "demo_scheduled"
    )
    moment = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)
    page = render_report([entry], ReportMeta("demo", moment, moment, moment, "playbook"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script" not in page
    assert "Eve &lt;i&gt;" in page and "Acme &amp; Co" in page and "<img" not in page
    assert not re.search(r'(src|href)="', page)
