"""The campaigns table: the only code that reads or writes a campaign's row. (A campaign's calls
are the calls table's: ``stores.calls.scheduled_calls_page``, ``calls_for_campaign``.)"""

from __future__ import annotations

from typing import Any

from autocall.clock import now
from autocall.models.records import Campaign
from autocall.stores._records import record_of, row_of
from autocall.stores.calls import (
    scheduled_calls_page as scheduled_calls_page,  # a campaign's calls, for its sweeps
)
from autocall.stores.tables import CampaignRow
from pynamodb.exceptions import UpdateError


def _campaign(row: CampaignRow) -> Campaign:
    return record_of(row, Campaign)


def get_campaign(campaign_id: str) -> Campaign | None:
    try:
        return _campaign(CampaignRow.get(campaign_id, consistent_read=True))
    except CampaignRow.DoesNotExist:
        return None


def save_campaign(campaign: Campaign) -> Campaign:
    """Write the campaign whole (under its version): the saved record."""
    moment = now()
    row = row_of(campaign, CampaignRow)
    if row.created_at is None:
        row.created_at = moment
    row.updated_at = moment
    row.save()
    return _campaign(row)


def save_fanout(campaign: Campaign, fanout: dict[str, Any], status: str | None = None) -> Campaign | None:
    """Store the fan-out's progress if nobody changed the campaign since it was read; None if somebody did."""
    actions: list[Any] = [CampaignRow.fanout.set(fanout), CampaignRow.updated_at.set(now())]
    if status is not None:
        actions.append(CampaignRow.status.set(status))
    row = CampaignRow(campaign_id=campaign.campaign_id)
    if campaign.version is not None:
        row.version = campaign.version
    try:
        row.update(actions=actions)
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return _campaign(row)


def set_status(campaign_id: str, status: str, only_from: tuple[str, ...]) -> Campaign | None:
    """Move the campaign to ``status`` if it is in one of ``only_from``; None when it is not."""
    try:
        row = CampaignRow.get(campaign_id, consistent_read=True)
    except CampaignRow.DoesNotExist:
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
    return _campaign(row)
