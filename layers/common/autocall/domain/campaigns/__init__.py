"""Campaigns: a named set of contacts called for one purpose inside a calling window.

- ``model``: the campaign's own terms (create, validate, read; deterministic call ids)
- ``fanout``: one call per eligible contact, page by page, each at a free dial slot in its window
- ``steering``: pause, resume and cancel, the calls following in paged sweeps
- ``stats``: the campaign's view and stats (with the cost estimate of ``autocall.pricing``)

The API writes a fan-out's first page and changes a campaign's status itself; the rest (pages,
sweeps, campaigns started by an EventBridge rule) runs in the campaign worker function."""

from autocall.domain.campaigns.fanout import continue_fanout, trigger_campaign
from autocall.domain.campaigns.model import (
    CampaignStatus,
    campaign_call_id,
    create_campaign,
    get_campaign,
)
from autocall.domain.campaigns.stats import campaign_stats, campaign_view
from autocall.domain.campaigns.steering import (
    cancel_campaign,
    continue_sweep,
    pause_campaign,
    resume_campaign,
)

__all__ = [
    "CampaignStatus",
    "campaign_call_id",
    "campaign_stats",
    "campaign_view",
    "cancel_campaign",
    "continue_fanout",
    "continue_sweep",
    "create_campaign",
    "get_campaign",
    "pause_campaign",
    "resume_campaign",
    "trigger_campaign",
]
