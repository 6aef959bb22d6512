"""The realtime session's way back to the carrier: API Gateway's @connections management API.

A reply goes to the WebSocket as ``PostToConnection`` on the stage's endpoint
(``https://{domainName}/{stage}`` of the event, or ``REALTIME_CALLBACK_URL`` where the local stack
serves it); 410 Gone means the socket closed, which the caller learns as False, not as an error."""

from __future__ import annotations

import json
import threading
from typing import Any

from autocall.config import get_settings
from autocall.integrations.clients import configuration

_lock = threading.Lock()
_clients: dict[tuple[str, ...], Any] = {}


def endpoint(domain_name: str, stage: str) -> str:
    """The @connections endpoint for an event from ``domain_name`` / ``stage``."""
    override = get_settings().realtime_callback_url
    return override.rstrip("/") if override else f"https://{domain_name}/{stage}"


def _client(url: str) -> Any:
    """One management-API client per endpoint and AWS configuration (boto3 clients are thread-safe
    to use, not to create)."""
    key = (url, *configuration("apigatewaymanagementapi"))
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        if key not in _clients:
            import boto3
            from botocore.config import Config

            retries = {"max_attempts": 2, "mode": "standard"}
            config = Config(connect_timeout=1, read_timeout=2, retries=retries)
            _clients[key] = boto3.client("apigatewaymanagementapi", endpoint_url=url, config=config)
        return _clients[key]


def _gone(exc: Exception) -> bool:
    """410 Gone (``GoneException``): the socket closed."""
    response = getattr(exc, "response", None) or {}
    code = response.get("Error", {}).get("Code")
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in ("GoneException", "410") or status == 410


def send(url: str, connection_id: str, message: dict[str, Any]) -> bool:
    """Post one JSON message to the connection; False when the socket is gone (410)."""
    from botocore.exceptions import ClientError

    try:
        _client(url).post_to_connection(ConnectionId=connection_id, Data=json.dumps(message).encode())
    except ClientError as exc:
        if _gone(exc):
            return False
        raise
    return True
