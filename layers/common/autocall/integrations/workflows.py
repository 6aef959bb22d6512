"""Step Functions: the post-call chain, one execution per call attempt."""

from __future__ import annotations

import json

from autocall.config import get_settings
from autocall.integrations.clients import client
from botocore.exceptions import ClientError


def execution_name(call_id: str, attempt: int) -> str:
    return f"{call_id}-a{attempt}"


def start_post_call(call_id: str, attempt: int) -> bool:
    """Start the chain for one finished attempt; False when that attempt's chain already ran.

    The execution is named by call and attempt, so a repeated status callback cannot start a second
    one (a name is unique for 90 days). AWS answers a repeat while the first is still running, with
    the same input, like a first start: both then return True and one execution exists."""
    try:
        client("stepfunctions").start_execution(
            stateMachineArn=get_settings().post_call_state_machine_arn,
            name=execution_name(call_id, attempt),
            input=json.dumps({"call_id": call_id, "attempt": attempt}),
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
            return False
        raise
    return True
