"""Issue 14, findings 1, 7 and 8, tried as an attacker would through the real entry points (the
signed form webhook, the API behind its token, signed Twilio webhooks):

- consent is evidence: a form never takes over an existing contact; an opt-out (call, API, form)
  wins over every later grant until a re-consent is recorded through the authenticated API;
- public form input stays in its place: it cannot set the server's context keys, and unknown form
  ids answer exactly as bad signatures;
- Idempotency-Key on Powertools: a request cut off mid-way frees its key when its invocation's time
  is up (the in-progress claim is the Lambda's remaining time, not the record's 24 hours)."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime
from typing import Any

import pytest
from autocall.domain import calls as calls_domain
from autocall.domain.forms import sign

from local.lambdas import FakeLambdaContext
from tests.support.aws import Aws
from tests.support.reliability import (
    COUNTS,
    NOW,
    Twilio,
    live_call,
    new_contact,
    new_number,
    row,
    tables_snapshot,
)

FORM_SECRET = "local-form-secret"
BACKEND_IP = "198.51.100.7"
BACKEND_AGENT = "AcmeForms/2.1 (+https://forms.example)"
CONSENT_TEXT = "I agree to be called about my request, including by an automated assistant."


def post_form(
    twilio: Twilio,
    fields: dict[str, Any],
    form: str = "website",
    secret: str = FORM_SECRET,
    timestamp: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """A form backend's request: signed, from its address, with its user agent."""
    raw = json.dumps(fields).encode()
    ts = timestamp or str(int(NOW.timestamp()))
    sent = {
        "Host": "api.example.test",
        "Content-Type": "application/json",
        "User-Agent": BACKEND_AGENT,
        "X-Autocall-Timestamp": ts,
        "X-Autocall-Signature": sign(secret, ts, raw),
        **(headers or {}),
    }
    status, _, answer = twilio.gateway.handle(
        "POST", f"/{twilio.gateway.stage}/forms/{form}", sent, raw, source_ip=BACKEND_IP
    )
    return status, json.loads(answer) if answer else None


def form_fields(phone: str, **fields: Any) -> dict[str, Any]:
    return {"name": "Dana Whitfield", "phone": phone, "consent_text": CONSENT_TEXT, **fields}


IDENTITY = ("name", "email", "company", "time_zone")


# --- finding 1: a web form takes over an existing contact -------------------------------------------

TAKEOVERS = {
    "everything": {
        "name": "Mallory",
        "email": "mallory@attacker.example",
        "company": "Mallory Ltd",
        "time_zone": "Asia/Kolkata",
    },
    "e-mail only": {"email": "mallory@attacker.example"},
    "name and company": {"name": "Mallory", "company": "Mallory Ltd"},
    "time zone only": {"time_zone": "Pacific/Kiritimati"},
    "same name, other e-mail": {"name": "Dana Whitfield", "email": "dana.w@attacker.example"},
}


@pytest.mark.parametrize("consented", [False, True], ids=["stored_without_consent", "stored_consenting"])
def test_a_form_never_takes_over_an_existing_contact(twilio: Twilio, consented: bool) -> None:
    for kind, takeover in TAKEOVERS.items():
        phone = new_number()
        status, owner = twilio.api(
            "POST",
            "/contacts",
            {
                "name": "Dana Whitfield",
                "phone": phone,
                "email": "dana@customer.example",
                "company": "Whitfield & Co",
                "time_zone": "America/New_York",
                "consent": consented,
            },
        )
        assert status == 201, owner
        page = "https://www.example.com/demo?utm_source=ad"
        status, answer = post_form(
            twilio, {**form_fields(phone), "name": "Mallory", **takeover, "page_url": page}
        )
        twilio.settle()
        assert status == 202 and answer["contact_id"] == owner["contact_id"], (kind, answer)
        status, after = twilio.api("GET", f"/contacts/{owner['contact_id']}")
        assert {f: after[f] for f in IDENTITY} == {f: owner[f] for f in IDENTITY}, kind
        # what the form brought is kept beside the contact's own fields
        [submission] = after["form_submissions"]
        assert submission["form_id"] == "website" and submission["page_url"] == page
        assert {f: submission.get(f) for f in takeover} == takeover, kind
        # the grant is evidence: source, text, time, page, the request's address and user agent
        status, evidence = twilio.api("GET", f"/contacts/{owner['contact_id']}/consent")
        latest = evidence["records"][0]
        assert (latest["kind"], latest["source"], latest["form_id"]) == ("grant", "form", "website")
        assert latest["text"] == CONSENT_TEXT and latest["at"] == NOW.isoformat()
        assert (latest["page_url"], latest["ip"], latest["user_agent"]) == (page, BACKEND_IP, BACKEND_AGENT)
        assert evidence["consent"] is True and evidence["opted_out"] is False
        COUNTS["form posts taking over an existing contact: identity kept, the form beside it"] += 1


def opt_out_in_call(twilio: Twilio, contact: Any) -> None:
    call_id = live_call(contact)  # placed: its webhooks carry its attempt's Twilio SID
    twilio.answer(call_id)
    twilio.say(call_id, 1, "Stop calling me. Put me on your do not call list.")


def opt_out_by_api(twilio: Twilio, contact: Any) -> None:
    status, body = twilio.api("PATCH", f"/contacts/{contact.contact_id}", {"consent": False})
    assert status == 200 and body["consent"] is False, body


def opt_out_by_form(twilio: Twilio, contact: Any) -> None:
    status, body = post_form(twilio, {"phone": contact.phone, "opt_out": True})
    assert status == 200 and body["opted_out"] is True, body


OPT_OUTS = {"call": opt_out_in_call, "api": opt_out_by_api, "form": opt_out_by_form}


def later_grants(twilio: Twilio, contact: Any) -> dict[str, Any]:
    """Every way a grant or a call could come back for an opted-out number."""
    fields = form_fields(contact.phone, name="Mallory", email="mallory@attacker.example")
    return {
        "form": lambda: post_form(twilio, fields),
        "form_with_page": lambda: post_form(twilio, {**fields, "page_url": "https://example.com/x"}),
        "api_patch_consent": lambda: twilio.api(
            "PATCH", f"/contacts/{contact.contact_id}", {"consent": True}
        ),
        "api_new_contact": lambda: twilio.api(
            "POST", "/contacts", {"name": "Mallory", "phone": contact.phone, "consent": True}
        ),
        "api_trigger": lambda: twilio.api(
            "POST",
            "/calls/api/calls/trigger_autonomous_call/",
            {"contact_id": contact.contact_id, "call_purpose": "sales_outreach"},
        ),
    }


@pytest.mark.parametrize("channel", sorted(OPT_OUTS))
def test_an_opt_out_wins_over_every_later_grant_until_a_recorded_re_consent(
    twilio: Twilio, channel: str
) -> None:
    contact = new_contact(email="dana@customer.example")
    OPT_OUTS[channel](twilio, contact)
    twilio.settle()
    for name, grant in later_grants(twilio, contact).items():
        before = tables_snapshot()
        status, body = grant()
        assert status == 409, (channel, name, status, body)
        assert body["error"] in {"opted_out", "suppressed"} and body["field"], body
        assert tables_snapshot() == before, f"{name} after an opt-out by {channel} wrote something"
        COUNTS["grants and triggers after an opt-out (call, API, form): 409, 0 writes"] += 1

    status, evidence = twilio.api("GET", f"/contacts/{contact.contact_id}/consent")
    assert evidence["opted_out"] is True and evidence["consent"] is False, evidence
    revocation = evidence["records"][0]
    assert (revocation["kind"], revocation["source"]) == ("revocation", channel), revocation

    # only the authenticated API lifts it, and the re-consent is recorded
    basis = "signed paper form, ref 2026-118"
    consent = {"consent_text": "Yes, you may call me again.", "source": basis}
    assert twilio.api("POST", f"/contacts/{contact.contact_id}/consent", consent, token=None)[0] == 401
    assert twilio.api("POST", f"/contacts/{contact.contact_id}/consent", consent, token="guess")[0] == 403
    status, lifted = twilio.api("POST", f"/contacts/{contact.contact_id}/consent", consent)
    assert status == 201 and lifted["opted_out"] is False and lifted["consent"] is True, lifted
    assert lifted["recorded"]["kind"] == "re_consent" and lifted["recorded"]["basis"] == basis
    assert [r["kind"] for r in lifted["records"]][:2] == ["re_consent", "revocation"]
    status, answer = post_form(twilio, form_fields(contact.phone))
    twilio.settle()
    assert status == 202, answer
    status, after = twilio.api("GET", f"/contacts/{contact.contact_id}")
    assert after["email"] == "dana@customer.example" and after["consent"] is True
    COUNTS["re-consents through the API: 401/403 without the token, recorded with it"] += 1


# --- finding 7: server-set context keys, form id enumeration --------------------------------------

SPOOFED = {
    "form_id": "partner-import",
    "form_source": "trusted_partner",
    "source_call_id": "call-of-someone-else",
    "callback_number": "+19005550100",
}


def test_form_fields_never_set_the_servers_context_keys(twilio: Twilio) -> None:
    for key, value in SPOOFED.items():
        phone = new_number()
        status, answer = post_form(twilio, form_fields(phone, product_interest="Cloud", **{key: value}))
        twilio.settle()
        assert status == 202, answer
        context = row(answer["call_id"]).context
        assert context["form_id"] == "website" and context["form_source"] == "website", context
        assert context.get(key) != value and context["product_interest"] == "Cloud", (key, context)
        status, contact = twilio.api("GET", f"/contacts/{answer['contact_id']}")
        assert contact["form_submissions"][-1]["ignored_fields"] == [key]
        COUNTS["form fields named as server context keys: the server's value kept"] += 1


BREAKS = {
    "crlf": "\r\nBcc: mallory@attacker.example",
    "lf": "\nBcc: mallory@attacker.example",
    "cr_and_unicode": "\rX-Injected: 1\u2028Bcc: mallory@attacker.example\x85",
}


def test_line_breaks_in_form_fields_never_reach_an_email_header(aws: Aws) -> None:
    """A form's product interest names the demo in the invite's Subject; its name heads the team's
    notification. Line breaks in either stay out of every header, and the e-mails still go."""
    from autocall.clock import CLOCK

    from tests.support import post_call as chain

    for n, (kind, injected) in enumerate(BREAKS.items()):
        CLOCK.freeze(chain.NOW.replace(hour=16))  # 08:00 in Los Angeles: the form's call waits
        fields = form_fields(f"+1415555{n:04d}", name=f"Dana{injected}", email=f"dana{n}@customer.example")
        fields["product_interest"] = f"Cloud Solutions{injected}"
        raw = json.dumps(fields).encode()
        ts = str(int(CLOCK.now().timestamp()))
        headers = {"X-Autocall-Timestamp": ts, "X-Autocall-Signature": sign(FORM_SECRET, ts, raw)}
        status, answer = aws.api("POST", "/forms/website", headers=headers, raw_body=raw.decode())
        assert status == 202, answer
        contact, context = row_contact(answer["contact_id"]), row(answer["call_id"]).context
        assert context["product_interest"] == fields["product_interest"]  # kept as data
        settle(aws)  # the dialer, fired for the form's call, puts it off to the calling window
        # the call as the conversation leaves it: a demo booked; then the post-call chain runs
        CLOCK.freeze(chain.NOW)
        call_id = chain.finished_call(
            contact, "sales_outreach", "demo_scheduled", chain.DEMO_TURNS, [chain.slot_action()],
            context, call_id=f"call-crlf-{kind}",
        )  # fmt: skip
        chain.run_chain(call_id)
        finished = chain.call(call_id)
        assert finished.failures == [], (kind, finished.failures)
        assert "calendar_invite_sent" in finished.actions_taken, finished.actions_taken
        for sent in chain.sent_emails()[-2:]:
            assert sent["Bcc"] is None and sent["X-Injected"] is None, (kind, sent.items())
            for name, value in sent.items():
                unfolded = re.sub(r"\r?\n[ \t]", " ", str(value))  # a long header's own folding
                assert not any(c in unfolded for c in "\r\n\u2028\x85"), (kind, name, value)
            COUNTS["e-mails from forms with line breaks in their fields: one-line headers, sent"] += 1


def settle(aws: Aws, timeout: float = 10) -> None:
    ends = time.monotonic() + timeout
    while aws.registry.busy and time.monotonic() < ends:
        threading.Event().wait(0.01)


def row_contact(contact_id: str) -> Any:
    from autocall.stores.contacts import get_contact

    return get_contact(contact_id)


TS, SIG = "X-Autocall-Timestamp", "X-Autocall-Signature"
SIGNATURE_FAULTS = {
    "missing": lambda ts, raw: {TS: "", SIG: ""},
    "no_timestamp": lambda ts, raw: {TS: "", SIG: sign("x", ts, raw)},
    "wrong_secret": lambda ts, raw: {TS: ts, SIG: sign("guess", ts, raw)},
    "website_secret": lambda ts, raw: {TS: ts, SIG: sign(FORM_SECRET, ts, raw)},
    "stale": lambda ts, raw: {TS: str(int(ts) - 301), SIG: "sha256=00"},
    "future": lambda ts, raw: {TS: str(int(ts) + 301), SIG: "sha256=00"},
    "not_a_number": lambda ts, raw: {TS: "yesterday", SIG: "sha256=00"},
    "bare_hex": lambda ts, raw: {TS: ts, SIG: "00" * 32},
}
UNKNOWN_FORMS = ("other", "contact", "website2", "WEBSITE", "partner-import", "x")


def test_unknown_form_ids_answer_exactly_as_bad_signatures(twilio: Twilio) -> None:
    """An unknown id and a bad signature: the same status and body, so ids cannot be enumerated."""
    fields = form_fields(new_number())
    raw = json.dumps(fields).encode()
    ts = str(int(NOW.timestamp()))

    def send(form: str, headers: dict[str, str]) -> tuple[int, str]:
        sent = {"Host": "api.example.test", "Content-Type": "application/json", **headers}
        sent = {k: v for k, v in sent.items() if v}
        status, _, answer = twilio.gateway.handle("POST", f"/{twilio.gateway.stage}/forms/{form}", sent, raw)
        return status, answer.decode()

    before = tables_snapshot()
    for fault, headers in SIGNATURE_FAULTS.items():
        known = send("website", headers(ts, raw)) if fault != "website_secret" else None
        for form in UNKNOWN_FORMS:
            unknown = send(form, headers(ts, raw))
            assert unknown[0] == 401, (fault, form, unknown)
            if known is not None:
                assert unknown == known, (fault, form)
            COUNTS["unknown form ids with signature faults: the bad signature's answer, byte for byte"] += 1
    assert tables_snapshot() == before


# --- finding 8: a request cut off mid-way locks its Idempotency-Key ----------------------------------


class LambdaTimedOut(BaseException):
    """The runtime ending an invocation at its deadline: nothing after it runs, no handler sees it."""


@pytest.fixture
def deadline(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Invocations get ``ms`` of remaining time from the moment this is called (wall time: Lambda's
    deadline is wall time, and so is the expiry Powertools writes and DynamoDB compares)."""
    ends: list[float] = [time.time() + 15]

    def remaining(self: FakeLambdaContext) -> int:
        return max(0, int((ends[0] - time.time()) * 1000))

    monkeypatch.setattr(FakeLambdaContext, "get_remaining_time_in_millis", remaining)

    def start(ms: int) -> float:
        ends[0] = time.time() + ms / 1000
        return ends[0]

    return start


def test_a_request_cut_off_mid_way_frees_its_key_when_its_invocation_ends(
    aws: Aws, twilio: Twilio, deadline: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    later = (NOW.replace(hour=19)).isoformat()
    path = "/calls/api/calls/trigger_autonomous_call/"
    contacts = []
    cut = {"on": True, "ends": 0.0}
    arm = calls_domain.arm_schedule

    def arm_then_die(*args: Any, **kwargs: Any) -> Any:
        if cut["on"]:  # the call is written; the invocation runs out of time before its schedule
            threading.Event().wait(max(0.0, cut["ends"] - time.time()))
            raise LambdaTimedOut()
        return arm(*args, **kwargs)  # the call as armed

    monkeypatch.setattr(calls_domain, "arm_schedule", arm_then_die)
    for attempt in range(3):
        contact = new_contact()  # one pending call per number and purpose: a number per round
        contacts.append(contact)
        key = {"Idempotency-Key": f"order-{attempt}"}
        request = {
            "contact_id": contact.contact_id,
            "call_purpose": "sales_outreach",
            "scheduled_time": later,
        }
        # a 30 s invocation, cut off: its key is held while that invocation could still be running
        cut.update(on=True, ends=0.0)
        deadline(30_000)
        with pytest.raises(LambdaTimedOut):
            aws.api("POST", path, request, headers=key)
        status, body = aws.api("POST", path, request, headers=key)
        assert status == 409 and body["error"] == "request_in_progress", body
        assert 0 < body["retry_after_s"] <= 30, body  # not the record's 24 hours
        expires = datetime.fromisoformat(body["expires_at"]).timestamp()
        assert abs(expires - (time.time() + body["retry_after_s"])) <= 2, body
        COUNTS["a retry while the cut-off request's invocation could still run: 409 with its expiry"] += 1

        # a short invocation, cut off at its deadline: once it is over, the retry goes through
        other = {**key, "Idempotency-Key": f"short-{attempt}"}
        request = {**request, "contact_id": (short := new_contact()).contact_id}
        contacts.append(short)
        cut.update(on=True, ends=deadline(300))
        with pytest.raises(LambdaTimedOut):
            aws.api("POST", path, request, headers=other)
        cut["on"] = False
        deadline(15_000)
        status, first = aws.api("POST", path, request, headers=other)
        assert status == 202, first
        assert aws.api("POST", path, request, headers=other) == (202, first)  # then the first answer
        changed = {**request, "scheduled_time": NOW.replace(hour=20).isoformat()}
        status, refused = aws.api("POST", path, changed, headers=other)
        assert status == 422 and refused["field"] == "Idempotency-Key", refused
        COUNTS["requests cut off at their deadline, then retried: one call, the key free"] += 1
    calls = [c for contact in contacts for c in row_calls(contact.contact_id)]
    assert len(calls) == 6 and len({c.call_id for c in calls}) == 6  # one per key: no duplicate


def row_calls(contact_id: str) -> list[Any]:
    from autocall.stores.tables import CallRow

    return list(CallRow.by_contact.query(contact_id))


IDEMPOTENT_ROUTES = {
    "/contacts": lambda c, n: {"name": "Dana", "phone": new_number(), "consent": True},
    "/calls/api/calls/trigger_autonomous_call/": lambda c, n: {
        "contact_id": c.contact_id,
        "call_purpose": "follow_up",
        "scheduled_time": NOW.replace(hour=19, minute=n).isoformat(),
    },
    "/calls/api/calls/bulk_autonomous_calls/": lambda c, n: {
        "calls": [{"contact_id": c.contact_id, "call_purpose": "follow_up", "delay_minutes": 60 + n}]
    },
    "/campaigns": lambda c, n: {
        "name": f"Q{n}",
        "purpose": "renewal_reminder",
        "contact_ids": [c.contact_id],
    },
    "/contacts/{id}/consent": lambda c, n: {"consent_text": f"Yes ({n})", "source": "phone call with Sam"},
}


def test_same_key_same_body_gets_the_first_answer_another_body_is_422(twilio: Twilio) -> None:
    for template, build in IDEMPOTENT_ROUTES.items():
        for n in range(3):
            contact = new_contact()  # one pending call per number and purpose: a number per request
            path = template.format(id=contact.contact_id)
            key = {"Idempotency-Key": f"{template}-{n}"}
            body = build(contact, n)
            first = api_with(twilio, path, body, key)
            assert first[0] in (201, 202), (path, first)
            twilio.settle()
            before = tables_snapshot()
            assert api_with(twilio, path, body, key) == first, path
            assert tables_snapshot() == before, f"a replay of {path} wrote something"
            other = api_with(twilio, path, build(contact, n + 10), key)
            assert other[0] == 422 and other[1]["field"] == "Idempotency-Key", (path, other)
            assert tables_snapshot() == before
            COUNTS["Idempotency-Key replays (first answer, 0 writes) and changed bodies (422)"] += 2


def api_with(twilio: Twilio, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
    sent = {
        "Content-Type": "application/json",
        "Host": "api.example.test",
        "Authorization": f"Bearer {twilio.secrets['api_token']}",
        **headers,
    }
    status, _, answer = twilio.gateway.handle(
        "POST", f"/{twilio.gateway.stage}{path}", sent, json.dumps(body).encode()
    )
    return status, json.loads(answer) if answer else None
