"""The CRM after a call: the contact (type, last contacted, interaction history) and the call note."""

from __future__ import annotations

from typing import Any

from autocall.domain.calendar.phrasing import spoken_time
from autocall.domain.post_call.analysis import analysis_dict
from autocall.domain.post_call.context import PostCall, iso_now, load
from autocall.errors import ContactNotFound
from autocall.models.enums import CallPurpose, ContactType, Outcome
from autocall.stores import contacts as contacts_repo
from autocall.stores import crm as crm_repo

# A contact only moves up this ladder (a customer stays a customer); opt-out and churn risk are
# facts that override it.
_LADDER = {
    ContactType.LEAD: 0,
    ContactType.QUALIFIED_LEAD: 1,
    ContactType.OPPORTUNITY: 2,
    ContactType.CUSTOMER: 3,
    ContactType.CHURN_RISK: 3,
}
_REACHES: dict[Outcome, ContactType] = {
    Outcome.INTERESTED: ContactType.QUALIFIED_LEAD,
    Outcome.DEMO_SCHEDULED: ContactType.QUALIFIED_LEAD,
    Outcome.APPOINTMENT_CONFIRMED: ContactType.QUALIFIED_LEAD,
    Outcome.PROPOSAL_REQUESTED: ContactType.OPPORTUNITY,
    Outcome.RENEWED: ContactType.CUSTOMER,
}
PURPOSE_TITLE = {
    CallPurpose.SALES_OUTREACH: "Sales",
    CallPurpose.FOLLOW_UP: "Follow-up",
    CallPurpose.CUSTOMER_SUPPORT: "Support",
    CallPurpose.APPOINTMENT_BOOKING: "Appointment",
    CallPurpose.RENEWAL_REMINDER: "Renewal",
}


def upgraded_contact_type(current: str | None, outcome: Outcome) -> ContactType | None:
    """The contact's new type after ``outcome``, or None when it stays as it is."""
    now_type = ContactType(current or ContactType.LEAD)
    if outcome is Outcome.OPTED_OUT:
        new: ContactType | None = ContactType.DO_NOT_CALL
    elif now_type is ContactType.DO_NOT_CALL:
        new = None
    elif outcome is Outcome.CHURN_RISK:
        new = ContactType.CHURN_RISK
    elif outcome is Outcome.RENEWED:
        new = ContactType.CUSTOMER
    else:
        target = _REACHES.get(outcome)
        new = target if target is not None and _LADDER[target] > _LADDER[now_type] else None
    return None if new is now_type else new


def interaction_entry(ctx: PostCall, analysis: dict[str, Any]) -> dict[str, Any]:
    return {
        "call_id": ctx.call_id,
        "purpose": ctx.purpose.value,
        "outcome": ctx.outcome.value,
        "interest_level": analysis["interest_level"],
        "pain_points": analysis["pain_points"],
        "summary": analysis["summary"],
        "at": iso_now(),
    }


def update_contact(call_id: str, attempt: int) -> list[str]:
    """Step 2a: the contact hears about the call once (after a conversation, or the last attempt)."""
    ctx = load(call_id, attempt)
    if not ctx.closes_contact:
        return []
    analysis = analysis_dict(ctx)
    new_type = upgraded_contact_type(ctx.contact.contact_type, ctx.outcome)
    row = contacts_repo.record_interaction(
        ctx.contact.contact_id, interaction_entry(ctx, analysis), new_type.value if new_type else None
    )
    if row is None:
        raise ContactNotFound(ctx.contact.contact_id)
    labels = ["crm_updated"]
    if new_type is not None:
        labels.append(f"contact_marked_{new_type.value}")
    return labels


def note_title(ctx: PostCall) -> str:
    outcome = ctx.outcome.value.replace("_", " ").title()
    if not ctx.conversation:
        outcome += f" After {int(ctx.call.attempts or 0)} Attempts"
    return f"Autonomous {PURPOSE_TITLE[ctx.purpose]} Call - {outcome}"


def _next_step(ctx: PostCall, analysis: dict[str, Any]) -> str:
    slot, callback = ctx.slot, ctx.callback_at
    if slot is not None and ctx.outcome in (Outcome.DEMO_SCHEDULED, Outcome.APPOINTMENT_CONFIRMED):
        what = "Demo" if ctx.outcome is Outcome.DEMO_SCHEDULED else "Appointment"
        return f"{what} scheduled for {spoken_time(slot.start, ctx.time_zone, with_zone=True)}"
    if callback is not None and ctx.outcome is Outcome.CALLBACK_REQUESTED:
        return f"Callback requested for {spoken_time(callback, ctx.time_zone, with_zone=True)}"
    return f"Next step: {analysis['next_action'].replace('_', ' ')}"


def note_content(ctx: PostCall, analysis: dict[str, Any]) -> str:
    """The seed's note: a bullet summary, pain points, decision maker, next step with date, budget."""
    if not ctx.conversation:
        lines = [f"- {analysis['summary']}", f"- Last result: {ctx.outcome.value.replace('_', ' ')}"]
        return "AI Agent Call Summary:\n" + "\n".join(lines)
    topic = ctx.context.get("product_interest") or ctx.context.get("form_interest")
    interest = f"- Contact showed {analysis['interest_level']} interest" + (
        f" in {str(topic).replace('_', ' ')}" if topic else ""
    )
    lines = [interest]
    if analysis["pain_points"]:
        lines.append(f"- Current pain points: {', '.join(analysis['pain_points'])}")
    lines.append(
        "- Decision maker confirmed" if analysis["decision_maker"] else "- Decision maker not confirmed"
    )
    if analysis["objections"]:
        lines.append(f"- Objections: {', '.join(analysis['objections'])}")
    lines.append(f"- {_next_step(ctx, analysis)}")
    if analysis.get("budget"):
        lines.append(f"- Budget range: {analysis['budget']} discussed")
    lines.append(f"- Sentiment: {analysis['sentiment_trend']}; probability {analysis['probability']}%")
    return f"AI Agent Call Summary:\n{analysis['summary']}\n" + "\n".join(lines)


def write_note(call_id: str, attempt: int) -> list[str]:
    """Step 2b: the call note, once per call."""
    ctx = load(call_id, attempt)
    if not ctx.closes_contact:
        return []
    analysis = analysis_dict(ctx)
    crm_repo.put_record_once(
        ctx.contact.contact_id,
        "note",
        ctx.call_id,
        title=note_title(ctx),
        content=note_content(ctx, analysis),
        fields={"note_type": "call_summary", "purpose": ctx.purpose.value, "outcome": ctx.outcome.value},
    )
    return ["call_note_written"]
