"""The dialer, fired by a call's one-time schedule (or directly when the call is due now), and the
watchdog of a placed call, fired by its own schedule."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from autocall.domain import dialer
from autocall.observability import logger, metrics, tracer
from aws_lambda_powertools.utilities.typing import LambdaContext


@logger.inject_lambda_context(correlation_id_path="call_id", clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    call_id = event.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        logger.error("scheduler event without call_id")
        return {"action": "skipped", "reason": "missing call_id"}
    if event.get("watch"):  # the watchdog of a placed call: never dials
        return asdict(dialer.watch(call_id))
    return asdict(dialer.dial(call_id))
