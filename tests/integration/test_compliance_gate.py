"""The compliance rules at dial time, driven by the dialer's scheduler event and read back through
the API: every case here would have been dialed by the old gate (one campaign window for everyone)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from autocall.clock import CLOCK
from autocall.config import reset_settings
from autocall.domain.compliance import engine
from autocall.stores.consent import records_for
from autocall.stores.tables import CallRow

from local.carrier import CarrierSimulator
from tests.support import campaigns as builders
from tests.support.campaigns import (
    add_campaign,
    add_contact,
    campaign_calls,
    dial,
    reasons,
    status_callback,
    trigger,
)

api = builders.api
carrier = builders.carrier

FLORIDA = "+13055550123"  # Miami: US-FL, 08:00-20:00, 3 calls per 24 h on one subject
ALABAMA = "+12055550142"  # Birmingham: US-AL, no calls on Sundays
BERLIN = "+493012345678"  # DE: every Land's public holidays banned


def _call_of(api: Any, phone: str, tag: str, **campaign: Any) -> tuple[dict[str, Any], str]:
    contact = add_contact(api, phone, tag=tag)
    created = add_campaign(api, tag=tag, **campaign)
    status, body = trigger(api, created["campaign_id"])
    assert status == 202, body
    [call] = campaign_calls(created["campaign_id"])
    return contact, call.call_id


def _decisions(api: Any, call_id: str) -> list[dict[str, Any]]:
    status, body = api.api("GET", f"/calls/{call_id}")
    assert status == 200, body
    return list(body["dial_decisions"])


def _failing(decision: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in decision["checks"] if c["verdict"] == "fail"]


def test_a_florida_callee_at_2030_is_rescheduled_under_the_state_8pm_limit(api: Any) -> None:
    # the campaign's own window runs to 21:00: the federal floor allows 20:30, Florida does not
    _, call_id = _call_of(api, FLORIDA, "fl", calling_window={"start": "09:00", "end": "21:00"})
    CLOCK.freeze(datetime(2026, 11, 26, 1, 30, tzinfo=UTC))  # Wednesday 20:30 in Miami

    result = dial(api, call_id)

    assert (result["action"], result["reason"]) == ("rescheduled", "outside_calling_window"), result
    assert result["at"] == "2026-11-26T14:00:00Z"  # Thursday 09:00 in Miami: the campaign opens later
    assert reasons(CallRow.get(call_id))[-1] == "outside_calling_window"
    [decision] = _decisions(api, call_id)
    assert decision["allowed"] is False and decision["outcome"] == "reschedule"
    assert decision["next_allowed"] == decision["rescheduled_to"] == "2026-11-26T14:00:00Z"
    assert decision["jurisdictions"] == ["US", "US-FL"] and decision["zones"] == ["America/New_York"]
    assert {r["id"] for r in decision["rules"]} == {"US", "US-FL"}
    assert decision["rules_version"] == engine.load_rules().version
    [failing] = _failing(decision)
    assert failing["rule_id"] == "US-FL" and failing["inputs"]["allowed"] == ["08:00-20:00"]
    assert "20:30" in failing["reason"]
    federal = next(c for c in decision["checks"] if c["rule_id"] == "US")
    assert federal["verdict"] == "pass"
    assert decision["consent_evidence_id"]  # the contact's consent grant in the ledger
    [grant] = records_for(FLORIDA)
    assert grant.kind == "grant" and decision["consent_evidence_id"] == grant.record_id


def test_a_sunday_banned_state_is_called_on_monday(api: Any) -> None:
    contact, call_id = _call_of(api, ALABAMA, "al")
    CLOCK.freeze(datetime(2026, 11, 29, 18, 0, tzinfo=UTC))  # Sunday noon in Birmingham

    result = dial(api, call_id)

    assert (result["action"], result["reason"]) == ("rescheduled", "outside_calling_window"), result
    assert result["at"] == "2026-11-30T15:00:00Z"  # Monday 09:00 in Birmingham
    [failing] = _failing(_decisions(api, call_id)[0])
    assert failing["rule_id"] == "US-AL" and failing["reason"] == "no calls on sun under the rule US-AL"
    status, body = api.api("GET", f"/contacts/{contact['contact_id']}/dial-decisions")
    assert status == 200 and body["count"] == 1 and body["decisions"][0]["call_id"] == call_id


def test_a_holiday_of_the_callees_country_not_the_business_is_skipped(api: Any) -> None:
    # the campaign does not exclude holidays; Germany's rule bans every Land's public holidays
    _, call_id = _call_of(api, BERLIN, "de")
    CLOCK.freeze(
        datetime(2026, 12, 26, 9, 0, tzinfo=UTC)
    )  # Saturday 26 Dec 10:00 in Berlin: 2. Weihnachtstag

    result = dial(api, call_id)

    assert (result["action"], result["reason"]) == ("rescheduled", "outside_calling_window"), result
    assert result["at"] == "2026-12-28T08:00:00Z"  # Sunday is banned too: Monday 09:00 in Berlin
    [failing] = _failing(_decisions(api, call_id)[0])
    assert failing["rule_id"] == "DE" and failing["inputs"]["holiday"]
    assert "2026-12-26" in failing["reason"]


def test_an_unresolvable_number_is_ended_with_a_reason_and_never_dialed(
    api: Any, carrier: CarrierSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, call_id = _call_of(api, FLORIDA, "new")
    # an area code phonenumbers knows before the NANP table does (a new overlay): no state, no rule
    table = engine.nanp_table()
    codes = {code: regions for code, regions in table.area_codes.items() if code != "305"}
    monkeypatch.setattr(
        engine,
        "nanp_table",
        lambda: engine.NanpTable(table.version, codes, table.non_geographic, table.region_zones),
    )
    CLOCK.freeze(datetime(2026, 11, 25, 16, 0, tzinfo=UTC))  # Wednesday 11:00 in Miami: open for anyone

    result = dial(api, call_id)

    assert (result["action"], result["reason"]) == ("ended", "jurisdiction_unresolved: unknown_area_code")
    assert carrier.calls(to=FLORIDA) == []
    call = api.api("GET", f"/calls/{call_id}")[1]
    assert call["status"] == "canceled" and call["reasons"][-1]["reason"].startswith(
        "jurisdiction_unresolved"
    )
    [decision] = call["dial_decisions"]
    assert decision["allowed"] is False and decision["outcome"] == "end"
    assert decision["checks"][0]["kind"] == "resolution" and decision["jurisdictions"] == []
    assert decision["checks"][0]["inputs"]["failure"] == "unknown_area_code"
    assert FLORIDA not in str(decision)  # the number is masked in the audit record


def _dial_and_end(api: Any, call_id: str, at: datetime) -> None:
    CLOCK.freeze(at)
    result = dial(api, call_id)
    assert result["action"] == "dialed", result
    assert (
        status_callback(api, CallRow.get(call_id, consistent_read=True), "completed", CallDuration="30")
        == 200
    )


def _single_call(api: Any, contact_id: str, purpose: str, at: datetime) -> str:
    request = {"contact_id": contact_id, "call_purpose": purpose, "scheduled_time": at.isoformat()}
    status, body = api.api("POST", "/calls/api/calls/trigger_autonomous_call/", request)
    assert status == 202, body
    return str(body["call_id"])


def test_a_fourth_call_in_24_hours_on_one_subject_is_refused_across_campaigns(
    api: Any, carrier: CarrierSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the user's own per-number cap is loose; Florida's (3 per 24 h on one subject) is not
    monkeypatch.setenv("MAX_DIALS_PER_NUMBER_DAY", "10")
    monkeypatch.setenv("MAX_DIALS_PER_NUMBER_WEEK", "20")
    reset_settings()
    day = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # Wednesday 10:00 in Miami
    contact, first = _call_of(api, FLORIDA, "a")
    _dial_and_end(api, first, day)
    second = _single_call(api, contact["contact_id"], "renewal_reminder", day + timedelta(minutes=10))
    _dial_and_end(api, second, day + timedelta(minutes=10))
    third = _single_call(api, contact["contact_id"], "renewal_reminder", day + timedelta(minutes=20))
    _dial_and_end(api, third, day + timedelta(minutes=20))
    # another campaign on the same subject, whose window opens at 11:00
    CLOCK.freeze(day + timedelta(minutes=25))
    campaign = add_campaign(api, tag="a", name="Q4 renewals, second wave", calling_window={"start": "11:00"})
    assert trigger(api, campaign["campaign_id"])[0] == 202
    [fourth] = [c.call_id for c in campaign_calls(campaign["campaign_id"])]
    CLOCK.freeze(day + timedelta(hours=1))

    result = dial(api, fourth)

    assert (result["action"], result["reason"]) == ("rescheduled", "compliance_cap"), result
    # 24 h after the first of the three, at the second campaign's 11:00
    assert result["at"] == "2026-11-26T16:00:00Z"
    assert len(carrier.calls(to=FLORIDA)) == 3
    [decision] = _decisions(api, fourth)
    [cap] = _failing(decision)
    assert cap["kind"] == "cap" and cap["rule_id"] == "US-FL" and len(cap["inputs"]["counted"]) == 3
    assert [p["purpose"] for p in decision["prior_attempts"]] == ["renewal_reminder"] * 3
    # another subject is not capped by Florida's per-subject rule
    other = _single_call(api, contact["contact_id"], "customer_support", day + timedelta(minutes=65))
    CLOCK.freeze(day + timedelta(minutes=65))
    assert dial(api, other)["action"] == "dialed"
    # the contact's decisions across its calls, newest first, paged
    status, page = api.api("GET", f"/contacts/{contact['contact_id']}/dial-decisions?limit=2")
    assert status == 200 and [d["call_id"] for d in page["decisions"]] == [other, fourth]
    assert [d["outcome"] for d in page["decisions"]] == ["dial", "reschedule"]
    status, rest = api.api(
        "GET", f"/contacts/{contact['contact_id']}/dial-decisions?limit=10&cursor={page['next_cursor']}"
    )
    assert status == 200 and [d["call_id"] for d in rest["decisions"]] == [third, second, first]
    assert all(d["allowed"] and not _failing(d) for d in rest["decisions"])
    status, refused = api.api("GET", f"/contacts/{contact['contact_id']}/dial-decisions?cursor=e30x")
    assert status == 422 and refused["field"] == "cursor"


def test_the_calling_window_route_explains_the_next_moments_and_their_rules(api: Any) -> None:
    contact = add_contact(api, ALABAMA, tag="al")
    CLOCK.freeze(datetime(2026, 11, 28, 23, 0, tzinfo=UTC))  # Saturday 17:00 in Birmingham
    path = f"/contacts/{contact['contact_id']}/calling-window"

    status, body = api.api("GET", f"{path}?purpose=renewal_reminder")

    assert status == 200, body
    assert body["jurisdictions"] == ["US", "US-AL"] and body["zones"] == ["America/Chicago"]
    assert [m["opens"] for m in body["next_allowed"][:2]] == ["2026-11-28T23:00:00Z", "2026-11-30T15:00:00Z"]
    assert body["next_allowed"][0]["closes"] == "2026-11-29T02:00:00Z"  # Alabama's 20:00
    alabama = next(r for r in body["rules"] if r["id"] == "US-AL")
    assert alabama["sources"] and alabama["sources"][0]["url"].startswith("http")
    assert body["window"]["start"] == "09:00"
    status, body = api.api("GET", f"{path}?purpose=cold_calling")
    assert status == 422 and "purpose" in str(body)
    assert api.api("GET", "/contacts/nobody/calling-window?purpose=follow_up")[0] == 404
    assert api.api("GET", "/contacts/nobody/dial-decisions")[0] == 404
