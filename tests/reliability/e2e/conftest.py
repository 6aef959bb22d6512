"""The whole local stack for the reliability suite, in its own pytest process (``make test`` runs
``pytest tests/reliability/e2e`` after the e2e tests): it is restarted mid-campaign here, and its
logs are read whole, so it is not shared with tests/e2e."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import boto3
import pytest

# The same session-wide stack and HTTP client as tests/e2e, in this process of its own.
from tests.support.stack import Client, api, stack  # noqa: F401


@pytest.fixture(autouse=True)
def forget_what_was_planned(api: Client) -> Iterator[None]:  # noqa: F811 (needs the stack up)
    """Each test runs at its own moment: the retries, follow-ups, reminders and watchdogs it left
    behind are removed, so that they do not ring in the next test."""
    yield
    scheduler, group = boto3.client("scheduler"), os.environ["SCHEDULE_GROUP"]
    for page in scheduler.get_paginator("list_schedules").paginate(GroupName=group):
        for schedule in page["Schedules"]:
            with contextlib.suppress(scheduler.exceptions.ResourceNotFoundException):  # fired meanwhile
                scheduler.delete_schedule(Name=schedule["Name"], GroupName=group)
