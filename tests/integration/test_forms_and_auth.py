"""The web-form webhook (HMAC-signed) and the bearer-token authorizer, through their real events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from autocall.clock import CLOCK
from autocall.domain.forms import sign
from autocall.stores.tables import CallRow, ContactRow

NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
FORM = {
    "name": "John Smith",
    "phone": "+1 (415) 555-0123",
    "email": "john@techcorp.example",
    "company": "TechCorp",
    "consent_text": "I agree to be called about my request, including by an automated assistant.",
    "form_interest": "cloud_migration",
    "company_size": "50-200 employees",
}


def post_form(
    aws, body: bytes, timestamp: str | None = None, secret: str = "local-form-secret", form="website"
):
    ts = timestamp or str(int(NOW.timestamp()))
    headers = {"X-Autocall-Timestamp": ts, "X-Autocall-Signature": sign(secret, ts, body)}
    return aws.api("POST", f"/forms/{form}", headers=headers, raw_body=body.decode())


def test_signed_form_creates_contact_with_consent_and_a_sales_call(aws):
    CLOCK.freeze(NOW)
    status, body = post_form(aws, json.dumps(FORM).encode())
    assert status == 202, body
    contact = ContactRow.get(body["contact_id"])
    assert contact.phone == "+14155550123"
    assert contact.consent is True and contact.consent_text == FORM["consent_text"]
    assert contact.consent_source == "form:website"
    call = CallRow.get(body["call_id"])
    assert call.purpose == "sales_outreach"
    assert call.context["form_interest"] == "cloud_migration" and call.context["form_source"] == "website"


def test_second_form_from_same_phone_keeps_the_contact_and_records_what_it_brought(aws):
    CLOCK.freeze(NOW)
    first = post_form(aws, json.dumps(FORM).encode())[1]
    CLOCK.freeze(NOW.replace(minute=2))
    second = post_form(
        aws, json.dumps({**FORM, "company": "TechCorp Inc"}).encode(), str(int(NOW.timestamp()) + 120)
    )[1]
    assert first["contact_id"] == second["contact_id"]
    contact = ContactRow.get(first["contact_id"])
    assert contact.company == "TechCorp"  # a form never rewrites the contact's own fields
    assert [s["company"] for s in contact.form_submissions] == ["TechCorp", "TechCorp Inc"]


def test_replayed_form_signature_returns_first_answer_without_a_second_call(aws):
    CLOCK.freeze(NOW)
    body = json.dumps(FORM).encode()
    first = post_form(aws, body)
    second = post_form(aws, body)
    assert first == second
    assert len(list(CallRow.scan())) == 1


def test_forged_or_stale_form_is_rejected_and_writes_nothing(aws):
    CLOCK.freeze(NOW)
    body = json.dumps(FORM).encode()
    forged = post_form(aws, body, secret="not-the-secret")
    stale = post_form(aws, body, timestamp=str(int(NOW.timestamp()) - 301))
    unsigned = aws.api("POST", "/forms/website", raw_body=body.decode())
    assert forged[0] == 401 and forged[1]["field"] == "X-Autocall-Signature"
    assert stale[0] == 401 and stale[1]["field"] == "X-Autocall-Timestamp"
    assert unsigned[0] == 401
    assert list(ContactRow.scan()) == [] and list(CallRow.scan()) == []


def test_unknown_form_answers_as_a_bad_signature_and_missing_field_is_422(aws):
    CLOCK.freeze(NOW)
    unknown = post_form(aws, json.dumps(FORM).encode(), form="other")
    assert unknown == post_form(aws, json.dumps(FORM).encode(), secret="not-the-secret")
    assert unknown[0] == 401
    status, body = post_form(aws, json.dumps({**FORM, "consent_text": ""}).encode())
    assert status == 422 and body["field"] == "consent_text"
    status, body = post_form(aws, json.dumps({**FORM, "phone": "12"}).encode())
    assert status == 422 and body["field"] == "phone"


def authorize(aws, header: str) -> dict:
    return aws.registry.invoke(
        "AuthorizerFunction",
        {
            "type": "TOKEN",
            "authorizationToken": header,
            "methodArn": "arn:aws:execute-api:us-east-1:1:a/prod/GET/x",
        },
    )


def test_authorizer_allows_the_token_from_secrets_manager(aws):
    policy = authorize(aws, "Bearer local-dev-token")
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert policy["policyDocument"]["Statement"][0]["Resource"] == "arn:aws:execute-api:us-east-1:1:a/prod/*"


def test_authorizer_denies_a_wrong_token_and_rejects_a_missing_one(aws):
    assert authorize(aws, "Bearer wrong")["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    for header in ("", "Basic abc", "Bearer "):
        try:
            authorize(aws, header)
        except Exception as exc:
            assert str(exc) == "Unauthorized"
        else:
            raise AssertionError(f"{header!r} was not rejected")
