"""The post-call domain without AWS: analysis, contact type, the note, action selection, timing."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from autocall.clock import CLOCK
from autocall.domain.calendar.phrasing import spoken_label, spoken_time
from autocall.domain.calendar.timing import (
    business_days_later,
    callback_time,
    next_attempt_at,
    reminder_times,
    retry_delay,
)
from autocall.domain.calendar.windows import CallingWindow
from autocall.domain.post_call import messages
from autocall.domain.post_call.actions import plan_actions
from autocall.domain.post_call.analysis import budget_bounds, offline_analysis
from autocall.domain.post_call.context import PostCall, Slot, resolve_outcome
from autocall.domain.post_call.crm import note_content, note_title, upgraded_contact_type
from autocall.domain.post_call.outcome import _readable_cause, build_result, money
from autocall.models.enums import ContactType, Outcome
from autocall.models.records import Call, Contact
from icalendar import Calendar

pytestmark = pytest.mark.usefixtures("deployed_identity")  # BUSINESS_NAME, AGENT_NAME, TWILIO_CALLER_ID

LA = "America/Los_Angeles"
WINDOW = CallingWindow(time(9), time(20))
NOW = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # Tuesday 09:00 in Los Angeles
SLOT = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)  # next Tuesday 14:00 PST


def turn(
    n: int, utterance: str, intents: Sequence[str] = (), keywords: Sequence[str] = (), score: float = 0.0
) -> dict:
    return {
        "turn": n,
        "utterance": utterance,
        "reply": "…",
        "intents": list(intents),
        "keywords": list(keywords),
        "sentiment_score": score,
    }


DEMO_TURNS = [
    {"turn": 0, "utterance": None, "reply": "Hi, this is Alex, an automated AI assistant."},
    turn(1, "Yes, this is John.", ["greeting_confirm"]),
    turn(2, "We are upgrading our infrastructure.", ["interest"], ["upgrading", "infrastructure"], 0.2),
    turn(3, "Our costs are too high and we need better scalability. I'm the CTO.", ["interest", "pain_point"],
         ["cost", "scalability"], 0.3),
    turn(4, "Yes, Tuesday at 2 works.", ["agree"], [], 0.8),
]  # fmt: skip


def make_ctx(
    outcome: Outcome = Outcome.DEMO_SCHEDULED,
    purpose: str = "sales_outreach",
    turns: list[dict[str, Any]] | None = None,
    agent_actions: list[dict[str, Any]] | None = None,
    context: dict[str, Any] | None = None,
    attempts: int = 1,
    contact_type: str = "lead",
) -> PostCall:
    call = Call(
        call_id="c-1",
        contact_id="k-1",
        purpose=purpose,
        context=context
        if context is not None
        else {"budget_range": "$10k-50k", "product_interest": "Cloud Solutions"},
        status="completed",
        turns=DEMO_TURNS if turns is None else turns,
        memory={"agent_actions": agent_actions or []},
        attempts=attempts,
        max_attempts=3,
        duration_s=255,
        outcome=outcome.value,
    )
    contact = Contact(
        contact_id="k-1", name="John Smith", phone="+14155550123", company="TechCorp", time_zone=LA,
        contact_type=contact_type, email="john@techcorp.example",
    )  # fmt: skip
    return PostCall(call, contact, attempts, outcome, WINDOW)


def slot_action(start: datetime = SLOT) -> dict[str, Any]:
    return {"kind": "confirm_slot", "params": {"start": start.isoformat(), "duration_minutes": 30}, "turn": 4}


# --- analysis -----------------------------------------------------------------------------------


def test_offline_analysis_of_the_seed_demo_call() -> None:
    analysis = offline_analysis(make_ctx())
    assert analysis.interest_level == "high"
    assert analysis.pain_points == ["cost", "scalability"]
    assert analysis.decision_maker is True
    assert analysis.budget == "$10k-50k"
    assert analysis.sentiment_trend == "improving"
    assert analysis.next_action == "technical_demo"
    assert (analysis.probability, analysis.estimated_value) == (85, 35000.0)
    assert analysis.summary.startswith("Sales outreach call with John Smith (TechCorp): demo scheduled.")


def test_hesitant_caller_without_authority_scores_lower() -> None:
    turns = [
        turn(1, "Maybe, sounds interesting.", ["interest"], [], 0.3),
        turn(
            2,
            "It's too expensive though, I'd have to check with my boss.",
            ["price_objection"],
            ["cost"],
            -0.5,
        ),
    ]
    analysis = offline_analysis(make_ctx(Outcome.INTERESTED, turns=turns, context={}))
    assert analysis.decision_maker is False and analysis.budget is None
    assert analysis.sentiment_trend == "declining" and analysis.objections == ["price"]
    assert (analysis.interest_level, analysis.probability, analysis.estimated_value) == ("medium", 30, 0.0)


def test_budget_said_on_the_call_is_picked_up() -> None:
    turns = [turn(1, "We have about $20k set aside for this.", ["interest"], ["cost"], 0.2)]
    analysis = offline_analysis(make_ctx(Outcome.INTERESTED, turns=turns, context={}))
    assert analysis.budget == "$20k" and analysis.estimated_value == 20000.0


@pytest.mark.parametrize(
    ("budget", "bounds"),
    [
        ("$10k-50k", (10_000, 50_000)),
        ("$10,000 - $50,000", (10_000, 50_000)),
        ("$25k", (25_000, 25_000)),
        ("5 to 8k", (5_000, 8_000)),
        ("$1.5M", (1_500_000, 1_500_000)),
        ("not discussed", None),
        (None, None),
    ],
)
def test_budget_bounds(budget: str | None, bounds: tuple[int, int] | None) -> None:
    assert budget_bounds(budget) == bounds


def test_unanswered_attempt_analysis_points_at_the_retry() -> None:
    ctx = make_ctx(Outcome.NO_ANSWER, turns=[], context={})
    analysis = offline_analysis(ctx)
    assert analysis.next_action == "retry_call" and analysis.probability == 0
    assert analysis.summary.endswith("no answer. Attempt 1 of 3.")
    assert offline_analysis(make_ctx(Outcome.NO_ANSWER, turns=[], attempts=3)).next_action == "none"


def test_outcome_comes_from_opt_out_then_brain_then_line() -> None:
    call = Call(call_id="c", status="busy", outcome=None, memory={})
    assert resolve_outcome(call) is Outcome.BUSY
    call = Call(call_id="c", status="completed", answered_by="machine_end_beep", outcome=None, memory={})
    assert resolve_outcome(call) is Outcome.VOICEMAIL
    call = Call(call_id="c", status="completed", outcome="interested",
                memory={"agent_actions": [{"kind": "opt_out", "params": {}}]})  # fmt: skip
    assert resolve_outcome(call) is Outcome.OPTED_OUT


# --- CRM ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "outcome", "new"),
    [
        ("lead", Outcome.DEMO_SCHEDULED, ContactType.QUALIFIED_LEAD),
        ("lead", Outcome.INTERESTED, ContactType.QUALIFIED_LEAD),
        ("qualified_lead", Outcome.PROPOSAL_REQUESTED, ContactType.OPPORTUNITY),
        ("opportunity", Outcome.DEMO_SCHEDULED, None),
        ("customer", Outcome.INTERESTED, None),
        ("customer", Outcome.CHURN_RISK, ContactType.CHURN_RISK),
        ("churn_risk", Outcome.RENEWED, ContactType.CUSTOMER),
        ("customer", Outcome.RENEWED, None),
        ("lead", Outcome.NOT_INTERESTED, None),
        ("customer", Outcome.OPTED_OUT, ContactType.DO_NOT_CALL),
        ("do_not_call", Outcome.INTERESTED, None),
        (None, Outcome.APPOINTMENT_CONFIRMED, ContactType.QUALIFIED_LEAD),
    ],
)
def test_contact_type_only_moves_up_except_for_facts(current: str | None, outcome: Outcome, new: Any) -> None:
    assert upgraded_contact_type(current, outcome) == new


def test_call_note_reads_like_the_seed() -> None:
    ctx = make_ctx(agent_actions=[slot_action()])
    analysis = offline_analysis(ctx).model_dump()
    assert note_title(ctx) == "Autonomous Sales Call - Demo Scheduled"
    assert note_content(ctx, analysis) == (
        "AI Agent Call Summary:\n"
        f"{analysis['summary']}\n"
        "- Contact showed high interest in Cloud Solutions\n"
        "- Current pain points: cost, scalability\n"
        "- Decision maker confirmed\n"
        "- Demo scheduled for Tuesday, December 1 at 2 PM PST\n"
        "- Budget range: $10k-50k discussed\n"
        "- Sentiment: improving; probability 85%"
    )


def test_note_after_the_last_unanswered_attempt() -> None:
    ctx = make_ctx(Outcome.NO_ANSWER, turns=[], attempts=3)
    assert note_title(ctx) == "Autonomous Sales Call - No Answer After 3 Attempts"
    assert "- Last result: no answer" in note_content(ctx, offline_analysis(ctx).model_dump())


def test_result_has_the_seed_shape() -> None:
    ctx = make_ctx(agent_actions=[slot_action()])
    result = build_result(ctx, offline_analysis(ctx).model_dump())
    assert {
        k: result[k] for k in ("duration", "outcome", "next_action", "probability", "estimated_value")
    } == {
        "duration": "4m 15s",
        "outcome": "demo_scheduled",
        "next_action": "technical_demo",
        "probability": "85%",
        "estimated_value": "$35000",
    }
    assert (money(12.5), money(0)) == ("$12.50", "$0")


# --- action selection ---------------------------------------------------------------------------

BOOKING = ["book_appointment", "send_calendar_invite", "schedule_reminders"]
ESCALATE = {"kind": "escalate", "params": {"reason": "asked for a manager"}, "turn": 2}


@pytest.mark.parametrize(
    ("purpose", "outcome", "agent_actions", "turns", "plan"),
    [
        ("sales_outreach", Outcome.DEMO_SCHEDULED, [slot_action()], None,
         [*BOOKING, "send_preparation_materials", "schedule_meeting_call", "create_opportunity",
          "notify_sales_team"]),
        ("sales_outreach", Outcome.DEMO_SCHEDULED, [], None, ["create_opportunity", "notify_sales_team"]),
        ("sales_outreach", Outcome.INTERESTED, [], None, ["create_opportunity", "notify_sales_team"]),
        ("sales_outreach", Outcome.CALLBACK_REQUESTED, [], None, ["schedule_callback"]),
        ("sales_outreach", Outcome.NOT_INTERESTED, [], None, []),
        ("sales_outreach", Outcome.WRONG_PERSON, [], None, []),
        ("follow_up", Outcome.PROPOSAL_REQUESTED, [], None, ["create_opportunity", "notify_sales_team"]),
        ("follow_up", Outcome.OBJECTION_NOTED, [ESCALATE], None, ["escalate_to_team"]),
        ("appointment_booking", Outcome.APPOINTMENT_CONFIRMED, [slot_action()], None, BOOKING),
        ("appointment_booking", Outcome.DECLINED, [], None, []),
        ("customer_support", Outcome.TICKET_OPENED, [], None, ["open_ticket"]),
        ("customer_support", Outcome.TICKET_OPENED, [], [turn(1, "Ridiculous!", ["frustration"], [], -0.7)],
         ["open_ticket", "escalate_to_team"]),
        ("customer_support", Outcome.ESCALATED, [ESCALATE], None, ["open_ticket", "escalate_to_team"]),
        ("customer_support", Outcome.RESOLVED, [], None, ["open_ticket", "send_satisfaction_survey"]),
        ("renewal_reminder", Outcome.NEGOTIATION, [], None,
         ["prepare_contract", "schedule_negotiation_call"]),
        ("renewal_reminder", Outcome.RENEWED, [], None, ["prepare_contract"]),
        ("renewal_reminder", Outcome.CHURN_RISK, [], None, ["flag_churn_risk"]),
        ("sales_outreach", Outcome.OPTED_OUT, [slot_action()], None, ["confirm_do_not_call"]),
        ("sales_outreach", Outcome.NO_ANSWER, [], [], ["retry_call"]),
        ("renewal_reminder", Outcome.VOICEMAIL, [], [], ["retry_call"]),
        ("sales_outreach", Outcome.CANCELED, [], [], []),
    ],
)  # fmt: skip
def test_actions_follow_outcome_and_purpose(
    purpose: str, outcome: Outcome, agent_actions: list[Any], turns: list[Any] | None, plan: list[str]
) -> None:
    ctx = make_ctx(outcome, purpose, turns=turns, agent_actions=agent_actions)
    assert plan_actions(ctx, offline_analysis(ctx).model_dump()) == plan


# --- timing -------------------------------------------------------------------------------------


def test_retry_backoff_grows_then_stays() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 9)] == [
        timedelta(hours=2),
        timedelta(days=1),
        timedelta(days=2),
        timedelta(days=2),
    ]


def test_retry_that_lands_after_hours_moves_to_the_next_morning() -> None:
    evening = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # Tuesday 19:00 in Los Angeles; +2 h = 21:00
    assert next_attempt_at(evening, 1, LA, WINDOW) == datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    assert next_attempt_at(NOW, 1, LA, WINDOW) == NOW + timedelta(hours=2)


def test_reminders_only_ahead_of_now() -> None:
    assert reminder_times(SLOT, NOW) == [
        ("24h", SLOT - timedelta(hours=24)),
        ("1h", SLOT - timedelta(hours=1)),
    ]
    assert reminder_times(SLOT, SLOT - timedelta(hours=5)) == [("1h", SLOT - timedelta(hours=1))]
    assert reminder_times(SLOT, SLOT - timedelta(minutes=30)) == []


def test_callback_is_never_in_the_past_nor_outside_the_window() -> None:
    assert callback_time(NOW - timedelta(hours=1), NOW, LA, WINDOW) == NOW + timedelta(minutes=2)
    six_am = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    assert callback_time(six_am, NOW, LA, WINDOW) == datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    weekdays = CallingWindow(time(9), time(20), exclude_weekends=True)
    saturday = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
    assert callback_time(saturday, NOW, LA, weekdays) == datetime(2026, 11, 30, 17, 0, tzinfo=UTC)


def test_business_days_skip_the_weekend() -> None:
    friday = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
    assert business_days_later(friday, 2, time(10), LA, WINDOW) == datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


def test_labels_and_spoken_times_use_the_callee_clock() -> None:
    assert spoken_label("demo_scheduled", SLOT, LA) == "demo_scheduled_tuesday_2pm"
    assert (
        spoken_label("callback", SLOT + timedelta(minutes=30), "America/New_York")
        == "callback_tuesday_5_30pm"
    )
    assert spoken_label("x", datetime(2026, 12, 1, 8, 0, tzinfo=UTC), LA) == "x_tuesday_12am"
    assert spoken_time(SLOT, LA, with_zone=True) == "Tuesday, December 1 at 2 PM PST"


# --- messages and failures ----------------------------------------------------------------------


def test_calendar_invite_is_an_itip_request_for_the_slot() -> None:
    CLOCK.freeze(NOW)
    ctx = make_ctx(agent_actions=[slot_action()])
    ics = messages.calendar_invite(ctx, Slot(SLOT, 30), ["john@techcorp.example", "team@example.com"], NOW)
    calendar = Calendar.from_ical(ics)
    assert calendar["method"] == "REQUEST"
    [event] = calendar.walk("VEVENT")
    assert event["uid"] == "c-1@autocall"
    assert event.decoded("dtstart") == SLOT and event.decoded("dtend") == SLOT + timedelta(minutes=30)
    assert [str(a) for a in event["attendee"]] == ["mailto:john@techcorp.example", "mailto:team@example.com"]
    assert str(event["summary"]) == "TechSolutions demo: Cloud Solutions"
    CLOCK.reset()


def test_failure_cause_keeps_the_lambda_message_without_personal_data() -> None:
    cause = '{"errorMessage": "SMS to +14155550123 failed", "errorType": "TelephonyError", "stackTrace": []}'
    assert _readable_cause(cause) == "SMS to +1******0123 failed"
    assert _readable_cause("States.Timeout") == "States.Timeout"
    assert len(_readable_cause("x" * 5000)) == 1000


# --- the state machine --------------------------------------------------------------------------


def _states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        yield name, state
        for branch in state.get("Branches", []) + (
            [state["ItemProcessor"]] if "ItemProcessor" in state else []
        ):
            yield from _states(branch["States"])


def test_every_task_retries_with_backoff_then_records_its_failure_and_goes_on() -> None:
    from local.resources import state_machine_definition
    from local.template import LocalTemplate

    definition = json.loads(state_machine_definition(LocalTemplate(), "PostCallStateMachine"))
    every = dict(_states(definition["States"]))
    tasks = {name: state for name, state in every.items() if state["Type"] == "Task"}
    assert len(tasks) == 16  # 8 steps, each with its failure recorder
    assert not any(state["Type"] == "Fail" for state in every.values())
    for name, task in tasks.items():
        backoff = task["Retry"][-1]
        assert backoff["ErrorEquals"] == ["States.ALL"] and backoff["IntervalSeconds"] >= 1, name
        assert backoff["BackoffRate"] >= 1 and backoff["MaxAttempts"] == 3, name
        [catch] = task["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"], name
        handler = every[catch["Next"]]
        if name.startswith("Record"):  # a failing recorder still lets the chain go on
            assert catch["Next"] == task.get("Next") or handler["Type"] == "Pass", name
        else:
            assert handler["Parameters"]["Payload"]["step"] == "record_failure", name
            skips_to = "EmitEvent" if name == "PlanActions" else task.get("Next", "End")  # no plan, no acts
            assert handler.get("Next", "End") == skips_to, name
