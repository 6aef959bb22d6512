"""An OpenAI-compatible fake: ``POST /v1/chat/completions`` on loopback, scriptable per request.

Used by the integration tests and by the local stack (``OPENAI_BASE_URL=fake.base_url``). Responses
have the real shape, so the real ``openai`` SDK parses them, ``.parse()`` structured output included.

    fake = FakeOpenAI().start()
    fake.enqueue(text="Sure!", tool_calls=[("confirm_slot", {"start": "...", "duration_minutes": 30})])
    fake.enqueue(delay=2.0)                  # answer late (force a client timeout)
    fake.enqueue(status=500)                 # a server error
    fake.enqueue(tool_calls=[("end_call", "{not json")])   # malformed arguments, sent as given
    fake.enqueue(json={"summary": "..."})    # structured output content
    fake.enqueue("Hi there. How are you?", stall_after=2)   # streamed: two tokens, then silence
    ...

``stream: true`` is answered as OpenAI does, with Server-Sent Events (``data: {chat.completion.chunk}``
lines, then ``data: [DONE]``): the text in word tokens, tool calls as fragments by index, after a
time to first token and at a token rate (``FakeOpenAI(first_token_s=0.3, tokens_per_s=60)``, or the
env ``FAKE_OPENAI_FIRST_TOKEN_S`` / ``FAKE_OPENAI_TOKENS_PER_S``; a reply may set its own).
    fake.requests   # the JSON bodies received, oldest first
    fake.stop()
"""

from __future__ import annotations

import itertools
import json
import os
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_REPLY = "Thanks for sharing that. Could you tell me a little more?"


@dataclass(frozen=True)
class FakeReply:
    text: str | None = None
    tool_calls: tuple[tuple[str, dict[str, Any] | str], ...] = ()  # (name, args); a str is sent verbatim
    delay: float = 0.0  # seconds to wait before answering
    status: int = 200  # non-200: an OpenAI-shaped error body
    json: Any = None  # structured-output content (serialised as the message content)
    # streamed answers only: None takes the fake's own timing; stall_after stops sending after that
    # many tokens and holds the connection open (a model that stalls mid-answer)
    first_token_s: float | None = None
    tokens_per_s: float | None = None
    stall_after: int | None = None


@dataclass
class _State:
    queue: deque[FakeReply] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    aborted: int = 0  # responses the client hung up on (it timed out)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    ids: itertools.count[int] = field(default_factory=itertools.count)
    first_token_s: float = 0.0
    tokens_per_s: float = 0.0  # 0: every token at once
    streamed: int = 0  # streamed answers begun
    # per streamed answer: when its request arrived and when its first text token left (perf_counter)
    timings: list[dict[str, Any]] = field(default_factory=list)


class FakeOpenAI:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        first_token_s: float | None = None,
        tokens_per_s: float | None = None,
    ) -> None:
        self._state = _State()
        self.set_timing(
            first_token_s
            if first_token_s is not None
            else float(os.environ.get("FAKE_OPENAI_FIRST_TOKEN_S", 0)),
            tokens_per_s
            if tokens_per_s is not None
            else float(os.environ.get("FAKE_OPENAI_TOKENS_PER_S", 0)),
        )
        self._server = ThreadingHTTPServer((host, port), _handler_for(self._state))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- life cycle ------------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._state.stopping.set()  # wakes delayed responses
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    # --- scripting -------------------------------------------------------------------------------

    def set_timing(self, first_token_s: float, tokens_per_s: float) -> None:
        """How streamed answers are paced: the wait before the first token, then tokens per second
        (0: all at once)."""
        with self._state.lock:
            self._state.first_token_s, self._state.tokens_per_s = first_token_s, tokens_per_s

    def enqueue(
        self,
        text: str | None = None,
        *,
        tool_calls: list[tuple[str, dict[str, Any] | str]] | None = None,
        delay: float = 0.0,
        status: int = 200,
        json: Any = None,
        first_token_s: float | None = None,
        tokens_per_s: float | None = None,
        stall_after: int | None = None,
    ) -> None:
        """Queue the answer to the next request (first in, first out)."""
        reply = FakeReply(
            text, tuple(tool_calls or ()), delay, status, json, first_token_s, tokens_per_s, stall_after
        )
        with self._state.lock:
            self._state.queue.append(reply)

    def reset(self) -> None:
        with self._state.lock:
            self._state.queue.clear()
            self._state.requests.clear()
            self._state.aborted = 0
            self._state.streamed = 0
            self._state.timings.clear()

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def pending(self) -> int:
        with self._state.lock:
            return len(self._state.queue)

    @property
    def streamed(self) -> int:
        with self._state.lock:
            return self._state.streamed

    @property
    def timings(self) -> list[dict[str, Any]]:
        """Each streamed answer's ``received`` and ``first_token`` moments (``time.perf_counter``)
        and request ``body``: the model's own time to first token, as the bench subtracts it."""
        with self._state.lock:
            return list(self._state.timings)

    @property
    def aborted(self) -> int:
        with self._state.lock:
            return self._state.aborted


def _default_instance(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A minimal value valid for a JSON schema (for structured-output requests with nothing queued)."""
    if "$ref" in schema:
        return _default_instance(defs[schema["$ref"].split("/")[-1]], defs)
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return _default_instance(schema[key][0], defs)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props: dict[str, Any] = schema.get("properties", {})
        return {name: _default_instance(props[name], defs) for name in schema.get("required", props)}
    defaults = {"string": "", "integer": 0, "number": 0.0, "boolean": False, "array": [], "null": None}
    return defaults.get(str(kind))


def _completion(body: dict[str, Any], reply: FakeReply, number: int) -> dict[str, Any]:
    content: str | None = reply.text
    response_format = body.get("response_format") or {}
    if reply.json is not None:
        content = json.dumps(reply.json)
    elif response_format.get("type") == "json_schema" and content is None and not reply.tool_calls:
        schema = response_format.get("json_schema", {}).get("schema", {})
        content = json.dumps(_default_instance(schema, schema.get("$defs", {})))
    elif content is None and not reply.tool_calls:
        content = DEFAULT_REPLY
    calls = [
        {
            "id": f"call_{number}_{i}",
            "type": "function",
            "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)},
        }
        for i, (name, args) in enumerate(reply.tool_calls)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if calls:
        message["tool_calls"] = calls
    prompt_tokens = sum(len(str(m.get("content") or "")) // 4 for m in body.get("messages", []))
    completion_tokens = len(content or "") // 4 + 10 * len(calls)
    return {
        "id": f"chatcmpl-fake-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "gpt-4o-mini"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if calls else "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _handler_for(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                self._send(404, _error(404, f"no route for {self.path}"))
                return
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                self._send(400, _error(400, "request body is not JSON"))
                return
            with state.lock:
                state.requests.append(body)
                reply = state.queue.popleft() if state.queue else FakeReply()
                number = next(state.ids)
            if reply.delay and state.stopping.wait(reply.delay):
                return  # shutting down: drop the answer
            if reply.status != 200:
                self._send(reply.status, _error(reply.status, "fake error"))
                return
            if body.get("stream"):
                self._stream(body, reply, number)
                return
            self._send(200, _completion(body, reply, number))

        def _stream(self, body: dict[str, Any], reply: FakeReply, number: int) -> None:
            """The completion as OpenAI streams it: SSE chunks, paced, in chunked transfer encoding."""
            received = time.perf_counter()
            timing: dict[str, Any] = {"received": received, "first_token": None, "body": body}
            with state.lock:
                state.streamed += 1
                state.timings.append(timing)
                first = state.first_token_s if reply.first_token_s is None else reply.first_token_s
                rate = state.tokens_per_s if reply.tokens_per_s is None else reply.tokens_per_s
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("x-request-id", f"req_fake_stream_{number}")
                self.end_headers()
                if first and state.stopping.wait(first):
                    return
                for index, delta in enumerate(_deltas(body, reply)):
                    if reply.stall_after is not None and index >= reply.stall_after:
                        state.stopping.wait(60)  # silence: the client's deadline must end it
                        return
                    if index and rate and state.stopping.wait(1 / rate):
                        return
                    self._event(_chunk(body, number, delta, None))
                    if delta.get("content") and timing["first_token"] is None:
                        timing["first_token"] = time.perf_counter()
                self._event(_chunk(body, number, {}, "tool_calls" if reply.tool_calls else "stop"))
                self._write(b"data: [DONE]\n\n")
                self._write(b"")  # the last chunk of the transfer encoding
            except (BrokenPipeError, ConnectionResetError):
                with state.lock:
                    state.aborted += 1

        def _event(self, payload: dict[str, Any]) -> None:
            self._write(f"data: {json.dumps(payload)}\n\n".encode())

        def _write(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-request-id", f"req_fake_{id(payload)}")
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                with state.lock:
                    state.aborted += 1  # the client gave up waiting (a timeout under test)

        def log_message(self, format: str, *args: Any) -> None:
            return  # keep test output quiet; requests are recorded in FakeOpenAI.requests

    return Handler


def _deltas(body: dict[str, Any], reply: FakeReply) -> list[dict[str, Any]]:
    """The answer's deltas in order: the role, the text word by word, then each tool call (its id
    and name first, its arguments in fragments), as OpenAI streams them."""
    content = _completion(body, reply, 0)["choices"][0]["message"]
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas += [{"content": token} for token in re.findall(r"\S+\s*|\s+", content.get("content") or "")]
    for index, call in enumerate(content.get("tool_calls") or []):
        start = {"index": index, "id": call["id"], "type": "function",
                 "function": {"name": call["function"]["name"], "arguments": ""}}  # fmt: skip
        deltas.append({"tool_calls": [start]})
        arguments = call["function"]["arguments"]
        for at in range(0, len(arguments), 16):
            fragment = {"index": index, "function": {"arguments": arguments[at : at + 16]}}
            deltas.append({"tool_calls": [fragment]})
    return deltas


def _chunk(body: dict[str, Any], number: int, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-fake-{number}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "gpt-4o-mini"),
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }


def _error(status: int, message: str) -> dict[str, Any]:
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": str(status)}}


if __name__ == "__main__":  # python -m local.openai_fake: serve until interrupted
    fake = FakeOpenAI(port=8765).start()
    print(f"fake OpenAI at {fake.base_url}")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()
