"""OpenAI at the edge: the one place that builds an OpenAI client and calls it.

The domain asks for a chat turn (``chat``: text and tool calls, streamed when it wants the words as
they come) or for a structured answer (``parse``) and gets plain values back, or ``LlmError`` for
anything the SDK raises. Timeouts and retries are the caller's deliberate choice on every call: the
SDK's defaults (600 s, 2 retries) would leave a caller in silence. The SDK is imported on first
use, not at cold start (~1-2 s)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

from autocall.config import get_settings
from pydantic import BaseModel

Model = TypeVar("Model", bound=BaseModel)


class LlmError(Exception):
    """The OpenAI call failed: timeout, connection, HTTP status or API error. ``kind`` names the
    SDK's error (``APITimeoutError``, ``InternalServerError`` ...)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class ToolCall:
    name: str | None
    arguments: str | None  # the model's JSON text, unparsed: the caller validates it


@dataclass(frozen=True)
class ChatReply:
    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)


@lru_cache(maxsize=8)
def _client(api_key: str, base_url: str | None, max_retries: int) -> Any:
    import openai

    return openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=max_retries)


def client(api_key: str, max_retries: int) -> Any:
    """The SDK client for ``api_key`` (cached: one connection pool per process), pointed at
    ``OPENAI_BASE_URL`` when set (the local fake)."""
    return _client(api_key, get_settings().openai_base_url or None, max_retries)


def chat(
    api_key: str,
    *,
    model: str,
    messages: list[dict[str, Any]],
    timeout: float,
    max_retries: int = 0,
    tools: list[dict[str, Any]] | None = None,
    temperature: float | None = None,
    on_text: Callable[[str], None] | None = None,
) -> ChatReply:
    """One chat completion: its text and tool calls. With ``on_text`` the answer is streamed and
    each piece of text is handed over as it arrives (the reply returned is the same)."""
    import openai

    options: dict[str, Any] = {"model": model, "messages": messages, "timeout": timeout}
    if tools:
        options["tools"] = tools
    if temperature is not None:
        options["temperature"] = temperature
    try:
        if on_text is None:
            response = client(api_key, max_retries).chat.completions.create(**options)
            message = response.choices[0].message
            calls = [_tool_call(call) for call in message.tool_calls or []]
            return ChatReply(message.content or "", calls)
        return _streamed(
            client(api_key, max_retries).chat.completions.create(**options, stream=True), on_text
        )
    except openai.OpenAIError as exc:  # a stream that stalls after its first chunk too (a timeout)
        raise LlmError(type(exc).__name__) from exc


def parse(
    api_key: str,
    *,
    model: str,
    messages: list[dict[str, Any]],
    response_format: type[Model],
    timeout: float,
    max_retries: int = 0,
    temperature: float | None = None,
) -> Model | None:
    """A structured answer in the shape of ``response_format`` (OpenAI structured outputs), or None
    when the model refused."""
    import openai

    options: dict[str, Any] = {"model": model, "messages": messages, "timeout": timeout}
    if temperature is not None:
        options["temperature"] = temperature
    try:
        completion = client(api_key, max_retries).chat.completions.parse(
            response_format=response_format, **options
        )
    except openai.OpenAIError as exc:
        raise LlmError(type(exc).__name__) from exc
    parsed: Model | None = completion.choices[0].message.parsed
    return parsed


def _tool_call(call: Any) -> ToolCall:
    function = getattr(call, "function", None)
    return ToolCall(getattr(function, "name", None), getattr(function, "arguments", None))


def _streamed(stream: Any, on_text: Callable[[str], None]) -> ChatReply:
    """The streamed chunks put together: text in order, each tool call's name and arguments from
    its fragments (by index)."""
    text: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        if delta.content:
            text.append(delta.content)
            on_text(delta.content)
        for fragment in delta.tool_calls or []:
            call = calls.setdefault(fragment.index, {"name": "", "arguments": ""})
            if fragment.function is not None:
                call["name"] += fragment.function.name or ""
                call["arguments"] += fragment.function.arguments or ""
    return ChatReply("".join(text), [ToolCall(c["name"], c["arguments"]) for _, c in sorted(calls.items())])
