"""Builders for the events our handlers receive, shaped as the real services send them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local.template import Route

DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"
STAGE = "prod"


def settings_of(logical_id: str) -> Any:
    """What the function ``logical_id`` reads as its settings (its own environment only)."""
    from local.lambdas import active_registry

    return active_registry().settings(logical_id)


@contextmanager
def as_function(logical_id: str) -> Iterator[None]:
    """Run domain code as the function ``logical_id`` would: with its own environment only."""
    from local import environ
    from local.lambdas import active_registry

    with environ.function_environment(active_registry().function_env(logical_id)):
        yield


def public_url(path: str, stage: str = STAGE, domain: str = DOMAIN) -> str:
    """The URL a client (Twilio) calls for ``path``: https, the execute-api host, the stage."""
    return f"https://{domain}/{stage}{path}"


def api_event(
    route: Route,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw_body: str | None = None,
    stage: str = STAGE,
    domain: str = DOMAIN,
) -> dict[str, Any]:
    """An API Gateway REST proxy event for ``route`` (as authorized by the token authorizer)."""
    parts = urlsplit(path)
    params = route.matches(method, parts.path) or {}
    query = parse_qs(parts.query, keep_blank_values=True)
    text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    all_headers = {
        "Content-Type": "application/json",
        "Host": domain,
        "X-Forwarded-Proto": "https",
        **(headers or {}),
    }
    return {
        "resource": route.path,
        "path": parts.path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": method,
            "path": f"/{stage}{parts.path}",
            "stage": stage,
            "domainName": domain,
            "requestId": str(uuid.uuid4()),
            "accountId": "123456789012",
            "apiId": "abc123",
            "identity": {"sourceIp": "203.0.113.9"},
            "authorizer": {"principalId": "api-client"} if route.authorized else None,
        },
        "body": text,
        "isBase64Encoded": False,
    }
