"""The local stack serves the template's API over HTTP exactly as API Gateway would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from autocall.clock import now

from local.api_client import ApiClient, ApiError


def test_routes_require_the_bearer_token(stack, api):
    bare = ApiClient(stack.url, token=None).get("/contacts")
    wrong = ApiClient(stack.url, "nope").get("/contacts")
    assert bare.status_code == 401 and bare.json()["field"] == "Authorization"
    assert wrong.status_code == 403
    assert api.get("/contacts").status_code == 200


def test_seed_trigger_answers_202_and_the_call_shows_its_schedule(api):
    # a number no other e2e test dials (an opt-out there would now refuse this consent, 409)
    contact = api.contact("John Doe", "+12125558142", company="TechCorp")
    due = now() + timedelta(days=1)
    response = api.post(
        "/calls/api/calls/trigger_autonomous_call/",
        json={
            "contact_id": contact["contact_id"],
            "call_purpose": "sales_outreach",
            "context": {"campaign": "Q1_2024"},
            "scheduled_time": due.isoformat(),
        },
    )
    assert response.status_code == 202, response.text
    call = api.get(f"/calls/{response.json()['call_id']}").json()
    assert call["status"] == "scheduled"
    assert call["schedule"]["expression"].startswith("at(")
    assert call["schedule"]["target"].endswith(":function:autocall-dialer:live")  # the alias (SnapStart)
    status = api.get(f"/calls/api/calls/autonomous_call_status/?contact_id={contact['contact_id']}").json()
    assert status["contact"] == {
        "contact_id": contact["contact_id"],
        "name": "John Doe",
        "phone": "+12125558142",
    }
    assert status["recent_calls"][0]["call_id"] == call["call_id"]


def test_bad_input_names_the_field(api):
    response = api.post("/calls/api/calls/trigger_autonomous_call/", json={"call_purpose": "sales_outreach"})
    assert response.status_code == 422 and response.json()["field"] == "contact_id"
    response = api.post("/contacts", data=b"\xff\xfe not json", headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500
    assert api.get("/nowhere").status_code == 404


def test_the_client_raises_the_apis_error_with_its_status_and_body(api):
    trigger = "/calls/api/calls/trigger_autonomous_call/"
    with pytest.raises(ApiError) as raised:
        api.expect(202, "POST", trigger, json={"call_purpose": "sales_outreach"})
    assert raised.value.status == 422 and raised.value.body["field"] == "contact_id"
    assert str(raised.value).startswith(f"POST {trigger} answered 422: ")


def test_contacts_list_by_tag(api):
    api.contact("Tag One", "+13125550101", tags=["vip"])
    api.contact("Tag Two", "+13125550102", tags=["other"])
    names = {c["name"] for c in api.get("/contacts?tag=vip").json()["contacts"]}
    assert "Tag One" in names and "Tag Two" not in names
