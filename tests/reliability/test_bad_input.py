"""Bad input on every webhook: oversized, non-UTF-8, the wrong content type, missing or invalid
fields. Each gets a 4xx whose JSON body names the field, and nothing is written."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from autocall.domain.forms import sign

from tests.support.reliability import COUNTS, NOW, Twilio, live_call, new_contact, tables_snapshot

TIMESTAMP = str(int(NOW.timestamp()))
FORM = {"name": "Dana Whitfield", "phone": "+12125550199", "consent_text": "Yes, call me."}


@pytest.fixture
def call_id(twilio: Twilio) -> str:
    call_id = live_call(new_contact())
    twilio.answer(call_id)
    return call_id


def signed_form(
    twilio: Twilio, body: bytes, content_type: str = "application/json", form: str = "website"
) -> tuple[int, str]:
    headers = {
        "X-Autocall-Timestamp": TIMESTAMP,
        "X-Autocall-Signature": sign("local-form-secret", TIMESTAMP, body),
    }
    return twilio.post(
        f"/forms/{form}", signature=None, content_type=content_type, body=body, headers=headers
    )


def expect_refused(
    twilio: Twilio, status_range: range, field: str, send: Callable[[], tuple[int, str]]
) -> None:
    before = tables_snapshot()
    status, body = send()
    assert status in status_range, (status, body)
    error = json.loads(body)
    assert {"error", "message", "field"} <= set(error), error
    assert error["field"] == field, error
    assert isinstance(error["message"], str) and error["message"], error
    assert tables_snapshot() == before, "a refused request wrote something"
    COUNTS["bad input refused, field named, nothing written"] += 1


TWILIO_PATHS = [
    "/twilio/answer/{id}",
    "/twilio/turn/{id}/1",
    "/twilio/amd/{id}",
    "/twilio/status/{id}",
]
VALID = {"CallSid": "CAreliability", "CallStatus": "in-progress", "AnsweredBy": "human", "SpeechResult": "Ok"}
MISSING = [
    ("/twilio/answer/" + "x" * 65, {"CallSid": "CA1"}, "call_id"),
    ("/twilio/turn/{id}/zero", {"CallSid": "CA1"}, "turn"),
    ("/twilio/turn/{id}/0", {"CallSid": "CA1"}, "turn"),
    ("/twilio/turn/{id}/-3", {"CallSid": "CA1"}, "turn"),
    ("/twilio/answer/{id}", {"CallStatus": "in-progress"}, "CallSid"),
    ("/twilio/turn/{id}/1", {"SpeechResult": "Yes."}, "CallSid"),
    ("/twilio/amd/{id}", {"CallSid": "CA1"}, "AnsweredBy"),
    ("/twilio/amd/{id}", {"CallSid": "CA1", "AnsweredBy": "<script>"}, "AnsweredBy"),
    ("/twilio/status/{id}", {"CallSid": "CA1"}, "CallStatus"),
    ("/twilio/status/{id}", {"CallSid": "CA1", "CallStatus": "exploded"}, "CallStatus"),
    ("/twilio/status/{id}", {"CallStatus": "completed"}, "CallSid"),
    ("/twilio/status/{id}", {"CallSid": "CA1", "CallStatus": "completed", "CallDuration": "-1"},
     "CallDuration"),
]  # fmt: skip


def test_twilio_webhooks_refuse_oversized_non_utf8_and_mistyped_bodies(twilio: Twilio, call_id: str) -> None:
    for path in (p.format(id=call_id) for p in TWILIO_PATHS):
        huge = {**VALID, "SpeechResult": "yes " * 20_000}
        expect_refused(twilio, range(413, 414), "body", lambda: twilio.post(path, huge))  # noqa: B023
        raw = b"CallSid=CA1&SpeechResult=\xff\xfe\xfa caf\xe9"
        expect_refused(twilio, range(400, 401), "body", lambda: twilio.post(path, VALID, body=raw))  # noqa: B023
        for kind in ("application/json", "text/xml", None):
            send = lambda: twilio.post(path, VALID, content_type=kind)  # noqa: B023, E731
            expect_refused(twilio, range(415, 416), "Content-Type", send)


def test_twilio_webhooks_refuse_missing_or_invalid_fields_naming_them(twilio: Twilio, call_id: str) -> None:
    for path, params, field in MISSING:
        send = lambda: twilio.post(path.format(id=call_id), params)  # noqa: B023, E731
        expect_refused(twilio, range(400, 423), field, send)


FORM_CASES = [
    (json.dumps({k: v for k, v in FORM.items() if k != "phone"}).encode(), "application/json", "phone"),
    (json.dumps({**FORM, "name": "  "}).encode(), "application/json", "name"),
    (json.dumps({**FORM, "phone": "not a number"}).encode(), "application/json", "phone"),
    (json.dumps({**FORM, "phone": 14155550123}).encode(), "application/json", "phone"),
    (json.dumps({**FORM, "email": "nobody"}).encode(), "application/json", "email"),
    (json.dumps({**FORM, "time_zone": "Mars/Olympus"}).encode(), "application/json", "time_zone"),
    (b"name=Dana&phone=%2B12125550199&consent_text=yes", "application/x-www-form-urlencoded", "body"),
    (b"[1, 2, 3]", "application/json", "body"),
    (b"\xff\xfe{}", "application/json", "body"),
    (json.dumps({**FORM, "notes": "x" * 500_000}).encode(), "application/json", "body"),
    (json.dumps({**FORM, **{f"field_{i}": i for i in range(5000)}}).encode(), "application/json", "body"),
]


def test_signed_forms_with_bad_bodies_are_refused_naming_the_field(twilio: Twilio) -> None:
    for body, content_type, field in FORM_CASES:
        expect_refused(twilio, range(400, 423), field, lambda: signed_form(twilio, body, content_type))  # noqa: B023
    body = json.dumps(FORM).encode()
    # an unknown form id answers as a bad signature does (form ids cannot be found by trying them)
    expect_refused(
        twilio, range(401, 402), "X-Autocall-Signature", lambda: signed_form(twilio, body, form="nope")
    )


def test_api_refuses_a_context_too_large_to_store(twilio: Twilio) -> None:
    contact = new_contact()
    big = {"contact_id": contact.contact_id, "call_purpose": "follow_up", "context": {"notes": "x" * 500_000}}
    send = lambda: twilio_api(twilio, "/calls/api/calls/trigger_autonomous_call/", big)  # noqa: E731
    expect_refused(twilio, range(413, 423), "context", send)
    person = {"name": "Dana", "phone": "+12125550177", "custom_context": {"notes": "x" * 500_000}}
    expect_refused(twilio, range(413, 423), "custom_context", lambda: twilio_api(twilio, "/contacts", person))


def twilio_api(twilio: Twilio, path: str, body: Any) -> tuple[int, str]:
    status, answer = twilio.api("POST", path, body)
    return status, json.dumps(answer)
