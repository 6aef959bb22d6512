"""What each call came to (its view, its next call, its CRM note) and the verdict: the problems
that fail the demo and the warnings that do not."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from local.api_client import ApiClient
from local.demo.seeding import Tracked
from local.demo.waiter import parse_time

if TYPE_CHECKING:
    from local.report import CallEntry


@dataclass
class DemoResult:
    calls: list[CallEntry]
    report: Path
    brain: str
    campaign_id: str | None = None
    campaign_stats: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _local(value: str, zone: str) -> str:
    local = parse_time(value).astimezone(ZoneInfo(zone))
    return f"{local:%a %b} {local.day} {local:%H:%M} {local.tzname()}"


def next_call(api: ApiClient, call: Tracked) -> str | None:
    """The contact's next scheduled call, from the seed's status endpoint."""
    status = api.expect(200, "GET", f"/calls/api/calls/autonomous_call_status/?contact_id={call.contact_id}")
    upcoming = sorted(
        (c for c in status["recent_calls"] if c["status"] == "scheduled"), key=lambda c: c["scheduled_time"]
    )
    if not upcoming:
        return None
    first = upcoming[0]
    kind = "retry" if first["call_id"] == call.call_id else first["call_purpose"].replace("_", " ")
    return f"{kind} · {_local(first['scheduled_time'], call.time_zone)}"


def crm_note(call: Tracked) -> str | None:
    """The call note the post-call chain wrote (the CRM has no public route; read it in-process)."""
    from autocall.stores import crm

    row = crm.get_record(call.contact_id, crm.record_id("note", call.call_id))
    return str(row.content) if row is not None and row.content else None


def entry_for(api: ApiClient, call: Tracked, view: dict[str, Any]) -> CallEntry:
    from local.report import CallEntry

    return CallEntry(
        view=view,
        name=call.contact.name,
        company=call.contact.company,
        time_zone=call.time_zone,
        trigger=call.contact.trigger,
        persona=call.contact.persona,
        expected_outcome=call.contact.expected_outcome,
        next_call=next_call(api, call),
        note=crm_note(call),
    )


def judge(result: DemoResult, stuck: list[str], llm: bool) -> None:
    """Problems: stuck calls, post-call failures, outcomes other than the persona's (only warnings
    with the LLM brain, which words things its own way)."""
    for entry in result.calls:
        view = entry.view
        if view["call_id"] in stuck:
            result.problems.append(f"{entry.name}: stuck ({view['status']}, call {view['call_id']})")
        elif not entry.outcome_matches:
            message = (
                f"{entry.name} ({entry.persona}, {view['call_purpose']}): outcome {view.get('outcome')}, "
                f"expected {entry.expected_outcome}"
            )
            (result.warnings if llm else result.problems).append(message)
        for failure in view.get("failures") or []:
            cause = failure.get("cause") or failure.get("error")
            result.problems.append(f"{entry.name}: post-call step {failure.get('step')} failed: {cause}")
