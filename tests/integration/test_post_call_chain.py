"""The post-call chain end to end: a finished call goes through start_post_call, moto's Step
Functions runs statemachines/post_call.asl.json, its tasks run the real post_call handler, and we
look at what users see: the contact, the CRM records, the e-mails, notifications, schedules, the
CallCompleted event and the call's result and actions_taken."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from autocall.clock import CLOCK
from autocall.config import reset_settings
from autocall.domain.contacts import create_contact
from autocall.domain.post_call import actions
from autocall.integrations.workflows import start_post_call
from autocall.models.api import ContactCreateRequest
from autocall.secrets import reset_secrets
from autocall.stores import crm
from autocall.stores.contacts import get_contact, save_contact
from autocall.stores.suppression import is_suppressed
from icalendar import Calendar

from local.carrier import CarrierSimulator
from local.openai_fake import FakeOpenAI
from tests.support import post_call
from tests.support.helpers import as_function
from tests.support.post_call import (
    DEMO_TURNS,
    GREETING,
    NOW,
    SLOT,
    call,
    finished_call,
    notifications,
    records,
    run_chain,
    schedules,
    sent_emails,
    slot_action,
    turn,
)

# the fixtures: a moto stack at NOW, a contact, the carrier simulator for SMS, CallCompleted events
chain, contact, carrier, events = post_call.chain, post_call.contact, post_call.carrier, post_call.events


# --- sales -------------------------------------------------------------------------------------


def test_demo_scheduled_books_invites_reminds_and_tells_sales(chain: Any, contact: Any, events: Any) -> None:
    call_id = finished_call(
        contact,
        "sales_outreach",
        "demo_scheduled",
        DEMO_TURNS,
        [slot_action()],
        {"product_interest": "Cloud Solutions", "budget_range": "$10k-50k", "demo_type": "technical"},
    )
    run_chain(call_id)

    updated = get_contact(contact.contact_id)
    assert updated.contact_type == "qualified_lead"
    assert updated.last_contacted == NOW
    [entry] = updated.ai_interaction_history
    assert entry["call_id"] == call_id and entry["outcome"] == "demo_scheduled"
    assert entry["interest_level"] == "high" and entry["pain_points"] == ["cost", "scalability"]

    [note] = records(contact, "note")
    assert note.title == "Autonomous Sales Call - Demo Scheduled"
    for line in (
        "- Contact showed high interest in Cloud Solutions",
        "- Current pain points: cost, scalability",
        "- Decision maker confirmed",
        "- Demo scheduled for Tuesday, December 1 at 2 PM PST",
        "- Budget range: $10k-50k discussed",
    ):
        assert line in note.content

    [appointment] = records(contact, "appointment")
    assert appointment.fields["start"] == "2026-12-01T22:00:00Z" and appointment.fields["kind"] == "demo"
    [opportunity] = records(contact, "opportunity")
    assert opportunity.fields["stage"] == "demo_scheduled"
    assert opportunity.fields["probability"] == 85 and opportunity.fields["estimated_value"] == 35000

    invite, materials = sent_emails()
    assert invite["To"] == "john@techcorp.example, sales-team@example.com"
    [ics] = [p for p in invite.walk() if p.get_content_type() == "text/calendar"]
    assert ics.get_param("method") == "REQUEST"
    event = Calendar.from_ical(ics.get_payload(decode=True)).walk("VEVENT")[0]
    assert event.decoded("dtstart") == SLOT and event.decoded("dtend") == SLOT + timedelta(minutes=30)
    assert (
        materials["To"] == "john@techcorp.example"
        and "cost, scalability" in materials.get_payload()[0].get_payload(decode=True).decode()
    )

    [(subject, message, attrs)] = notifications()
    assert subject == "[HIGH] Demo scheduled: John Smith (TechCorp)"
    assert attrs["priority"]["Value"] == "high" and "probability 85%" in message

    found = schedules()
    demo_call_id = actions.follow_up_call_id("meeting", call_id)
    assert set(found) == {f"reminder-{call_id}-24h", f"reminder-{call_id}-1h", f"call-{demo_call_id}"}
    reminder = found[f"reminder-{call_id}-24h"]
    assert reminder["ScheduleExpression"] == "at(2026-11-30T22:00:00)"
    assert reminder["Target"]["Arn"].endswith(":function:autocall-post-call")
    assert json.loads(reminder["Target"]["Input"]) == {
        "step": "reminder",
        "call_id": call_id,
        "reminder": "24h",
    }
    assert found[f"reminder-{call_id}-1h"]["ScheduleExpression"] == "at(2026-12-01T21:00:00)"
    assert found[f"call-{demo_call_id}"]["ScheduleExpression"] == "at(2026-12-01T22:00:00)"
    assert found[f"call-{demo_call_id}"]["Target"]["Arn"].endswith(":function:autocall-dialer:live")
    demo_call = call(demo_call_id)
    assert demo_call.purpose == "follow_up" and demo_call.status == "scheduled"
    assert demo_call.context == {
        "demo_type": "technical",
        "product_interest": "Cloud Solutions",
        "source_call_id": call_id,
    }

    [completed] = events()
    assert completed["detail-type"] == "CallCompleted" and completed["source"] == "autocall"
    assert completed["detail"]["call_id"] == call_id and completed["detail"]["outcome"] == "demo_scheduled"

    row = call(call_id)
    assert row.result == {
        "duration": "4m 15s",
        "outcome": "demo_scheduled",
        "next_action": "technical_demo",
        "probability": "85%",
        "estimated_value": "$35000",
        "interest_level": "high",
        "summary": row.analysis["summary"],
        "attempt": 1,
    }
    assert row.actions_taken == [
        "crm_updated",
        "contact_marked_qualified_lead",
        "call_note_written",
        "demo_scheduled_tuesday_2pm",
        "calendar_invite_sent",
        "reminder_24h_scheduled",
        "reminder_1h_scheduled",
        "preparation_materials_emailed",
        "follow_up_call_scheduled",
        "crm_opportunity_created",
        "sales_team_notified",
    ]
    assert row.failures == []
    status, body = chain.api("GET", f"/calls/{call_id}")
    assert (
        status == 200
        and body["actions_taken"] == row.actions_taken
        and body["result"]["probability"] == "85%"
    )


def test_starting_the_chain_again_changes_nothing(chain: Any, contact: Any, events: Any) -> None:
    call_id = finished_call(
        contact, "sales_outreach", "demo_scheduled", DEMO_TURNS, [slot_action()], {"budget_range": "$10k-50k"}
    )
    run_chain(call_id)
    before = (
        call(call_id).actions_taken,
        get_contact(contact.contact_id).ai_interaction_history,
        [(r.record_id, r.fields) for r in crm.records_for_contact(contact.contact_id)],
        len(sent_emails()),
        len(notifications()),
        sorted(schedules()),
        len(events()),
    )
    with as_function("VoiceWebhookFunction"):
        assert start_post_call(call_id, 1) is False  # the same attempt's execution already ran
    run_chain(call_id, name=f"{call_id}-replayed")  # every step again, as a redrive would
    after = (
        call(call_id).actions_taken,
        get_contact(contact.contact_id).ai_interaction_history,
        [(r.record_id, r.fields) for r in crm.records_for_contact(contact.contact_id)],
        len(sent_emails()),
        len(notifications()),
        sorted(schedules()),
        len(events()),
    )
    assert after[:-1] == before[:-1] and after[-1] == 0  # and no second CallCompleted event
    assert before[3:5] == (2, 1)


def test_reminder_schedule_texts_the_callee_once(chain: Any, contact: Any, carrier: CarrierSimulator) -> None:
    call_id = finished_call(contact, "sales_outreach", "demo_scheduled", DEMO_TURNS, [slot_action()])
    run_chain(call_id)
    reminder = schedules()[f"reminder-{call_id}-24h"]
    CLOCK.freeze(SLOT - timedelta(hours=24))
    for _ in range(2):  # EventBridge Scheduler delivers at least once
        chain.registry.invoke(reminder["Target"]["Arn"], json.loads(reminder["Target"]["Input"]))
    [sms] = carrier.messages()
    assert sms.to == "+14155550123"
    assert "reminder" in sms.body and "tomorrow" in sms.body and "Tuesday, December 1 at 2 PM PST" in sms.body
    assert call(call_id).actions_taken[-1] == "reminder_24h_sent_by_sms"


def test_interested_lead_gets_an_opportunity_and_a_normal_priority_notification(
    chain: Any, contact: Any
) -> None:
    turns = [
        GREETING,
        turn(1, "Yes, speaking.", "I'm calling about our cloud platform.", ["greeting_confirm"]),
        turn(2, "Sounds interesting, maintaining legacy servers is a pain. I'd need to check with my boss.",
             "Happy to send details.", ["interest", "pain_point"], ["maintenance"], 0.1),
    ]  # fmt: skip
    call_id = finished_call(contact, "sales_outreach", "interested", turns)
    run_chain(call_id)
    assert get_contact(contact.contact_id).contact_type == "qualified_lead"
    [opportunity] = records(contact, "opportunity")
    assert opportunity.fields["stage"] == "qualification" and opportunity.fields["probability"] == 40
    [(subject, _, attrs)] = notifications()
    assert subject.startswith("[NORMAL] Interested lead") and attrs["priority"]["Value"] == "normal"
    assert "Decision maker not confirmed" in records(contact, "note")[0].content
    assert sent_emails() == [] and schedules() == {}
    assert call(call_id).actions_taken == [
        "crm_updated",
        "contact_marked_qualified_lead",
        "call_note_written",
        "crm_opportunity_created",
        "sales_team_notified",
    ]


def test_callback_at_a_stated_time_is_moved_into_the_calling_window(chain: Any, contact: Any) -> None:
    asked = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # Wednesday 07:00 in Los Angeles: too early
    turns = [GREETING, turn(1, "I'm busy, call me tomorrow at 7 am.", "Sure, I'll call back then.",
                            ["callback_request"], [], 0.0)]  # fmt: skip
    callback = {"kind": "schedule_callback", "params": {"at": asked.isoformat()}, "turn": 1}
    call_id = finished_call(
        contact, "sales_outreach", "callback_requested", turns, [callback], {"campaign": "Q1"}
    )
    run_chain(call_id)
    follow_up_id = actions.follow_up_call_id("callback", call_id)
    [schedule] = schedules().values()
    assert schedule["Name"].startswith(f"call-{follow_up_id}-")
    assert schedule["ScheduleExpression"] == "at(2026-11-25T17:00:00)"  # 09:00 local, the window's start
    follow_up = call(follow_up_id)
    assert follow_up.purpose == "sales_outreach" and follow_up.scheduled_time == "2026-11-25T17:00:00Z"
    assert follow_up.context == {"campaign": "Q1", "callback": True, "source_call_id": call_id}
    assert (
        "- Callback requested for Wednesday, November 25 at 7 AM PST" in records(contact, "note")[0].content
    )
    assert call(call_id).actions_taken[-1] == "callback_scheduled_wednesday_9am"


def test_not_interested_updates_the_crm_and_does_nothing_else(chain: Any, contact: Any) -> None:
    turns = [GREETING, turn(1, "Not interested, thanks.", "Understood, have a good day.", ["not_interested"],
                            [], -0.2)]  # fmt: skip
    call_id = finished_call(contact, "sales_outreach", "not_interested", turns)
    run_chain(call_id)
    assert get_contact(contact.contact_id).contact_type == "lead"
    assert [r.kind for r in crm.records_for_contact(contact.contact_id)] == ["event", "note"]
    assert notifications() == [] and sent_emails() == [] and schedules() == {}
    assert call(call_id).actions_taken == ["crm_updated", "call_note_written"]
    assert call(call_id).result["probability"] == "0%"


# --- follow-up, appointments, support, renewals -------------------------------------------------


def test_proposal_request_moves_the_deal_opportunity_to_proposal(chain: Any, contact: Any) -> None:
    demo_call = finished_call(contact, "sales_outreach", "interested", [GREETING], call_id="first-call")
    run_chain(demo_call)
    turns = [GREETING, turn(1, "The demo was great, please send us a proposal.", "Will do!",
                            ["ask_proposal", "interest"], ["proposal"], 0.7)]  # fmt: skip
    call_id = finished_call(
        contact, "follow_up", "proposal_requested", turns, context={"source_call_id": demo_call}
    )
    run_chain(call_id)
    [opportunity] = records(contact, "opportunity")
    assert opportunity.record_id == f"opportunity#{demo_call}"
    assert opportunity.fields["stage"] == "proposal" and opportunity.fields["last_call_id"] == call_id
    assert get_contact(contact.contact_id).contact_type == "opportunity"
    assert "crm_opportunity_updated" in call(call_id).actions_taken
    assert notifications()[-1][0].startswith("[HIGH] Proposal requested")


def test_appointment_confirmed_books_invites_and_reminds(chain: Any, contact: Any) -> None:
    turns = [GREETING, turn(1, "Tuesday at 2 is fine.", "Booked!", ["agree"], [], 0.5)]
    call_id = finished_call(
        contact, "appointment_booking", "appointment_confirmed", turns, [slot_action(minutes=45)]
    )
    run_chain(call_id)
    [appointment] = records(contact, "appointment")
    assert appointment.fields["kind"] == "appointment" and appointment.fields["duration_minutes"] == 45
    [invite] = sent_emails()
    assert invite["Subject"].startswith("Invitation: Appointment with TechSolutions")
    assert set(schedules()) == {f"reminder-{call_id}-24h", f"reminder-{call_id}-1h"}
    assert notifications() == [] and records(contact, "opportunity") == []
    assert call(call_id).actions_taken[3:] == [
        "appointment_booked_tuesday_2pm",
        "calendar_invite_sent",
        "reminder_24h_scheduled",
        "reminder_1h_scheduled",
    ]


def test_invite_goes_to_the_team_only_when_the_callee_has_no_email(chain: Any) -> None:
    no_email = create_contact(
        ContactCreateRequest.model_validate({"name": "Ana Ruiz", "phone": "+14155550188", "consent": True})
    )
    call_id = finished_call(
        no_email, "appointment_booking", "appointment_confirmed", [GREETING], [slot_action()]
    )
    run_chain(call_id)
    [invite] = sent_emails()
    assert invite["To"] == "sales-team@example.com"
    assert "calendar_invite_sent_team_only_no_callee_email" in call(call_id).actions_taken


UNSYNCED = turn(
    1, "My dashboard isn't syncing.", "I've opened a ticket.", ["problem_unresolved"], ["integration"]
)
FURIOUS = turn(1, "Billing charged us twice again, I'm furious!", "I'm escalating this.",
               ["frustration", "repeat_issue"], ["billing"], -0.8)  # fmt: skip
ESCALATE = {"kind": "escalate", "params": {"reason": "repeat billing error"}, "turn": 1}


@pytest.mark.parametrize(
    ("outcome", "turns", "agent_actions", "status", "priority", "notified"),
    [
        ("ticket_opened", [UNSYNCED], [], "opened", "normal", False),
        ("escalated", [FURIOUS], [ESCALATE], "escalated", "high", True),
    ],
)
def test_support_ticket_and_escalation(
    chain: Any, contact: Any, outcome: str, turns: list[Any], agent_actions: list[Any], status: str,
    priority: str, notified: bool,
) -> None:  # fmt: skip
    call_id = finished_call(contact, "customer_support", outcome, [GREETING, *turns], agent_actions)
    run_chain(call_id)
    [ticket] = records(contact, "ticket")
    assert ticket.fields["status"] == status and ticket.fields["priority"] == priority
    assert f"support_ticket_{status}" in call(call_id).actions_taken
    sent = notifications()
    assert bool(sent) is notified
    if notified:
        [(subject, message, attrs)] = sent
        assert subject.startswith("[HIGH] Escalation") and attrs["team"]["Value"] == "support"
        assert "Escalation reason: repeat billing error" in message


def test_resolved_support_call_sends_a_satisfaction_survey_by_sms(
    chain: Any, contact: Any, carrier: CarrierSimulator
) -> None:
    turns = [GREETING, turn(1, "Yes, the invoices look right now, thanks!", "Glad it's fixed.",
                            ["problem_resolved", "thanks"], ["billing"], 0.7)]  # fmt: skip
    call_id = finished_call(contact, "customer_support", "resolved", turns)
    run_chain(call_id)
    assert records(contact, "ticket")[0].fields["status"] == "resolved"
    [sms] = carrier.messages()
    assert sms.to == "+14155550123" and "Reply 1 (poor) to 5 (great)" in sms.body
    assert call(call_id).actions_taken[-2:] == ["support_ticket_resolved", "satisfaction_survey_sent_by_sms"]


def test_renewal_negotiation_prepares_the_contract_and_schedules_the_negotiation(
    chain: Any, contact: Any
) -> None:
    contact.contact_type = "customer"
    save_contact(contact)
    turns = [GREETING, turn(1, "We'd renew if you can do better on price.", "Let's set up a call on terms.",
                            ["negotiate", "price_objection"], ["cost"], 0.1)]  # fmt: skip
    context = {"contract_value": 48000, "renewal_date": "2027-01-01"}
    call_id = finished_call(contact, "renewal_reminder", "negotiation", turns, context=context)
    run_chain(call_id)
    [contract] = records(contact, "contract")
    assert contract.fields["status"] == "in_negotiation" and contract.fields["contract_value"] == 48000
    assert contract.fields["concerns"] == ["price", "wants better terms"]
    negotiation_id = actions.follow_up_call_id("negotiation", call_id)
    # two business days after Tuesday: Thursday 10:00 in Los Angeles
    assert schedules()[f"call-{negotiation_id}"]["ScheduleExpression"] == "at(2026-11-26T18:00:00)"
    assert call(negotiation_id).context["topic"] == "renewal_negotiation"
    assert get_contact(contact.contact_id).contact_type == "customer"
    assert call(call_id).actions_taken[-2:] == [
        "contract_prepared_for_negotiation",
        "negotiation_call_scheduled_thursday_10am",
    ]
    assert call(call_id).result["estimated_value"] == "$48000"


@pytest.mark.parametrize(
    ("outcome", "contact_type", "labels", "notified"),
    [
        ("renewed", "customer", ["renewal_confirmed"], False),
        ("churn_risk", "churn_risk", ["churn_risk_flagged"], True),
    ],
)
def test_renewal_confirmed_or_churn_risk(
    chain: Any, contact: Any, outcome: str, contact_type: str, labels: list[str], notified: bool
) -> None:
    call_id = finished_call(
        contact, "renewal_reminder", outcome, [GREETING], context={"contract_value": 12000}
    )
    run_chain(call_id)
    assert get_contact(contact.contact_id).contact_type == contact_type
    assert call(call_id).actions_taken[-1:] == labels
    sent = notifications()
    assert bool(sent) is notified
    if notified:
        assert sent[0][0].startswith("[HIGH] Churn risk") and sent[0][2]["team"]["Value"] == "renewals"
    else:
        assert records(contact, "contract")[0].fields["status"] == "renewal_confirmed"


# --- no conversation ---------------------------------------------------------------------------


def test_no_answer_schedules_the_next_attempt_with_backoff(chain: Any, contact: Any, events: Any) -> None:
    call_id = finished_call(contact, "sales_outreach", "no_answer", status="no_answer", answered_by=None)
    run_chain(call_id)
    row = call(call_id)
    assert row.status == "scheduled" and row.scheduled_time == "2026-11-24T19:00:00Z"  # 2 h later, in window
    [schedule] = schedules().values()
    assert (
        schedule["Name"] == f"call-{call_id}-{int(datetime(2026, 11, 24, 19, tzinfo=UTC).timestamp() * 1000)}"
        and schedule["ScheduleExpression"] == "at(2026-11-24T19:00:00)"
    )
    assert json.loads(schedule["Target"]["Input"]) == {"call_id": call_id}
    assert row.actions_taken == ["attempt_2_scheduled"]
    assert row.result["outcome"] == "no_answer" and row.result["next_action"] == "retry_call"
    assert get_contact(contact.contact_id).ai_interaction_history == []  # told once the call is over
    assert crm.records_for_contact(contact.contact_id, "note") == []
    assert events()[0]["detail"]["outcome"] == "no_answer"


def test_busy_on_the_second_attempt_retries_the_next_day_inside_the_window(chain: Any, contact: Any) -> None:
    CLOCK.freeze(datetime(2026, 11, 25, 3, 30, tzinfo=UTC))  # Tuesday 19:30 local; +1 day → 19:30 Wednesday
    call_id = finished_call(contact, "sales_outreach", "busy", status="busy", answered_by=None, attempts=2)
    run_chain(call_id, attempt=2)
    assert call(call_id).scheduled_time == "2026-11-26T03:30:00Z"
    assert call(call_id).actions_taken == ["attempt_3_scheduled"]


def test_max_attempts_closes_the_call_and_tells_the_crm(chain: Any, contact: Any) -> None:
    call_id = finished_call(
        contact, "sales_outreach", "voicemail", status="completed", answered_by="machine_end_beep", attempts=3
    )
    run_chain(call_id, attempt=3)
    row = call(call_id)
    assert row.status == "completed" and schedules() == {}
    assert row.actions_taken == ["crm_updated", "call_note_written", "max_attempts_reached"]
    assert row.reasons[-1]["reason"] == "max_attempts_reached"
    [note] = records(contact, "note")
    assert note.title == "Autonomous Sales Call - Voicemail After 3 Attempts"
    assert get_contact(contact.contact_id).ai_interaction_history[0]["outcome"] == "voicemail"


def test_opt_out_confirms_do_not_call_and_nothing_else(chain: Any, contact: Any) -> None:
    turns = [
        GREETING,
        turn(1, "Stop calling me.", "Understood, you won't be called again.", ["opt_out"], [], -0.4),
    ]
    call_id = finished_call(
        contact, "sales_outreach", "opted_out", turns, [{"kind": "opt_out", "params": {}, "turn": 1}]
    )
    run_chain(call_id)
    assert is_suppressed("+14155550123")
    assert get_contact(contact.contact_id).contact_type == "do_not_call"
    assert call(call_id).actions_taken == ["crm_updated", "contact_marked_do_not_call", "call_note_written",
                                           "do_not_call_confirmed"]  # fmt: skip
    assert notifications() == [] and sent_emails() == [] and schedules() == {}


# --- failures ----------------------------------------------------------------------------------


def test_an_action_failing_twice_then_succeeding_leaves_one_set_of_records(
    chain: Any, contact: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[str] = []

    def flaky(real: actions.Action) -> actions.Action:
        def run(*args: Any) -> list[str]:
            labels = real(*args)  # the effect happens, then the task dies before answering
            runs.append(real.__name__)
            if runs.count(real.__name__) <= 2:
                raise RuntimeError("connection reset")
            return labels

        return run

    for name in ("create_opportunity", "notify_sales_team"):
        monkeypatch.setitem(actions.ACTIONS, name, flaky(actions.ACTIONS[name]))
    call_id = finished_call(contact, "sales_outreach", "interested", [GREETING])
    run_chain(call_id)
    assert runs == ["create_opportunity"] * 3 + ["notify_sales_team"] * 3
    assert len(records(contact, "opportunity")) == 1 and len(notifications()) == 1
    row = call(call_id)
    assert row.failures == []
    assert row.actions_taken[-2:] == ["crm_opportunity_created", "sales_team_notified"]


def test_an_action_that_always_fails_is_recorded_and_the_others_still_run(
    chain: Any, contact: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def ses_down(*args: Any) -> list[str]:
        raise RuntimeError("SES is down for +14155550123")

    monkeypatch.setitem(actions.ACTIONS, "send_calendar_invite", ses_down)
    call_id = finished_call(contact, "sales_outreach", "demo_scheduled", DEMO_TURNS, [slot_action()])
    run_chain(call_id)
    row = call(call_id)
    [failure] = row.failures
    assert failure["step"] == "act:send_calendar_invite" and failure["error"] == "RuntimeError"
    assert failure["cause"] == "SES is down for +1******0123" and failure["attempt"] == 1
    assert "calendar_invite_sent" not in row.actions_taken
    assert {"demo_scheduled_tuesday_2pm", "reminder_1h_scheduled", "crm_opportunity_created",
            "sales_team_notified", "follow_up_call_scheduled"} <= set(row.actions_taken)  # fmt: skip
    assert len(sent_emails()) == 1  # the preparation materials
    assert row.result["outcome"] == "demo_scheduled"
    assert '"PostCallFailures"' in capsys.readouterr().out


def test_a_failed_analysis_falls_back_and_the_chain_goes_on(
    chain: Any, contact: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autocall.domain.post_call import analysis

    def broken(ctx: Any) -> Any:
        raise ValueError("analysis exploded")

    monkeypatch.setattr(analysis, "analyze_call", broken)
    call_id = finished_call(contact, "sales_outreach", "interested", [GREETING])
    run_chain(call_id)
    row = call(call_id)
    assert [f["step"] for f in row.failures] == ["analyze"]
    assert row.analysis is None and row.result["outcome"] == "interested"
    assert "sales_team_notified" in row.actions_taken


# --- the LLM analyzer and the CRM webhook --------------------------------------------------------


@pytest.fixture
def openai_fake(chain: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        secrets = boto3.client("secretsmanager")
        arn = chain.template.overrides["AutocallSecrets"]
        secrets.put_secret_value(
            SecretId=arn, SecretString=json.dumps({**chain.secrets, "openai_api_key": "sk-t"})
        )
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        reset_settings()
        reset_secrets()
        yield fake
    reset_secrets()


LLM_ANALYSIS = {
    "summary": "John runs infrastructure at TechCorp; costs and scaling hurt. He booked a technical demo.",
    "outcome": "successful_demo_scheduled",
    "interest_level": "high",
    "pain_points": ["Cost", "scalability", "maintenance"],
    "decision_maker": True,
    "budget": "$10k-50k",
    "objections": [],
    "sentiment_trend": "improving",
    "next_action": "technical_demo",
    "probability": 85,
    "estimated_value": 35000,
}


def test_llm_analysis_is_used_when_a_key_is_set(chain: Any, contact: Any, openai_fake: FakeOpenAI) -> None:
    openai_fake.enqueue(json=LLM_ANALYSIS)
    call_id = finished_call(contact, "sales_outreach", "demo_scheduled", DEMO_TURNS, [slot_action()])
    run_chain(call_id)
    analysis = call(call_id).analysis
    assert analysis["analyzer"] == "llm" and analysis["summary"] == LLM_ANALYSIS["summary"]
    assert analysis["pain_points"] == ["cost", "scalability", "maintenance"]
    assert analysis["outcome"] == "demo_scheduled"  # the call's own outcome stands
    assert analysis["suggested_outcome"] == "successful_demo_scheduled"
    [request] = openai_fake.requests
    assert request["response_format"]["type"] == "json_schema"
    assert "Callee: Our costs are getting too high" in request["messages"][1]["content"]
    assert "Current pain points: cost, scalability, maintenance" in records(contact, "note")[0].content


def test_llm_failure_falls_back_to_the_offline_analysis(
    chain: Any, contact: Any, openai_fake: FakeOpenAI
) -> None:
    openai_fake.enqueue(status=500)
    openai_fake.enqueue(status=500)
    call_id = finished_call(contact, "sales_outreach", "demo_scheduled", DEMO_TURNS, [slot_action()])
    run_chain(call_id)
    analysis = call(call_id).analysis
    assert analysis["analyzer"] == "llm_fallback" and analysis["probability"] == 85
    assert call(call_id).failures == []


class _Receiver(BaseHTTPRequestHandler):
    statuses: list[int] = []
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        self.send_response(self.statuses.pop(0) if self.statuses else 200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_crm_webhook_gets_the_signed_outcome_with_a_retry(
    chain: Any, contact: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _Receiver.statuses, _Receiver.received = [503], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("CRM_WEBHOOK_URL", f"http://127.0.0.1:{server.server_address[1]}/autocall")
        reset_settings()
        call_id = finished_call(contact, "sales_outreach", "interested", [GREETING])
        run_chain(call_id)
    finally:
        server.shutdown()
    first, second = _Receiver.received
    assert first == second  # the same signed delivery, retried after the 503
    headers, body = second
    stamp = headers["X-Autocall-Timestamp"]
    assert stamp == str(int(NOW.timestamp()))
    secret = chain.secrets["crm_webhook_secret"].encode()
    expected = hmac.new(secret, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers["X-Autocall-Signature"] == f"sha256={expected}"
    payload = json.loads(body)
    assert payload["event"] == "call.completed" and payload["call_id"] == call_id
    assert payload["outcome"] == "interested" and payload["result"]["probability"] == "40%"
    assert call(call_id).actions_taken[-1] == "crm_webhook_notified"
