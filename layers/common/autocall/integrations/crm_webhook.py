"""The user's CRM webhook: each call's outcome POSTed as JSON, signed with HMAC-SHA256.

Headers: ``X-Autocall-Timestamp`` (unix seconds) and ``X-Autocall-Signature: sha256=<hex>`` over
``"<timestamp>.<body>"``; receivers recompute it and reject stale timestamps (replays).

One POST per invocation. The post-call state machine owns the retries (its NotifyCrm task:
backoff between attempts, billed to no Lambda), so a failure is raised at once as a typed error whose
class name is the error the state machine sees: ``WebhookUnavailable`` (no answer, 408, 429, 5xx) is
retried; ``WebhookRejected`` (any other 4xx, or a redirect) is final, the state machine skips its
retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from typing import Any

TIMEOUT_S = 5.0
RETRYABLE_STATUSES = frozenset({408, 429})  # and every 5xx


class WebhookFailed(Exception):
    """The webhook did not take the delivery (``status``: its HTTP answer, None without one)."""

    retryable = True

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class WebhookUnavailable(WebhookFailed):
    """No answer, a timeout, 408, 429 or a 5xx: worth another attempt later."""


class WebhookRejected(WebhookFailed):
    """A 4xx other than 408/429 (or an unfollowed redirect): the same POST would be refused again."""

    retryable = False


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def post_signed(url: str, payload: dict[str, Any], secret: str, timestamp: int) -> int:
    """POST once; the HTTP status on success, else ``WebhookUnavailable`` or ``WebhookRejected``."""
    body = json.dumps(payload, sort_keys=True, default=str).encode()
    stamp = str(timestamp)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "autocall-webhook/1",
        "X-Autocall-Timestamp": stamp,
        "X-Autocall-Signature": sign(secret, stamp, body),
    }
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        message = f"CRM webhook answered {exc.code}"
        if exc.code >= 500 or exc.code in RETRYABLE_STATUSES:
            raise WebhookUnavailable(message, exc.code) from exc
        raise WebhookRejected(message, exc.code) from exc
    except (urllib.error.URLError, TimeoutError) as exc:
        raise WebhookUnavailable(f"CRM webhook unreachable: {exc}") from exc
