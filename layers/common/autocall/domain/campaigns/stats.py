"""What users read back about a campaign: its view (terms, counts, held calls, the fan-out) and its
stats (answer rate, conversion, average duration, cost estimate priced by ``autocall.pricing``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any

from autocall.domain.campaigns.fanout import Fanout
from autocall.domain.campaigns.model import get_campaign
from autocall.domain.campaigns.steering import is_held
from autocall.models.enums import POSITIVE_OUTCOMES, CallStatus, Outcome
from autocall.models.records import Call, Campaign
from autocall.pricing import TWILIO_PRICES, CallPrices, call_usage, twilio_cost
from autocall.stores import calls as calls_repo


def campaign_view(campaign: Campaign) -> dict[str, Any]:
    by_status: Counter[str] = Counter()
    by_outcome: Counter[str] = Counter()
    held = 0
    for call in calls_repo.calls_for_campaign(campaign.campaign_id):
        by_status[call.status] += 1
        if call.outcome:
            by_outcome[call.outcome] += 1
        held += call.status == CallStatus.SCHEDULED.value and is_held(call)
    state = Fanout.load(campaign.fanout)
    return {
        "campaign_id": campaign.campaign_id,
        "name": campaign.name,
        "purpose": campaign.purpose,
        "status": campaign.status,
        "contact_ids": campaign.contact_ids or [],
        "tag": campaign.tag,
        "context": campaign.context or {},
        "calling_window": campaign.calling_window or {},
        "stagger_minutes": campaign.stagger_minutes,
        "max_attempts": int(campaign.max_attempts),
        "voice_mode": campaign.voice_mode,
        "counts": {
            "total": sum(by_status.values()),
            "by_status": dict(by_status),
            "by_outcome": dict(by_outcome),
            "held": held,  # scheduled calls a pause took the schedule of (0 once a resume is through)
        },
        "fanout": state.summary() if state else None,
    }


def _answered(call: Call) -> bool:
    """A person picked up: the call went live and no machine answered."""
    if call.status not in (CallStatus.IN_PROGRESS.value, CallStatus.COMPLETED.value):
        return False
    machine = (call.answered_by or "").startswith(("machine", "fax"))
    return not machine and call.outcome != Outcome.VOICEMAIL.value


def _cost(call: Call, answered: bool, prices: CallPrices) -> tuple[float, float, float]:
    """Voice, speech recognition and AMD, by the one cost rule (``autocall.pricing``)."""
    usage = call_usage(
        call.attempt_history or [],
        answered=answered,
        answered_by=call.answered_by,
        duration_s=int(call.duration_s) if call.duration_s else None,
        turns=call.turns or [],
        voice_mode=call.voice_mode,
    )
    cost = twilio_cost(usage, prices)
    return cost.voice, cost.speech, cost.amd


def campaign_stats(campaign_id: str, prices: CallPrices = TWILIO_PRICES) -> dict[str, Any]:
    """Counts by status and outcome, answer rate, conversion, average duration, cost estimate."""
    campaign = get_campaign(campaign_id)
    by_status: Counter[str] = Counter()
    by_outcome: Counter[str] = Counter()
    dialed = answered = positive = attempts = 0
    durations: list[int] = []
    voice = speech = amd = 0.0
    for call in calls_repo.calls_for_campaign(campaign_id):
        by_status[call.status] += 1
        if call.outcome:
            by_outcome[call.outcome] += 1
        attempts += int(call.attempts or 0)
        dialed += 1 if call.attempts else 0
        picked_up = _answered(call)
        answered += picked_up
        positive += picked_up and call.outcome in POSITIVE_OUTCOMES
        if call.duration_s:
            durations.append(int(call.duration_s))
        costs = _cost(call, picked_up, prices)
        voice, speech, amd = voice + costs[0], speech + costs[1], amd + costs[2]
    state = Fanout.load(campaign.fanout)
    return {
        "campaign_id": campaign_id,
        "status": campaign.status,
        "counts": {
            "total": sum(by_status.values()),
            "by_status": dict(by_status),
            "by_outcome": dict(by_outcome),
        },
        "dialed": dialed,
        "attempts": attempts,
        "answered": answered,
        "answer_rate": round(answered / dialed, 4) if dialed else None,
        "positive_outcomes": positive,
        "conversion_rate": round(positive / answered, 4) if answered else None,
        "average_duration_seconds": round(sum(durations) / len(durations), 1) if durations else None,
        "cost_estimate_usd": {
            "voice": round(voice, 4),
            "speech_recognition": round(speech, 4),
            "answering_machine_detection": round(amd, 4),
            "total": round(voice + speech + amd, 4),
            "prices": asdict(prices),
        },
        "fanout": state.summary() if state else None,
    }
