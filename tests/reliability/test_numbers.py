"""Numbers and hours (issue 14, findings 2 and 3), through the API, the signed web form and the
dialer's schedule, with the carrier simulator on the line.

- The callee's real hours: the calling window must hold in every zone a number can be in (+1 800,
  Australian and Russian mobiles span several); a supplied time zone is accepted only when it is one
  of them, and then narrows the set; every dial-time decision records the zones it checked.
- Dialable numbers: premium rate, shared cost, UAN, personal, pager, voicemail, satellite and
  international-network numbers, the caller id, emergency numbers and short codes are refused
  (422 naming ``phone``); only the allowed countries are called, at creation and again at dial time.
- Frequency: one live or scheduled call per number and purpose; form posts and bulk + single
  triggers never ring one number twice within minutes; at most N dials per number per rolling 24 h
  and 7 days, enforced by the dialer."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from autocall.clock import CLOCK
from autocall.domain.forms import sign
from autocall.models.records import Contact
from autocall.stores.contacts import save_contact
from autocall.stores.tables import CallRow, ContactRow

from tests.support.reliability import COUNTS, NOW, Line, new_number, row, tables_snapshot

TRIGGER = "/calls/api/calls/trigger_autonomous_call/"
BULK = "/calls/api/calls/bulk_autonomous_calls/"
NINE, EIGHT_PM = clock_time(9), clock_time(20)

# numbers that span several zones (phonenumbers.timezone), and the zones they span
TOLL_FREE = "+18005550100"  # every North American zone, America/Adak first
AU_MOBILE = "+61412345678"  # Adelaide first, Perth, Cocos ... Lord Howe
RU_MOBILE = "+79161234567"  # Almaty first, Moscow ... Kamchatka


# --- how the tests talk to the stack -------------------------------------------------------------


def api(line: Line, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
    """A route as API Gateway delivers it: the proxy event into the function (bearer token checked)."""
    return line.aws.api(method, path, body, **kwargs)


def form(line: Line, fields: dict[str, Any], sent_at: datetime | None = None) -> tuple[int, Any]:
    """The web form's backend posting ``fields``, signed with the form's secret."""
    raw = json.dumps({"consent_text": "Yes, call me about a demo.", **fields})
    stamp = str(int((sent_at or CLOCK.now()).timestamp()))
    headers = {
        "X-Autocall-Timestamp": stamp,
        "X-Autocall-Signature": sign("local-form-secret", stamp, raw.encode()),
    }
    return line.aws.api("POST", "/forms/website", None, headers=headers, raw_body=raw)


def settle(line: Line, timeout: float = 20) -> None:
    """Wait for the invocations a request started and the calls the carrier is running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not line.aws.registry.busy and line.carrier.wait_idle(0):
            return
        time.sleep(0.02)
    raise AssertionError("the stack did not settle")


def contact(line: Line, phone: str, **fields: Any) -> dict[str, Any]:
    status, body = api(
        line, "POST", "/contacts", {"name": "Dana Whitfield", "phone": phone, "consent": True, **fields}
    )
    assert status == 201, body
    return dict(body)


def trigger(line: Line, contact_id: str, purpose: str = "sales_outreach", at: datetime | None = None) -> str:
    body: dict[str, Any] = {"contact_id": contact_id, "call_purpose": purpose}
    if at is not None:
        body["scheduled_time"] = at.isoformat()
    status, answer = api(line, "POST", TRIGGER, body)
    assert status == 202, answer
    return str(answer["call_id"])


def fire(line: Line, call_id: str, at: datetime) -> dict[str, Any]:
    """The call's schedule firing at ``at``: the dialer's own event."""
    CLOCK.freeze(at)
    return line.dial(call_id)


def configure(line: Line, monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    """Give every function that has these variables these values (as a redeploy with other
    parameters would), from the next invocation on."""
    from autocall.config import reset_settings

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    line.aws.registry.refresh_environments()
    reset_settings()


def open_in(moment: datetime, zone: str) -> bool:
    """09:00-20:00 on the callee's clock in ``zone``, read straight from the tz database."""
    return NINE <= moment.astimezone(ZoneInfo(zone)).time() < EIGHT_PM


def calls_to(line: Line, contact_id: str) -> list[CallRow]:
    return list(CallRow.by_contact.query(contact_id))


@pytest.fixture
def world(line: Line, monkeypatch: pytest.MonkeyPatch) -> Iterator[Line]:
    """The line, with numbers from these countries allowed (as the AllowedCountries parameter)."""
    configure(line, monkeypatch, ALLOWED_COUNTRIES="US,CA,GB,DE,AU,RU,IN")
    yield line


# --- finding 2: the callee's real hours --------------------------------------------------------

ZONE_CLAIMS = [  # (number, a zone it cannot be in)
    ("+12125550142", "Asia/Kolkata"),  # the New York number moved to India
    ("+14155550123", "America/New_York"),  # a Los Angeles number said to be in New York
    (AU_MOBILE, "America/New_York"),
    (RU_MOBILE, "Europe/London"),
]
ZONE_CLAIMS_ROW = (
    "supplied time zones the number cannot be in, by API create, PATCH and form: "
    "422 naming time_zone, 0 writes"
)


def test_a_time_zone_the_number_cannot_be_in_is_refused_naming_time_zone(world: Line) -> None:
    for phone, zone in ZONE_CLAIMS:
        before = tables_snapshot()
        status, body = api(world, "POST", "/contacts", {"name": "Mallory", "phone": phone, "time_zone": zone})
        assert (status, body.get("field")) == (422, "time_zone"), body
        assert "not a zone this number can be in" in body["message"]
        status, body = form(world, {"name": "Mallory", "phone": phone, "time_zone": zone})
        assert (status, body.get("field")) == (422, "time_zone"), body
        assert tables_snapshot() == before
        COUNTS[ZONE_CLAIMS_ROW] += 2
    created = contact(world, "+12125550143")
    before = tables_snapshot()
    status, body = api(world, "PATCH", f"/contacts/{created['contact_id']}", {"time_zone": "Asia/Kolkata"})
    assert (status, body.get("field")) == (422, "time_zone"), body
    assert tables_snapshot() == before
    COUNTS[ZONE_CLAIMS_ROW] += 1
    # the number's own zone is accepted, and so is another name of it (phonenumbers says Asia/Calcutta)
    new_york = contact(world, "+12125550144", time_zone="America/New_York")
    assert new_york["time_zones"] == ["America/New_York"]
    assert contact(world, "+918041234567", time_zone="Asia/Kolkata")["time_zones"] == ["Asia/Kolkata"]


AMBIGUOUS_ROW = (
    "numbers spanning several zones (+1 800: 42, AU mobile: 8, RU mobile: 16) fired when open in their "
    "first zone only: 0 dialed; dialed once open in every zone"
)


NEVER_OPEN = {TOLL_FREE, RU_MOBILE}  # see below: the rules' windows never hold in all their zones


@pytest.mark.parametrize("phone", [TOLL_FREE, AU_MOBILE, RU_MOBILE])
def test_a_number_in_several_zones_is_dialed_only_when_every_zone_is_open(world: Line, phone: str) -> None:
    from phonenumbers import parse
    from phonenumbers.timezone import time_zones_for_number

    zones = list(time_zones_for_number(parse(phone)))
    assert len(zones) > 1
    created = contact(world, phone)
    # 09:30 on the first zone's clock tomorrow: open there, not in every zone (07:00 in Perth ...)
    first = ZoneInfo(zones[0])
    only_first = datetime.combine(
        (NOW + timedelta(days=1)).astimezone(first).date(), clock_time(9, 30), first
    )
    assert not all(open_in(only_first, zone) for zone in zones)
    call_id = trigger(world, created["contact_id"], at=only_first)

    result = fire(world, call_id, only_first)

    if phone in NEVER_OPEN:
        # Changed by the compliance rules (rules.json): +1 800 with no zone given binds the US federal
        # rule (08:00-21:00) in 42 zones from Pacific/Guam to America/St_Johns, and a Russian mobile
        # (no rule: the fallback's weekday 10:00-13:00/14:00-17:00) from Europe/Bucharest to
        # Asia/Anadyr: no moment is open in all of them. Fail closed: ended with the reason, never dialed.
        assert (result["action"], result["reason"]) == ("ended", "no_allowed_moment"), result
        assert row(call_id).reasons[-1]["zones"] == zones
        assert world.carrier.calls(to=phone) == []
        COUNTS[AMBIGUOUS_ROW] += 1
        return
    assert (result["action"], result["reason"]) == ("rescheduled", "outside_calling_window"), result
    due = datetime.fromisoformat(result["at"])
    assert all(open_in(due, zone) for zone in zones), (phone, due)
    assert row(call_id).reasons[-1]["zones"] == zones  # the decision names every zone it checked
    assert world.carrier.calls(to=phone) == []
    # a minute before the opening, still not; at it, dialed
    assert fire(world, call_id, due - timedelta(minutes=1))["action"] == "rescheduled"
    assert fire(world, call_id, due)["action"] == "dialed"
    settle(world)
    [placed] = world.carrier.calls(to=phone)
    assert all(open_in(placed.date_created, zone) for zone in zones)
    assert row(call_id).attempt_history[0]["zones"] == zones
    assert api(world, "GET", f"/contacts/{created['contact_id']}")[1]["time_zones"] == zones
    COUNTS[AMBIGUOUS_ROW] += 3


def test_a_supplied_zone_narrows_an_ambiguous_number(world: Line) -> None:
    created = contact(world, AU_MOBILE, time_zone="Australia/Perth")
    assert created["time_zones"] == ["Australia/Perth"] and created["time_zone"] == "Australia/Perth"
    perth_morning = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)  # 09:30 in Perth, 06:00 on Cocos
    call_id = trigger(world, created["contact_id"], at=perth_morning)
    assert fire(world, call_id, perth_morning)["action"] == "dialed"
    assert row(call_id).attempt_history[0]["zones"] == ["Australia/Perth"]
    # and back to every zone of the number when the zone is taken away
    status, body = api(world, "PATCH", f"/contacts/{created['contact_id']}", {"time_zone": None})
    assert status == 200 and len(body["time_zones"]) == 8, body


CAMPAIGN_ROW = "campaign calls planned for numbers in several zones: every planned time open in every zone"


def test_a_campaign_plans_every_call_at_a_moment_open_in_all_its_zones(world: Line) -> None:
    from phonenumbers import parse
    from phonenumbers.timezone import time_zones_for_number

    phones = [TOLL_FREE, AU_MOBILE, RU_MOBILE, "+12125550150", "+441614960517"]
    for phone in phones:
        contact(world, phone, tags=["zones"])
    status, campaign = api(
        world, "POST", "/campaigns", {"name": "Zones", "purpose": "sales_outreach", "tag": "zones"}
    )
    assert status == 201, campaign
    status, started = api(
        world, "POST", "/calls/api/calls/trigger_campaign_calls/", {"campaign_id": campaign["campaign_id"]}
    )
    assert status == 202, started
    planned = {c.contact_id: c for c in CallRow.by_campaign.query(campaign["campaign_id"])}
    by_phone = {r.phone: planned[r.contact_id] for r in ContactRow.scan() if r.contact_id in planned}
    # Changed by the compliance rules (rules.json): +1 800 (the US federal floor and every state's rule,
    # from Pacific/Guam to America/St_Johns) and a Russian mobile (the fallback's weekday hours, from
    # Europe/Bucharest to Asia/Anadyr) never open in all their zones: the fan-out skips them with the
    # reason instead of planning calls the dialer would end.
    assert set(by_phone) == set(phones) - NEVER_OPEN
    view = api(world, "GET", f"/campaigns/{campaign['campaign_id']}")[1]
    assert view["fanout"]["skipped"] == {"no_calling_window_within_90_days": len(NEVER_OPEN)}
    for phone, call in by_phone.items():
        due = datetime.fromisoformat(call.scheduled_time)
        zones = [z for z in time_zones_for_number(parse(phone)) if z != "Etc/Unknown"]
        assert all(open_in(due, zone) for zone in zones), (phone, call.scheduled_time)
        COUNTS[CAMPAIGN_ROW] += 1


# --- finding 3: dialable numbers ---------------------------------------------------------------

REFUSED = {
    "+19005550100": "premium_rate",  # US 1-900
    "+449091234567": "premium_rate",  # UK 0909
    "+448712345678": "premium_rate",  # UK 0871
    "+4918012345": "shared_cost",  # DE 0180
    "+445512345678": "uan",  # UK 055
    "+447012345678": "personal_number",  # UK 070
    "+447623456789": "pager",  # UK 076
    "+49177991234567": "voicemail_access",  # DE mobile voicemail
    "+8823421234": "non_geographic",  # international networks
    "+883510012345": "non_geographic",
    "+881612345678": "non_geographic",  # satellite (Globalstar)
    "+870301234567": "non_geographic",  # satellite (Inmarsat)
    "+80012345678": "non_geographic",  # international freephone
    "911": "emergency_number",
    "112": "emergency_number",
    "22395": "short_code",
}
REFUSED_ROW = (
    "premium, shared-cost, UAN, personal, pager, voicemail, satellite and international-network "
    "numbers, emergency numbers, short codes and the caller id, by API create, PATCH and form: "
    "422 naming phone, 0 writes, 0 dialed"
)


def test_numbers_that_cost_or_reach_no_one_are_refused_naming_phone(
    world: Line, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(world, monkeypatch, TWILIO_CALLER_ID="+12125550100")
    cases = {**REFUSED, "+12125550100": "caller_id", "(212) 555-0100": "caller_id"}
    existing = contact(world, "+12125550160")
    for phone, reason in cases.items():
        before = tables_snapshot()
        answers = [
            api(world, "POST", "/contacts", {"name": "Mallory", "phone": phone, "consent": True}),
            api(world, "PATCH", f"/contacts/{existing['contact_id']}", {"phone": phone}),
            form(world, {"name": "Mallory", "phone": phone}),
        ]
        for status, body in answers:
            assert (status, body.get("field")) == (422, "phone"), (phone, body)
            assert (body.get("error"), body.get("reason")) == ("number_not_dialable", reason), (phone, body)
        assert tables_snapshot() == before, phone
        COUNTS[REFUSED_ROW] += len(answers)
    settle(world)
    assert world.carrier.calls() == []  # the issue's +882 form post was dialed: nothing is now


COUNTRY_ROW = (
    "numbers outside the allowed countries (default: the caller id's), at creation, trigger and "
    "dial time: refused, 0 dialed"
)


def test_allowed_countries_default_to_the_caller_ids_and_hold_at_dial_time(
    line: Line, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(line, monkeypatch, ALLOWED_COUNTRIES="")  # the template's default: the caller id's country
    berlin, toronto = "+493090182744", "+14165550134"
    for phone in (berlin, toronto):
        status, body = api(line, "POST", "/contacts", {"name": "Hannah", "phone": phone, "consent": True})
        assert (status, body.get("field"), body.get("error")) == (422, "phone", "number_not_dialable"), body
        assert "this deployment calls US" in body["message"]
        COUNTS[COUNTRY_ROW] += 1
    configure(line, monkeypatch, ALLOWED_COUNTRIES="US,DE")
    hannah = contact(line, berlin)
    call_id = trigger(line, hannah["contact_id"], at=NOW + timedelta(minutes=5))
    configure(line, monkeypatch, ALLOWED_COUNTRIES="")  # Germany taken off the list before the dial
    status, body = api(
        line, "POST", TRIGGER, {"contact_id": hannah["contact_id"], "call_purpose": "follow_up"}
    )
    assert (status, body.get("field"), body.get("error")) == (422, "contact_id", "number_not_dialable"), body
    result = fire(line, call_id, NOW + timedelta(minutes=5))
    assert (result["action"], result["reason"]) == ("ended", "number_not_dialable: country_not_allowed"), (
        result
    )
    # a contact stored before numbers were checked: the dialer refuses it as well
    legacy = save_contact(
        Contact(contact_id="legacy-premium", name="Old", phone="+19005550100", consent=True)
    )
    stored = CallRow(call_id="legacy-call", contact_id=legacy.contact_id, purpose="sales_outreach",
                     status="scheduled", scheduled_time="2026-11-25T17:05:00Z",
                     created_at=NOW, updated_at=NOW)  # fmt: skip
    stored.save()
    result = fire(line, "legacy-call", NOW + timedelta(minutes=5))
    assert (result["action"], result["reason"]) == ("ended", "number_not_dialable: premium_rate"), result
    settle(line)
    assert line.carrier.calls() == []
    COUNTS[COUNTRY_ROW] += 3


PENDING_ROW = (
    "second triggers for a number and purpose with a call pending (single, bulk, twice in one bulk, "
    "another contact with the number): 409 naming the pending call, 0 writes"
)


def test_a_second_trigger_for_a_number_and_purpose_is_409_naming_the_pending_call(line: Line) -> None:
    phone = new_number()
    dana = contact(line, phone)
    tomorrow = NOW + timedelta(days=1)
    first = trigger(line, dana["contact_id"], at=tomorrow)
    twin = contact(line, phone)  # another contact with the same number
    before = tables_snapshot()
    attempts = [
        (TRIGGER, {"contact_id": dana["contact_id"], "call_purpose": "sales_outreach"}, "contact_id"),
        (TRIGGER, {"contact_id": twin["contact_id"], "call_purpose": "sales_outreach"}, "contact_id"),
        (BULK, {"calls": [{"contact_id": dana["contact_id"], "call_purpose": "sales_outreach"}]},
         "calls[0].contact_id"),
        (BULK, {"calls": [{"contact_id": dana["contact_id"], "call_purpose": "follow_up"},
                          {"contact_id": twin["contact_id"], "call_purpose": "follow_up"}]},
         "calls[1].contact_id"),
    ]  # fmt: skip
    for path, body, field in attempts:
        status, answer = api(line, "POST", path, body)
        assert (status, answer.get("field")) == (409, field), answer
        if answer["error"] == "call_pending":
            assert answer["call_id"] == first
        COUNTS[PENDING_ROW] += 1
    assert tables_snapshot() == before
    follow_up = trigger(line, dana["contact_id"], "follow_up", at=tomorrow)  # another purpose: its own call
    assert follow_up != first
    assert api(line, "DELETE", f"/calls/{first}")[0] == 200
    assert trigger(line, twin["contact_id"], at=tomorrow) not in (first, follow_up)  # free once cancelled


FORM_ROW = "form posts for one number while its call is pending: 1 call, 1 dial"


def test_form_posts_for_one_number_make_one_call_and_one_dial(line: Line) -> None:
    phone = new_number()
    line.carrier.register_callee(phone, "busy_call_me_back", name="Dana")
    line.hold()  # the first call stays on the line while the visitor keeps posting
    answers = [
        form(line, {"name": "Dana Whitfield", "phone": phone}, NOW + timedelta(seconds=n)) for n in range(4)
    ]
    assert [status for status, _ in answers] == [202] * 4, answers
    call_ids = {body["call_id"] for _, body in answers}
    assert len(call_ids) == 1, answers
    assert [body.get("already_pending", False) for _, body in answers] == [False, True, True, True]
    line.release()
    [call_id] = call_ids
    line.wait_terminal(call_id)
    settle(line)
    assert len(line.carrier.calls(to=phone)) == 1
    assert [c.call_id for c in calls_to(line, answers[0][1]["contact_id"])] == [call_id]
    COUNTS[FORM_ROW] += 4


BURST_ROW = (
    "bulk (3 purposes) right after a single trigger for one contact, all due now, schedules fired as "
    "they come due for 20 minutes: 3 dials 5 minutes apart, the 4th moved a day on (daily cap)"
)


def pump(line: Line, call_ids: list[str], until: datetime) -> None:
    """EventBridge Scheduler for ``call_ids``: fire the earliest due call, again and again, until
    ``until`` (the clock jumps to each due time)."""
    while True:
        waiting = [row(c) for c in call_ids if row(c).status == "scheduled"]
        due = min((datetime.fromisoformat(c.scheduled_time), c.call_id) for c in waiting) if waiting else None
        if due is None or due[0] > until:
            return
        fire(line, due[1], max(due[0], CLOCK.now()))
        settle(line)


def test_bulk_and_single_triggers_for_one_contact_never_ring_it_twice_in_minutes(line: Line) -> None:
    phone = new_number()
    dana = contact(line, phone)  # nobody answers: every call is over at once
    first = trigger(line, dana["contact_id"])
    settle(line)
    assert line.wait_terminal(first).status == "no_answer"
    status, body = api(line, "POST", BULK, {"calls": [
        {"contact_id": dana["contact_id"], "call_purpose": purpose}
        for purpose in ("follow_up", "customer_support", "appointment_booking")
    ]})  # fmt: skip
    assert status == 202, body
    settle(line)
    bulk = [c["call_id"] for c in body["calls"]]
    pump(line, bulk, NOW + timedelta(minutes=20))

    dialed = sorted(c.date_created for c in line.carrier.calls(to=phone))
    assert [d - NOW for d in dialed] == [timedelta(0), timedelta(minutes=5), timedelta(minutes=10)], dialed
    [capped] = [row(c) for c in bulk if row(c).status == "scheduled"]
    assert capped.reasons[-1]["reason"] == "number_daily_cap"
    assert capped.scheduled_time == "2026-11-26T17:00:00Z"  # 24 h after the first dial
    COUNTS[BURST_ROW] += 4


CAPS_ROW = (
    "dials to one number past the caps (2 per rolling 24 h, 3 per 7 days), fired by its schedule: "
    "rescheduled to when the cap lifts, reason and counts recorded"
)


def test_the_dialer_caps_dials_per_number_per_rolling_day_and_week(
    line: Line, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(line, monkeypatch, MAX_DIALS_PER_NUMBER_DAY="2", MAX_DIALS_PER_NUMBER_WEEK="3")
    phone = new_number()
    dana = contact(line, phone)  # nobody answers: each call ends at once

    def attempt(purpose: str, at: datetime) -> tuple[str, dict[str, Any]]:
        call_id = trigger(line, dana["contact_id"], purpose, at=at)
        result = fire(line, call_id, at)
        settle(line)
        return call_id, result

    start = NOW + timedelta(minutes=5)
    assert attempt("sales_outreach", start)[1]["action"] == "dialed"
    assert attempt("follow_up", start + timedelta(hours=1))[1]["action"] == "dialed"
    third, result = attempt("customer_support", start + timedelta(hours=2))
    assert (result["action"], result["reason"]) == ("rescheduled", "number_daily_cap"), result
    assert result["at"] == "2026-11-26T17:05:00Z"  # 24 h after the first dial (noon in New York)
    reason = row(third).reasons[-1]
    assert (reason["number_dials_24h"], reason["number_dials_7d"], reason["zones"]) == (
        2,
        2,
        ["America/New_York"],
    )
    assert fire(line, third, datetime.fromisoformat(result["at"]))["action"] == "dialed"
    settle(line)
    _, result = attempt("appointment_booking", start + timedelta(hours=25))
    assert (result["action"], result["reason"]) == ("rescheduled", "number_weekly_cap"), result
    assert result["at"] == "2026-12-02T17:05:00Z"  # 7 days after the first dial
    assert len(line.carrier.calls(to=phone)) == 3
    COUNTS[CAPS_ROW] += 2


DUPLICATE_ROW = (
    "a campaign call and an API call for one number and purpose (the API's came second): the dialer "
    "ends the one that fires first as a duplicate, 0 dialed; a campaign started later skips the number"
)


def test_the_dialer_ends_a_second_pending_call_for_a_number_and_purpose(line: Line) -> None:
    phone = new_number()
    dana = contact(line, phone, tags=["dup"])
    morning = {"start": "09:00", "end": "10:00"}  # closed now (noon in New York): planned for tomorrow
    status, campaign = api(
        line,
        "POST",
        "/campaigns",
        {"name": "Dup", "purpose": "sales_outreach", "tag": "dup", "calling_window": morning},
    )
    assert status == 201, campaign
    status, started = api(
        line, "POST", "/calls/api/calls/trigger_campaign_calls/", {"campaign_id": campaign["campaign_id"]}
    )
    assert status == 202, started
    [planned] = CallRow.by_campaign.query(campaign["campaign_id"])
    assert planned.scheduled_time == "2026-11-26T14:00:00Z"  # 09:00 tomorrow in New York
    # the campaign's call holds nothing until it dials: the API accepts its own call for later
    own = trigger(line, dana["contact_id"], at=datetime(2026, 11, 26, 15, 30, tzinfo=UTC))

    result = fire(line, planned.call_id, datetime.fromisoformat(planned.scheduled_time))

    assert (result["action"], result["reason"]) == ("ended", "duplicate_call"), result
    assert row(planned.call_id).reasons[-1]["pending_call_id"] == own
    settle(line)
    assert line.carrier.calls(to=phone) == []
    # a campaign started now skips the number: its sales_outreach call is pending
    status, again = api(
        line,
        "POST",
        "/campaigns",
        {"name": "Dup 2", "purpose": "sales_outreach", "tag": "dup", "calling_window": morning},
    )
    status, started = api(
        line, "POST", "/calls/api/calls/trigger_campaign_calls/", {"campaign_id": again["campaign_id"]}
    )
    assert status == 202 and started["calls"] == [], started
    assert started["skipped"] == [{"contact_id": dana["contact_id"], "reason": "call_pending"}]
    COUNTS[DUPLICATE_ROW] += 2


RETRY_ROW = "retries booked by the post-call chain for a number in several zones: booked open in every zone"


def test_the_post_call_chain_books_a_retry_open_in_every_zone(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autocall.config import reset_settings
    from autocall.domain.contacts import create_contact
    from autocall.models.api import ContactCreateRequest

    from tests.support.post_call import NOW as CHAIN_NOW
    from tests.support.post_call import call, finished_call, run_chain

    monkeypatch.setenv("ALLOWED_COUNTRIES", "US,AU")
    aws.registry.refresh_environments()
    reset_settings()
    CLOCK.freeze(CHAIN_NOW)  # 03:00 in Adelaide: the 2-hour retry falls at 05:00 there
    callee = create_contact(
        ContactCreateRequest.model_validate({"name": "Kylie", "phone": AU_MOBILE, "consent": True})
    )
    call_id = finished_call(callee, "sales_outreach", "no_answer", status="no_answer", answered_by=None)
    run_chain(call_id)
    booked = call(call_id)
    assert booked.status == "scheduled", booked.reasons
    due = datetime.fromisoformat(booked.scheduled_time)
    zones = [
        "Australia/Adelaide", "Australia/Brisbane", "Australia/Eucla", "Australia/Lord_Howe",
        "Australia/Perth", "Australia/Sydney", "Indian/Christmas", "Indian/Cocos",
    ]  # fmt: skip
    assert all(open_in(due, zone) for zone in zones), booked.scheduled_time
    COUNTS[RETRY_ROW] += 1
