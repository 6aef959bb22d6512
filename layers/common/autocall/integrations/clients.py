"""boto3 clients for the integrations, created once per process (and per environment)."""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    """The cached client for ``service`` (boto3's default session is not thread-safe to create from)."""
    with _lock:
        if service not in _clients:
            import boto3  # where first used: ~0.2 s of import off the cold start

            _clients[service] = boto3.client(service)
        return _clients[service]


def reset_clients() -> None:
    """Forget every client (the local stack and tests change endpoints and regions)."""
    with _lock:
        _clients.clear()
