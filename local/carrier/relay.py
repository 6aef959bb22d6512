"""``<Connect><ConversationRelay>`` as Twilio runs it, for one simulated call.

Twilio does the speech recognition and the text-to-speech and talks JSON with the application over a
WebSocket. The simulator opens the ``url`` the TwiML gives, signed as Twilio signs it
(X-Twilio-Signature over the URL, no parameters), sends ``setup``, speaks ``welcomeGreeting`` as
the agent's first line, then plays the scripted callee: each line becomes a ``prompt`` (``last:
true``) once the agent's reply is complete (its ``text`` token with ``last: true``); the agent's
spoken line is the concatenation of its tokens. A callee line scripted to barge in
(``Callee.barge_in``) talks over the reply after so many words: the simulator sends ``interrupt``
(the words heard, how long they took) and the line as the next ``prompt``; tokens of the superseded
reply that still arrive are never spoken (counted on the session). ``end`` from the application, or
the callee hanging up, closes the socket and POSTs the ``<Connect action>`` URL (signed form with
HandoffData, SessionId, SessionStatus, SessionDuration); the call goes on with the TwiML it answers.

Simulated time moves as in Gather mode (``engine``'s speaking rate and gaps); the application's
own latency is measured in wall time: each ``prompt`` sent to its reply's first ``text`` token.
"""

from __future__ import annotations

import json
import secrets
import socket
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from local.carrier.engine import MACHINE_MAX_MESSAGE_S, PLAY_S, TURN_GAP_S, WORDS_PER_SECOND
from local.carrier.records import RelayInterrupt, RelaySession
from local.carrier.twiml import Verb

if TYPE_CHECKING:
    from local.carrier.engine import CallRun

REPLY_TIMEOUT_S = 20.0  # wall time without a token before the simulator records dead air
END_GRACE_S = 0.15  # wall time an `end` may take to follow a reply's last token
SETTLE_S = 0.1  # wall time between `interrupt` and the barging line's `prompt` (callee still talking)
SILENT_TURN_S = 5.0  # simulated time a silent callee turn lasts
OPEN_TIMEOUT_S = 35.0  # longer than API Gateway's 29-s $connect: a slow cold start is waited for
INTERRUPTIBLE = ("speech", "any", "true")


class _SessionOver(Exception):
    """The session ended: ``status`` its SessionStatus ("ended", "completed", "failed")."""

    def __init__(self, status: str, why: str = "") -> None:
        super().__init__(why or status)
        self.status = status


class RelayRun:
    def __init__(self, run: CallRun, verb: Verb, document_url: str) -> None:
        self.run = run
        self.connect_verb = verb
        self.relay = next((c for c in verb.children if c.name == "ConversationRelay"), None)
        self.action = urljoin(document_url, verb.attrs["action"]) if verb.attrs.get("action") else ""
        self.method = verb.attrs.get("method", "POST")
        self.socket: ClientConnection | None = None
        self.session = RelaySession(
            self.relay.attrs.get("url", "") if self.relay else "", f"VX{secrets.token_hex(16)}"
        )
        self.started: datetime = run.t

    # -- the session -----------------------------------------------------------------------------

    def run_session(self) -> str:
        """Run the session to its end; returns why it ended: "ended" (the application sent
        ``end``), "completed" (the callee hung up), "failed" (no socket, a dropped socket, dead air)
        or "redirected" (a REST update replaced the call's TwiML). The engine's own hang-up (the
        call ended over REST) passes through, the socket closed."""
        self.run._append("relay_sessions", self.session)
        if self.relay is None or not self.session.url:
            self._error("<Connect> without a <ConversationRelay url>")
            return self._finish("failed")
        try:
            self.socket = self._open()
        except (InvalidHandshake, OSError, TimeoutError) as exc:
            if isinstance(exc, InvalidStatus):
                self.session.handshake_status = exc.response.status_code
            self._error(f"the WebSocket handshake failed: {exc}")
            return self._finish("failed")
        try:
            self._converse()
        except _SessionOver as over:
            return self._finish(over.status)
        finally:
            self.socket.close()
            if self.session.status == "active":  # the call ended over REST
                self._finish("ended")
        return self._finish("ended")  # not reached: a session ends by _SessionOver

    def _finish(self, status: str) -> str:
        with self.run.sim._lock:
            self.session.status = "ended" if status == "redirected" else status
        return status

    def action_params(self, call_status: str) -> dict[str, str]:
        call = self.run.call
        params = {
            "AccountSid": call.account_sid,
            "CallSid": call.sid,
            "CallStatus": call_status,
            "SessionId": self.session.session_id,
            "SessionStatus": self.session.status,
            "SessionDuration": str(int((self.run.t - self.started).total_seconds())),
        }
        if self.session.handoff_data:
            params["HandoffData"] = self.session.handoff_data
        return params

    def _open(self) -> ClientConnection:
        """The handshake as Twilio makes it: the URL as written, X-Twilio-Signature over it; a
        public host name resolves to the loopback address serving it (``hosts``), TLS ending there."""
        url = self.session.url
        signature = self.run.signer.compute_signature(url, {})
        parts = urlsplit(url)
        address = self.run.sim.hosts.get(parts.hostname or "")
        headers = {"X-Twilio-Signature": signature, "User-Agent": "Twilio.TmeWs/1.0"}
        if address is None:
            return connect(url, additional_headers=headers, open_timeout=OPEN_TIMEOUT_S, compression=None)
        host, port = address.rsplit(":", 1)
        plain = url.replace(f"{parts.scheme}://", "ws://", 1)
        return connect(
            plain,
            sock=socket.create_connection((host, int(port)), timeout=OPEN_TIMEOUT_S),
            additional_headers=headers,
            open_timeout=OPEN_TIMEOUT_S,
            compression=None,
        )

    def _converse(self) -> None:
        run, relay = self.run, self.relay
        assert relay is not None
        call = run.call
        self._send(
            {
                "type": "setup",
                "sessionId": self.session.session_id,
                "callSid": call.sid,
                "parentCallSid": "",
                "from": call.from_,
                "to": call.to,
                "forwardedFrom": "",
                "callerName": "",
                "direction": "outbound-api",
                "callType": "PSTN",
                "callStatus": "IN-PROGRESS",
                "accountSid": call.account_sid,
                "customParameters": {
                    p.attrs["name"]: p.attrs.get("value", "") for p in relay.children if p.name == "Parameter"
                },
            }
        )
        greeting = relay.attrs.get("welcomeGreeting", "")
        interruptible = relay.attrs.get("interruptible", "any").lower() in INTERRUPTIBLE
        greeting_interruptible = (
            relay.attrs.get("welcomeGreetingInterruptible", "any").lower() in INTERRUPTIBLE
        )
        # the agent's utterance now under way: the greeting (its words known), a reply streaming
        # (the wall time its prompt left), or nothing (after a silent callee turn)
        agent: tuple[str, Any] | None = ("greeting", greeting) if greeting else None
        while True:
            run._check_hangup()
            if self._redirected():
                raise _SessionOver("redirected")
            index = run.lines_used
            line = self._callee_line(index)
            barge = run.callee.barge_in.get(index) if line else None
            if agent is not None and agent[0] == "greeting":
                barge = barge if greeting_interruptible else None
                heard, interrupted = self._hear_greeting(agent[1], barge)
            elif agent is not None:
                heard, interrupted = self._hear_reply(agent[1], barge if interruptible else None)
            else:
                heard, interrupted = "", False
            if line is None:  # the callee has said everything: it hangs up
                self._hang_up()
            run.lines_used += 1
            if interrupted:
                self._interrupt(index, heard)
            elif heard:
                run._advance(TURN_GAP_S)
            if line == "":
                run._transcribe("callee", "")
                run._advance(SILENT_TURN_S)
                agent = None
                continue
            assert line is not None
            run._speak("callee", line)
            run._advance(TURN_GAP_S)
            self._send({"type": "prompt", "voicePrompt": line, "lang": "en-US", "last": True})
            agent = ("reply", time.monotonic())

    def _callee_line(self, index: int) -> str | None:
        run = self.run
        if run.callee.answer == "machine":
            if run.beep_at and (run.t - run.beep_at).total_seconds() > MACHINE_MAX_MESSAGE_S:
                return None
            return ""
        return run.callee.line(index)

    # -- the agent speaking ------------------------------------------------------------------------

    def _hear_greeting(self, greeting: str, barge: int | None) -> tuple[str, bool]:
        words = greeting.split()
        if barge is not None and barge < len(words):
            heard = " ".join(words[:barge])
            self._say(heard)
            return heard, True
        self._say(greeting)
        return greeting, False

    def _hear_reply(self, prompt_sent: float, barge: int | None) -> tuple[str, bool]:
        """Take the reply's messages until its last token (or the callee barging in after ``barge``
        words); returns the words heard and whether the callee interrupted. An ``end`` ends the
        session once what was heard is said."""
        text, first = "", True
        while True:
            try:
                message = self._receive(REPLY_TIMEOUT_S)
            except _SessionOver:
                self._say(text)  # the words that arrived before the socket dropped were heard
                raise
            if message is None:
                self._say(text)
                self._error(f"dead air: no reply within {REPLY_TIMEOUT_S:.0f} s of the prompt")
                raise _SessionOver("failed", "no reply")
            kind = message.get("type")
            if kind == "text":
                if first:
                    self.session.first_token_ms.append(round((time.monotonic() - prompt_sent) * 1000, 2))
                    first = False
                text += str(message.get("token", ""))
                words = text.split()
                if barge is not None and len(words) > barge:
                    heard = " ".join(words[:barge])
                    self._say(heard)
                    return heard, True
                if message.get("last"):
                    self._say(text)
                    self._after_reply()
                    return " ".join(words), False
            elif kind == "end":
                self._say(text)
                self._ended(message)
            else:
                self._other(message)

    def _after_reply(self) -> None:
        """An ``end`` that follows the reply's last token ends the session before the callee talks."""
        while True:
            message = self._receive(END_GRACE_S)
            if message is None:
                return
            if message.get("type") == "end":
                self._ended(message)
            self._unspoken(message)

    def _ended(self, message: dict[str, Any]) -> None:
        self.session.handoff_data = str(message.get("handoffData", ""))
        raise _SessionOver("ended")

    def _other(self, message: dict[str, Any]) -> None:
        run, kind = self.run, message.get("type")
        if kind == "play":
            run._speak("agent", f"[play {message.get('source', '')}]", PLAY_S)
        elif kind == "sendDigits":
            run._transcribe("agent", f"[digits {message.get('digits', '')}]")
        elif kind == "language":
            return
        else:
            self._error(f"unexpected message from the application: {str(kind)[:40]!r}")

    def _say(self, text: str) -> None:
        text = " ".join(text.split())
        if text:
            self.run._speak("agent", text)

    def _interrupt(self, index: int, heard: str) -> None:
        """The callee talks over the agent: ``interrupt`` now, the line's ``prompt`` once it has been
        said; the superseded reply's tokens that arrive meanwhile are never spoken."""
        words = len(heard.split())
        duration_ms = int(words / WORDS_PER_SECOND * 1000)
        record = RelayInterrupt(index, heard, duration_ms)
        self.session.interrupts.append(record)
        self._send(
            {"type": "interrupt", "utteranceUntilInterrupt": heard, "durationUntilInterruptMs": duration_ms}
        )
        deadline = time.monotonic() + SETTLE_S
        while (left := deadline - time.monotonic()) > 0:
            message = self._receive(left)
            if message is None:
                break
            if message.get("type") == "end":
                self._ended(message)
            if message.get("type") == "text":
                record.unspoken_tokens += 1
            self._unspoken(message)

    def _unspoken(self, message: dict[str, Any]) -> None:
        if message.get("type") == "text":
            self.session.unspoken_tokens += 1

    # -- the socket ----------------------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        assert self.socket is not None
        kind = str(message["type"])
        try:
            self.socket.send(json.dumps(message))
        except ConnectionClosed as exc:
            self._error(f"the WebSocket closed: {exc}")
            raise _SessionOver("failed", "socket closed") from exc
        self.session.sent[kind] = self.session.sent.get(kind, 0) + 1

    def _receive(self, timeout: float) -> dict[str, Any] | None:
        """The next message from the application, None after ``timeout`` seconds without one."""
        assert self.socket is not None
        try:
            frame = self.socket.recv(timeout=timeout)
        except TimeoutError:
            return None
        except ConnectionClosed as exc:
            self._error(f"the WebSocket closed without an end message: {exc}")
            raise _SessionOver("failed", "socket closed") from exc
        try:
            message = json.loads(frame)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            self._error(f"not a JSON message: {str(frame)[:60]!r}")
            return {"type": "invalid"}
        kind = str(message.get("type"))
        self.session.received[kind] = self.session.received.get(kind, 0) + 1
        return message

    # -- the call around the session -----------------------------------------------------------------

    def _hang_up(self) -> None:
        """The callee hangs up mid-session: the socket closes, the action is told, the call ends."""
        raise _SessionOver("completed", "the callee hung up")

    def _redirected(self) -> bool:
        with self.run.sim._lock:
            return self.run.call.redirect_requested is not None or bool(self.run.call.hangup_requested)

    def _error(self, error: str) -> None:
        self.session.errors.append(error)
        self.run._append("errors", f"ConversationRelay: {error}")
