"""Data access for the campaigns table."""

from __future__ import annotations

from autocall.adapters.tables import CampaignRow
from autocall.clock import now


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
