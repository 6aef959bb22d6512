"""Idempotency-Key semantics for POST routes: the same key and body get the first answer and no
second effect; the same key with another body is refused (422); while the first request runs, a
second gets 409 with the moment its claim ends. That claim ends with the first request's
invocation, so a request cut off mid-way (a Lambda timeout) frees the key, rather than holding it
for the record's 24 hours."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from autocall.errors import ValidationFailed
from autocall.stores import idempotency as store

Response = tuple[int, dict[str, Any]]


class LambdaDeadline(Protocol):
    """The part of the Lambda context the claim needs: how long this invocation may still run."""

    def get_remaining_time_in_millis(self) -> int: ...


def run_once(
    scope: str,
    key: str | None,
    payload: Any,
    action: Callable[[], Response],
    deadline: LambdaDeadline | None = None,
) -> Response:
    """``action()`` at most once per ``scope`` and ``key`` (no key: every time). A domain error
    raised by the action frees the key, as a request that changed nothing."""
    if key is None:
        return action()
    if not key or len(key) > 255:
        raise ValidationFailed("Idempotency-Key must be 1 to 255 characters", "Idempotency-Key")

    def answer() -> dict[str, Any]:
        status, body = action()
        # kept as the JSON text it was: a replay answers byte for byte (the store sorts keys)
        return {"status": status, "body": json.dumps(body, default=str)}

    first = store.once(f"{scope}#{key}", payload, answer, deadline)
    return int(first["status"]), dict(json.loads(first["body"]))
