"""The user's CRM webhook: each call's outcome POSTed as JSON, signed with HMAC-SHA256.

Headers: ``X-Autocall-Timestamp`` (unix seconds) and ``X-Autocall-Signature: sha256=<hex>`` over
``"<timestamp>.<body>"``; receivers recompute it and reject stale timestamps (replays)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any

ATTEMPTS = 3
TIMEOUT_S = 5.0
BACKOFF_S = 0.5


class WebhookFailed(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def post_signed(url: str, payload: dict[str, Any], secret: str, timestamp: int) -> int:
    """POST with bounded retries (timeouts, 429 and 5xx); a 4xx other than 429 is final."""
    body = json.dumps(payload, sort_keys=True, default=str).encode()
    stamp = str(timestamp)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "autocall-webhook/1",
        "X-Autocall-Timestamp": stamp,
        "X-Autocall-Signature": sign(secret, stamp, body),
    }
    last: WebhookFailed | None = None
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(BACKOFF_S * 2 ** (attempt - 1))
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            last = WebhookFailed(f"CRM webhook answered {exc.code}", exc.code)
            if exc.code != 429 and exc.code < 500:
                raise last from exc
        except (urllib.error.URLError, TimeoutError) as exc:
            last = WebhookFailed(f"CRM webhook unreachable: {exc}")
    assert last is not None
    raise last
