"""Realtime voice mode: a call's ConversationRelay session, one WebSocket frame at a time.

Twilio recognises the callee's speech and speaks our text; we answer each final ``prompt`` with
the same turn as Gather mode (``conversation.think``), streaming the reply back in speakable pieces
as the brain produces it, so the first words leave before the model has finished.

Barge-in and ordering rest on one number on the call, its turn version (``stores.calls``): a final
prompt bumps it (the same frame twice, or a prompt older than the running turn, bumps nothing), an
``interrupt`` marks the running version interrupted (one older than the running turn marks
nothing). Before each piece leaves, the streaming reply reads that number: superseded or talked
over, it stops sending. The turn is saved with what the callee heard."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autocall.domain import call_end, conversation, prompts
from autocall.integrations import realtime as relay
from autocall.models.enums import CallStatus
from autocall.models.prompts import HangUp, Prompt, Transfer
from autocall.observability import count, logger
from autocall.stores import calls as repo
from autocall.stores import realtime as connections

MIN_CLAUSE_CHARS = 24  # a clause shorter than this waits for more words (too choppy to speak alone)
MAX_PIECE_CHARS = 160  # with no boundary in sight, a piece is cut at a space
MISSED_IT = "Sorry, I missed that. Could you say it again?"
LOST_IT = "Sorry, I lost you for a moment. Could you say that again?"
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s)")
_CLAUSE_END = re.compile(r"(?:[,;:]|\s[-\u2013\u2014])(?=\s)")
_MARKUP = re.compile(r"[*_#`>|\[\]]+")


def _plain(text: str) -> str:
    """Text as it is spoken: no markup, single spaces."""
    return re.sub(r"\s+", " ", _MARKUP.sub("", text)).strip()


class Pieces:
    """Speakable pieces out of streamed text: a piece ends at a sentence end, or at a clause
    boundary once it is long enough, or at a space when it grows too long without either."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, text: str) -> list[str]:
        self._buffer += text
        pieces: list[str] = []
        while True:
            cut = self._cut()
            if cut is None:
                return pieces
            piece, self._buffer = self._buffer[:cut], self._buffer[cut:]
            if _plain(piece):
                pieces.append(_plain(piece))

    def flush(self) -> str:
        rest, self._buffer = _plain(self._buffer), ""
        return rest

    def drop(self) -> None:
        self._buffer = ""

    def _cut(self) -> int | None:
        buffer = self._buffer
        sentences = [m.end() for m in _SENTENCE_END.finditer(buffer)]
        clauses = [m.end() for m in _CLAUSE_END.finditer(buffer) if m.end() >= MIN_CLAUSE_CHARS]
        ends = sentences + clauses
        if ends:
            return max(ends)
        if len(buffer) > MAX_PIECE_CHARS:
            space = buffer.rfind(" ", 0, MAX_PIECE_CHARS)
            return space if space > 0 else MAX_PIECE_CHARS
        return None


@dataclass(frozen=True)
class Connection:
    """The WebSocket a call's session runs on: its id and the @connections endpoint to post to."""

    connection_id: str
    endpoint: str


@dataclass
class ReplyStream:
    """One turn's reply on its way to the callee: pieces leave as they are ready, each only while
    the turn is still the call's current one and not talked over; a closed socket stops it."""

    call_id: str
    version: int
    connection: Connection
    pieces: Pieces = field(default_factory=Pieces)
    sent: list[str] = field(default_factory=list)
    fed: list[str] = field(default_factory=list)
    stopped: str | None = None  # "superseded" | "interrupted" | "gone"
    heard_until: str | None = None  # utteranceUntilInterrupt, when interrupted
    first_sent_at: float | None = None  # perf_counter of the first text message

    def feed(self, text: str) -> None:
        """A piece of the reply's text as the brain produced it (the brain's ``on_text``)."""
        self.fed.append(text)
        for piece in self.pieces.feed(text):
            self._send(piece, last=False)

    def finish(self, reply: str) -> None:
        """The turn is decided and ``reply`` is its whole text: send what the callee has not had of
        it yet (the rest of the streamed text, or — when the final reply is not what streamed, a
        fallback or a correction — the reply itself), the last piece marked ``last``."""
        final, streamed = _plain(reply), _plain("".join(self.fed))
        if final.startswith(streamed):
            tail = self.pieces.feed(final[len(streamed) :] + " ")
        elif streamed.startswith(final):
            tail = []
        else:  # the reply was replaced: what did not leave yet never will
            self.pieces.drop()
            tail = self.pieces.feed(final + " ")
        rest = [*tail, self.pieces.flush()]
        rest = [piece for piece in rest if piece]
        if not rest and not self.sent:
            rest = [MISSED_IT]  # no dead air: the callee always hears a line
        for index, piece in enumerate(rest):
            self._send(piece, last=index == len(rest) - 1)
        if not rest and self.sent and self.stopped is None:
            self._post({"type": "text", "token": "", "last": True})

    def end(self, reason: str) -> None:
        """Ask Twilio to end the session: it then posts the ``<Connect action>`` webhook, which
        hangs up or dials the human."""
        if self.stopped in ("gone", "superseded"):
            return
        handoff = json.dumps({"reason": reason, "call_id": self.call_id})
        self._post({"type": "end", "handoffData": handoff})

    @property
    def said(self) -> str:
        return " ".join(self.sent)

    def heard(self) -> str:
        """What the callee heard of the reply: up to where they talked over it, else what was sent."""
        if self.stopped == "interrupted" and self.heard_until is not None:
            return self.heard_until
        return self.said

    def _send(self, piece: str, last: bool) -> None:
        if self.stopped is not None or not self._current():
            return
        message = {"type": "text", "token": piece + ("" if last else " "), "last": last,
                   "interruptible": True, "preemptible": False}  # fmt: skip
        if self._post(message):
            self.sent.append(piece)
            if self.first_sent_at is None:
                self.first_sent_at = time.perf_counter()

    def _current(self) -> bool:
        """One consistent read: is this turn still the one the callee is listening to?"""
        turn, interrupted, heard = repo.relay_turn_state(self.call_id)
        if interrupted == self.version:
            self.stopped, self.heard_until = "interrupted", heard
        elif turn != self.version:
            self.stopped = "superseded"
        return self.stopped is None

    def _post(self, message: dict[str, Any]) -> bool:
        if self.stopped == "gone":
            return False
        if relay.send(self.connection.endpoint, self.connection.connection_id, message):
            return True
        self.stopped = "gone"
        count("RealtimeSocketGone")
        return False


# --- the frames of a session -----------------------------------------------------------------------


def connected(call_id: str, connection_id: str) -> bool:
    """The handshake (signature already checked) opened a session for ``call_id``: bind the
    connection to the call. False for a call that does not exist, has ended or is not realtime."""
    call = repo.get_call(call_id)
    if call is None or call.terminal or not call.realtime:
        return False
    if not repo.bind_relay_connection(call_id, connection_id):
        return False
    connections.bind(connection_id, call_id)
    return True


def call_of(connection_id: str) -> str | None:
    return connections.call_of(connection_id)


def disconnected(connection_id: str) -> None:
    connections.mark_gone(connection_id)


def setup(call_id: str, custom_call_id: str | None) -> bool:
    """Twilio's ``setup``: the session's parameters name the call the connection was opened for."""
    if custom_call_id and custom_call_id != call_id:
        count("RealtimeFramesIgnored", reason="setup_for_another_call")
        logger.warning("setup names another call", extra={"call_id": call_id})
        return False
    return True


def interrupted(call_id: str, at_ms: int, heard: str) -> bool:
    """The callee talked over the reply: the running turn stops sending and keeps what they heard.
    An interrupt older than the running turn, or a second one for it, changes nothing."""
    version = repo.interrupt_relay_turn(call_id, at_ms, heard)
    if version is None:
        count("RealtimeFramesIgnored", reason="stale_interrupt")
        return False
    conversation.keep_heard(call_id, version, heard)  # when the turn was saved already
    return True


@dataclass(frozen=True)
class Answered:
    """How a prompt was answered (for the handler's metrics and the tests)."""

    result: str  # "answered" | "duplicate" | "ended" | "failed"
    stream: ReplyStream | None = None


def prompted(
    call_id: str,
    connection: Connection,
    message_id: str,
    at_ms: int,
    speech: str,
    on_first_text: Callable[[], None] | None = None,
) -> Answered:
    """A final prompt: the turn, its reply streamed to the callee, the turn saved with what they
    heard, and the session ended when the turn hangs up or transfers."""
    version = repo.start_relay_turn(call_id, message_id, at_ms)
    if version is None:
        count("RealtimeFramesIgnored", reason="duplicate_or_stale_prompt")
        return Answered("duplicate")
    stream = ReplyStream(call_id, version, connection)
    try:
        loaded = conversation.load_for_turn(call_id)
        if loaded is None or CallStatus(loaded[0].status).terminal or not loaded[0].turns:
            return Answered("ended", stream)
        call, contact = loaded
        started = time.perf_counter()
        turn = conversation.think(call, contact, version, speech.strip(), None, on_text=stream.feed)
        stream.finish(turn.reply)
        count("TurnLatency", (time.perf_counter() - started) * 1000, unit="Milliseconds")
    except Exception:
        logger.exception("realtime turn failed", extra={"call_id": call_id})
        count("TurnFailures")  # alarmed, as in Gather mode
        if not stream.sent:
            stream.finish(MISSED_IT)  # no dead air
        return Answered("failed", stream)
    _save(call, turn, stream)
    ending = _ending(turn.prompt)
    if ending and stream.stopped != "superseded":
        stream.end(ending)
    return Answered("answered", stream)


def _save(call: Any, turn: conversation.Turn, stream: ReplyStream) -> None:
    """The turn as the callee had it: the agent line is what they heard, the rest noted."""
    superseded = stream.stopped == "superseded"
    record = {**turn.record, "reply": stream.heard()}
    if stream.stopped == "interrupted":
        record.update(interrupted=True, said=stream.said)
    if superseded:
        record["superseded"] = True
    if stream.stopped == "gone":
        record["socket_gone"] = True
    heard_turn = conversation.Turn(record, turn.memory, turn.outcome, turn.prompt)
    conversation.save_heard_turn(call, heard_turn, superseded)
    # the callee may have talked over it while it was being saved: keep only what they heard
    _, interrupted_version, heard = repo.relay_turn_state(call.call_id)
    if interrupted_version == stream.version and stream.stopped != "interrupted":
        conversation.keep_heard(call.call_id, stream.version, heard)


def _ending(prompt: Prompt) -> str | None:
    if any(isinstance(step, Transfer) for step in prompt):
        return "transfer"
    if any(isinstance(step, HangUp) for step in prompt):
        return "hangup"
    return None


# --- the session ended: the <Connect action> webhook -----------------------------------------------


def session_ended(
    call_id: str, call_sid: str, call_status: CallStatus | None, session_status: str, duration_s: int | None
) -> Prompt:
    """What the carrier does once the session is over: the rest of the last turn's prompt (hang
    up; or dial the human) when we ended it; when the session ended on its own (a failure), the
    call carries on turn by turn (Gather mode) with a line, never in silence. A call whose line is
    gone ends through ``call_end``, as the status callback would end it."""
    call = repo.get_call(call_id)
    if call is None:
        return prompts.say_and_hang_up("")
    if call.twilio_sid and call.twilio_sid != call_sid:
        count("IgnoredWebhooks", webhook="relay", reason="unknown_call_sid")
        return prompts.say_and_hang_up("")
    if call_status is not None and call_status.terminal:
        call_end.status_reported(call_id, call_status, call_sid, duration_s, None)
        return prompts.say_and_hang_up("")
    if call.terminal:
        return prompts.say_and_hang_up("")
    turns = list(call.turns or [])
    last = conversation.stored_prompt(turns[-1]) if turns else ()
    if _ending(last):
        return prompts.after_speaking(last)
    count("RealtimeSessionsLost", status=session_status or "unknown")
    logger.warning("realtime session ended without an end", extra={"call_id": call_id})
    return prompts.listen(LOST_IT, len(turns))
