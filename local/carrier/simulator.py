"""A Twilio-compatible carrier: the REST API the ``twilio`` client talks to, and virtual callees.

Calls run on a small thread pool; each call's time is computed rather than waited (see ``engine``),
so hundreds of calls finish as fast as the voice application answers its webhooks.

    sim = CarrierSimulator(auth_token="secret").start()
    sim.register_callee("+15551230001", "interested_buyer", name="Dana")
    ...  # the app places calls through sim.base_url
    sim.wait_idle(10)
    sim.get_call(sid).transcript
"""

from __future__ import annotations

import copy
import secrets
import threading
from collections import deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

from autocall import clock

from local.carrier.engine import CallRun
from local.carrier.records import TERMINAL, Callee, SimCall, SimMessage
from local.carrier.rest import CarrierHttpServer, make_handler
from local.personas import PERSONAS, Persona, talks_over

FAULTS = ("429", "500", "500_placed")


class CarrierSimulator:
    def __init__(
        self,
        auth_token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        account_sid: str | None = None,
        workers: int = 64,
        webhook_timeout: float = 15.0,
        default_persona: str = "no_answer",
    ) -> None:
        """``account_sid`` None accepts any account that authenticates with ``auth_token``."""
        self.auth_token = auth_token
        self.account_sid = account_sid
        self.host, self.port = host, port
        self.workers = workers
        self.webhook_timeout = webhook_timeout  # Twilio allows 15 s, then retries once
        self.duplicate_webhooks = False  # deliver every webhook twice (idempotency tests)
        self.shuffle_status_callbacks = False  # deliver a call's status callbacks out of order, at its end
        self.unverified_caller_ids: set[str] = set()  # From numbers refused with 21210
        self.hosts: dict[str, str] = {}  # public host → loopback address serving it (see resolve)
        self._default = self._persona_callee(default_persona)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._active = 0
        self._callees: dict[str, Callee] = {}
        self._calls: dict[str, SimCall] = {}
        self._messages: list[SimMessage] = []
        self._faults: deque[str] = deque()
        self._server: CarrierHttpServer | None = None
        self._pool: ThreadPoolExecutor | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def resolve(self, host: str, address: str) -> None:
        """Reach ``host`` (a public API host name in webhook URLs) at ``address`` ("127.0.0.1:port")."""
        self.hosts[host] = address

    def start(self) -> CarrierSimulator:
        self._server = CarrierHttpServer((self.host, self.port), make_handler(self))
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="carrier-call")
        threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="carrier-http", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> CarrierSimulator:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the carrier simulator is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    # -- callees ------------------------------------------------------------------------------

    def register_callee(self, number: str, persona: str | Persona, name: str | None = None) -> Callee:
        """``number`` answers as ``persona`` (a name in ``local.personas.PERSONAS`` or a Persona)."""
        callee = self._persona_callee(persona, name)
        with self._lock:
            self._callees[number] = callee
        return callee

    def script_callee(
        self,
        number: str,
        answer: str = "human",
        lines: Iterable[str] = (),
        name: str | None = None,
        barge_in: dict[int, int] | None = None,
    ) -> Callee:
        """``number`` answers as told and says ``lines`` one per <Gather> ("" is silence), then hangs
        up; ``barge_in`` (line index → words) makes a line talk over the agent (``local.personas``)."""
        lines = tuple(lines)
        callee = Callee(answer, lines, name or "there", barge_in=talks_over(lines, barge_in or {}))
        with self._lock:
            self._callees[number] = callee
        return callee

    def set_default_persona(self, persona: str) -> None:
        """How numbers nobody registered behave ("no_answer" unless told otherwise)."""
        self._default = self._persona_callee(persona)

    def callee_for(self, number: str) -> Callee:
        with self._lock:
            return self._callees.get(number, self._default)

    @staticmethod
    def _persona_callee(persona: str | Persona, name: str | None = None) -> Callee:
        if isinstance(persona, str):
            if persona not in PERSONAS:
                raise ValueError(f"unknown persona {persona!r}; known: {', '.join(sorted(PERSONAS))}")
            persona = PERSONAS[persona]
        return Callee(persona.answer, persona.lines, name or "there", persona.name, dict(persona.barge_in))

    # -- faults and switches ------------------------------------------------------------------

    def inject_fault(self, kind: str, count: int = 1) -> None:
        """The next ``count`` call creates fail: "429" (not placed), "500", "500_placed" (placed anyway)."""
        if kind not in FAULTS:
            raise ValueError(f"fault kind must be one of {FAULTS}, not {kind!r}")
        with self._lock:
            self._faults.extend([kind] * count)

    def pending_faults(self) -> list[str]:
        with self._lock:
            return list(self._faults)

    def config(self) -> dict[str, Any]:
        return {
            "duplicate_webhooks": self.duplicate_webhooks,
            "shuffle_status_callbacks": self.shuffle_status_callbacks,
            "default_persona": self._default.persona,
            "unverified_caller_ids": sorted(self.unverified_caller_ids),
            "pending_faults": self.pending_faults(),
        }

    def reset(self) -> None:
        """Forget callees, calls, messages, faults and switches (calls still running finish unrecorded)."""
        with self._lock:
            self._callees.clear()
            self._calls.clear()
            self._messages.clear()
            self._faults.clear()
        self.duplicate_webhooks = self.shuffle_status_callbacks = False
        self.unverified_caller_ids = set()

    # -- reading ------------------------------------------------------------------------------

    def get_call(self, sid: str) -> SimCall:
        """A snapshot of the call: status, timestamps, transcript, every webhook delivered."""
        with self._lock:
            return copy.deepcopy(self._calls[sid])

    def calls(self, to: str | None = None) -> list[SimCall]:
        with self._lock:
            return [copy.deepcopy(c) for c in self._calls.values() if to is None or c.to == to]

    def dial_counts(self) -> dict[str, int]:
        """Calls placed to each number so far (no snapshot copied: cheap enough to poll)."""
        with self._lock:
            counts: dict[str, int] = {}
            for call in self._calls.values():
                counts[call.to] = counts.get(call.to, 0) + 1
            return counts

    def messages(self) -> list[SimMessage]:
        with self._lock:
            return [copy.deepcopy(m) for m in self._messages]

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no call is queued or in progress; False if that took longer than ``timeout``."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)

    # -- used by the REST layer and the call engine ---------------------------------------------

    def _take_fault(self) -> str | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _new_call(self, **fields: Any) -> SimCall:
        call = SimCall(
            sid=f"CA{secrets.token_hex(16)}",
            date_created=clock.now(),
            callee=self.callee_for(fields["to"]),
            **fields,
        )
        with self._lock:
            self._calls[call.sid] = call
            self._active += 1  # counted from creation so wait_idle cannot slip in before the dial
        return copy.deepcopy(call)

    def _launch(self, sid: str) -> None:
        with self._lock:
            call = self._calls[sid]
        if self._pool is None:
            raise RuntimeError("the carrier simulator is stopped")
        self._pool.submit(CallRun(self, call).run)

    def _call_finished(self) -> None:
        with self._idle:
            self._active -= 1
            self._idle.notify_all()

    def _request_hangup(self, sid: str, status: str) -> SimCall:
        """Twilio's ``Status=completed|canceled`` update; cancel does not touch an answered call."""
        with self._lock:
            call = self._calls[sid]
            if call.status not in TERMINAL and not (status == "canceled" and call.answer_time):
                call.hangup_requested = status
            return copy.deepcopy(call)

    def _request_redirect(self, sid: str, url: str, method: str, twiml: str) -> bool:
        """Twilio's ``Url``/``Twiml`` update of a live call; False if the call is not in progress."""
        with self._lock:
            call = self._calls[sid]
            if call.status != "in-progress" or call.hangup_requested:
                return False
            call.redirect_requested = (url, method, twiml)
            return True

    def _new_message(self, account_sid: str, to: str, from_: str, body: str) -> SimMessage:
        message = SimMessage(
            f"SM{secrets.token_hex(16)}", account_sid, to, from_, body, "delivered", clock.now()
        )
        with self._lock:
            self._messages.append(message)
        return copy.deepcopy(message)
