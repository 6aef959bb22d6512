"""What the agent sends after a call: the calendar invite (ICS), e-mails, SMS and team notifications.
Plain text only; nothing here sends anything."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from autocall.config import get_settings
from autocall.domain.calendar.phrasing import spoken_time
from autocall.domain.post_call.context import PostCall, Slot
from autocall.models.enums import Outcome


def meeting_name(ctx: PostCall) -> str:
    settings = get_settings()
    if ctx.outcome is Outcome.DEMO_SCHEDULED:
        topic = ctx.context.get("product_interest") or "our platform"
        return f"{settings.business_name} demo: {topic}"
    return f"Appointment with {settings.business_name}"


def calendar_invite(ctx: PostCall, slot: Slot, attendees: list[str], stamp: datetime) -> bytes:
    """An iTIP REQUEST: calendars show it with accept/decline; the UID makes a resend an update."""
    from icalendar import Calendar, Event, vCalAddress, vText  # only a booking needs it

    settings = get_settings()
    calendar = Calendar()
    calendar.add("prodid", "-//autocall//post-call//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = Event()
    event.add("uid", f"{ctx.call_id}@autocall")
    event.add("dtstamp", stamp)
    event.add("dtstart", slot.start)
    event.add("dtend", slot.end)
    event.add("summary", meeting_name(ctx))
    event.add("description", f"Booked by {settings.agent_name} on a call with {ctx.contact.name}.")
    event.add("sequence", 0)
    event.add("status", "CONFIRMED")
    organizer = vCalAddress(f"mailto:{settings.sender_email}")
    organizer.params["cn"] = vText(f"{settings.agent_name} ({settings.business_name})")
    event["organizer"] = organizer
    for address in attendees:
        attendee = vCalAddress(f"mailto:{address}")
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["rsvp"] = vText("TRUE")
        event.add("attendee", attendee, encode=False)
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def invite_email(ctx: PostCall, slot: Slot) -> tuple[str, str]:
    when = spoken_time(slot.start, ctx.time_zone, with_zone=True)
    body = (
        f"Hi {ctx.contact.name.split()[0]},\n\n"
        f"As agreed on the phone, here is the invitation for {meeting_name(ctx)} on {when} "
        f"({slot.minutes} minutes).\n\n{get_settings().agent_name}, {get_settings().business_name}"
    )
    return f"Invitation: {meeting_name(ctx)} - {when}", body


def preparation_email(ctx: PostCall, slot: Slot, analysis: dict[str, Any]) -> tuple[str, str]:
    settings = get_settings()
    focus = analysis["pain_points"] or ["your current setup"]
    body = (
        f"Hi {ctx.contact.name.split()[0]},\n\n"
        f"To get the most from your demo on {spoken_time(slot.start, ctx.time_zone, with_zone=True)}:\n"
        f"- We will focus on: {', '.join(focus)}\n"
        "- Have a rough picture of your current setup and team size at hand\n"
        "- Invite whoever else takes part in the decision\n\n"
        f"{settings.agent_name}, {settings.business_name}"
    )
    return f"Preparing for your {settings.business_name} demo", body


def reminder_text(ctx: PostCall, slot: Slot, lead: str) -> str:
    when = spoken_time(slot.start, ctx.time_zone, with_zone=True)
    ahead = "tomorrow" if lead == "24h" else "in one hour"
    return f"{get_settings().business_name}: reminder, {meeting_name(ctx)} is {ahead} ({when})."


def survey_text(ctx: PostCall) -> str:
    return (
        f"{get_settings().business_name}: thanks for talking with us today. How satisfied are you with how "
        "we resolved your issue? Reply 1 (poor) to 5 (great)."
    )


def team_notification(
    ctx: PostCall, analysis: dict[str, Any], headline: str, priority: str
) -> tuple[str, str]:
    company = f" ({ctx.contact.company})" if ctx.contact.company else ""
    subject = f"[{priority.upper()}] {headline}: {ctx.contact.name}{company}"
    lines = [
        f"{headline} - {ctx.purpose.value} call {ctx.call_id}",
        f"Contact: {ctx.contact.name}{company}, id {ctx.contact.contact_id}",
        f"Summary: {analysis['summary']}",
        f"Interest: {analysis['interest_level']}; probability {analysis['probability']}%; "
        f"estimated value ${analysis['estimated_value']:,.0f}",
        f"Pain points: {', '.join(analysis['pain_points']) or 'none stated'}",
        f"Next action: {analysis['next_action']}",
    ]
    if ctx.slot is not None:
        lines.append(f"Meeting: {spoken_time(ctx.slot.start, ctx.time_zone, with_zone=True)}")
    if ctx.escalation_reason:
        lines.append(f"Escalation reason: {ctx.escalation_reason}")
    if ctx.outcome is Outcome.HUMAN_REQUESTED:
        at = ctx.person_requested_at
        lines += [
            "The callee asked to talk to a person, and was promised that someone from the team calls back.",
            f"Preferred time: {spoken_time(at, ctx.time_zone, with_zone=True)} (the callee's time)"
            if at is not None
            else "Preferred time: none given; call as soon as you can",
            f"Phone: {ctx.contact.phone}",
            "The agent will not call this contact while this follow-up is open. Close it when done: "
            f"POST /calls/{ctx.call_id}/handoff/close",
        ]
    return subject, "\n".join(lines)
