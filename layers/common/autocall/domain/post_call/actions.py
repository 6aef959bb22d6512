"""Acting on the outcome: which actions a call's outcome and purpose call for, and each action.

Every action is idempotent: records and follow-up calls have deterministic ids, schedules have
deterministic names, and what leaves the system (e-mail, SMS, notifications) is written to the CRM
as an activity first checked and then recorded, so a retried action does not send twice. Each
returns the labels users read in ``actions_taken``: what really happened."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from autocall.clock import now
from autocall.config import get_settings
from autocall.domain import consent
from autocall.domain.calendar.phrasing import spoken_label, spoken_time
from autocall.domain.calendar.timing import (
    FOLLOW_UP_HOUR,
    NEGOTIATION_DELAY_DAYS,
    business_days_later,
    callback_time,
    next_attempt_at,
    reminder_times,
)
from autocall.domain.calls import place_request, prepare_call, schedule_name
from autocall.domain.numbers import CallPending
from autocall.domain.phones import NumberNotDialable
from autocall.domain.post_call import messages
from autocall.domain.post_call.analysis import analysis_dict
from autocall.domain.post_call.context import PostCall, Slot, amend_call, iso_now, load, parse_utc
from autocall.errors import ContactSuppressed
from autocall.integrations import scheduler
from autocall.integrations.mail import Attachment, send_email
from autocall.integrations.notify import publish
from autocall.integrations.twilio.client import get_telephony
from autocall.models.enums import CallPurpose, CallStatus, Outcome
from autocall.models.records import Call
from autocall.observability import logger
from autocall.stores import calls as calls_repo
from autocall.stores import crm as crm_repo
from autocall.stores.suppression import is_suppressed

_FOLLOW_UP_NAMESPACE = uuid.UUID("0b6f3f0e-2f4b-4a8e-9d0c-6c1f4f2a9e31")
BOOKINGS = frozenset({Outcome.DEMO_SCHEDULED, Outcome.APPOINTMENT_CONFIRMED})
SALES_INTEREST = frozenset({Outcome.INTERESTED, Outcome.DEMO_SCHEDULED, Outcome.PROPOSAL_REQUESTED})
_TICKET_STATUS = {
    Outcome.TICKET_OPENED: "opened",
    Outcome.ESCALATED: "escalated",
    Outcome.RESOLVED: "resolved",
}
_OPPORTUNITY_STAGE = {
    Outcome.INTERESTED: "qualification",
    Outcome.DEMO_SCHEDULED: "demo_scheduled",
    Outcome.PROPOSAL_REQUESTED: "proposal",
}
_SALES_HEADLINE = {
    Outcome.INTERESTED: "Interested lead",
    Outcome.DEMO_SCHEDULED: "Demo scheduled",
    Outcome.PROPOSAL_REQUESTED: "Proposal requested",
}


@dataclass(frozen=True)
class ActionEnv:
    function_arn: str  # this post-call function: the reminder schedules fire it


Action = Callable[[PostCall, dict[str, Any], ActionEnv], list[str]]


def angry(ctx: PostCall, analysis: dict[str, Any]) -> bool:
    frustrated = any("frustration" in (t.get("intents") or []) for t in ctx.call.turns or [])
    return frustrated or analysis["sentiment_trend"] in ("negative", "declining")


def plan_actions(ctx: PostCall, analysis: dict[str, Any]) -> list[str]:
    """The actions for this outcome and purpose, in the order they run."""
    outcome = ctx.outcome
    if outcome is Outcome.OPTED_OUT:
        return ["confirm_do_not_call"]
    if outcome is Outcome.CANCELED:
        return []
    if not ctx.conversation:
        return ["retry_call"]
    plan: list[str] = []
    if outcome in BOOKINGS and ctx.slot is not None:
        plan += ["book_appointment", "send_calendar_invite", "schedule_reminders"]
        if outcome is Outcome.DEMO_SCHEDULED:
            plan += ["send_preparation_materials", "schedule_meeting_call"]
    if outcome in SALES_INTEREST:
        plan += ["create_opportunity", "notify_sales_team"]
    if outcome is Outcome.CALLBACK_REQUESTED:
        plan.append("schedule_callback")
    if outcome is Outcome.HUMAN_REQUESTED:
        plan.append("hand_to_person")
    if outcome in _TICKET_STATUS:
        plan.append("open_ticket")
    if outcome is Outcome.RESOLVED:
        plan.append("send_satisfaction_survey")
    if outcome is Outcome.NEGOTIATION:
        plan += ["prepare_contract", "schedule_negotiation_call"]
    if outcome is Outcome.RENEWED:
        plan.append("prepare_contract")
    if outcome is Outcome.CHURN_RISK:
        plan.append("flag_churn_risk")
    if (
        outcome is Outcome.ESCALATED
        or ctx.escalation_reason
        or (outcome is Outcome.TICKET_OPENED and angry(ctx, analysis))
    ):
        plan.append("escalate_to_team")
    return plan


# --- helpers ------------------------------------------------------------------------------------


def follow_up_call_id(kind: str, source_call_id: str) -> str:
    return str(uuid.uuid5(_FOLLOW_UP_NAMESPACE, f"{kind}:{source_call_id}"))


def effect_once(
    ctx: PostCall, kind: str, part: str, title: str, effect: Callable[[], dict[str, Any]]
) -> bool:
    """Run ``effect`` unless the CRM shows it already happened; then record that it did."""
    if crm_repo.get_record(ctx.contact.contact_id, crm_repo.record_id(kind, ctx.call_id, part)):
        return False
    fields = effect()
    crm_repo.put_record_once(ctx.contact.contact_id, kind, ctx.call_id, part=part, title=title, fields=fields)
    return True


def _send_sms(ctx: PostCall, body: str) -> str | None:
    """Text the callee through the telephony adapter; None when texting is not possible."""
    if is_suppressed(ctx.contact.phone):
        return None
    return get_telephony().send_sms(ctx.contact.phone, get_settings().required("caller_id"), body)


def _text_or_email(ctx: PostCall, part: str, subject: str, body: str) -> str | None:
    """'sms' or 'email' (what reached the callee, now or on an earlier run), None when nothing could."""
    for kind in ("sms", "email"):
        if crm_repo.get_record(ctx.contact.contact_id, crm_repo.record_id(kind, ctx.call_id, part)):
            return kind
    sid = _send_sms(ctx, body)
    if sid is not None:
        fields: dict[str, Any] = {"sid": sid, "body": body}
        kind = "sms"
    elif ctx.contact.email:
        fields = {
            "to": [ctx.contact.email],
            "message_id": send_email([str(ctx.contact.email)], subject, body),
        }
        kind = "email"
    else:
        return None
    crm_repo.put_record_once(
        ctx.contact.contact_id, kind, ctx.call_id, part=part, title=subject, fields=fields
    )
    return kind


def _notify(
    ctx: PostCall, analysis: dict[str, Any], part: str, headline: str, priority: str, team: str
) -> None:
    subject, message = messages.team_notification(ctx, analysis, headline, priority)
    attributes = {"priority": priority, "team": team, "kind": part, "call_id": ctx.call_id}
    effect_once(
        ctx,
        "notification",
        part,
        subject,
        lambda: {
            "priority": priority,
            "team": team,
            "message_id": publish(get_settings().required("sales_topic_arn"), subject, message, attributes),
        },
    )


def follow_ups_before(ctx: PostCall, limit: int) -> int:
    """How many follow-up calls led to this call (counted up to ``limit``): the chain of
    ``source_call_id`` back to the call that started the thread, for this contact."""
    made, source, seen = 0, ctx.context.get("source_call_id"), {ctx.call_id}
    while source and made < limit and str(source) not in seen:
        made += 1
        seen.add(str(source))
        row = calls_repo.get_call(str(source))
        source = (row.context or {}).get("source_call_id") if row is not None else None
    return made


_FOLLOW_UP_TEAM = {CallPurpose.CUSTOMER_SUPPORT: "support", CallPurpose.RENEWAL_REMINDER: "renewals"}


def _follow_up_capped(ctx: PostCall, analysis: dict[str, Any], kind: str) -> list[str] | None:
    """Past ``MAX_FOLLOW_UPS`` follow-ups in a row the agent books no more: the reason goes on the
    call and the team is told to take the contact over. None while a follow-up may be booked."""
    cap = max(0, get_settings().max_follow_ups)
    if follow_ups_before(ctx, cap) < cap:
        return None
    _add_reason(ctx.call_id, "max_follow_ups_reached")
    team = _FOLLOW_UP_TEAM.get(ctx.purpose, "sales")
    _notify(ctx, analysis, "follow_up_limit", f"Follow-up limit reached ({kind})", "normal", team)
    logger.info("follow-up limit reached", extra={"call_id": ctx.call_id, "kind": kind, "cap": cap})
    return [f"{kind}_skipped_max_follow_ups_reached", f"{team}_team_notified_to_follow_up"]


def _place_follow_up(
    ctx: PostCall, kind: str, purpose: CallPurpose, at: datetime, context: dict[str, Any]
) -> str | None:
    """A new call for the same contact at ``at`` (deterministic id); else why not: the number is on
    DNC (``do_not_call``), may no longer be dialed (``number_not_dialable``), or already has a
    call for that purpose (``call_pending``)."""
    try:
        request = prepare_call(
            ctx.contact.contact_id,
            purpose,
            {**context, "source_call_id": ctx.call_id},
            at,
            call_id=follow_up_call_id(kind, ctx.call_id),
            source="post_call",
        )
        place_request(request)
    except ContactSuppressed:
        return "do_not_call"
    except NumberNotDialable:
        return "number_not_dialable"
    except CallPending:
        return "call_pending"
    return None


def _slot(ctx: PostCall) -> Slot:
    if ctx.slot is None:
        raise ValueError("the call has no confirmed slot")
    return ctx.slot


# --- the actions --------------------------------------------------------------------------------


def book_appointment(ctx: PostCall, analysis: dict[str, Any], env: ActionEnv) -> list[str]:
    slot = _slot(ctx)
    demo = ctx.outcome is Outcome.DEMO_SCHEDULED
    crm_repo.put_record_once(
        ctx.contact.contact_id,
        "appointment",
        ctx.call_id,
        title=messages.meeting_name(ctx),
        fields={
            "kind": "demo" if demo else "appointment",
            "start": calls_repo.iso(slot.start),
            "end": calls_repo.iso(slot.end),
            "duration_minutes": slot.minutes,
            "time_zone": ctx.time_zone,
            "local_time": spoken_time(slot.start, ctx.time_zone, with_zone=True),
            "demo_type": ctx.context.get("demo_type") or "technical" if demo else None,
            "status": "booked",
        },
    )
    return [spoken_label("demo_scheduled" if demo else "appointment_booked", slot.start, ctx.time_zone)]


def send_calendar_invite(ctx: PostCall, analysis: dict[str, Any], env: ActionEnv) -> list[str]:
    slot = _slot(ctx)
    team = get_settings().required("team_email")
    to = [str(ctx.contact.email), team] if ctx.contact.email else [team]
    subject, body = messages.invite_email(ctx, slot)
    ics = messages.calendar_invite(ctx, slot, to, now())
    invite = Attachment("invite.ics", ics.decode(), "calendar", (("method", "REQUEST"),))
    effect_once(
        ctx,
        "email",
        "calendar_invite",
        subject,
        lambda: {"to": to, "message_id": send_email(to, subject, body, (invite,))},
    )
    return ["calendar_invite_sent" if ctx.contact.email else "calendar_invite_sent_team_only_no_callee_email"]


def schedule_reminders(ctx: PostCall, analysis: dict[str, Any], env: ActionEnv) -> list[str]:
    slot = _slot(ctx)
    labels = []
    for name, at in reminder_times(slot.start, now()):
        payload = {"step": "reminder", "call_id": ctx.call_id, "reminder": name}
        scheduler.put_one_time_schedule(
            f"reminder-{ctx.call_id}-{name}", at, payload, target_arn=env.function_arn
        )
        labels.append(f"reminder_{name}_scheduled")
    return labels or ["reminders_skipped_meeting_too_soon"]


def send_preparation_materials(ctx: PostCall, analysis: dict[str, Any], env: ActionEnv) -> list[str]:
    if not ctx.contact.email:
        return ["preparation_materials_skipped_no_email"]
    email = str(ctx.contact.email)
    subject, body = messages.preparation_email(ctx, _slot(ctx), analysis)
    effect_once(
        ctx,
        "email",
        "preparation_materials",
        subject,
        lambda: {"to": [email], "message_id": send_email([email], subject, body)},
    )
    return ["preparation_materials_emailed"]


def schedule_meeting_call(ctx: PostCall, analysis: dict[str, Any], env: ActionEnv) -> list[str]:
    capped = _follow_up_capped(ctx, analysis, "follow_up_call")
    if capped is not None:
        return capped
    context = {"demo_type": ctx.context.get("demo_type") or "technical"}
    if ctx.context.get("product_interest"):
        context["product_interest"] = ctx.context["product_interest"]
    skipped = _place_follow_up(ctx, "meeting", CallPurpose.FOLLOW_UP, _slot(ctx).start, context)
    if skipped:
        return [f"follow_up_call_skipped_{skipped}"]
    return ["follow_up_call_scheduled"]


def create_opportunity(ctx: PostCall, analysis: dict[str, Any], env: ActionEnv) -> list[str]:
    deal = str(ctx.context.get("source_call_id") or ctx.call_id)  # one opportunity per deal, not per call
    opportunity = crm_repo.merge_record(
        ctx.contact.contact_id,
        "opportunity",
        deal,
        title=f"{ctx.contact.company or ctx.contact.name} - {ctx.context.get('product_interest') or 'deal'}",
        fields={
            "stage": _OPPORTUNITY_STAGE[ctx.outcome],
            "probability": analysis["probability"],
            "estimated_value": analysis["estimated_value"],
            "interest_level": analysis["interest_level"],
            "next_action": analysis["next_action"],
            "last_call_id": ctx.call_id,
        },
        call_id=ctx.call_id,
        created_fields={"opened_by_call_id": ctx.call_id},
    )
    opened_here = opportunity.fields.get("opened_by_call_id") == ctx.call_id
    return ["crm_opportunity_created" if opened_here else "crm_opportunity_updated"]


def notify_sales_team(ctx: PostCall, analysis: dict[str, Any], env: ActionEnv) -> list[str]:
    high = ctx.outcome is Outcome.DEMO_SCHEDULED or analysis["interest_level"] == "high"
    _notify(ctx, analysis, "sales", _SALES_HEADLINE[ctx.outcome], "high" if high else "normal", "sales")
    return ["sales_team_notified"]


def schedule_callback(ctx: PostCall, analysis: dict[str, Any], env: ActionEnv) -> list[str]:
    capped = _follow_up_capped(ctx, analysis, "callback")
    if capped is not None:
        return capped
    moment = now()
    if ctx.callback_at is not None:
        at = callback_time(ctx.callback_at, moment, ctx.time_zones, ctx.window, ctx.contact.country)
    else:  # asked to be called back without a time: the next business morning
        at = business_days_later(
            moment, 1, FOLLOW_UP_HOUR, ctx.time_zone, ctx.window, ctx.contact.country, ctx.time_zones
        )
    skipped = _place_follow_up(ctx, "callback", ctx.purpose, at, {**ctx.context, "callback": True})
    if skipped:
        return [f"callback_skipped_{skipped}"]
    return [spoken_label("callback_scheduled", at, ctx.time_zone)]


def hand_to_person(ctx: PostCall, analysis: dict[str, Any], env: ActionEnv) -> list[str]:
    """The callee asked for a person and nobody could take the call: the promise made on the call
    is kept by people. The follow-up is marked for a person on the call (``handoff``, open until
    someone closes it through the API; the dialer holds the contact's other calls meanwhile), and
    the team is notified with the callee's preferred time. No call is placed by the agent."""
    team = _FOLLOW_UP_TEAM.get(ctx.purpose, "sales")
    at = ctx.person_requested_at
    handoff = {
        "status": "open",
        "assignee": "person",
        "team": team,
        "preferred_time": calls_repo.iso(at) if at is not None else None,
        "preferred_time_local": spoken_time(at, ctx.time_zone, with_zone=True) if at is not None else None,
        "opened_at": iso_now(),
    }
    amend_call(ctx.call_id, lambda call: None if call.handoff else {"handoff": handoff})
    _notify(ctx, analysis, "human_requested", "Callee asked for a person", "high", team)
    return ["person_follow_up_opened", f"{team}_team_notified_to_call_back"]


def open_ticket(ctx: PostCall, analysis: dict[str, Any], env: ActionEnv) -> list[str]:
    status = _TICKET_STATUS[ctx.outcome]
    urgent = ctx.outcome is Outcome.ESCALATED or angry(ctx, analysis)
    crm_repo.put_record_once(
        ctx.contact.contact_id,
        "ticket",
        ctx.call_id,
        title=f"Support: {', '.join(analysis['pain_points']) or 'customer issue'}",
        content=analysis["summary"],
        fields={
            "status": status,
            "priority": "high" if urgent else "normal",
            "issues": analysis["pain_points"],
            "escalation_reason": ctx.escalation_reason,
            "sentiment_trend": analysis["sentiment_trend"],
        },
    )
    return [f"support_ticket_{status}"]


def send_satisfaction_survey(ctx: PostCall, analysis: dict[str, Any], env: ActionEnv) -> list[str]:
    subject = f"How did we do, {ctx.contact.name.split()[0]}?"
    channel = _text_or_email(ctx, "survey", subject, messages.survey_text(ctx))
    return [f"satisfaction_survey_sent_by_{channel}" if channel else "satisfaction_survey_skipped_no_channel"]


def prepare_contract(ctx: PostCall, analysis: dict[str, Any], env: ActionEnv) -> list[str]:
    renewed = ctx.outcome is Outcome.RENEWED
    crm_repo.put_record_once(
        ctx.contact.contact_id,
        "contract",
        ctx.call_id,
        title=f"Renewal - {ctx.contact.company or ctx.contact.name}",
        fields={
            "status": "renewal_confirmed" if renewed else "in_negotiation",
            "contract_value": ctx.context.get("contract_value"),
            "renewal_date": ctx.context.get("renewal_date"),
            "concerns": analysis["objections"],
        },
    )
    return ["renewal_confirmed" if renewed else "contract_prepared_for_negotiation"]


def schedule_negotiation_call(ctx: PostCall, analysis: dict[str, Any], env: ActionEnv) -> list[str]:
    capped = _follow_up_capped(ctx, analysis, "negotiation_call")
    if capped is not None:
        return capped
    at = business_days_later(
        now(),
        NEGOTIATION_DELAY_DAYS,
        FOLLOW_UP_HOUR,
        ctx.time_zone,
        ctx.window,
        ctx.contact.country,
        ctx.time_zones,
    )
    context = {
        "topic": "renewal_negotiation",
        **{k: v for k, v in ctx.context.items() if k.startswith("contract")},
    }
    skipped = _place_follow_up(ctx, "negotiation", CallPurpose.FOLLOW_UP, at, context)
    if skipped:
        return [f"negotiation_call_skipped_{skipped}"]
    return [spoken_label("negotiation_call_scheduled", at, ctx.time_zone)]


def flag_churn_risk(ctx: PostCall, analysis: dict[str, Any], env: ActionEnv) -> list[str]:
    _notify(ctx, analysis, "churn_risk", "Churn risk", "high", "renewals")
    return ["churn_risk_flagged"]


def escalate_to_team(ctx: PostCall, analysis: dict[str, Any], env: ActionEnv) -> list[str]:
    team = "support" if ctx.purpose is CallPurpose.CUSTOMER_SUPPORT else "sales"
    _notify(ctx, analysis, "escalation", "Escalation", "high", team)
    return ["escalation_team_notified"]


def confirm_do_not_call(ctx: PostCall, analysis: dict[str, Any], env: ActionEnv) -> list[str]:
    evidence = consent.Evidence(consent.ConsentSource.CALL, call_id=ctx.call_id)
    consent.revoke(ctx.contact.phone, evidence, "opted_out", ctx.contact.contact_id)
    return ["do_not_call_confirmed"]


def retry_call(ctx: PostCall, analysis: dict[str, Any], env: ActionEnv) -> list[str]:
    """The next attempt with backoff, inside the calling window; at the cap, the call stays closed."""
    call, label = ctx.call, f"attempt_{ctx.attempt + 1}_scheduled"
    if int(call.attempts or 0) != ctx.attempt:
        return []  # a later attempt is already under way
    if not ctx.attempts_left:
        _add_reason(ctx.call_id, "max_attempts_reached")
        return ["max_attempts_reached"]
    if call.status != CallStatus.SCHEDULED.value:
        at = next_attempt_at(now(), ctx.attempt, ctx.time_zones, ctx.window, ctx.contact.country)
        name = schedule_name(ctx.call_id, at)
        if not calls_repo.reopen_for_retry(call, at, f"retry after {ctx.outcome.value}", name):
            return retry_call(load(ctx.call_id, ctx.attempt), analysis, env)  # raced: read it again
    fresh = load(ctx.call_id, ctx.attempt).call
    scheduled = parse_utc(str(fresh.scheduled_time))
    # a retried step arms the schedule the first try named (same call, same moment: same name)
    name = fresh.schedule_name or schedule_name(ctx.call_id, scheduled)
    scheduler.put_one_time_schedule(name, scheduled, {"call_id": ctx.call_id})
    logger.info("next attempt scheduled", extra={"call_id": ctx.call_id, "due": fresh.scheduled_time})
    return [label]


def _add_reason(call_id: str, reason: str) -> None:
    def add(call: Call) -> dict[str, Any] | None:
        if any(r.get("reason") == reason for r in call.reasons or []):
            return None
        return {"reasons": calls_repo.reasons_with(call, reason)}

    amend_call(call_id, add)


ACTIONS: dict[str, Action] = {
    action.__name__: action
    for action in (
        book_appointment,
        send_calendar_invite,
        schedule_reminders,
        send_preparation_materials,
        schedule_meeting_call,
        create_opportunity,
        notify_sales_team,
        schedule_callback,
        hand_to_person,
        open_ticket,
        send_satisfaction_survey,
        prepare_contract,
        schedule_negotiation_call,
        flag_churn_risk,
        escalate_to_team,
        confirm_do_not_call,
        retry_call,
    )
}


# --- the steps ----------------------------------------------------------------------------------


def plan(call_id: str, attempt: int) -> list[str]:
    """Step 3a: the actions this attempt calls for (the state machine maps over them)."""
    ctx = load(call_id, attempt)
    return plan_actions(ctx, analysis_dict(ctx))


def act(call_id: str, attempt: int, action: str, function_arn: str) -> list[str]:
    """Step 3b: one action."""
    ctx = load(call_id, attempt)
    return ACTIONS[action](ctx, analysis_dict(ctx), ActionEnv(function_arn))


def send_reminder(call_id: str, reminder: str) -> list[str]:
    """Fired by a reminder schedule: text (or e-mail) the callee about the meeting, once."""
    ctx = load(call_id)
    slot = ctx.slot
    if slot is None or slot.start <= now():
        return []
    body = messages.reminder_text(ctx, slot, reminder)
    channel = _text_or_email(ctx, f"reminder_{reminder}", f"Reminder: {messages.meeting_name(ctx)}", body)
    label = f"reminder_{reminder}_sent_by_{channel}" if channel else f"reminder_{reminder}_skipped_no_channel"

    def add(call: Call) -> dict[str, Any] | None:
        taken = list(call.actions_taken or [])
        return None if label in taken else {"actions_taken": [*taken, label]}

    amend_call(call_id, add)
    return [label]
