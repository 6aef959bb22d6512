"""A tiny voice application that the carrier simulator calls: it checks signatures and answers TwiML.

Routes: ``/answer`` greets and gathers (or, with ``relay_url`` set, connects the call to a
ConversationRelay session at that WebSocket URL whose ``<Connect action>`` is ``/relay``, answering
``<Hangup/>`` or, for a handoff with reason "transfer", a ``<Say>`` and ``<Dial>``), ``/turn?n=N``
echoes the speech and gathers again until
``turns`` turns, then says goodbye and hangs up; ``/amd`` answers voicemail TwiML to a machine;
``/status`` takes status callbacks. Every request is recorded as a ``Hit``, with whether its
``X-Twilio-Signature`` verified against the URL the app was called on.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from twilio.request_validator import RequestValidator

GREETING = "Hi, this is Alex, an automated AI assistant calling from TechSolutions."
VOICEMAIL = "Sorry we missed you. This is Alex from TechSolutions, we will call back tomorrow."
NOT_HEARD = "Sorry, I did not catch that."
GOODBYE = "Thanks for your time. Goodbye."
CONNECTING = "Connecting you to a colleague now."
TRANSFER_TO = "+15550009999"


@dataclass(frozen=True)
class Hit:
    path: str
    query: dict[str, str]
    params: dict[str, str]
    signature_ok: bool
    token: str


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


class FakeVoiceApp:
    def __init__(self, auth_token: str, turns: int = 10, action_on_empty_result: bool = True) -> None:
        self.validator = RequestValidator(auth_token)
        self.turns = turns
        self.action_on_empty_result = action_on_empty_result
        self.fail_first: dict[str, int] = {}  # path -> how many requests answer 500 first
        self.voicemail_for_humans = False  # answer voicemail TwiML to AnsweredBy=human too
        self.hold_status = threading.Event()  # cleared: /status waits until it is set
        self.hold_status.set()
        self.on_request: Callable[[Hit], None] | None = None  # runs before the app answers
        self.relay_url: str | None = None  # realtime mode: the ConversationRelay WebSocket URL
        self._hits: list[Hit] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def hits(self, path: str | None = None) -> list[Hit]:
        with self._lock:
            return [hit for hit in self._hits if path is None or hit.path == path]

    def stop(self) -> None:
        self.hold_status.set()
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, hit: Hit) -> tuple[int, str]:
        with self._lock:
            failing = self.fail_first.get(hit.path, 0)
            if failing:
                self.fail_first[hit.path] = failing - 1
        if failing:
            return 500, "boom"
        if not hit.signature_ok:
            return 403, "bad signature"
        if self.on_request:
            self.on_request(hit)
        if hit.path == "/answer" and self.relay_url:
            return 200, (
                f'<Response><Connect action="/relay"><ConversationRelay url="{self.relay_url}?call_id=c1" '
                f'welcomeGreeting="{GREETING}" welcomeGreetingInterruptible="speech" interruptible="speech" '
                f'language="en-US"><Parameter name="call_id" value="c1"/></ConversationRelay></Connect>'
                f"</Response>"
            )
        if hit.path == "/relay":
            handoff = json.loads(hit.params.get("HandoffData") or "{}")
            if handoff.get("reason") == "transfer":
                return 200, f"<Response><Say>{CONNECTING}</Say><Dial>{TRANSFER_TO}</Dial></Response>"
            return 200, "<Response><Hangup/></Response>"
        if hit.path == "/answer":
            gather = self._gather(1, "/turn?n=1", "How can I help?")
            return 200, f"<Response><Say>{GREETING}</Say>{gather}</Response>"
        if hit.path == "/turn":
            turn = int(hit.query["n"])
            heard = hit.params.get("SpeechResult", "nothing")
            if turn >= self.turns:
                return 200, f"<Response><Say>{GOODBYE}</Say><Hangup/></Response>"
            return (
                200,
                f"<Response>{self._gather(turn, f'turn?n={turn + 1}', f'You said {heard}.')}</Response>",
            )
        if hit.path == "/amd":
            machine = hit.params["AnsweredBy"].startswith("machine")
            if machine or self.voicemail_for_humans:
                return 200, f"<Response><Say>{VOICEMAIL}</Say><Hangup/></Response>"
            return 200, "<Response/>"
        if hit.path == "/status":
            self.hold_status.wait(10)
            return 200, ""
        return 404, "not found"

    def _gather(self, turn: int, action: str, prompt: str) -> str:
        empty = "true" if self.action_on_empty_result else "false"
        return (
            f'<Gather input="speech" action="{action.replace("&", "&amp;")}" method="POST" '
            f'actionOnEmptyResult="{empty}" speechTimeout="auto"><Say>{prompt}</Say></Gather>'
            f"<Say>{NOT_HEARD}</Say><Redirect>/turn?n={turn}&amp;again=1</Redirect>"
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                url = urlsplit(self.path)
                params = dict(parse_qsl(body, keep_blank_values=True))
                signature_ok = app.validator.validate(
                    f"{app.base_url}{self.path}", params, self.headers.get("X-Twilio-Signature", "")
                )
                hit = Hit(
                    url.path,
                    dict(parse_qsl(url.query)),
                    params,
                    signature_ok,
                    self.headers.get("I-Twilio-Idempotency-Token", ""),
                )
                with app._lock:
                    app._hits.append(hit)
                status, text = app._answer(hit)
                encoded = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
