"""The trigger API driven through API Gateway proxy events, with moto holding the template's
resources: what a user sends, the status and body they get back, the rows and schedules written."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from autocall.clock import CLOCK
from autocall.stores import suppression
from autocall.stores.tables import CallRow

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


@pytest.fixture
def contact(aws):
    CLOCK.freeze(NOW)
    status, body = aws.api(
        "POST",
        "/contacts",
        {
            "name": "John Smith",
            "phone": "(415) 555-0123",
            "company": "TechCorp",
            "consent": True,
            "tags": ["q1"],
        },
    )
    assert status == 201, body
    return body


def schedules(group: str = "autocall-calls") -> list[dict]:
    client = boto3.client("scheduler")
    names = [s["Name"] for s in client.list_schedules(GroupName=group)["Schedules"]]
    return [client.get_schedule(Name=n, GroupName=group) for n in names]


def test_contact_phone_is_stored_in_e164_with_time_zone_from_number(aws, contact):
    assert contact["phone"] == "+14155550123"
    assert contact["time_zone"] == "America/Los_Angeles"
    status, body = aws.api("GET", f"/contacts/{contact['contact_id']}")
    assert status == 200 and body["name"] == "John Smith"


def test_scheduled_trigger_writes_call_and_one_time_schedule(aws, contact):
    due = NOW + timedelta(days=2, hours=1)
    status, body = aws.api(
        "POST",
        "/calls/api/calls/trigger_autonomous_call/",
        {
            "contact_id": contact["contact_id"],
            "call_purpose": "sales_outreach",
            "context": {"product_interest": "Enterprise Suite", "urgency": "high"},
            "scheduled_time": due.isoformat(),
        },
    )
    assert status == 202, body
    assert body["status"] == "scheduled"
    assert body["scheduled_time"] == "2026-11-27T16:00:00Z"
    [schedule] = schedules()
    assert schedule["Name"] == f"call-{body['call_id']}-{int(due.timestamp() * 1000)}"  # one name per arming
    assert schedule["ScheduleExpression"] == "at(2026-11-27T16:00:00)"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["Target"]["Arn"].endswith(":function:autocall-dialer:live")  # the alias (SnapStart)
    assert json.loads(schedule["Target"]["Input"]) == {"call_id": body["call_id"]}
    status, call = aws.api("GET", f"/calls/{body['call_id']}")
    assert status == 200
    assert call["context"] == {"product_interest": "Enterprise Suite", "urgency": "high"}
    assert call["schedule"]["expression"] == "at(2026-11-27T16:00:00)"


def test_unknown_contact_is_404_naming_the_field(aws):
    status, body = aws.api(
        "POST",
        "/calls/api/calls/trigger_autonomous_call/",
        {"contact_id": "nope", "call_purpose": "follow_up"},
    )
    assert status == 404
    assert body["field"] == "contact_id"


def test_bad_purpose_is_422_naming_the_field_and_writes_nothing(aws, contact):
    status, body = aws.api(
        "POST",
        "/calls/api/calls/trigger_autonomous_call/",
        {"contact_id": contact["contact_id"], "call_purpose": "cold_calling"},
    )
    assert status == 422
    assert body["field"] == "call_purpose"
    assert list(CallRow.scan()) == []


@pytest.mark.parametrize(
    ("offset", "message"), [(timedelta(hours=-1), "in the past"), (timedelta(days=91), "90 days")]
)
def test_scheduled_time_out_of_range_is_422(aws, contact, offset, message):
    status, body = aws.api(
        "POST",
        "/calls/api/calls/trigger_autonomous_call/",
        {
            "contact_id": contact["contact_id"],
            "call_purpose": "follow_up",
            "scheduled_time": (NOW + offset).isoformat(),
        },
    )
    assert status == 422
    assert body["field"] == "scheduled_time" and message in body["message"]
    assert schedules() == []


def test_suppressed_contact_is_409(aws, contact):
    suppression.suppress(contact["phone"], "opted_out")
    status, body = aws.api(
        "POST",
        "/calls/api/calls/trigger_autonomous_call/",
        {"contact_id": contact["contact_id"], "call_purpose": "sales_outreach"},
    )
    assert status == 409 and body["error"] == "suppressed"


def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(aws, contact):
    request = {
        "contact_id": contact["contact_id"],
        "call_purpose": "sales_outreach",
        "scheduled_time": (NOW + timedelta(hours=3)).isoformat(),
    }
    headers = {"Idempotency-Key": "order-42"}
    first = aws.api("POST", "/calls/api/calls/trigger_autonomous_call/", request, headers=headers)
    second = aws.api("POST", "/calls/api/calls/trigger_autonomous_call/", request, headers=headers)
    assert first == second and first[0] == 202
    assert len(list(CallRow.scan())) == 1
    other = aws.api(
        "POST",
        "/calls/api/calls/trigger_autonomous_call/",
        {**request, "call_purpose": "follow_up"},
        headers=headers,
    )
    assert other[0] == 422 and other[1]["field"] == "Idempotency-Key"


def test_bulk_is_validated_whole_before_writing(aws, contact):
    status, body = aws.api(
        "POST",
        "/calls/api/calls/bulk_autonomous_calls/",
        {
            "calls": [
                {"contact_id": contact["contact_id"], "call_purpose": "follow_up", "delay_minutes": 5},
                {"contact_id": "missing", "call_purpose": "customer_support", "delay_minutes": 10},
            ]
        },
    )
    assert status == 404 and body["field"] == "calls[1].contact_id"
    assert list(CallRow.scan()) == []


def test_bulk_staggers_calls_by_delay(aws, contact):
    status, body = aws.api(
        "POST",
        "/calls/api/calls/bulk_autonomous_calls/",
        {
            "calls": [
                {"contact_id": contact["contact_id"], "call_purpose": "follow_up", "delay_minutes": 5},
                {
                    "contact_id": contact["contact_id"],
                    "call_purpose": "customer_support",
                    "delay_minutes": 10,
                },
            ]
        },
    )
    assert status == 202 and body["count"] == 2
    assert [c["scheduled_time"] for c in body["calls"]] == ["2026-11-25T15:05:00Z", "2026-11-25T15:10:00Z"]
    assert len(schedules()) == 2


def test_bulk_over_1000_is_422(aws, contact):
    item = {"contact_id": contact["contact_id"], "call_purpose": "follow_up", "delay_minutes": 5}
    status, body = aws.api("POST", "/calls/api/calls/bulk_autonomous_calls/", {"calls": [item] * 1001})
    assert status == 422 and body["field"] == "calls"


def test_cancel_removes_call_and_schedule(aws, contact):
    _, body = aws.api(
        "POST",
        "/calls/api/calls/trigger_autonomous_call/",
        {
            "contact_id": contact["contact_id"],
            "call_purpose": "renewal_reminder",
            "scheduled_time": (NOW + timedelta(days=1)).isoformat(),
        },
    )
    status, call = aws.api("DELETE", f"/calls/{body['call_id']}")
    assert status == 200 and call["status"] == "canceled"
    assert schedules() == []
    status, _ = aws.api("DELETE", f"/calls/{body['call_id']}")
    assert status == 409


def test_status_endpoint_shows_contact_and_recent_calls(aws, contact):
    aws.api(
        "POST",
        "/calls/api/calls/trigger_autonomous_call/",
        {
            "contact_id": contact["contact_id"],
            "call_purpose": "sales_outreach",
            "scheduled_time": (NOW + timedelta(hours=2)).isoformat(),
        },
    )
    status, body = aws.api(
        "GET", f"/calls/api/calls/autonomous_call_status/?contact_id={contact['contact_id']}"
    )
    assert status == 200
    assert body["contact"]["name"] == "John Smith" and body["contact"]["phone"] == "+14155550123"
    [call] = body["recent_calls"]
    assert call["status"] == "scheduled" and call["actions_taken"] == [] and call["duration"] is None


def test_campaign_by_tag_staggers_and_skips_unconsented(aws, contact):
    _, other = aws.api("POST", "/contacts", {"name": "Ann Lee", "phone": "+12125550188", "tags": ["q1"]})
    _, third = aws.api(
        "POST", "/contacts", {"name": "Bo Chan", "phone": "+13125550177", "tags": ["q1"], "consent": True}
    )
    status, campaign = aws.api(
        "POST",
        "/campaigns",
        {"name": "Q1 renewals", "purpose": "renewal_reminder", "tag": "q1", "stagger_minutes": 15},
    )
    assert status == 201, campaign
    status, body = aws.api(
        "POST",
        "/calls/api/calls/trigger_campaign_calls/",
        {"campaign_id": campaign["campaign_id"], "call_purpose": "renewal_reminder", "stagger_minutes": 15},
    )
    assert status == 202, body
    # Chicago is open at 09:00; Los Angeles is at 07:00, so John's call waits for 09:00 there
    assert sorted(c["scheduled_time"] for c in body["calls"]) == [
        "2026-11-25T15:00:00Z",
        "2026-11-25T17:00:00Z",
    ]
    assert body["skipped"] == [{"contact_id": other["contact_id"], "reason": "no_consent"}]
    again = aws.api(
        "POST",
        "/calls/api/calls/trigger_campaign_calls/",
        {"campaign_id": campaign["campaign_id"], "stagger_minutes": 15},
    )[1]
    assert again["calls"] == [] and {s["reason"] for s in again["skipped"]} == {
        "already_called",
        "no_consent",
    }
    status, view = aws.api("GET", f"/campaigns/{campaign['campaign_id']}")
    assert view["counts"]["total"] == 2 and view["counts"]["by_status"] == {"scheduled": 2}
    called = {aws.api("GET", f"/calls/{c['call_id']}")[1]["contact_id"] for c in body["calls"]}
    assert called == {contact["contact_id"], third["contact_id"]}


def test_openapi_document_lists_the_seed_paths(aws):
    status, body = aws.api("GET", "/openapi.json")
    assert status == 200
    assert "/calls/api/calls/trigger_autonomous_call" in {p.rstrip("/") for p in body["paths"]}
    assert "/forms/{form_id}" in body["paths"]
