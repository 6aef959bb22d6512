"""The API's OpenAPI document (GET /openapi.json) as a client's generator reads it: every operation
says what it answers and with which status, every refusal is our error body, and the bearer token
is the document's security scheme. Real answers are checked against the schemas it gives."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from autocall.clock import CLOCK
from autocall.domain.forms import sign

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
SUCCESS = {  # (method, path) → the status its success answers with
    ("post", "/calls/api/calls/trigger_autonomous_call"): 202,
    ("post", "/calls/api/calls/bulk_autonomous_calls"): 202,
    ("post", "/calls/api/calls/trigger_campaign_calls"): 202,
    ("get", "/calls/api/calls/autonomous_call_status"): 200,
    ("get", "/calls/{call_id}"): 200,
    ("delete", "/calls/{call_id}"): 200,
    ("post", "/calls/{call_id}/handoff/close"): 200,
    ("post", "/contacts"): 201,
    ("get", "/contacts"): 200,
    ("get", "/contacts/{contact_id}"): 200,
    ("patch", "/contacts/{contact_id}"): 200,
    ("get", "/contacts/{contact_id}/consent"): 200,
    ("post", "/contacts/{contact_id}/consent"): 201,
    ("get", "/contacts/{contact_id}/dial-decisions"): 200,
    ("get", "/contacts/{contact_id}/calling-window"): 200,
    ("post", "/campaigns"): 201,
    ("get", "/campaigns/{campaign_id}"): 200,
    ("get", "/campaigns/{campaign_id}/stats"): 200,
    ("post", "/campaigns/{campaign_id}/pause"): 202,
    ("post", "/campaigns/{campaign_id}/resume"): 202,
    ("post", "/campaigns/{campaign_id}/cancel"): 202,
    ("post", "/forms/{form_id}"): 202,
    ("get", "/openapi.json"): 200,
}
ERROR_BODY = {"$ref": "#/components/schemas/ErrorResponse"}


@pytest.fixture
def document(aws: Any) -> dict[str, Any]:
    status, body = aws.api("GET", "/openapi.json")
    assert status == 200
    return body


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path.rstrip("/") or "/"): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def json_schema(response: dict[str, Any]) -> dict[str, Any]:
    return response["content"]["application/json"]["schema"]


def test_every_operation_documents_its_success_status_and_body(document: dict[str, Any]) -> None:
    found = operations(document)
    assert set(found) == set(SUCCESS)
    for key, operation in found.items():
        answer = operation["responses"][str(SUCCESS[key])]
        assert json_schema(answer), key  # a schema, not an empty one
        successes = {code for code in operation["responses"] if code.startswith("2")}
        # one success status; the form's opt-out (200) beside its call (202)
        assert successes == (
            {"200", "202"} if key == ("post", "/forms/{form_id}") else {str(SUCCESS[key])}
        ), key


def test_every_refusal_is_our_error_body(document: dict[str, Any]) -> None:
    for key, operation in operations(document).items():
        refusals = {code: r for code, r in operation["responses"].items() if code.startswith("4")}
        assert {"400", "401", "422", "429"} <= set(refusals), key
        for code, response in refusals.items():
            assert json_schema(response) == ERROR_BODY, (key, code)
    error = document["components"]["schemas"]["ErrorResponse"]
    assert set(error["required"]) == {"error", "message", "field"}
    assert "problems" in error["properties"]


def test_missing_resources_and_conflicts_are_documented_where_they_happen(document: dict[str, Any]) -> None:
    found = operations(document)
    assert "404" in found[("get", "/calls/{call_id}")]["responses"]
    assert "409" in found[("delete", "/calls/{call_id}")]["responses"]
    assert "409" in found[("post", "/calls/api/calls/trigger_autonomous_call")]["responses"]  # a pending call
    assert "404" not in found[("get", "/contacts")]["responses"]


def test_the_bearer_token_is_the_documents_security_scheme(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert document["security"] == [{"bearerAuth": []}]
    found = operations(document)
    assert found[("post", "/forms/{form_id}")]["security"] == [{}]  # signed by the form's secret instead
    assert all("security" not in op for key, op in found.items() if key != ("post", "/forms/{form_id}"))


def test_every_operations_real_answer_matches_its_documented_schema(
    aws: Any, document: dict[str, Any]
) -> None:
    """Each operation driven to its success (and a few to their refusals): the body it answers
    with validates against the schema the document gives for that status."""
    CLOCK.freeze(NOW)
    found = operations(document)
    checked: set[tuple[str, str]] = set()

    def conforms(method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        key = next(k for k in found if k[0] == method.lower() and _matches(k[1], path.split("?")[0]))
        status, answer = aws.api(method, path, body, **kwargs)
        schema = json_schema(found[key]["responses"][str(status)])
        jsonschema.validate(answer, {**schema, "components": document["components"]})
        if 200 <= status < 300:
            checked.add(key)
        return status, answer

    john = {"name": "John Smith", "phone": "(415) 555-0123", "consent": True, "tags": ["q1"]}
    _, contact = conforms("POST", "/contacts", john)
    _, other = conforms("POST", "/contacts", {"name": "Ana Ruiz", "phone": "+14155550188", "tags": ["q1"]})
    contact_id = contact["contact_id"]
    conforms("PATCH", f"/contacts/{contact_id}", {"company": "TechCorp", "time_zone": None})
    conforms("GET", f"/contacts/{contact_id}")
    conforms("GET", "/contacts?tag=q1")
    conforms(
        "POST", f"/contacts/{other['contact_id']}/consent", {"consent_text": "yes", "source": "paper form"}
    )
    conforms("GET", f"/contacts/{other['contact_id']}/consent")
    conforms("GET", f"/contacts/{contact_id}/calling-window?purpose=sales_outreach")
    assert conforms("GET", f"/contacts/{contact_id}/calling-window?purpose=nope")[0] == 422
    conforms("GET", f"/contacts/{contact_id}/dial-decisions?limit=5")
    _, call = conforms(
        "POST",
        "/calls/api/calls/trigger_autonomous_call/",
        {
            "contact_id": contact_id,
            "call_purpose": "sales_outreach",
            "scheduled_time": "2026-11-26T16:00:00+00:00",
        },
    )
    _, full = conforms("GET", f"/calls/{call['call_id']}")
    assert full["schedule"] is not None  # the schedule object is documented too
    conforms("GET", f"/calls/api/calls/autonomous_call_status/?contact_id={contact_id}")
    conforms("DELETE", f"/calls/{call['call_id']}")
    conforms("POST", f"/calls/{call['call_id']}/handoff/close", {})  # 409: no follow-up to close
    bulk = [{"contact_id": other["contact_id"], "call_purpose": "follow_up", "delay_minutes": 5}]
    conforms("POST", "/calls/api/calls/bulk_autonomous_calls/", {"calls": bulk})
    _, campaign = conforms(
        "POST",
        "/campaigns",
        {"name": "Q1", "purpose": "renewal_reminder", "tag": "q1", "calling_window": {"start": "10:00"}},
    )
    campaign_id = campaign["campaign_id"]
    conforms("POST", "/calls/api/calls/trigger_campaign_calls/", {"campaign_id": campaign_id})
    conforms("GET", f"/campaigns/{campaign_id}")
    conforms("GET", f"/campaigns/{campaign_id}/stats")
    for action in ("pause", "resume", "cancel"):
        conforms("POST", f"/campaigns/{campaign_id}/{action}")
    form = json.dumps({"name": "Lee Park", "phone": "+14155550177", "consent_text": "call me"}).encode()
    stamp = str(int(NOW.timestamp()))
    signed = {"X-Autocall-Timestamp": stamp, "X-Autocall-Signature": sign("local-form-secret", stamp, form)}
    conforms("POST", "/forms/website", headers=signed, raw_body=form.decode())
    conforms("GET", "/calls/nope")  # 404: the error body
    status, refused = conforms("POST", "/campaigns", {"name": "Q1", "purpose": "nope", "tag": 3})
    assert status == 422 and len(refused["problems"]) == 2
    conforms("GET", "/openapi.json")
    assert checked == set(found) - {("post", "/calls/{call_id}/handoff/close")}


def _matches(template: str, path: str) -> bool:
    pattern = re.sub(r"\{[^}]+\}", "[^/]+", template)
    return re.fullmatch(pattern + "/?", path) is not None
