"""Status callbacks of an earlier attempt arriving late (Twilio retries them, and delivers them out
of order): they never revive a call waiting for its retry, nor take over the next attempt."""

from __future__ import annotations

from datetime import timedelta

from autocall.adapters import calls as repo
from autocall.domain import dialer

from tests.reliability.support import COUNTS, NOW, Twilio, new_call, new_contact, row

LATE = ["initiated", "ringing", "in-progress", "completed", "no-answer", "busy", "canceled"]


def test_late_callbacks_of_an_earlier_attempt_change_nothing(twilio: Twilio) -> None:
    call_id = new_call(new_contact())
    assert repo.mark_dialing(row(call_id))
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
