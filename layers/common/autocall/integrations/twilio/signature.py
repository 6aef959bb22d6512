"""X-Twilio-Signature: Twilio signs the exact public URL it requested plus the sorted POST params.

Behind API Gateway that URL is rebuilt from the request context as API Gateway received it:
``https://{requestContext.domainName}{requestContext.path}``, where ``requestContext.path`` carries
the stage on an execute-api host and the base path on a custom domain. Twilio's own
``RequestValidator`` does the check (it also accepts the URL with and without ``:443``). Our
webhook URLs carry the call's state in the path, never in a query whose order API Gateway does not
keep."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from autocall.secrets import get_secret


def public_url(event: Mapping[str, Any]) -> str:
    """The URL Twilio called, as API Gateway received it (query kept in the order the event gives)."""
    context = event.get("requestContext") or {}
    path = context.get("path") or event.get("path") or "/"
    url = f"https://{context.get('domainName')}{path}"
    query = event.get("multiValueQueryStringParameters") or {}
    if query:
        url += "?" + urlencode([(k, v) for k, values in query.items() for v in values])
    return url


def public_base(event: Mapping[str, Any], base_path: str = "") -> str:
    """The API's public base URL (scheme, host, then the stage or the custom domain's base path),
    from the request itself: what every absolute webhook URL of the reply starts with."""
    context = event.get("requestContext") or {}
    full = str(context.get("path") or event.get("path") or "/")
    route = str(event.get("path") or "/")
    prefix = "/" + base_path.strip("/") if base_path.strip("/") else ""
    if prefix and route.startswith(prefix + "/"):
        route = route[len(prefix) :]  # a custom domain: the base path is part of ``path``
    root = full[: len(full) - len(route)] if full.endswith(route) else ""
    return f"https://{context.get('domainName')}{root}"


def is_valid(url: str, params: Mapping[str, str], signature: str | None) -> bool:
    from twilio.request_validator import RequestValidator

    token = get_secret("twilio_auth_token")
    if not signature or not token:
        return False
    return bool(RequestValidator(token).validate(url, dict(params), signature))


def compute(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The signature Twilio would send (tests and the carrier simulator)."""
    from twilio.request_validator import RequestValidator

    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))
