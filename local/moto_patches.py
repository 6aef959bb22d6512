"""Two things moto's server does that AWS does not, fixed for the local stack.

1. Its DynamoDB is not thread-safe: a conditional write checks its condition and applies its
   change in Python code that concurrent requests interleave, so two conditional updates can both
   pass (a counter capped at 10 reaches 11, a ``scheduled → dialing`` move happens twice). Real
   DynamoDB makes every item write atomic and transactions serializable: one re-entrant lock
   around moto's item operations gives the local stack (and the tests) the same guarantee.
2. It serializes DynamoDB item responses by walking the botocore shape attribute by attribute
   (over half of a GetItem's time); those results are already plain JSON data, so they are dumped
   as they are.
3. Its server routes every request under one lock by matching the host against hundreds of URL
   patterns. The answer for a host never changes: it is remembered."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from typing import Any

_LOCK = threading.RLock()
ITEM_OPERATIONS = ("put_item", "update_item", "delete_item", "transact_write_items", "get_item")


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

    for name in ITEM_OPERATIONS:
        setattr(DynamoDBBackend, name, atomic(getattr(DynamoDBBackend, name)))
    DynamoDBBackend._autocall_atomic = True  # type: ignore[attr-defined]


ITEM_RESULTS = {
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "TransactGetItems",
}


def dump_dynamodb_items() -> None:
    from moto.dynamodb.responses import DynamoResult

    if getattr(DynamoResult, "_autocall_dumped", False):
        return
    serialize = DynamoResult.execute_result

    @functools.wraps(serialize)
    def dumped(self: Any, context: Any) -> Any:
        if context.operation_model.name in ITEM_RESULTS:
            try:
                body = json.dumps(self.result)
            except (TypeError, ValueError):
                return serialize(self, context)
            return 200, {"Content-Type": context.serializer_class.CONTENT_TYPE}, body
        return serialize(self, context)

    DynamoResult.execute_result = dumped  # type: ignore[method-assign]
    DynamoResult._autocall_dumped = True  # type: ignore[attr-defined]


def remember_server_routes() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if getattr(DomainDispatcherApplication, "_autocall_routes", False):
        return
    find = DomainDispatcherApplication.get_backend_for_host
    routes: dict[str | None, Any] = {}

    @functools.wraps(find)
    def remembered(self: Any, host: str | None) -> Any:
        if host not in routes:
            routes[host] = find(self, host)
        return routes[host]

    DomainDispatcherApplication.get_backend_for_host = remembered  # type: ignore[method-assign]
    DomainDispatcherApplication._autocall_routes = True  # type: ignore[attr-defined]


def patch_moto() -> None:
    make_dynamodb_atomic()
    dump_dynamodb_items()
    remember_server_routes()
