"""The post-call chain under faults: a task dying mid-way, SES and SNS refusing. Every step is
retried a bounded number of times, then recorded on the call and alarmed; the chain still ends,
and a retried step leaves one set of records."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from autocall.clock import CLOCK
from autocall.domain.contacts import create_contact
from autocall.integrations import clients
from autocall.models.api import ContactCreateRequest
from autocall.stores import contacts as contacts_repo
from autocall.stores import crm as crm_repo

from tests.support.aws import Aws
from tests.support.post_call import (
    DEMO_TURNS,
    NOW,
    finished_call,
    notifications,
    run_chain,
    sent_emails,
    slot_action,
)
from tests.support.reliability import COUNTS, row, wire_fault

EMAIL = "dana.whitfield@techcorp.example"
STEP_TRIES = 4  # the state machine's Retry: MaxAttempts 3 after the first try


@pytest.fixture
def contact(aws: Aws) -> Iterator[Any]:
    CLOCK.freeze(NOW)
    yield create_contact(
        ContactCreateRequest.model_validate(
            {
                "name": "Dana Whitfield",
                "phone": "+14155550188",
                "email": EMAIL,
                "company": "TechCorp",
                "consent": True,
            }
        )
    )


def ses_rejects() -> Any:
    body = (
        '<ErrorResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><Error><Type>Sender</Type>'
        "<Code>MessageRejected</Code><Message>Email address is not verified. The following identities "
        f"failed the check in region US-EAST-1: {EMAIL}, +14155550188</Message></Error>"
        "<RequestId>r-1</RequestId></ErrorResponse>"
    ).encode()
    return wire_fault(clients.client("ses"), "SendRawEmail", 400, body)


def sns_unavailable() -> Any:
    body = (
        b'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Receiver</Type>'
        b"<Code>InternalError</Code><Message>Service unavailable</Message></Error>"
        b"<RequestId>r-2</RequestId></ErrorResponse>"
    )
    return wire_fault(clients.client("sns"), "Publish", 500, body)


def test_ses_and_sns_failing_are_retried_a_bounded_number_of_times_recorded_and_alarmed(
    contact: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore import retryhandler
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)  # counts stay real
    monkeypatch.setattr(retryhandler, "delay_exponential", lambda **kwargs: 0)
    call_id = finished_call(contact, "sales_outreach", "demo_scheduled", DEMO_TURNS, [slot_action()])
    with ses_rejects() as ses, sns_unavailable() as sns:
        run_chain(call_id)
    call = row(call_id)
    failed = {f["step"]: f for f in call.failures}
    assert set(failed) == {
        "act:send_calendar_invite",
        "act:send_preparation_materials",
        "act:notify_sales_team",
    }
    assert ses.refused == 2 * STEP_TRIES, "SES is not a retryable error for botocore: one request per try"
    assert sns.refused % STEP_TRIES == 0 and sns.refused <= STEP_TRIES * 5, "bounded: botocore x states"
    assert sent_emails() == [] and notifications() == []
    assert {"demo_scheduled_tuesday_2pm", "crm_opportunity_created"} <= set(call.actions_taken)
    assert call.result and call.result["outcome"] == "demo_scheduled"  # the chain went on to the end
    for failure in failed.values():
        assert EMAIL not in failure["cause"] and "4155550188" not in failure["cause"], failure
    out = capsys.readouterr().out
    assert out.count('"PostCallFailures"') >= 3  # alarmed
    assert EMAIL not in out and "+14155550188" not in out
    COUNTS["SES/SNS requests refused during a post-call chain (3 failures recorded, chain done)"] += (
        ses.refused + sns.refused
    )


def test_post_call_tasks_dying_after_their_effect_leave_one_set_of_records(
    contact: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    deaths: list[str] = []

    def dies_after(module: Any, name: str, times: int) -> None:
        real = getattr(module, name)

        def run(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)  # the write happened; then the Lambda dies before answering
            if deaths.count(name) < times:
                deaths.append(name)
                raise TimeoutError(f"Task timed out after the {name} write")
            return result

        monkeypatch.setattr(module, name, run)

    dies_after(contacts_repo, "record_interaction", 2)
    dies_after(crm_repo, "put_record_once", 3)
    call_id = finished_call(contact, "sales_outreach", "interested", DEMO_TURNS[:4])
    run_chain(call_id)
    call = row(call_id)
    assert call.failures == [], call.failures
    history = contacts_repo.get_contact(contact.contact_id).ai_interaction_history
    assert [h["call_id"] for h in history] == [call_id]
    records = crm_repo.records_for_contact(contact.contact_id, "note")
    assert len(records) == 1 and len(crm_repo.records_for_contact(contact.contact_id, "opportunity")) == 1
    assert len(notifications()) == 1 and "sales_team_notified" in call.actions_taken
    COUNTS["post-call tasks killed after their write, then retried (0 duplicate records)"] += len(deaths)
