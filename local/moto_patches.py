"""Where moto's server differs from AWS (wrong under concurrency, or far slower), fixed for the local stack.

1. Its DynamoDB is not thread-safe: a conditional write checks its condition and applies its
   change in Python code that concurrent requests interleave, so two conditional updates can both
   pass (a counter capped at 10 reaches 11, a ``scheduled → dialing`` move happens twice). Real
   DynamoDB makes every item write atomic and transactions serializable: one re-entrant lock
   around moto's item operations, and around each whole DynamoDB request (reads walk items that
   writes change in place), gives the local stack (and the tests) the same guarantee.
2. It serializes DynamoDB item responses by walking the botocore shape attribute by attribute
   (over half of a GetItem's time); those results are already plain JSON data, so they are dumped
   as they are.
3. A query on a secondary index sorts every item of the table, then checks each against the key
   conditions (and sorts what it keeps again): with 10,000 calls that is most of the dialer's time.
   It is handed only the items with the index's hash key instead, found with plain comparisons.
4. Its server routes every request under one lock by matching the host against hundreds of URL
   patterns. The answer for a host never changes: it is remembered.
5. A TransactWriteItems deep-copies every table it touches, whole, to roll back with: the pacing
   table gains a row per second dialed, so each dial copied thousands of items, and a 10,000-call
   campaign spent its time and ~4 MB a call on copies. Only the items the transaction names are
   kept and put back (the transaction runs whole under the lock above, so nothing else changed
   them meanwhile)."""

from __future__ import annotations

import copy
import functools
import json
import threading
from collections.abc import Callable, Sequence
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
    # Reads too: a query, scan or batch read walks items (and a response serializes them) that a
    # concurrent update changes in place ("dictionary changed size during iteration"). Each request
    # runs whole under the lock, as if the table served one request at a time.
    from moto.dynamodb.responses import DynamoHandler

    DynamoHandler.call_action = atomic(DynamoHandler.call_action)  # type: ignore[method-assign]
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


_INDEX_QUERY = threading.local()


def _same_text(value: Any, text: str) -> bool:
    return value is not None and value.type == "S" and value.value == text


def query_index_without_sorting_the_table() -> None:
    from moto.dynamodb.models.table import Table

    if getattr(Table, "_autocall_index_query", False):
        return
    query, all_items = Table.query, Table.all_items

    @functools.wraps(query)
    def index_query(self: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[7] if len(args) > 7 else None)
        # the query checks its key conditions on every item it is given, and sorts what it keeps
        _INDEX_QUERY.hash_keys = kwargs.get("hash_key_conditions") or [] if index_name else None
        try:
            return query(self, *args, **kwargs)
        finally:
            _INDEX_QUERY.hash_keys = None

    @functools.wraps(all_items)
    def items(self: Any) -> Any:
        hash_keys = getattr(_INDEX_QUERY, "hash_keys", None)
        if hash_keys is None:
            return all_items(self)
        found = (
            [item for hash_set in self.items.values() for item in hash_set.values()]
            if self.range_key_attr
            else list(self.items.values())
        )
        for name, wanted in hash_keys:  # the same items the query would keep, found cheaply
            if wanted.type != "S":  # numbers compare by value, not by their text
                found = [item for item in found if item.attrs.get(name) == wanted]
                continue
            found = [item for item in found if _same_text(item.attrs.get(name), wanted.value)]
        return found

    Table.query = index_query  # type: ignore[method-assign]
    Table.all_items = items  # type: ignore[method-assign]
    Table._autocall_index_query = True  # type: ignore[attr-defined]


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


class _TablesNotCopied:
    """Stands in for the ``copy`` module in moto's DynamoDB backend: a Table is handed back as it
    is (``roll_back_only_what_a_transaction_touched`` restores the items instead)."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _transaction_items(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any]]:
    """(table, hash key, range key) of every item a transaction writes or checks, in its order;
    an item whose table or key the transaction will refuse is left out (nothing is written)."""
    from moto.dynamodb.exceptions import MockValidationException, ResourceNotFoundException

    found = []
    for entry in transact_items:
        for op_type, op in entry.items():
            if not isinstance(op, dict):
                continue
            try:
                table = backend.get_table(op.get("TableName"))
                if op_type == "Put":
                    attrs = op.get("Item") or {}
                    names = [table.hash_key_attr, table.range_key_attr]
                    key = {name: attrs[name] for name in names if name in attrs}
                else:
                    key = op.get("Key") or {}
                found.append((table, *backend.get_keys_value(table, key)))
            except (MockValidationException, ResourceNotFoundException, TypeError):
                continue
    return found


def roll_back_only_what_a_transaction_touched() -> None:
    from moto.dynamodb import models

    if getattr(models.DynamoDBBackend, "_autocall_item_rollback", False):
        return
    models.copy = _TablesNotCopied  # type: ignore[assignment]
    transact = models.DynamoDBBackend.transact_write_items

    @functools.wraps(transact)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        with _LOCK:
            before: dict[tuple[str, Any, Any], Any] = {}  # the item as it was, or None
            for table, hash_key, range_key in _transaction_items(self, transact_items):
                if (table.name, hash_key, range_key) not in before:
                    item = table.get_item(hash_key, range_key)
                    before[(table.name, hash_key, range_key)] = copy.deepcopy(item)
            try:
                return transact(self, transact_items)
            except Exception:
                for (table_name, hash_key, range_key), item in before.items():
                    table = self.tables[table_name]
                    if item is None:
                        table.delete_item(hash_key, range_key)
                    elif range_key is not None:
                        table.items[hash_key][range_key] = item
                    else:
                        table.items[hash_key] = item
                raise

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    models.DynamoDBBackend._autocall_item_rollback = True  # type: ignore[attr-defined]


def item_attributes(table_name: str, names: Sequence[str]) -> list[dict[str, Any]]:
    """The named attributes of every item of a table, read from the moto server running in this
    process, under the DynamoDB lock: a census for the benches that makes no request (a query of
    10,000 items re-sorts them for every 1 MB page and holds the lock meanwhile)."""
    from moto.dynamodb.models import dynamodb_backends

    from local.template import ACCOUNT_ID, REGION

    with _LOCK:
        table = dynamodb_backends[ACCOUNT_ID][REGION].get_table(table_name)
        items = [item for item in table.all_items() if hasattr(item, "attrs")]
        return [{name: item.attrs[name].value for name in names if name in item.attrs} for item in items]


def patch_moto() -> None:
    roll_back_only_what_a_transaction_touched()
    make_dynamodb_atomic()
    dump_dynamodb_items()
    query_index_without_sorting_the_table()
    remember_server_routes()
