"""The carrier simulator against a small voice application: signed webhooks, personas, AMD, faults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime

import pytest
import requests
from autocall.config import reset_settings
from autocall.integrations.twilio.client import Telephony, TelephonyError, get_telephony

from local.carrier import CarrierSimulator
from local.carrier.engine import APPLICATION_ERROR, MAX_ROUND_TRIPS
from local.personas import PERSONAS
from tests.support.fakes.voice_app import GOODBYE, GREETING, NOT_HEARD, VOICEMAIL, FakeVoiceApp, Hit

TOKEN = "integration-auth-token"
ACCOUNT = "AC" + "2" * 32
CALLER = "+15005550006"
CALLEE = "+15551230001"


@pytest.fixture
def sim() -> Iterator[CarrierSimulator]:
    with CarrierSimulator(auth_token=TOKEN, account_sid=ACCOUNT) as simulator:
        yield simulator


@pytest.fixture
def app() -> Iterator[FakeVoiceApp]:
    voice_app = FakeVoiceApp(TOKEN)
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


def dial(telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp, to: str = CALLEE) -> str:
    sid = telephony.create_call(to, CALLER, app.url("/answer"), app.url("/status"), app.url("/amd"))
    assert sim.wait_idle(10)
    return sid


def speech(hits: list[Hit]) -> list[str | None]:
    return [hit.params.get("SpeechResult") for hit in hits]


def test_persona_lines_arrive_in_order_in_signed_webhooks(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    sim.register_callee(CALLEE, "interested_buyer", name="Dana")

    sid = dial(telephony, sim, app)

    expected = [line.replace("{name}", "Dana") for line in PERSONAS["interested_buyer"].lines]
    assert speech(app.hits("/turn")) == expected
    assert [hit.params["Confidence"] for hit in app.hits("/turn")] == ["0.92"] * len(expected)
    assert app.hits() and all(hit.signature_ok for hit in app.hits())
    assert all(hit.params["CallSid"] == sid and hit.params["AccountSid"] == ACCOUNT for hit in app.hits())
    call = sim.get_call(sid)
    assert (call.status, call.ended_by) == ("completed", "callee")  # the app kept gathering; Dana hung up
    assert call.webhooks[0].params["Direction"] == "outbound-api"


def test_transcript_has_both_sides_in_turn_order(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    app.turns = 2
    sim.script_callee(CALLEE, "human", ["Yes, speaking.", "Tell me more."])

    call = sim.get_call(dial(telephony, sim, app))

    assert [(e.speaker, e.text) for e in call.transcript] == [
        ("agent", GREETING),
        ("agent", "How can I help?"),
        ("callee", "Yes, speaking."),
        ("agent", "You said Yes, speaking.."),
        ("callee", "Tell me more."),
        ("agent", GOODBYE),
    ]
    moments = [entry.at for entry in call.transcript]
    assert moments == sorted(moments) and moments[0] < moments[-1]
    assert call.ended_by == "agent"
    assert [w.url for w in call.webhooks if w.kind == "action"] == [
        app.url("/turn?n=1"),
        app.url("/turn?n=2"),
    ]


def test_status_callbacks_arrive_in_order_with_a_call_duration(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    sim.register_callee(CALLEE, "not_interested")

    sid = dial(telephony, sim, app)

    hits = app.hits("/status")
    assert [hit.params["CallStatus"] for hit in hits] == ["initiated", "ringing", "in-progress", "completed"]
    assert [hit.params["SequenceNumber"] for hit in hits] == ["0", "1", "2", "3"]
    stamps = [parsedate_to_datetime(hit.params["Timestamp"]) for hit in hits]
    assert stamps == sorted(stamps)
    completed = hits[-1].params
    assert int(completed["CallDuration"]) > 0
    assert int(completed["CallDuration"]) == sim.get_call(sid).duration
    assert completed["AnsweredBy"] == "human"
    assert all(hit.params["Direction"] == "outbound-api" and hit.params["To"] == CALLEE for hit in hits)


@pytest.mark.parametrize(
    ("answer", "callbacks"),
    [
        ("busy", ["initiated", "busy"]),  # the personas
        ("no_answer", ["initiated", "ringing", "no-answer"]),
        ("fail", ["initiated", "failed"]),  # a scripted callee
    ],
)
def test_unanswered_calls_never_fetch_the_answer_url(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp, answer: str, callbacks: list[str]
) -> None:
    if answer in PERSONAS:
        sim.register_callee(CALLEE, answer)
    else:
        sim.script_callee(CALLEE, answer)

    sid = dial(telephony, sim, app)

    assert [hit.params["CallStatus"] for hit in app.hits("/status")] == callbacks
    assert app.hits("/status")[-1].params["CallDuration"] == "0"
    assert app.hits("/answer") == [] and app.hits("/amd") == []
    assert sim.get_call(sid).status == callbacks[-1]
    assert sim.get_call(sid).transcript == []


def test_synchronous_amd_tells_the_answer_url_who_answered(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    sim.register_callee(CALLEE, "voicemail")

    call = telephony._client.calls.create(
        to=CALLEE, from_=CALLER, url=app.url("/answer"), machine_detection="Enable"
    )
    assert sim.wait_idle(10)

    [answer] = app.hits("/answer")
    assert answer.params["AnsweredBy"] == "machine_start" and app.hits("/amd") == []
    assert sim.get_call(call.sid).answered_by == "machine_start"
    assert sim.get_call(call.sid).ended_by == "callee"  # the machine stops recording; nobody spoke


def test_unknown_numbers_ring_out_unless_the_default_changes(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    assert sim.get_call(dial(telephony, sim, app)).status == "no-answer"
    sim.set_default_persona("busy")
    assert sim.get_call(dial(telephony, sim, app)).status == "busy"


def test_machine_gets_the_amd_callback_and_the_voicemail_is_recorded(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    sim.register_callee(CALLEE, "voicemail", name="Dana")

    sid = dial(telephony, sim, app)

    [amd] = app.hits("/amd")
    assert amd.params["AnsweredBy"] == "machine_end_beep" and amd.signature_ok
    assert int(amd.params["MachineDetectionDuration"]) > 0
    call = sim.get_call(sid)
    assert call.transcript[0].speaker == "callee" and "Dana" in call.transcript[0].text
    assert [e.text for e in call.transcript if e.speaker == "agent"] == [GREETING, VOICEMAIL]
    assert (call.status, call.answered_by) == ("completed", "machine_end_beep")
    assert app.hits("/turn") == []  # the voicemail TwiML replaced the greeting's <Gather>
    assert app.hits("/status")[-1].params["AnsweredBy"] == "machine_end_beep"


def test_a_human_gets_answered_by_human_and_the_amd_answer_is_ignored(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    app.voicemail_for_humans = True
    sim.register_callee(CALLEE, "opt_out")

    call = sim.get_call(dial(telephony, sim, app))

    assert [hit.params["AnsweredBy"] for hit in app.hits("/amd")] == ["human"]
    assert VOICEMAIL not in [entry.text for entry in call.transcript]
    assert speech(app.hits("/turn")) == [PERSONAS["opt_out"].lines[0]]


def test_the_app_can_switch_a_live_call_to_new_twiml_over_rest(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    """The pattern Twilio documents for async AMD: update the live call instead of answering the callback."""

    def leave_message_over_rest(hit: Hit) -> None:
        if hit.path == "/amd":
            telephony.play_twiml(hit.params["CallSid"], "<Response><Say>Left over REST.</Say></Response>")

    app.on_request = leave_message_over_rest  # the callback's own answer (VOICEMAIL) loses to the update
    sim.register_callee(CALLEE, "voicemail")

    call = sim.get_call(dial(telephony, sim, app))

    assert [e.text for e in call.transcript if e.speaker == "agent"] == [GREETING, "Left over REST."]
    assert (call.status, call.ended_by) == ("completed", "agent")


def test_a_call_that_is_not_live_cannot_be_switched(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    sim.register_callee(CALLEE, "busy")
    sid = dial(telephony, sim, app)

    with pytest.raises(TelephonyError) as caught:
        telephony.play_twiml(sid, "<Response><Say>Too late.</Say></Response>")

    assert caught.value.code == 21220


def test_the_app_can_hang_up_a_live_call(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    def hang_up_on_first_turn(hit: Hit) -> None:
        if hit.path == "/turn":
            telephony.hangup(hit.params["CallSid"])

    app.on_request = hang_up_on_first_turn
    sim.register_callee(CALLEE, "interested_buyer")

    call = sim.get_call(dial(telephony, sim, app))

    assert (call.status, call.ended_by) == ("completed", "api")
    assert len(app.hits("/turn")) == 1
    assert call.transcript[-1].speaker == "callee"  # the turn's TwiML was never played


def test_silence_posts_without_speech_result_when_action_on_empty_result(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    sim.script_callee(CALLEE, "human", ["Hello?", "", "Are you there?"])

    call = sim.get_call(dial(telephony, sim, app))

    assert speech(app.hits("/turn")) == ["Hello?", None, "Are you there?"]
    assert "Confidence" not in app.hits("/turn")[1].params
    assert ("callee", "") in [(e.speaker, e.text) for e in call.transcript]
    assert NOT_HEARD not in [e.text for e in call.transcript]


def test_silence_goes_on_after_the_gather_without_action_on_empty_result(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    app.action_on_empty_result = False
    sim.script_callee(CALLEE, "human", ["", "Hello?"])

    call = sim.get_call(dial(telephony, sim, app))

    assert [(hit.query, hit.params.get("SpeechResult")) for hit in app.hits("/turn")] == [
        ({"n": "1", "again": "1"}, None),  # the <Redirect> after the <Gather>
        ({"n": "2"}, "Hello?"),
    ]
    assert NOT_HEARD in [e.text for e in call.transcript if e.speaker == "agent"]


def test_duplicate_webhooks_deliver_everything_twice_with_one_token(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    sim.duplicate_webhooks = True
    sim.script_callee(CALLEE, "human", ["One.", "Two."])

    call = sim.get_call(dial(telephony, sim, app))

    hits = app.hits()
    assert len(hits) == 2 * len({hit.token for hit in hits})
    statuses = ["initiated", "ringing", "in-progress", "completed"]
    assert [hit.params["CallStatus"] for hit in app.hits("/status")] == [s for s in statuses for _ in "12"]
    assert speech(app.hits("/turn")) == ["One.", "One.", "Two.", "Two."]
    assert sum(w.duplicate for w in call.webhooks) == len(hits) // 2
    assert call.status_callbacks == statuses


def test_shuffled_status_callbacks_arrive_out_of_order(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    sim.shuffle_status_callbacks = True
    sim.register_callee(CALLEE, "opt_out")

    dial(telephony, sim, app)

    delivered = [(hit.params["SequenceNumber"], hit.params["CallStatus"]) for hit in app.hits("/status")]
    in_order = [("0", "initiated"), ("1", "ringing"), ("2", "in-progress"), ("3", "completed")]
    assert delivered != in_order and sorted(delivered) == in_order


def test_a_failing_webhook_is_retried_once(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    app.fail_first["/answer"] = 1
    sim.register_callee(CALLEE, "opt_out")

    call = sim.get_call(dial(telephony, sim, app))

    answers = [(w.attempt, w.http_status) for w in call.webhooks if w.kind == "voice"]
    assert answers == [(1, 500), (2, 200)]
    assert len({w.token for w in call.webhooks if w.kind == "voice"}) == 1
    assert speech(app.hits("/turn")) == [PERSONAS["opt_out"].lines[0]]


def test_a_webhook_failing_twice_ends_the_call_with_an_application_error(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    app.fail_first["/answer"] = 2
    sim.register_callee(CALLEE, "opt_out")

    call = sim.get_call(dial(telephony, sim, app))

    assert (call.status, call.ended_by) == ("completed", "error")
    assert call.transcript[-1].text == APPLICATION_ERROR
    assert call.errors and call.errors[0].startswith("11200")


def test_endless_gathering_stops_at_the_round_trip_limit(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    app.turns = 1000
    sim.script_callee(CALLEE, "human", [""] * 100)

    call = sim.get_call(dial(telephony, sim, app))

    assert call.ended_by == "limit"
    assert len(app.hits("/answer")) + len(app.hits("/amd")) + len(app.hits("/turn")) == MAX_ROUND_TRIPS


def test_a_hundred_concurrent_calls_all_complete(
    telephony: Telephony, sim: CarrierSimulator, app: FakeVoiceApp
) -> None:
    numbers = [f"+1555200{i:04d}" for i in range(100)]
    for number in numbers:
        sim.register_callee(number, "busy_call_me_back")
    started = time.monotonic()

    with ThreadPoolExecutor(10) as pool:
        sids = list(
            pool.map(
                lambda to: telephony.create_call(
                    to, CALLER, app.url("/answer"), app.url("/status"), app.url("/amd")
                ),
                numbers,
            )
        )
    assert sim.wait_idle(15)

    elapsed = time.monotonic() - started
    calls = [sim.get_call(sid) for sid in sids]
    assert [c.status for c in calls] == ["completed"] * 100
    assert all(len([e for e in c.transcript if e.speaker == "callee"]) == 3 for c in calls)
    assert all(hit.signature_ok for hit in app.hits())
    assert elapsed < 15, f"100 calls took {elapsed:.1f} s"


def test_the_http_control_api(sim: CarrierSimulator, telephony: Telephony, app: FakeVoiceApp) -> None:
    base = sim.base_url
    registered = requests.post(
        f"{base}/sim/callees", json={"phone": CALLEE, "persona": "wrong_person", "name": "Dana"}, timeout=5
    )
    assert registered.status_code == 201 and registered.json()["persona"] == "wrong_person"
    assert (
        requests.post(f"{base}/sim/callees", json={"phone": "12", "persona": "x"}, timeout=5).status_code
        == 400
    )

    sid = dial(telephony, sim, app)

    listed = requests.get(f"{base}/sim/calls", timeout=5).json()["calls"]
    assert [(c["sid"], c["status"]) for c in listed] == [(sid, "completed")]
    detail = requests.get(f"{base}/sim/calls/{sid}", timeout=5).json()
    assert detail["transcript"][1] == {
        "speaker": "agent",
        "text": "How can I help?",
        "at": detail["transcript"][1]["at"],
    }
    assert detail["transcript"][2]["text"] == PERSONAS["wrong_person"].lines[0]
    assert detail["status_callbacks"] == ["initiated", "ringing", "in-progress", "completed"]

    fault = requests.post(f"{base}/sim/faults", json={"kind": "429", "count": 2}, timeout=5)
    assert fault.json()["pending"] == ["429", "429"]
    assert requests.post(f"{base}/sim/faults", json={"kind": "teapot"}, timeout=5).status_code == 400

    telephony.send_sms(CALLEE, CALLER, "See you Tuesday.")
    assert [m["body"] for m in requests.get(f"{base}/sim/messages", timeout=5).json()["messages"]] == [
        "See you Tuesday."
    ]
    config = requests.post(f"{base}/sim/config", json={"duplicate_webhooks": True}, timeout=5).json()
    assert config["duplicate_webhooks"] is True and sim.duplicate_webhooks
    assert requests.get(f"{base}/sim/idle", params={"timeout": 1}, timeout=5).json() == {"idle": True}


def test_rest_requires_the_account_credentials(sim: CarrierSimulator) -> None:
    url = f"{sim.base_url}/2010-04-01/Accounts/{ACCOUNT}/Calls.json"

    refused = requests.get(url, auth=(ACCOUNT, "wrong"), timeout=5)
    accepted = requests.get(url, auth=(ACCOUNT, TOKEN), timeout=5)

    assert refused.status_code == 401 and refused.json()["code"] == 20003
    assert accepted.status_code == 200 and accepted.json()["calls"] == []
