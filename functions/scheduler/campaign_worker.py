"""The campaign worker: a campaign's work that outlasts an API request, run page by page.

Three events, each from one sender:
- an EventBridge rule's ``StartCampaign`` event (``detail: {campaign_id, ...}``) starts a campaign;
- ``{"fanout": campaign_id}``, from the API that wrote a fan-out's first page (or from this
  function), writes the fan-out's next pages;
- ``{"sweep": {...}}``, from the API that paused, resumed or cancelled a campaign (or from this
  function), steers the campaign's calls a page at a time.

Each invocation works while it has time and hands what is left to an async invocation of this
function (``CAMPAIGN_WORKER_FUNCTION_ARN``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autocall.config import get_settings
from autocall.domain import campaigns
from autocall.integrations.lambdas import continue_fanout_async, continue_sweep_async
from autocall.observability import logger, metrics, tracer
from aws_lambda_powertools.utilities.typing import LambdaContext


def _worker_arn() -> str:
    return get_settings().required("campaign_worker_function_arn")


def _seconds_left(context: LambdaContext) -> Callable[[], float]:
    return lambda: context.get_remaining_time_in_millis() / 1000


def start_campaign(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """An EventBridge rule or schedule naming a campaign starts it."""
    detail = event.get("detail") or {}
    result = campaigns.trigger_campaign(
        detail["campaign_id"],
        detail.get("call_purpose"),
        detail.get("stagger_minutes"),
        source="eventbridge",
        continue_later=lambda campaign_id: continue_fanout_async(_worker_arn(), campaign_id),
    )
    return {"campaign_id": result["campaign_id"], **result["fanout"]}


def continue_fanout(campaign_id: str, context: LambdaContext) -> dict[str, Any]:
    """The rest of a campaign's fan-out, page by page while this invocation has time."""
    result = campaigns.continue_fanout(campaign_id, _seconds_left(context))
    if result["more"]:
        continue_fanout_async(_worker_arn(), campaign_id)
    return result


def continue_sweep(sweep: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The rest of a pause, resume or cancel: pages of calls while this invocation has time."""
    result = campaigns.continue_sweep(sweep, _seconds_left(context))
    if result["more"]:
        continue_sweep_async(_worker_arn(), result["sweep"])
    return {"more": result["more"], "campaign_id": sweep["campaign_id"], "action": sweep["action"]}


@logger.inject_lambda_context(
    correlation_id_path="detail.campaign_id || fanout || sweep.campaign_id", clear_state=True
)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "detail-type" in event:
        return start_campaign(event, context)
    if "fanout" in event:
        return continue_fanout(str(event["fanout"]), context)
    if "sweep" in event:
        return continue_sweep(dict(event["sweep"]), context)
    logger.error("campaign worker event of no known kind", extra={"keys": sorted(event)})
    return {"action": "skipped", "reason": "unknown event"}
