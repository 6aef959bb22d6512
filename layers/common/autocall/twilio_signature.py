"""X-Twilio-Signature: Twilio signs the exact public URL it requested plus the sorted POST params.
Behind API Gateway the URL is rebuilt from the request context (or PUBLIC_BASE_URL for a custom
domain), never from a Host header alone."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from autocall.config import get_settings
from autocall.secrets import get_secret


def public_url(event: Mapping[str, Any]) -> str:
    """The URL Twilio called, as API Gateway received it."""
    context = event.get("requestContext") or {}
    query = event.get("multiValueQueryStringParameters") or {}
    query_string = urlencode([(k, v) for k, values in query.items() for v in values]) if query else ""
    base = get_settings().public_base_url
    if base:
        url = base.rstrip("/") + str(event.get("path") or "")
    else:
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        proto = headers.get("x-forwarded-proto", "https")
        url = f"{proto}://{context.get('domainName')}{context.get('path') or event.get('path')}"
    return f"{url}?{query_string}" if query_string else url


def compute(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def is_valid(url: str, params: Mapping[str, str], signature: str | None) -> bool:
    token = get_secret("twilio_auth_token")
    if not signature or not token:
        return False
    return hmac.compare_digest(compute(token, url, params), signature)
