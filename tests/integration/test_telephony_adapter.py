"""The Twilio adapter driven through the real ``twilio`` client against the carrier simulator."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from autocall.clock import CLOCK, now
from autocall.config import reset_settings
from autocall.integrations.twilio.client import (
    CallerIdNotVerified,
    CallNotFound,
    InvalidNumber,
    RateLimited,
    Telephony,
    TelephonyError,
    TelephonyUnavailable,
    get_telephony,
)

from local.carrier import CarrierSimulator
from tests.support.fakes.voice_app import FakeVoiceApp

TOKEN = "test-auth-token"
ACCOUNT = "AC" + "1" * 32
CALLER = "+15005550006"
CALLEE = "+15551230001"


@pytest.fixture
def sim() -> Iterator[CarrierSimulator]:
    with CarrierSimulator(auth_token=TOKEN, account_sid=ACCOUNT) as simulator:
        yield simulator


@pytest.fixture
def app() -> Iterator[FakeVoiceApp]:
    voice_app = FakeVoiceApp(TOKEN, turns=2)
    yield voice_app
    voice_app.stop()


@pytest.fixture
def telephony(sim: CarrierSimulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Telephony]:
    monkeypatch.setenv("TWILIO_API_BASE_URL", sim.base_url)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    reset_settings()
    yield get_telephony()
    reset_settings()
    CLOCK.reset()


def place(telephony: Telephony, app: FakeVoiceApp, to: str = CALLEE) -> str:
    return telephony.create_call(to, CALLER, app.url("/answer"), app.url("/status"), app.url("/amd"))


def test_create_call_returns_a_sid_and_asks_for_every_status_event_and_async_amd(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    sim.register_callee(CALLEE, "busy_call_me_back", name="Dana")

    sid = place(telephony, app)

    assert re.fullmatch(r"CA[0-9a-f]{32}", sid)
    assert sim.wait_idle(5)
    call = sim.get_call(sid)
    assert (call.to, call.from_, call.url) == (CALLEE, CALLER, app.url("/answer"))
    assert call.status_callback_events == ("initiated", "ringing", "answered", "completed")
    assert (call.machine_detection, call.async_amd, call.amd_callback) == (
        "DetectMessageEnd",
        True,
        app.url("/amd"),
    )
    assert call.timeout == 25
    assert call.status_callbacks == ["initiated", "ringing", "in-progress", "completed"]


def test_the_factory_is_cached_per_configuration(
    telephony: Telephony, sim: CarrierSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert get_telephony() is telephony
    monkeypatch.setenv("TWILIO_API_BASE_URL", sim.base_url + "/")  # the account pointed elsewhere
    reset_settings()
    assert get_telephony() is not telephony
    monkeypatch.setenv("TWILIO_API_BASE_URL", sim.base_url)
    reset_settings()
    assert get_telephony() is telephony


def test_fetch_call_reports_status_start_and_duration(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    sim.register_callee(CALLEE, "interested_buyer")
    sid = place(telephony, app)
    assert sim.wait_idle(5)

    info = telephony.fetch_call(sid)

    simulated = sim.get_call(sid)
    assert (info.sid, info.to, info.from_, info.status) == (sid, CALLEE, CALLER, "completed")
    assert info.duration is not None and info.duration > 0
    assert info.duration == simulated.duration
    assert simulated.start_time is not None and info.start_time == simulated.start_time.replace(microsecond=0)


def test_fetch_of_an_unknown_call_is_call_not_found(telephony: Telephony) -> None:
    with pytest.raises(CallNotFound) as caught:
        telephony.fetch_call("CA" + "0" * 32)
    assert caught.value.code == 20404


def test_find_calls_to_returns_only_calls_placed_since(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    sim.register_callee(CALLEE, "busy")
    earlier = place(telephony, app)
    place(telephony, app, to="+15551230002")  # another number, same moment
    assert sim.wait_idle(5)
    CLOCK.advance(timedelta(minutes=3))
    since = now()
    later = place(telephony, app)
    assert sim.wait_idle(5)

    assert [c.sid for c in telephony.find_calls_to(CALLEE, since)] == [later]
    assert [c.sid for c in telephony.find_calls_to(CALLEE, since - timedelta(minutes=5))] == [earlier, later]
    assert telephony.find_calls_to("+15559999999", since - timedelta(minutes=5)) == []


def test_find_calls_to_sees_a_call_still_queued_and_hangup_cancels_it(
    telephony: Telephony, app: FakeVoiceApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    with CarrierSimulator(auth_token=TOKEN, account_sid=ACCOUNT, workers=1) as one_line:
        monkeypatch.setenv("TWILIO_API_BASE_URL", one_line.base_url)
        reset_settings()
        telephony = get_telephony()
        app.hold_status.clear()  # the first call's status callback holds the only worker
        since = now()
        first = place(telephony, app, to="+15551230009")
        queued = place(telephony, app)

        found = telephony.find_calls_to(CALLEE, since)
        telephony.hangup(queued)
        app.hold_status.set()
        assert one_line.wait_idle(5)

        assert [(c.sid, c.status, c.start_time) for c in found] == [(queued, "queued", None)]
        assert one_line.get_call(queued).status == "canceled"
        assert one_line.get_call(queued).status_callbacks == ["canceled"]
        assert one_line.get_call(first).status == "no-answer"


def test_invalid_number_is_invalid_number(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    with pytest.raises(InvalidNumber) as caught:
        place(telephony, app, to="555-0100")

    assert caught.value.code == 21211
    assert not caught.value.retryable and not caught.value.maybe_placed
    assert sim.calls() == []


def test_unverified_caller_id_is_caller_id_not_verified(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    sim.unverified_caller_ids.add(CALLER)

    with pytest.raises(CallerIdNotVerified) as caught:
        place(telephony, app)

    assert caught.value.code == 21210
    assert sim.calls() == []


def test_429_is_rate_limited_retryable_and_not_placed(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    sim.inject_fault("429")

    with pytest.raises(RateLimited) as caught:
        place(telephony, app)

    assert (caught.value.code, caught.value.http_status) == (20429, 429)
    assert caught.value.retryable and not caught.value.maybe_placed
    assert sim.calls() == []
    assert place(telephony, app)  # the fault was for one request only


def test_500_is_unavailable_and_maybe_placed_without_a_call(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    sim.inject_fault("500")
    since = now()

    with pytest.raises(TelephonyUnavailable) as caught:
        place(telephony, app)

    assert caught.value.code == 20500
    assert caught.value.maybe_placed and not caught.value.retryable
    assert telephony.find_calls_to(CALLEE, since) == []


def test_500_after_placing_is_found_by_reconciliation(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    sim.inject_fault("500_placed")
    since = now()

    with pytest.raises(TelephonyUnavailable) as caught:
        place(telephony, app)

    assert caught.value.maybe_placed
    found = telephony.find_calls_to(CALLEE, since)
    assert len(found) == 1 and found[0].to == CALLEE
    assert sim.wait_idle(5)
    assert [c.sid for c in sim.calls()] == [found[0].sid]


def test_unreachable_carrier_is_unavailable(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    sim.stop()

    with pytest.raises(TelephonyUnavailable) as placing:
        place(telephony, app)
    with pytest.raises(TelephonyUnavailable) as reading:
        telephony.fetch_call("CA" + "0" * 32)

    assert placing.value.maybe_placed and not placing.value.retryable
    assert reading.value.retryable and not reading.value.maybe_placed


def test_a_wrong_auth_token_is_refused(
    sim: CarrierSimulator, app: FakeVoiceApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_API_BASE_URL", sim.base_url)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "wrong")
    reset_settings()
    try:
        with pytest.raises(TelephonyError) as caught:
            place(get_telephony(), app)
    finally:
        reset_settings()

    assert (caught.value.code, caught.value.http_status) == (20003, 401)
    assert sim.calls() == []


def test_send_sms_is_stored(telephony: Telephony, sim: CarrierSimulator) -> None:
    sid = telephony.send_sms(CALLEE, CALLER, "Your demo is booked for Tuesday at 2 pm.")

    assert re.fullmatch(r"SM[0-9a-f]{32}", sid)
    [message] = sim.messages()
    assert (message.sid, message.to, message.from_) == (sid, CALLEE, CALLER)
    assert message.body == "Your demo is booked for Tuesday at 2 pm."


def test_send_sms_to_an_invalid_number_is_invalid_number(telephony: Telephony, sim: CarrierSimulator) -> None:
    with pytest.raises(InvalidNumber):
        telephony.send_sms("not-a-number", CALLER, "hello")
    assert sim.messages() == []
