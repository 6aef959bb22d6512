"""The double dial: the dialer dying between Twilio's create and our save, Twilio answering 429 or
5xx, DynamoDB throttling. Each case counts the carrier's calls to the number: never two."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from autocall.clock import CLOCK
from autocall.domain import dialer
from autocall.stores.tables import MAX_RETRIES, CallRow
from pynamodb.exceptions import UpdateError

from tests.support.reliability import COUNTS, NOW, Line, new_call, new_contact, row, throttled

DUE = NOW + timedelta(minutes=5)


@pytest.fixture(autouse=True)
def no_backoff_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's retries keep their count; only their sleeping is skipped."""
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


def ready(line: Line, persona: str = "busy_call_me_back") -> tuple[str, str]:
    contact = new_contact()
    line.carrier.register_callee(contact.phone, persona, name="Dana")
    call_id = new_call(contact, at=DUE)
    CLOCK.freeze(DUE)
    return call_id, contact.phone


def test_dialer_dying_after_twilio_create_reconciles_instead_of_redialing(
    line: Line, monkeypatch: pytest.MonkeyPatch
) -> None:
    call_id, phone = ready(line)
    real, deaths = dialer._record_sid, []

    def dies_once(call: CallRow, sid: str) -> None:
        if not deaths:
            deaths.append(sid)
            raise RuntimeError("Lambda timed out")
        real(call, sid)

    monkeypatch.setattr(dialer, "_record_sid", dies_once)
    line.hold()  # no status callback may save the SID for us: the dialer's retry must find it
    with pytest.raises(RuntimeError):
        line.dial(call_id)
    assert row(call_id).status == "dialing" and row(call_id).twilio_sid is None
    retry = line.dial(call_id)  # Lambda retries the failed async invocation
    assert retry["action"] == "reconciled" and retry["twilio_sid"] == deaths[0]
    assert line.dial(call_id)["action"] == "skipped"  # and once more, for good measure
    line.release()
    final = line.wait_terminal(call_id)
    assert [c.sid for c in line.carrier.calls(to=phone)] == deaths
    assert final.status == "completed" and final.twilio_sid == deaths[0] and final.attempts == 1
    assert final.outcome == "callback_requested"
    COUNTS["dialer runs after a crash between Twilio create and the SID save (1 call placed)"] += 3


def test_throttled_sid_save_is_retried_a_bounded_number_of_times_then_reconciled(
    line: Line, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autocall.integrations.twilio.client import Telephony

    call_id, phone = ready(line)
    with throttled(CallRow, "UpdateItem", times=0) as throttle:
        create = Telephony.create_call

        def create_then_throttle(self: Telephony, **kwargs: Any) -> str:
            sid = create(self, **kwargs)
            throttle.remaining = -1  # from here on every write to the calls table is refused
            return sid

        monkeypatch.setattr(Telephony, "create_call", create_then_throttle)
        line.hold()
        with pytest.raises(UpdateError) as raised:
            line.dial(call_id)
        assert raised.value.cause_response_code == "ProvisionedThroughputExceededException"
        assert throttle.refused == 1 + MAX_RETRIES  # 1 try + the tables' retries (inside the turn budget)
        throttle.remaining = 0
    monkeypatch.setattr(Telephony, "create_call", create)
    retry = line.dial(call_id)
    assert retry["action"] == "reconciled", (retry, row(call_id).status)
    line.release()
    final = line.wait_terminal(call_id)
    assert len(line.carrier.calls(to=phone)) == 1 and final.status == "completed"
    COUNTS["DynamoDB throttles on the SID save, then reconciled (1 call placed)"] += throttle.refused


def test_throttled_mark_dialing_fails_before_twilio_and_the_retry_dials_once(line: Line) -> None:
    call_id, phone = ready(line)
    with throttled(CallRow, "UpdateItem") as throttle, pytest.raises(UpdateError):
        line.dial(call_id)
    assert throttle.refused == 1 + MAX_RETRIES and line.carrier.calls(to=phone) == []
    assert row(call_id).status == "scheduled"
    assert line.dial(call_id)["action"] == "dialed"
    assert line.wait_terminal(call_id).status == "completed"
    assert len(line.carrier.calls(to=phone)) == 1
    COUNTS["DynamoDB throttles on mark_dialing (0 calls placed, then 1)"] += throttle.refused


@pytest.mark.parametrize(
    ("fault", "first_action", "first_reason"),
    [
        ("429", "rescheduled", "twilio_rate_limited"),
        ("500", "rescheduled", "dial_not_placed"),
        ("500_placed", "reconciled", None),
    ],
)
def test_twilio_faults_on_create_never_dial_twice(
    line: Line, emf: Any, fault: str, first_action: str, first_reason: str | None
) -> None:
    call_id, phone = ready(line)
    line.carrier.inject_fault(fault)
    first = line.dial(call_id)
    assert (first["action"], first["reason"]) == (first_action, first_reason)
    placed = 1 if fault == "500_placed" else 0
    assert len(line.carrier.calls(to=phone)) == placed
    if fault != "429":
        assert "TwilioErrors" in emf()  # alarmed
    CLOCK.freeze(DUE + dialer.RATE_LIMIT_DELAY)
    second = line.dial(call_id)  # the re-armed schedule (or a duplicate delivery) fires
    assert second["action"] == ("skipped" if placed else "dialed")
    final = line.wait_terminal(call_id)
    assert len(line.carrier.calls(to=phone)) == 1
    assert final.status == "completed" and final.attempts == 1 and final.outcome == "callback_requested"
    if first_reason:
        assert first_reason in [r["reason"] for r in final.reasons]
    COUNTS["Twilio 429, 500 and 500-but-placed on create, then the dialer again: 1 call placed"] += 1


def test_twilio_refusing_every_create_ends_the_call_with_a_reason_after_bounded_retries(
    line: Line, emf: Any
) -> None:
    call_id, phone = ready(line)
    line.carrier.inject_fault("429", count=100)
    moment, runs = DUE, 0
    while runs < 50 and row(call_id).status == "scheduled":
        CLOCK.freeze(moment)
        line.dial(call_id)
        runs += 1
        moment += dialer.RATE_LIMIT_DELAY
    final = row(call_id)
    assert final.status == "failed", f"still {final.status} after {runs} dialer runs"
    assert runs <= dialer.MAX_UNPLACED_DIALS
    assert final.reasons[-1]["reason"].startswith("twilio_rate_limited")
    assert line.carrier.calls(to=phone) == []
    assert "TwilioErrors" in emf()
    COUNTS["dialer runs against a persistent Twilio 429 before failing with a reason (0 placed)"] += runs
