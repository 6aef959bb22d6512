"""One simulated call, from dial to hang-up, run on a worker thread.

Time is computed, never waited: the call keeps its own timeline that starts at ``autocall.clock.now()``
when it is dialed and moves by the time it takes to ring, to speak each line (words at a steady rate)
and to sit through pauses and silences. Only the webhook round-trips take real time.
"""

from __future__ import annotations

import http.client
import math
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any, NoReturn
from urllib.parse import urlencode, urljoin, urlsplit

from autocall import clock
from twilio.request_validator import RequestValidator

from local.carrier.records import TERMINAL, Exchange, SimCall, TranscriptEntry, WebhookDelivery
from local.carrier.twiml import TwimlError, Verb, parse_twiml

API_VERSION = "2010-04-01"
WORDS_PER_SECOND = 2.5
TURN_GAP_S = 0.6  # between one speaker stopping and the other starting
RING_S = {"human": 6.0, "machine": 12.0}
BUSY_S = 2.0
PLAY_S = 5.0
BEEP_S = 1.0
HUMAN_DETECTION_MS = 1800
CONFIDENCE = "0.92"
MAX_ROUND_TRIPS = 40
MACHINE_MAX_MESSAGE_S = 60.0  # an answering machine stops recording after this much
APPLICATION_ERROR = "We are sorry, an application error has occurred. Goodbye."
SIP_RESPONSE = {"completed": "200", "busy": "486", "no-answer": "487", "canceled": "487", "failed": "500"}


class _Ended(Exception):
    """The call is over: ``by`` says who ended it, ``status`` the terminal status."""

    def __init__(self, by: str, status: str = "completed") -> None:
        super().__init__(by)
        self.by, self.status = by, status


@dataclass
class _Document:
    verbs: list[Verb]
    url: str  # where it came from, for relative URLs; "" for inline TwiML
    pos: int = 0


class CallRun:
    def __init__(self, sim: Exchange, call: SimCall) -> None:
        self.sim, self.call, self.callee = sim, call, call.callee
        self.signer = RequestValidator(sim.auth_token)
        self.t: datetime = call.date_created
        self.lines_used = 0
        self.round_trips = 0
        self.sequence = 0
        self.beep_at: datetime | None = None
        self.held_status: list[tuple[dict[str, str], datetime]] = []

    def run(self) -> None:
        try:
            self._place()
        except Exception as exc:  # a simulator bug must still end the call and free wait_idle
            self._append("errors", f"simulator error: {exc!r}")
            if self.call.status not in TERMINAL:
                self._finish("failed", "carrier")
        finally:
            self._flush_held_status()
            self.sim._call_finished()

    # -- life cycle ---------------------------------------------------------------------------

    def _place(self) -> None:
        try:
            self._dial()
            ended = _Ended("agent")
        except _Ended as exc:
            ended = exc
        status = ended.status
        if ended.by == "api":
            status = "completed" if self.call.answer_time else "canceled"
        self._finish(status, ended.by)

    def _dial(self) -> None:
        self._check_hangup()
        self.t = clock.now()
        self._update(start_time=self.t)
        self._status_event("initiated", "initiated")
        answer = self.callee.answer
        if answer == "fail":
            raise _Ended("carrier", "failed")
        if answer == "busy":
            self._advance(BUSY_S)
            raise _Ended("callee", "busy")
        self._update(status="ringing")
        self._status_event("ringing", "ringing")
        if answer == "no_answer":
            self._advance(self.call.timeout)
            raise _Ended("callee", "no-answer")
        self._advance(RING_S[answer])
        self._check_hangup()
        self._update(status="in-progress", answer_time=self.t)
        self._status_event("answered", "in-progress")
        self._converse()

    def _converse(self) -> None:
        call, machine = self.call, self.callee.answer == "machine"
        detection = call.machine_detection.lower()
        amd = detection in ("enable", "detectmessageend")
        answered_by = "human"
        if machine:
            answered_by = "machine_end_beep" if detection == "detectmessageend" else "machine_start"
            greeting = self.callee.greeting()
            self._transcribe("callee", greeting)  # the agent's first words play over it
            self.beep_at = self.t + timedelta(seconds=_speaking_time(greeting) + BEEP_S)
        detection_ms = (
            int((self.beep_at - self.t).total_seconds() * 1000) if self.beep_at else HUMAN_DETECTION_MS
        )
        extra: dict[str, str] = {}
        if amd and not call.async_amd:  # synchronous AMD: Twilio detects first, then fetches the URL
            self._advance(detection_ms / 1000)
            self._update(answered_by=answered_by)
            extra["AnsweredBy"] = answered_by
        if call.twiml:
            doc = self._document(call.twiml, "", "inline TwiML")
        else:
            doc = self._fetch("voice", call.url, call.method, extra)
        if amd and call.async_amd:
            if machine:
                doc = self._execute(doc, until_gather=True)
                self.t = max(self.t, self.beep_at or self.t)
            self._update(answered_by=answered_by)
            voicemail = self._amd_callback(answered_by, detection_ms)
            if machine and voicemail is not None and voicemail.verbs:
                doc = voicemail
        self._execute(doc)

    def _finish(self, status: str, ended_by: str) -> None:
        answered = self.call.answer_time
        duration = math.ceil((self.t - answered).total_seconds()) if answered else 0
        self._update(status=status, end_time=self.t, duration=duration, ended_by=ended_by)
        self._status_event("completed", status)

    # -- TwiML ---------------------------------------------------------------------------------

    def _execute(self, doc: _Document, until_gather: bool = False) -> _Document:
        """Run ``doc`` to its end (which ends the call), or until its next <Gather> if asked."""
        while True:
            self._check_hangup()
            doc = self._take_redirect() or doc
            if doc.pos >= len(doc.verbs):
                raise _Ended("agent")
            verb = doc.verbs[doc.pos]
            if until_gather and verb.name in ("Gather", "Connect"):
                return doc
            doc.pos += 1
            doc = self._perform(verb, doc)

    def _perform(self, verb: Verb, doc: _Document) -> _Document:
        if verb.name == "Say":
            self._speak("agent", verb.text)
        elif verb.name == "Play":
            self._speak("agent", f"[play {verb.text}]", PLAY_S)
        elif verb.name == "Pause":
            self._advance(verb.number("length", 1))
        elif verb.name == "Gather":
            return self._gather(verb, doc)
        elif verb.name == "Redirect":
            return self._fetch("redirect", urljoin(doc.url, verb.text), verb.attrs.get("method", "POST"), {})
        elif verb.name in ("Hangup", "Reject"):
            raise _Ended("agent")
        elif verb.name == "Connect":
            return self._connect(verb, doc)
        elif verb.name == "Dial":
            self._append("transfers", verb.dial_target)
            raise _Ended("transfer")
        else:
            self._append("errors", f"unsupported verb <{verb.name}> skipped")
        return doc

    def _gather(self, verb: Verb, doc: _Document) -> _Document:
        for prompt in verb.children:
            if prompt.name in ("Say", "Play", "Pause"):
                self._perform(prompt, doc)
        line = self._callee_line()
        action = urljoin(doc.url, verb.attrs["action"]) if verb.attrs.get("action") else doc.url
        method = verb.attrs.get("method", "POST")
        if line and "speech" in verb.attrs.get("input", "dtmf").lower():
            self._advance(TURN_GAP_S)
            self._speak("callee", line)
            self._advance(TURN_GAP_S)
            return self._fetch("action", action, method, {"SpeechResult": line, "Confidence": CONFIDENCE})
        self._transcribe("callee", "")
        self._advance(verb.number("timeout", 5))
        if verb.flag("actionOnEmptyResult") and action:
            return self._fetch("action", action, method, {})
        return doc  # Twilio goes on with the verb after the <Gather>

    def _connect(self, verb: Verb, doc: _Document) -> _Document:
        """A ``<Connect><ConversationRelay>`` session (``relay``), then what Twilio does after it:
        POST the ``action`` URL and run the TwiML it answers, or go on with the next verb."""
        from local.carrier.relay import RelayRun  # relay reads this module's clock constants

        relay = RelayRun(self, verb, doc.url)
        why = relay.run_session()
        if why == "redirected":
            return doc  # the REST update's TwiML runs next (_execute takes it)
        if why == "completed":  # the callee hung up: the action is told, its answer is moot
            if relay.action:
                params = self._params("completed") | relay.action_params("completed")
                self._deliver("action", relay.action, relay.method.upper(), params, self.t)
            raise _Ended("callee")
        if not relay.action:
            return doc
        return self._fetch("action", relay.action, relay.method, relay.action_params("in-progress"))

    def _callee_line(self) -> str:
        """The callee's next line ("" is silence); ends the call when the callee hangs up."""
        if self.callee.answer == "machine":
            if self.beep_at and (self.t - self.beep_at).total_seconds() > MACHINE_MAX_MESSAGE_S:
                raise _Ended("callee")
            return ""
        line = self.callee.line(self.lines_used)
        if line is None:
            raise _Ended("callee")
        self.lines_used += 1
        return line

    # -- webhooks -----------------------------------------------------------------------------

    def _fetch(self, kind: str, url: str, method: str, extra: dict[str, str]) -> _Document:
        """POST (or GET) a voice webhook and parse the TwiML it answers."""
        self.round_trips += 1
        if self.round_trips > MAX_ROUND_TRIPS:
            self._append("errors", f"more than {MAX_ROUND_TRIPS} webhook round-trips")
            raise _Ended("limit")
        params = self._params("in-progress") | extra
        answer = self._deliver(kind, url, method.upper(), params, self.t)
        self._check_hangup()  # the app may have ended the call over REST while answering
        if answer is None or not 200 <= answer[0] < 300:
            got = "no answer" if answer is None else f"HTTP {answer[0]}"
            self._application_error(f"11200 {kind} webhook {url} got {got}")
        return self._document(answer[1], url, f"{kind} webhook {url}")

    def _document(self, body: str, url: str, source: str) -> _Document:
        try:
            return _Document(parse_twiml(body), url)
        except TwimlError as exc:
            self._application_error(f"12100 {source}: {exc}")

    def _application_error(self, error: str) -> NoReturn:
        self._append("errors", error)
        self._speak("agent", APPLICATION_ERROR)
        raise _Ended("error")

    def _amd_callback(self, answered_by: str, detection_ms: int) -> _Document | None:
        """Tell the app who answered. Twilio ignores the answer body; for a machine the simulator runs it."""
        call = self.call
        if not call.amd_callback:
            return None
        params = {
            "AccountSid": call.account_sid,
            "CallSid": call.sid,
            "AnsweredBy": answered_by,
            "MachineDetectionDuration": str(detection_ms),
        }
        self.round_trips += 1
        answer = self._deliver("amd", call.amd_callback, call.amd_callback_method.upper(), params, self.t)
        self._check_hangup()
        if answer is None or not 200 <= answer[0] < 300 or not answer[1].strip():
            return None
        try:
            return _Document(parse_twiml(answer[1]), call.amd_callback)
        except TwimlError:
            return None

    def _status_event(self, event: str, call_status: str) -> None:
        call = self.call
        if not call.status_callback or event not in call.status_callback_events:
            return
        params = self._params(call_status) | {
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(self.sequence),
            "Timestamp": format_datetime(self.t),
        }
        self.sequence += 1
        if event == "completed":
            duration = call.duration or 0
            params |= {
                "CallDuration": str(duration),
                "Duration": str(math.ceil(duration / 60)),
                "SipResponseCode": SIP_RESPONSE.get(call_status, "200"),
            }
        if call.answered_by:
            params["AnsweredBy"] = call.answered_by
        if self.sim.shuffle_status_callbacks:
            self.held_status.append((params, self.t))
        else:
            self._deliver("status", call.status_callback, call.status_callback_method.upper(), params, self.t)
            if event != "completed":
                self._check_hangup()

    def _flush_held_status(self) -> None:
        shuffled = list(self.held_status)
        while len(shuffled) > 1 and shuffled == self.held_status:
            random.shuffle(shuffled)
        call = self.call
        for params, at in shuffled:
            self._deliver("status", call.status_callback, call.status_callback_method.upper(), params, at)

    def _deliver(
        self, kind: str, url: str, method: str, params: dict[str, str], at: datetime
    ) -> tuple[int, str] | None:
        """Send one webhook: retried once on a 5xx or no answer, sent twice with ``duplicate_webhooks``.

        Returns the status and body of the first copy's last attempt, None if it never got an answer.
        """
        token = f"{self.call.sid}-{uuid.uuid4()}"
        first: tuple[int, str] | None = None
        for copy in range(2 if self.sim.duplicate_webhooks else 1):
            for attempt in (1, 2):
                status, body, error = send_webhook(
                    url, method, params, self.signer, token, self.sim.webhook_timeout, self.sim.hosts
                )
                if status is not None and status >= 400:
                    error = body[:300]  # what the app said, for whoever debugs the call
                delivery = WebhookDelivery(
                    kind, url, method, params, token, attempt, copy > 0, status, error, at
                )
                self._append("webhooks", delivery)
                if status is not None and status < 500:
                    break
            if copy == 0 and status is not None:
                first = (status, body)
        return first

    # -- state --------------------------------------------------------------------------------

    def _params(self, call_status: str) -> dict[str, str]:
        call = self.call
        return {
            "AccountSid": call.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call.sid,
            "CallStatus": call_status,
            "Called": call.to,
            "Caller": call.from_,
            "Direction": "outbound-api",
            "From": call.from_,
            "To": call.to,
        }

    def _check_hangup(self) -> None:
        with self.sim._lock:
            if self.call.hangup_requested:
                raise _Ended("api")

    def _take_redirect(self) -> _Document | None:
        with self.sim._lock:
            redirect, self.call.redirect_requested = self.call.redirect_requested, None
        if redirect is None:
            return None
        url, method, twiml = redirect
        return (
            self._document(twiml, "", "inline TwiML") if twiml else self._fetch("redirect", url, method, {})
        )

    def _speak(self, speaker: str, text: str, seconds: float | None = None) -> None:
        self._transcribe(speaker, text)
        self._advance(_speaking_time(text) if seconds is None else seconds)

    def _transcribe(self, speaker: str, text: str) -> None:
        self._append("transcript", TranscriptEntry(speaker, text, self.t))

    def _advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)

    def _append(self, name: str, item: Any) -> None:
        with self.sim._lock:
            getattr(self.call, name).append(item)

    def _update(self, **fields: Any) -> None:
        with self.sim._lock:
            for name, value in fields.items():
                setattr(self.call, name, value)


def _speaking_time(text: str) -> float:
    return len(text.split()) / WORDS_PER_SECOND


def send_webhook(
    url: str,
    method: str,
    params: dict[str, str],
    signer: RequestValidator,
    token: str,
    timeout: float,
    hosts: dict[str, str] | None = None,
) -> tuple[int | None, str, str]:
    """One signed request as Twilio makes it: (status or None, body, error).

    ``hosts`` maps a public host name to the loopback address that serves it (a hosts-file entry
    in front of a TLS-terminating proxy): the URL signed and the Host header sent stay the public
    ones, the connection goes to the address, in plain HTTP."""
    if method == "GET":
        url = f"{url}{'&' if urlsplit(url).query else '?'}{urlencode(params)}" if params else url
        body, signature = None, signer.compute_signature(url, {})
    else:
        body, signature = urlencode(params), signer.compute_signature(url, params)
    parts = urlsplit(url)
    address = (hosts or {}).get(parts.hostname or "")
    if address is not None:
        connection: http.client.HTTPConnection = http.client.HTTPConnection(address, timeout=timeout)
    elif parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.netloc, timeout=timeout)
    else:
        connection = http.client.HTTPConnection(parts.netloc, timeout=timeout)
    headers = {
        "Host": parts.netloc,
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
        "I-Twilio-Idempotency-Token": token,
        "User-Agent": "TwilioProxy/1.1",
        "Accept": "*/*",
    }
    try:
        connection.request(
            method, (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body, headers
        )
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace"), ""
    except (OSError, http.client.HTTPException) as exc:
        return None, "", f"{type(exc).__name__}: {exc}"
    finally:
        connection.close()
