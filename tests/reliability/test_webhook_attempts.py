"""Every Twilio webhook proves it belongs to the call's current attempt (issue 14, findings 4 and 5).

A signature only proves that Twilio sent a webhook, not when: a replay of an earlier attempt's
answer, or a late AMD verdict, is as validly signed as the current one. Here they are sent as Twilio
sends them (signed, through the gateway) at calls waiting for their retry, at finished calls and at
the wrong call: each is answered harmlessly, changes nothing and is recorded on the call. A call left
live without a Twilio call (the state the replayed answer used to leave) is repaired by the dialer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from autocall.clock import CLOCK
from autocall.domain import dialer
from autocall.domain.pacing import slot_holders
from autocall.integrations.twilio.client import Telephony
from autocall.models.enums import CallStatus
from autocall.stores import calls as repo

from local.personas import PERSONAS
from tests.support.aws import Aws
from tests.support.reliability import (
    COUNTS,
    NOW,
    Twilio,
    as_function,
    live_call,
    new_call,
    new_contact,
    on_the_line,
    row,
    twiml_verbs,
)

REPLAYS = "webhooks of an earlier attempt replayed at a call waiting for its retry"
STRANGERS = "webhooks naming a Twilio call of no attempt, at a live call"
AMD_LATE = "AMD verdicts at finished calls (opted out, demo booked) and naming another call"
LOST_LINE = "live_without_a_twilio_call"  # the reason the dialer records when it repairs one
REPAIRED = "calls left live without a Twilio call, found by the watchdog, their retry or the next call"


class Placed:
    """Twilio's create, answering with the next SID: the dialer's side of a placed call."""

    def __init__(self, *sids: str) -> None:
        self.sids = list(sids)

    def create_call(self, **_: str) -> str:
        return self.sids.pop(0)


@pytest.fixture
def played(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """What the AMD webhook plays into live calls: (Twilio SID, TwiML)."""
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(Telephony, "play_twiml", lambda self, sid, twiml: calls.append((sid, twiml)))
    return calls


def waiting_for_retry(twilio: Twilio, contact: Any, sid: str = "CAfirst") -> str:
    """A call whose first attempt (``sid``) rang out; the post-call chain planned the next one."""
    call_id = live_call(contact, sid=sid)
    assert twilio.status(call_id, "no-answer", sid=sid) == 200
    with as_function("PostCallFunction"):
        assert repo.reopen_for_retry(row(call_id), NOW + timedelta(hours=2), "retry after no_answer", None)
    return call_id


def state(call_id: str) -> tuple[Any, ...]:
    call = row(call_id)
    return (call.status, call.twilio_sid, call.version, call.turns, call.outcome, call.answered_by)


# --- finding 4: a replayed answer no longer revives a call waiting for its retry -------------------


def test_a_replayed_answer_leaves_a_call_waiting_for_its_retry_as_it_was(
    twilio: Twilio, monkeypatch: pytest.MonkeyPatch, played: list[tuple[str, str]]
) -> None:
    contact = new_contact()
    call_id = waiting_for_retry(twilio, contact)
    before = state(call_id)
    first = {"CallSid": "CAfirst", "CallStatus": "in-progress"}
    replays = [
        (f"/twilio/answer/{call_id}", first),
        (f"/twilio/answer/{call_id}", {"CallSid": "CAnever", "CallStatus": "in-progress"}),
        (f"/twilio/turn/{call_id}/1", {**first, "SpeechResult": "Yes, book me in.", "Confidence": "0.9"}),
        (f"/twilio/amd/{call_id}", {"CallSid": "CAfirst", "AnsweredBy": "machine_end_beep"}),
        (f"/twilio/status/{call_id}", {**first, "CallStatus": "completed", "CallDuration": "30"}),
    ]
    for _ in range(3):
        for path, params in replays:
            status, document = twilio.post(path, params)
            assert status == 200 and twiml_verbs(document) in ([], ["Hangup"]), (path, document)
            assert state(call_id) == before, f"{path} changed the call"
            COUNTS[REPLAYS] += 1
    call = row(call_id)
    assert call.status == "scheduled" and call.ignored_webhooks == 3 * len(replays)
    assert call.last_ignored_webhook["reason"] == "no_attempt_on_the_line"
    assert played == []
    status, view = twilio.api("GET", f"/calls/{call_id}")
    assert view["ignored_webhooks"] == 3 * len(replays)
    assert view["last_ignored_webhook"]["webhook"] == "status"

    # the contact is not "on another call": a new call to them dials at once
    monkeypatch.setattr(dialer, "_telephony", lambda: Placed("CAnext"))
    other = new_call(contact, "follow_up", at=NOW)  # due now: the trigger hands it to the dialer
    twilio.settle()
    assert (row(other).status, row(other).twilio_sid) == ("queued", "CAnext"), row(other).reasons
    # and the waiting call can still be cancelled (it was 409 "call is in_progress" for good)
    status, view = twilio.api("DELETE", f"/calls/{call_id}")
    assert status == 200 and view["status"] == "canceled", view


def test_the_next_attempt_is_greeted_and_its_predecessors_webhooks_are_not(twilio: Twilio) -> None:
    call_id = waiting_for_retry(twilio, new_contact())
    assert repo.mark_dialing(row(call_id))  # the second attempt is being placed: no SID saved yet
    status, document = twilio.post(f"/twilio/answer/{call_id}", {"CallSid": "CAfirst"})
    assert (status, twiml_verbs(document)) == (200, ["Hangup"])
    assert row(call_id).status == "dialing" and row(call_id).twilio_sid is None
    assert row(call_id).last_ignored_webhook["reason"] == "earlier_attempt"
    # the second attempt's own answer beats the dialer's save of its SID: it claims the attempt
    assert "Gather" in twiml_verbs(twilio.answer(call_id, sid="CAsecond"))
    call = row(call_id)
    assert (call.status, call.twilio_sid, call.attempt_history[-1]["twilio_sid"]) == (
        "in_progress",
        "CAsecond",
        "CAsecond",
    )
    COUNTS[REPLAYS] += 1


def test_webhooks_naming_another_twilio_call_change_nothing_on_a_live_call(twilio: Twilio) -> None:
    call_id = live_call(new_contact(), sid="CAlive")
    greeting = twilio.answer(call_id, sid="CAlive")
    before = state(call_id)
    stranger = {"CallSid": "CAstranger", "CallStatus": "in-progress"}
    sent = [
        (f"/twilio/answer/{call_id}", stranger),
        (f"/twilio/turn/{call_id}/1", {**stranger, "SpeechResult": "Stop calling me.", "Confidence": "0.9"}),
        (f"/twilio/amd/{call_id}", {"CallSid": "CAstranger", "AnsweredBy": "machine_start"}),
        (f"/twilio/status/{call_id}", {**stranger, "CallStatus": "completed", "CallDuration": "3"}),
    ]
    for path, params in sent:
        status, document = twilio.post(path, params)
        assert status == 200 and twiml_verbs(document) in ([], ["Hangup"]), (path, document)
        assert state(call_id) == before, f"{path} changed the call"
        COUNTS[STRANGERS] += 1
    assert row(call_id).ignored_webhooks == len(sent)
    assert row(call_id).last_ignored_webhook["reason"] == "unknown_call_sid"
    # the call's own Twilio call carries on where it was
    assert twilio.answer(call_id, sid="CAlive") == greeting
    assert "Gather" in twiml_verbs(twilio.say(call_id, 1, "Yes, this is Dana.", sid="CAlive"))


# --- finding 5: AMD acts on the stored SID, never on a finished call ------------------------------


@pytest.mark.parametrize(
    ("persona", "outcome"), [("opt_out", "opted_out"), ("interested_buyer", "demo_scheduled")]
)
def test_a_late_amd_verdict_never_rewrites_a_finished_call(
    twilio: Twilio, played: list[tuple[str, str]], persona: str, outcome: str
) -> None:
    call_id = live_call(new_contact(), sid="CAdone")
    lines = [line.format(name="Dana") for line in PERSONAS[persona].lines]
    twilio.converse(call_id, lines, sid="CAdone")
    finished = state(call_id)
    assert finished[0] == "completed" and finished[4] == outcome
    for verdict in ("machine_end_beep", "machine_start", "fax", "human"):
        status, document = twilio.post(f"/twilio/amd/{call_id}", {"CallSid": "CAdone", "AnsweredBy": verdict})
        assert (status, twiml_verbs(document)) == (200, [])
        assert state(call_id) == finished
        COUNTS[AMD_LATE] += 1
    assert played == []
    assert row(call_id).last_ignored_webhook["reason"] == "call_ended"


def test_amd_plays_the_voicemail_only_into_the_calls_own_twilio_call(
    twilio: Twilio, played: list[tuple[str, str]]
) -> None:
    first, second = live_call(new_contact(), sid="CAfirst"), live_call(new_contact(), sid="CAsecond")
    twilio.answer(first, sid="CAfirst")
    twilio.answer(second, sid="CAsecond")
    # a webhook for the first call naming the second call's SID: nothing is played anywhere
    status, _ = twilio.post(f"/twilio/amd/{first}", {"CallSid": "CAsecond", "AnsweredBy": "machine_end_beep"})
    assert status == 200 and played == []
    assert row(first).outcome is None and row(second).outcome is None
    assert row(first).last_ignored_webhook["reason"] == "unknown_call_sid"
    COUNTS[AMD_LATE] += 1
    # the first call's own verdict: its voicemail goes to its own Twilio call, as stored
    status, _ = twilio.post(f"/twilio/amd/{first}", {"CallSid": "CAfirst", "AnsweredBy": "machine_end_beep"})
    assert status == 200 and [sid for sid, _ in played] == ["CAfirst"]
    assert "Say" in twiml_verbs(played[0][1]) and row(first).outcome == "voicemail"
    assert row(second).outcome is None and row(second).answered_by is None


def test_a_machine_verdict_after_the_conversation_reached_an_outcome_keeps_it(
    twilio: Twilio, played: list[tuple[str, str]]
) -> None:
    call_id = live_call(new_contact(), sid="CAtalk")
    twilio.answer(call_id, sid="CAtalk")
    twilio.say(call_id, 1, "Sorry, I'm in a meeting. Can you call me later?", sid="CAtalk")
    assert row(call_id).outcome == "callback_requested"
    twilio.post(f"/twilio/amd/{call_id}", {"CallSid": "CAtalk", "AnsweredBy": "machine_end_other"})
    assert row(call_id).outcome == "callback_requested" and played == []
    assert row(call_id).answered_by == "machine_end_other"  # what Twilio said is kept, nothing more


# --- no call stays live without a Twilio call -------------------------------------------------------


def _revived(call_id: str) -> None:
    """What a replayed answer did before: scheduled → in_progress, with no Twilio call behind it."""
    call = row(call_id)
    assert repo.save_fields(call, {"status": "in_progress", "status_rank": CallStatus.IN_PROGRESS.rank})


def test_the_watchdog_sends_a_revived_call_back_to_wait_for_its_retry(twilio: Twilio, aws: Aws) -> None:
    contact = new_contact()
    call_id = waiting_for_retry(twilio, contact)
    due = row(call_id).scheduled_time
    _revived(call_id)
    watched = aws.registry.invoke("SchedulerFunction", {"call_id": call_id, "watch": True})
    assert (watched["action"], watched["reason"]) == ("rescheduled", LOST_LINE)
    call = row(call_id)
    assert (call.status, call.scheduled_time, call.reasons[-1]["reason"]) == ("scheduled", due, LOST_LINE)
    assert call.schedule_name and call_id not in (slot_holders() or {})
    COUNTS[REPAIRED] += 1


def test_a_call_live_without_a_twilio_call_is_repaired_by_its_own_retry_and_dialed(
    twilio: Twilio, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    call_id = waiting_for_retry(twilio, new_contact())
    _revived(call_id)
    monkeypatch.setattr(dialer, "_telephony", lambda: Placed("CAretry"))
    CLOCK.freeze(NOW + timedelta(hours=2))  # the retry's schedule fires
    fired = aws.registry.invoke("SchedulerFunction", {"call_id": call_id})
    assert (fired["action"], fired["twilio_sid"]) == ("dialed", "CAretry"), fired
    call = row(call_id)
    assert (call.status, call.attempts, call.twilio_sid) == ("queued", 2, "CAretry")
    assert LOST_LINE in [r["reason"] for r in call.reasons]
    COUNTS[REPAIRED] += 1


def test_the_contacts_next_call_repairs_a_call_stuck_live_instead_of_waiting_behind_it(
    twilio: Twilio, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    contact = new_contact()
    stuck = on_the_line(new_call(contact), "CAlost")
    twilio.answer(stuck, sid="CAlost")
    repo.save_fields(row(stuck), {"twilio_sid": None})  # its attempt never ended: the SID is lost
    monkeypatch.setattr(dialer, "_telephony", lambda: Placed("CAnext"))
    other = new_call(contact, "follow_up")
    CLOCK.freeze(NOW + timedelta(minutes=5))  # its schedule fires
    fired = aws.registry.invoke("SchedulerFunction", {"call_id": other})
    assert fired["action"] == "dialed", fired  # was rescheduled as contact_on_another_call, every 10 min
    call = row(stuck)
    assert (call.status, call.outcome, call.reasons[-1]["reason"]) == ("failed", "failed", LOST_LINE)
    assert stuck not in (slot_holders() or {})
    # the post-call chain plans the stuck call's next attempt, as for any failed one
    planned = aws.registry.invoke("PostCallFunction", {"step": "plan", "call_id": stuck, "attempt": 1})
    assert planned["actions"] == ["retry_call"]
    COUNTS[REPAIRED] += 1
