"""Data access for the campaigns table and a campaign's scheduled calls page by page."""

from __future__ import annotations

from typing import Any

from autocall.clock import now
from autocall.models.enums import CallStatus
from autocall.stores.tables import CallRow, CampaignRow
from pynamodb.exceptions import UpdateError


def get_campaign(campaign_id: str) -> CampaignRow | None:
    try:
        return CampaignRow.get(campaign_id, consistent_read=True)
    except CampaignRow.DoesNotExist:
        return None


def save_campaign(row: CampaignRow) -> CampaignRow:
    moment = now()
    if row.created_at is None:
        row.created_at = moment
    row.updated_at = moment
    row.save()
    return row


def save_fanout(row: CampaignRow, fanout: dict[str, Any], status: str | None = None) -> bool:
    """Store the fan-out's progress if nobody changed the campaign since ``row`` was read."""
    actions: list[Any] = [CampaignRow.fanout.set(fanout), CampaignRow.updated_at.set(now())]
    if status is not None:
        actions.append(CampaignRow.status.set(status))
    try:
        row.update(actions=actions)
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def set_status(campaign_id: str, status: str, only_from: tuple[str, ...]) -> CampaignRow | None:
    """Move the campaign to ``status`` if it is in one of ``only_from``; None when it is not."""
    row = get_campaign(campaign_id)
    if row is None:
        return None
    try:
        row.update(
            actions=[CampaignRow.status.set(status), CampaignRow.updated_at.set(now())],
            condition=CampaignRow.status.is_in(*only_from),
            add_version_condition=False,
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return row


def scheduled_calls_page(campaign_id: str, cursor: Any, limit: int) -> tuple[list[CallRow], Any]:
    """Up to ``limit`` scheduled calls of the campaign in due-time order, after ``cursor`` (the
    by-campaign index's LastEvaluatedKey); the cursor of the next page, None after the last."""
    found = CallRow.by_campaign.query(
        campaign_id,
        filter_condition=CallRow.status == CallStatus.SCHEDULED.value,
        limit=limit,
        last_evaluated_key=cursor or None,
    )
    rows = list(found)
    return rows, found.last_evaluated_key
