"""Idempotency-Key semantics for POST routes: same key and body → the same response and no
second effect; same key with another body → an error."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from autocall.adapters import idempotency as store
from autocall.errors import IdempotencyKeyReused, RequestInProgress, ValidationFailed

Response = tuple[int, dict[str, Any]]


def run_once(scope: str, key: str | None, payload: Any, action: Callable[[], Response]) -> Response:
    if key is None:
        return action()
    if not key or len(key) > 255:
        raise ValidationFailed("Idempotency-Key must be 1 to 255 characters", "Idempotency-Key")
    record_id = f"{scope}#{key}"
    payload_hash = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    existing = store.claim(record_id, payload_hash)
    if existing is not None:
        if existing.payload_hash != payload_hash:
            raise IdempotencyKeyReused()
        if existing.status != store.COMPLETED or existing.response is None:
            raise RequestInProgress()
        return int(existing.response["status"]), dict(existing.response["body"])
    try:
        status, body = action()
    except Exception:
        store.release(record_id)
        raise
    if status < 500:
        store.complete(record_id, {"status": status, "body": body})
    else:
        store.release(record_id)
    return status, body
