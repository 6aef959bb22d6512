"""Errors that would reach a log whole: Lambda writes an unhandled exception's message and traceback
to the function's log, and Twilio's messages and connection errors name the numbers."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from datetime import timedelta

import pytest
from autocall.clock import now
from autocall.config import reset_settings
from autocall.integrations.twilio.client import (
    InvalidNumber,
    Telephony,
    TelephonyUnavailable,
    get_telephony,
)

from local.carrier import CarrierSimulator
from tests.support.reliability import COUNTS

TOKEN = "test-auth-token"
NUMBER = "+1 415 555 0123"  # refused by Twilio's E.164 check, and named in its error message
CALLEE = NUMBER.replace(" ", "")


@pytest.fixture
def telephony(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Telephony, CarrierSimulator]]:
    with CarrierSimulator(auth_token=TOKEN) as sim:
        monkeypatch.setenv("TWILIO_API_BASE_URL", sim.base_url)
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "5" * 32)  # the simulator takes any account
        reset_settings()
        yield get_telephony(), sim
    reset_settings()


def logged(exc: BaseException) -> str:
    """What Lambda's runtime would write for this exception, unhandled."""
    return "".join(traceback.format_exception(exc))


def test_twilio_errors_do_not_carry_a_callee_number_into_a_traceback(
    telephony: tuple[Telephony, CarrierSimulator],
) -> None:
    client, sim = telephony
    with pytest.raises(InvalidNumber) as refused:
        client.send_sms(NUMBER, "+15005550006", "Your demo is on Tuesday at 2 PM.")
    with pytest.raises(InvalidNumber) as refused_call:
        client.create_call(
            NUMBER, "+15005550006", "https://a.example/x", "https://a.example/y", "https://a.example/z"
        )
    sim.stop()  # Twilio unreachable: the connection error names the URL, query and all
    with pytest.raises(TelephonyUnavailable) as unreachable:
        client.find_calls_to(CALLEE, now() - timedelta(minutes=1))
    for exc in (refused.value, refused_call.value, unreachable.value):
        text = logged(exc)
        assert "555 0123" not in text and "5550123" not in text, text
        assert "0123" in text  # masked, not dropped: enough to tell calls apart
        COUNTS["Twilio errors whose traceback was searched for the callee's number (0 found)"] += 1
