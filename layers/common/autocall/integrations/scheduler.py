"""EventBridge Scheduler: one-time schedules that fire the dialer, and the direct async invoke."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from autocall.config import get_settings
from autocall.integrations.clients import client
from botocore.exceptions import ClientError


def _scheduler() -> Any:
    return client("scheduler")  # made where first used: a cold start that never schedules skips it


def _lambda() -> Any:
    return client("lambda")


def at_expression(moment: datetime) -> str:
    return "at(" + moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + ")"


def put_one_time_schedule(
    name: str, at: datetime, payload: dict[str, Any], target_arn: str | None = None
) -> str:
    """Create (or move) the schedule ``name`` firing the dialer (or ``target_arn``) once at ``at``."""
    settings = get_settings()
    target: dict[str, Any] = {
        "Arn": target_arn or settings.required("scheduler_function_arn"),
        "RoleArn": settings.required("scheduler_role_arn"),
        "Input": json.dumps(payload),
        "RetryPolicy": {"MaximumEventAgeInSeconds": 900, "MaximumRetryAttempts": 10},
    }
    if settings.schedule_dlq_arn:
        target["DeadLetterConfig"] = {"Arn": settings.schedule_dlq_arn}
    request = {
        "Name": name,
        "GroupName": settings.required("schedule_group"),
        "ScheduleExpression": at_expression(at),
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": target,
        "ActionAfterCompletion": "DELETE",
        "State": "ENABLED",
    }
    try:
        _scheduler().create_schedule(**request)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConflictException":
            raise
        _scheduler().update_schedule(**request)
    return name


def delete_schedule(name: str) -> bool:
    try:
        _scheduler().delete_schedule(Name=name, GroupName=get_settings().required("schedule_group"))
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return False
        raise
    return True


def get_schedule(name: str) -> dict[str, Any] | None:
    try:
        group = get_settings().required("schedule_group")
        return dict(_scheduler().get_schedule(Name=name, GroupName=group))
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise


def invoke_dialer_now(payload: dict[str, Any]) -> None:
    """Hand a call due now to the dialer function without waiting (async invoke)."""
    _lambda().invoke(
        FunctionName=get_settings().required("scheduler_function_arn"),
        InvocationType="Event",
        Payload=json.dumps(payload).encode(),
    )
