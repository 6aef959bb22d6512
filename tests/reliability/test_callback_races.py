"""Callbacks racing the conversation: Twilio sends the "answered" status and AMD callbacks while the
agent is answering, and retries old callbacks late and out of order. No turn is lost to them, and
a late callback of an earlier attempt never revives a call waiting for its retry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from autocall.domain import conversation, dialer
from autocall.stores import calls as repo

from tests.support.reliability import (
    COUNTS,
    NOW,
    Twilio,
    as_function,
    new_call,
    new_contact,
    next_turn,
    row,
    twiml_verbs,
)

LATE = ["initiated", "ringing", "in-progress", "completed", "no-answer", "busy", "canceled"]


def test_late_callbacks_of_an_earlier_attempt_change_nothing(twilio: Twilio) -> None:
    call_id = new_call(new_contact())
    assert repo.mark_dialing(row(call_id))
    with as_function("SchedulerFunction"):  # the dialer saves the SID (and arms its watchdog)
        dialer._record_sid(row(call_id), "CAfirst")
    assert twilio.status(call_id, "no-answer", sid="CAfirst") == 200
    assert row(call_id).status == "no_answer"
    # the post-call chain plans the next attempt
    assert repo.reopen_for_retry(row(call_id), NOW + timedelta(hours=2), "retry after no_answer", None)
    waiting = row(call_id)
    for status in LATE:  # the retry waits: nothing of the first attempt may wake it
        assert twilio.status(call_id, status, sid="CAfirst") == 200
        assert (row(call_id).status, row(call_id).twilio_sid, row(call_id).version) == (
            "scheduled",
            None,
            waiting.version,
        )
    assert repo.mark_dialing(row(call_id))  # the second attempt is being placed, its SID not saved yet
    dialing = row(call_id)
    for status in LATE:
        assert twilio.status(call_id, status, sid="CAfirst") == 200
        assert (row(call_id).status, row(call_id).twilio_sid, row(call_id).version) == (
            "dialing",
            None,
            dialing.version,
        )
    assert twilio.status(call_id, "ringing", sid="CAsecond") == 200  # its own callback can beat the save
    assert (row(call_id).status, row(call_id).twilio_sid) == ("ringing", "CAsecond")
    COUNTS["late status callbacks of an earlier attempt (0 changes)"] += 2 * len(LATE)


def test_callbacks_landing_while_the_agent_thinks_lose_no_turn(
    twilio: Twilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    call_id = new_call(new_contact())
    assert repo.mark_dialing(row(call_id))
    with as_function("SchedulerFunction"):  # the dialer saves the SID (and arms its watchdog)
        dialer._record_sid(row(call_id), "CAreliability")
    meanwhile = iter(
        [
            ("/twilio/status", {"CallStatus": "in-progress"}),  # Twilio's "answered", as the greeting is made
            ("/twilio/amd", {"AnsweredBy": "human"}),  # async AMD's verdict, during the first turn
            ("/twilio/amd", {"AnsweredBy": "human"}),  # and its retry
            ("/twilio/amd", {"AnsweredBy": "human"}),
        ]
    )
    build = conversation.build_context

    def thinking(*args: Any) -> Any:
        path, params = next(meanwhile, ("", {}))
        if path:
            assert twilio.post(f"{path}/{call_id}", {"CallSid": "CAreliability", **params})[0] == 200
        return build(*args)

    monkeypatch.setattr(conversation, "build_context", thinking)
    heard = [twilio.answer(call_id)]
    for line in [
        "Yes, this is Dana.",
        "We are looking at upgrading our infrastructure.",
        "Yes, that would help.",
    ]:
        heard.append(twilio.say(call_id, next_turn(heard[-1]), line))
    assert all(twiml_verbs(twiml) == ["Gather", "Redirect"] for twiml in heard), heard
    call = row(call_id)
    assert len(call.turns) == 4 and call.answered_by == "human" and call.status == "in_progress"
    COUNTS["callbacks written while a turn was being answered (0 turns lost)"] += 4
