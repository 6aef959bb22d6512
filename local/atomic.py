"""moto's DynamoDB is not thread-safe: a conditional write checks its condition and applies its
change in Python code that concurrent requests can interleave, so two conditional updates can both
pass (a counter capped at 10 reaches 11, a ``scheduled → dialing`` move happens twice). Real
DynamoDB makes every item write atomic and transactions serializable. One re-entrant lock around
moto's item operations gives the local stack (and the tests) the same guarantee."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_LOCK = threading.RLock()
OPERATIONS = ("put_item", "update_item", "delete_item", "transact_write_items", "get_item")


def make_dynamodb_atomic() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "_autocall_atomic", False):
        return

    def atomic(operation: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(operation)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with _LOCK:
                return operation(*args, **kwargs)

        return locked

    for name in OPERATIONS:
        setattr(DynamoDBBackend, name, atomic(getattr(DynamoDBBackend, name)))
    DynamoDBBackend._autocall_atomic = True  # type: ignore[attr-defined]
