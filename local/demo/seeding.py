"""Asking for the calls, as a user's script would: the contacts, then every kind of trigger
(a campaign, single and scheduled calls, a bulk request, signed web-form leads) over the API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from local.api_client import ApiClient
from local.demo.book import CAMPAIGN_CONTEXT, CAMPAIGN_PURPOSE, CAMPAIGN_TAG, DemoContact


class DemoError(Exception):
    """The demo could not go on (the API did something other than what the demo asked for)."""


@dataclass(frozen=True)
class Tracked:
    """A call the demo asked for, and who it is for."""

    contact: DemoContact
    contact_id: str
    call_id: str
    time_zone: str


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seed_contacts(api: ApiClient, book: tuple[DemoContact, ...]) -> dict[str, dict[str, Any]]:
    """POST /contacts for everyone but the web-form leads (the form creates those)."""
    created = {}
    for contact in book:
        if contact.trigger == "form":
            continue
        body: dict[str, Any] = {
            "name": contact.name,
            "phone": contact.phone,
            "email": contact.email,
            "company": contact.company,
            "consent": True,
            "consent_text": "Agreed to be called about their account (demo data).",
            "tags": [CAMPAIGN_TAG] if contact.trigger == "campaign" else ["demo"],
        }
        if contact.time_zone:
            body["time_zone"] = contact.time_zone
        created[contact.name] = api.expect(201, "POST", "/contacts", json=body)
    return created


def trigger_calls(
    api: ApiClient, book: tuple[DemoContact, ...], contacts: dict[str, dict[str, Any]], form_secret: str
) -> tuple[list[Tracked], str | None]:
    """Every kind of trigger, through the public API. Returns the calls and the campaign id."""
    from autocall.clock import now
    from autocall.domain.campaigns import campaign_call_id
    from autocall.domain.forms import sign

    tracked: list[Tracked] = []

    def track(contact: DemoContact, view: dict[str, Any], call_id: str) -> None:
        tracked.append(Tracked(contact, view["contact_id"], call_id, view["time_zone"]))

    campaign_id = None
    in_campaign = [c for c in book if c.trigger == "campaign"]
    if in_campaign:
        campaign = api.expect(
            201,
            "POST",
            "/campaigns",
            json={
                "name": "Q1 cloud migration outreach",
                "purpose": CAMPAIGN_PURPOSE,
                "tag": CAMPAIGN_TAG,
                "stagger_minutes": 1,
                "calling_window": {"start": "09:00", "end": "20:00", "exclude_weekends": True},
                "context": CAMPAIGN_CONTEXT,
            },
        )
        campaign_id = campaign["campaign_id"]
        started = api.expect(
            202,
            "POST",
            "/calls/api/calls/trigger_campaign_calls/",
            json={"campaign_id": campaign_id, "call_purpose": CAMPAIGN_PURPOSE, "stagger_minutes": 1},
        )
        created = {c["call_id"] for c in started["calls"]}
        for contact in in_campaign:
            view = contacts[contact.name]
            call_id = campaign_call_id(campaign_id, view["contact_id"])  # deterministic, as the fan-out's
            if call_id not in created:
                raise DemoError(f"the campaign did not call {contact.name}: {started['skipped']}")
            track(contact, view, call_id)

    for contact in book:
        view = contacts.get(contact.name, {})
        if contact.trigger in ("single", "scheduled"):
            body: dict[str, Any] = {
                "contact_id": view["contact_id"],
                "call_purpose": contact.purpose,
                "context": contact.context,
                "voice_mode": contact.voice_mode,
            }
            if contact.trigger == "scheduled":
                body["scheduled_time"] = _iso(now() + timedelta(minutes=contact.delay_minutes))
            answer = api.expect(
                202,
                "POST",
                "/calls/api/calls/trigger_autonomous_call/",
                json=body,
                idempotency_key=f"demo-{contact.phone}-{contact.purpose}",
            )
            track(contact, view, answer["call_id"])

    bulk = [c for c in book if c.trigger == "bulk"]
    if bulk:
        items = [
            {
                "contact_id": contacts[c.name]["contact_id"],
                "call_purpose": c.purpose,
                "delay_minutes": c.delay_minutes,
                "context": c.context,
            }
            for c in bulk
        ]
        answer = api.expect(202, "POST", "/calls/api/calls/bulk_autonomous_calls/", json={"calls": items})
        for contact, call in zip(bulk, answer["calls"], strict=True):
            track(contact, contacts[contact.name], call["call_id"])

    for contact in (c for c in book if c.trigger == "form"):
        fields = {
            "name": contact.name,
            "phone": contact.phone,
            "email": contact.email,
            "company": contact.company,
            "consent_text": "Yes, call me about my request. (website form)",
            **contact.context,
        }
        raw = json.dumps(fields).encode()
        stamp = str(int(now().timestamp()))
        answer = api.expect(
            202,
            "POST",
            "/forms/website",
            data=raw,
            headers={
                "Content-Type": "application/json",
                "X-Autocall-Timestamp": stamp,
                "X-Autocall-Signature": sign(form_secret, stamp, raw),
            },
        )
        view = api.expect(200, "GET", f"/contacts/{answer['contact_id']}")
        track(contact, view, answer["call_id"])
    return tracked, campaign_id
