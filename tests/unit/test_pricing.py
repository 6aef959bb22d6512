"""One cost rule for a call: the campaign stats and the demo report price the same call the same."""

from __future__ import annotations

from typing import Any

import pytest
from autocall.models.prompts import Listen, Say, to_data
from autocall.pricing import TWILIO_PRICES, CallUsage, call_usage, speech_units, twilio_cost

# a turn that listened for the callee, as a turn stores its prompt (one speech recognition)
GATHER = to_data([Listen(Say("Hi."), next_turn=2)])


def test_speech_is_billed_at_least_one_unit_per_gather() -> None:
    assert speech_units(60, 8) == 8  # eight short turns in a minute: eight units, not four
    assert speech_units(95, 2) == 7  # a long answer: the talk time in 15-s units
    assert speech_units(0, 0) == 0


def test_amd_is_charged_for_every_attempt_it_classified_and_only_those() -> None:
    history = [
        {"attempt": 1, "twilio_sid": "CA1", "duration_s": 0, "result": "no_answer"},
        {"attempt": 2, "twilio_sid": "CA2", "duration_s": 20, "answered_by": "machine_end_beep"},
        {"attempt": 3, "result": "dial_not_placed"},  # never placed: no SID, no charge
        {"attempt": 3, "twilio_sid": "CA3", "duration_s": 95},
    ]
    usage = call_usage(history, answered=True, answered_by="human", duration_s=95, turns=[{"prompt": GATHER}])
    assert usage == CallUsage((0, 20, 95), amd_runs=2, answered=True, talk_seconds=95, gathers=1)
    cost = twilio_cost(usage)
    assert cost.voice == pytest.approx((0 + 1 + 2) * 0.014)
    assert cost.speech == pytest.approx(7 * 0.02) and cost.amd == pytest.approx(2 * 0.0075)


def test_nobody_answering_costs_nothing() -> None:
    history = [{"attempt": 1, "twilio_sid": "CA1", "duration_s": 0, "result": "no_answer"}]
    usage = call_usage(history, answered=False, answered_by=None, duration_s=None, turns=[])
    assert twilio_cost(usage).total == 0


def test_campaign_stats_and_the_report_price_one_call_alike() -> None:
    """The stats read the stored call, the report the API's view of it: the same figure."""
    from autocall.domain.calls import call_view
    from autocall.domain.campaigns.stats import _answered, _cost
    from autocall.models.records import Call

    from local.report import AWS_PER_ATTEMPT, call_cost

    turns: list[dict[str, Any]] = [{"utterance": "Yes.", "reply": "Great.", "prompt": GATHER}] * 8
    row = Call(
        call_id="c1",
        contact_id="p1",
        purpose="sales_outreach",
        status="completed",
        outcome="demo_scheduled",
        scheduled_time="2026-11-25T15:00:00Z",
        attempts=1,
        max_attempts=3,
        answered_by="human",
        duration_s=61,
        twilio_sid="CA1",
        attempt_history=[{"attempt": 1, "twilio_sid": "CA1", "duration_s": 61, "result": "completed"}],
        turns=turns,
        reasons=[],
        actions_taken=[],
        failures=[],
        memory={},
    )
    voice, speech, amd = _cost(row, _answered(row), TWILIO_PRICES)
    report = call_cost(call_view(row))
    assert (report.voice, report.speech, report.amd) == (voice, speech, amd)
    assert speech == pytest.approx(8 * 0.02)  # eight Gathers in 61 s: eight units (five by talk time)
    assert report.total == pytest.approx(voice + speech + amd + AWS_PER_ATTEMPT)


def test_a_realtime_call_pays_conversation_relay_per_minute_not_gather_units() -> None:
    """ConversationRelay does the recognition and the speech itself: per started minute of the
    conversation, in place of <Gather>'s 15-s units; the stats and the report agree on it."""
    from autocall.domain.calls import call_view
    from autocall.domain.campaigns.stats import _answered, _cost
    from autocall.models.records import Call

    from local.report import call_cost

    history = [{"attempt": 1, "twilio_sid": "CA1", "duration_s": 95, "result": "completed"}]
    turns: list[dict[str, Any]] = [{"utterance": "Yes.", "reply": "Great.", "prompt": []}] * 6
    usage = call_usage(history, answered=True, answered_by="human", duration_s=95, turns=turns,
                       voice_mode="realtime")  # fmt: skip
    assert usage.voice_mode == "realtime"
    cost = twilio_cost(usage)
    assert cost.speech == pytest.approx(2 * 0.07)  # 95 s: two started minutes of ConversationRelay
    assert cost.voice == pytest.approx(2 * 0.014)
    gather = twilio_cost(call_usage(history, answered=True, answered_by="human", duration_s=95, turns=turns))
    assert gather.speech == pytest.approx(7 * 0.02)  # the same call in Gather mode: 7 units

    row = Call(call_id="c2", contact_id="p1", purpose="sales_outreach", status="completed",
               outcome="demo_scheduled", scheduled_time="2026-11-25T15:00:00Z", attempts=1, max_attempts=3,
               answered_by="human", duration_s=95, twilio_sid="CA1", attempt_history=history, turns=turns,
               reasons=[], actions_taken=[], failures=[], memory={}, voice_mode="realtime")  # fmt: skip
    voice, speech, amd = _cost(row, _answered(row), TWILIO_PRICES)
    report = call_cost(call_view(row))
    assert (
        (report.voice, report.speech, report.amd)
        == (voice, speech, amd)
        == (cost.voice, cost.speech, cost.amd)
    )
