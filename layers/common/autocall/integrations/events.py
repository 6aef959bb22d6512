"""EventBridge: the events other systems subscribe to (``CallCompleted``)."""

from __future__ import annotations

import json
from typing import Any

from autocall.config import get_settings
from autocall.integrations.clients import client

SOURCE = "autocall"


class EventNotAccepted(Exception):
    """EventBridge answered but refused the entry (it reports this per entry, not as an error)."""


def put_event(detail_type: str, detail: dict[str, Any]) -> str:
    response = client("events").put_events(
        Entries=[
            {
                "Source": SOURCE,
                "DetailType": detail_type,
                "Detail": json.dumps(detail, default=str),
                "EventBusName": get_settings().event_bus_name,
            }
        ]
    )
    entry = response["Entries"][0]
    if response.get("FailedEntryCount") or "EventId" not in entry:
        raise EventNotAccepted(f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
    return str(entry["EventId"])
