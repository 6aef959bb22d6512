"""Shared pieces of the API handlers: the error body, the mapping of domain errors to responses."""

from __future__ import annotations

import json
from typing import Any

from autocall.errors import AutocallError
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError


def json_response(status: int, body: Any) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body, default=str))


def error_response(exc: AutocallError) -> Response:
    return json_response(exc.status_code, exc.to_body())


def _field_from_loc(loc: Any) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "body"


def validation_error_response(exc: RequestValidationError) -> Response:
    """422 naming the first offending field, with every problem listed."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
    field = _field_from_loc(first.get("loc", ()))
    problems = [f"{_field_from_loc(e.get('loc', ()))}: {e.get('msg')}" for e in errors]
    body: dict[str, Any] = {
        "error": "validation_error",
        "message": f"{field}: {first.get('msg')}",
        "field": field,
    }
    if len(problems) > 1:
        body["problems"] = problems
    return json_response(422, body)


def undecodable_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """A proxy response refusing a body that is not UTF-8 text, before any route sees it."""
    body = event.get("body")
    if not body or not event.get("isBase64Encoded"):
        return None
    import base64
    import binascii

    try:
        base64.b64decode(body).decode("utf-8")
    except (UnicodeDecodeError, binascii.Error):
        message = {"error": "bad_request", "message": "the body must be UTF-8 text", "field": "body"}
        return {
            "statusCode": 400,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(message),
        }
    return None
