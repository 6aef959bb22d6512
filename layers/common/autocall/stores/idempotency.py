"""Idempotency-Key records on Powertools' idempotency utility: DynamoDB persistence on the
IdempotencyTable (partition key ``id``, TTL ``expiration``), the request body validated against the
key's first one, and the in-progress claim expiring with the claiming invocation (the Lambda's
remaining time when it started).

Powertools keeps its records on wall time (``time``/``datetime``), not on ``autocall.clock``: the
expiry it writes is the moment DynamoDB and Powertools compare against, so it is reported as such.
It is imported where first used: with boto3 it costs a cold start that never sees a key ~1.7 s."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from autocall.config import get_settings
from autocall.errors import IdempotencyKeyReused, RequestInProgress

EXPIRES_AFTER_S = 24 * 3600  # a completed request's answer is replayed for a day
KEY_PREFIX = "autocall"  # records are "autocall#<sha256 of scope#key>"


@lru_cache(maxsize=8)
def _persistence(table_name: str) -> Any:
    import boto3
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from botocore.config import Config

    settings = get_settings()
    dynamodb = boto3.client(
        "dynamodb",
        config=Config(
            connect_timeout=settings.dynamodb_connect_timeout_s,
            read_timeout=settings.dynamodb_read_timeout_s,
            retries={"max_attempts": 3, "mode": "standard"},
        ),
    )
    return DynamoDBPersistenceLayer(table_name=table_name, boto3_client=dynamodb)


def reset_clients() -> None:
    _persistence.cache_clear()


def once(
    key: str, payload: Any, action: Callable[[], dict[str, Any]], deadline: Any | None
) -> dict[str, Any]:
    """The answer of ``action()`` run once for ``key``: the first answer again for the same
    ``payload``; ``IdempotencyKeyReused`` for another; ``RequestInProgress`` while the first runs.
    ``deadline`` (the Lambda context) bounds the in-progress claim."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyItemNotFoundError,
        IdempotencyValidationError,
    )

    persistence = _persistence(get_settings().required("idempotency_table"))
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="payload",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=EXPIRES_AFTER_S,
        hash_function="sha256",
        lambda_context=deadline,  # per request: a shared config would mix concurrent invocations
    )

    @idempotent_function(
        data_keyword_argument="request", config=config, persistence_store=persistence, key_prefix=KEY_PREFIX
    )
    def run(request: dict[str, Any]) -> dict[str, Any]:
        return action()

    request = {"key": key, "payload": payload}
    try:
        return dict(run(request=request))
    except IdempotencyValidationError as exc:
        raise IdempotencyKeyReused() from exc
    except IdempotencyAlreadyInProgressError as exc:
        try:
            record = persistence.get_record(data=request)
        except (IdempotencyItemNotFoundError, IdempotencyValidationError):
            raise RequestInProgress() from exc
        if record is None or record.in_progress_expiry_timestamp is None:
            raise RequestInProgress() from exc
        until_ms = int(record.in_progress_expiry_timestamp)  # DynamoDB numbers come back as Decimal
        expires_at = datetime.fromtimestamp(until_ms / 1000, tz=UTC).isoformat()
        retry_after_s = max(1, -(-(until_ms - int(time.time() * 1000)) // 1000))
        raise RequestInProgress(expires_at, retry_after_s) from exc
