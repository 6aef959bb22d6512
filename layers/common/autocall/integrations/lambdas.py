"""Asynchronous Lambda invokes: the campaign worker hands the rest of a fan-out or a steering sweep
to another invocation of itself (the campaigns table is autocall.stores.campaigns)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _lambda() -> Any:
    import boto3  # where first used: most requests never continue a fan-out

    return boto3.client("lambda")


def reset_clients() -> None:
    _lambda.cache_clear()


def continue_fanout_async(function_arn: str, campaign_id: str) -> None:
    """Hand the rest of a campaign's fan-out to another invocation of ``function_arn``."""
    _lambda().invoke(
        FunctionName=function_arn,
        InvocationType="Event",
        Payload=json.dumps({"fanout": campaign_id}).encode(),
    )


def continue_sweep_async(function_arn: str, sweep: dict[str, Any]) -> None:
    """Hand the rest of a pause, resume or cancel sweep to another invocation of ``function_arn``."""
    _lambda().invoke(
        FunctionName=function_arn,
        InvocationType="Event",
        Payload=json.dumps({"sweep": sweep}).encode(),
    )
