"""The post-call state machine's steps (statemachines/post_call.asl.json) and the reminder
schedules. Each event names its step; each step is one domain call."""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain
from typing import Any

from autocall.domain.post_call import actions, analysis, crm, outcome
from autocall.observability import logger, metrics, tracer
from aws_lambda_powertools.utilities.typing import LambdaContext


def _labels(*results: Any) -> list[str]:
    """The labels of earlier steps, as the state machine passes them: lists of {"labels": [...]}."""
    items = chain.from_iterable(r if isinstance(r, list) else [r] for r in results if r)
    return [label for item in items for label in (item or {}).get("labels") or []]


def _step(event: dict[str, Any]) -> tuple[str, int]:
    return str(event["call_id"]), int(event["attempt"])


STEPS: dict[str, Callable[[dict[str, Any], LambdaContext], dict[str, Any]]] = {
    "analyze": lambda e, c: {"labels": [], "outcome": analysis.analyze(*_step(e))["outcome"]},
    "update_contact": lambda e, c: {"labels": crm.update_contact(*_step(e))},
    "write_note": lambda e, c: {"labels": crm.write_note(*_step(e))},
    "plan": lambda e, c: {"actions": actions.plan(*_step(e))},
    "act": lambda e, c: {"labels": actions.act(*_step(e), e["action"], c.invoked_function_arn)},
    "emit": lambda e, c: {"labels": outcome.emit(*_step(e), _labels(e.get("crm"), e.get("acted")))},
    "webhook": lambda e, c: {"labels": outcome.notify_crm(*_step(e), _labels(e.get("crm"), e.get("acted")))},
    "finalize": lambda e, c: {
        "labels": [],
        "result": outcome.finalize(*_step(e), _labels(e.get("crm"), e.get("acted"), e.get("webhook"))),
    },
    "record_failure": lambda e, c: {
        "labels": outcome.record_failure(*_step(e), e["failed_step"], e.get("error"), e.get("cause")) or []
    },
    "reminder": lambda e, c: {"labels": actions.send_reminder(str(e["call_id"]), str(e["reminder"]))},
}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = str(event["step"])
    logger.append_keys(call_id=event.get("call_id"), step=step)
    return STEPS[step](event, context)
