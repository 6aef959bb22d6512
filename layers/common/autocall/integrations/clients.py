"""boto3 clients, one per process and per configuration: a client is kept under what boto3 builds
it from in the current environment (endpoint, region, credentials), so on Lambda there is one per
service for the life of the execution environment, and where that environment changes (tests; the
local stack, which gives each function its own ``os.environ``) the next call gets a client for it."""

from __future__ import annotations

import os
import threading
from typing import Any

_lock = threading.Lock()
_clients: dict[tuple[str, ...], Any] = {}


def configuration(service: str) -> tuple[str, ...]:
    """What a boto3 client of ``service`` is built from here: its endpoint (boto3's service-specific
    and global variables), region and credentials (by access key id)."""
    environ = os.environ
    specific = f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}"
    return (
        environ.get(specific) or environ.get("AWS_ENDPOINT_URL", ""),
        environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION", ""),
        environ.get("AWS_PROFILE", ""),
        environ.get("AWS_ACCESS_KEY_ID", ""),
    )


def client(service: str) -> Any:
    """The client for ``service`` in this configuration (boto3's default session is not thread-safe
    to create clients from, hence the lock)."""
    key = (service, *configuration(service))
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        if key not in _clients:
            import boto3  # where first used: ~0.2 s of import off the cold start

            _clients[key] = boto3.client(service)
        return _clients[key]
