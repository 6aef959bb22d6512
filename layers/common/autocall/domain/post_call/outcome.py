"""The end of the chain: the call's result, the CallCompleted event, the signed CRM webhook, and
failures recorded on the call."""

from __future__ import annotations

import json
from typing import Any

from autocall.clock import now
from autocall.config import get_settings
from autocall.domain.calls import format_duration
from autocall.domain.post_call.actions import effect_once
from autocall.domain.post_call.analysis import analysis_dict
from autocall.domain.post_call.context import PostCall, amend_call, iso_now, load
from autocall.integrations import crm_webhook, events
from autocall.models.records import Call
from autocall.observability import count, logger, metrics, scrub
from autocall.secrets import get_secret

MAX_CAUSE_CHARS = 1000


def money(value: float) -> str:
    return f"${value:.0f}" if float(value).is_integer() else f"${value:.2f}"


def build_result(ctx: PostCall, analysis: dict[str, Any]) -> dict[str, Any]:
    """The seed's call_result: duration, outcome, next action, probability, estimated value."""
    return {
        "duration": format_duration(ctx.call.duration_s),
        "outcome": ctx.outcome.value,
        "next_action": analysis["next_action"],
        "probability": f"{analysis['probability']}%",
        "estimated_value": money(analysis["estimated_value"]),
        "interest_level": analysis["interest_level"],
        "summary": analysis["summary"],
        "attempt": ctx.attempt,
    }


def _payload(ctx: PostCall, labels: list[str]) -> dict[str, Any]:
    return {
        "call_id": ctx.call_id,
        "contact_id": ctx.contact.contact_id,
        "campaign_id": ctx.call.campaign_id,
        "purpose": ctx.purpose.value,
        "outcome": ctx.outcome.value,
        "attempt": ctx.attempt,
        "result": build_result(ctx, analysis_dict(ctx)),
        "actions_taken": labels,
    }


def emit(call_id: str, attempt: int, labels: list[str]) -> list[str]:
    """Step 4a: CallCompleted on EventBridge, once per attempt."""
    ctx = load(call_id, attempt)
    detail = _payload(ctx, labels)
    effect_once(
        ctx,
        "event",
        f"call_completed_a{attempt}",
        "CallCompleted",
        lambda: {"event_id": events.put_event("CallCompleted", detail)},
    )
    return []


def notify_crm(call_id: str, attempt: int, labels: list[str]) -> list[str]:
    """Step 4b: POST the outcome to the user's CRM webhook, signed, once per attempt."""
    url = get_settings().crm_webhook_url
    if not url:
        return []
    secret = get_secret("crm_webhook_secret")
    if not secret:
        raise ValueError("crm_webhook_secret is not set: the webhook cannot be signed")
    ctx = load(call_id, attempt)
    payload = {"event": "call.completed", **_payload(ctx, labels)}
    stamp = int(now().timestamp())
    effect_once(
        ctx,
        "webhook",
        f"a{attempt}",
        "Outcome sent to the CRM webhook",
        lambda: {"status": crm_webhook.post_signed(url, payload, secret, stamp)},
    )
    return ["crm_webhook_notified"]


def finalize(call_id: str, attempt: int, labels: list[str]) -> dict[str, Any]:
    """Step 5: the result users read on GET /calls/{id}, and what really happened, appended once."""
    ctx = load(call_id, attempt)
    result = build_result(ctx, analysis_dict(ctx))

    def write(call: Call) -> dict[str, Any] | None:
        taken = list(call.actions_taken or [])
        taken += [label for label in dict.fromkeys(labels) if label not in taken]
        if call.result == result and taken == (call.actions_taken or []):
            return None
        return {"result": result, "actions_taken": taken}

    amend_call(call_id, write)
    count("CallOutcomes", outcome=ctx.outcome.value)
    logger.info("post-call chain finished", extra={"call_id": call_id, "outcome": ctx.outcome.value})
    return result


def _readable_cause(cause: str | None) -> str:
    """Lambda errors arrive as a JSON string {errorMessage, errorType, stackTrace}: keep the message."""
    text = cause or ""
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        text = str(parsed["errorMessage"])
    return scrub(text)[:MAX_CAUSE_CHARS]


def record_failure(call_id: str, attempt: int, step: str, error: str | None, cause: str | None) -> None:
    """A step failed after its retries: keep it on the call (once), count it for the alarm."""
    failure = {"step": step, "error": error or "Unknown", "cause": _readable_cause(cause), "attempt": attempt}

    def add(call: Call) -> dict[str, Any] | None:
        known = {(f.get("step"), f.get("attempt"), f.get("error")) for f in call.failures or []}
        if (step, attempt, failure["error"]) in known:
            return None
        return {"failures": [*(call.failures or []), {**failure, "at": iso_now()}]}

    amend_call(call_id, add)
    metrics.add_metric(name="PostCallFailures", unit="Count", value=1)
    logger.error("post-call step failed", extra={"call_id": call_id, **failure})
