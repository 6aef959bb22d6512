"""Steering a campaign: pause, resume and cancel.

Pause takes the schedules of the campaign's scheduled calls away (the calls stay scheduled; the
dialer holds any that fires anyway), resume gives them back (a due time gone by is moved to the next
free slot), cancel ends every call not dialed yet.

Each changes the campaign's status at once; a sweep then walks the campaign's scheduled calls a page
at a time (in due-time order), in the campaign worker, and hands the rest on to the worker's next
invocation while pages remain: a campaign of any size is steered within API Gateway's 29 s. A sweep
only goes on while the campaign still has the status it steers to (a pause overtaken by a resume
stops), and every call is changed under a condition, so a repeated or overlapping sweep changes each
call once."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from autocall.clock import now
from autocall.domain.calendar.slots import SlotGrid
from autocall.domain.calendar.windows import CallingWindow
from autocall.domain.calls import DUE_NOW, MAX_AHEAD, schedule_name
from autocall.domain.campaigns.fanout import Fanout, arm, in_pool, window_opening
from autocall.domain.campaigns.model import CampaignStatus, get_campaign
from autocall.domain.dial_gate import resolve_contact
from autocall.domain.pacing import dial_spacing
from autocall.errors import Conflict
from autocall.integrations import scheduler
from autocall.models.records import Call, Campaign
from autocall.observability import logger
from autocall.stores import calls as calls_repo
from autocall.stores import campaigns as repo
from autocall.stores import contacts as contacts_repo


class Steering(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"


STEERING_STATUS = {
    Steering.PAUSE: CampaignStatus.PAUSED,
    Steering.RESUME: CampaignStatus.RUNNING,
    Steering.CANCEL: CampaignStatus.CANCELED,
}
STEERING_PAGE_SIZE = 250  # scheduled calls changed per page
STEERING_RESERVE_S = 3.0  # an invocation stops taking pages this long (plus two pages) before its end
MAX_GRID_RUNS = 2000  # a resume sweep's carried slot grid keeps this many runs of taken slots at most
_PAUSED, _RESUMED, _CANCELED = "campaign_paused", "campaign_resumed", "campaign_canceled"

SweepLater = Callable[[dict[str, Any]], None]


@dataclass
class Sweep:
    """A steering sweep's progress, carried from one invocation to the next."""

    campaign_id: str
    action: str
    started_at: str
    cursor: Any = None  # the by-campaign index's LastEvaluatedKey of the last page done
    changed: int = 0
    pages: int = 0
    grid: dict[str, Any] | None = None  # resume: the dial-slot grid past-due calls are placed on

    def slot_grid(self) -> SlotGrid:
        stored = self.grid or {}
        return SlotGrid(
            datetime.fromisoformat(stored.get("start") or self.started_at),
            timedelta(seconds=float(stored.get("spacing_s") or dial_spacing().total_seconds())),
            [list(run) for run in stored.get("taken") or []],
            int(stored.get("first") or 0),
        )

    def keep_grid(self, grid: SlotGrid) -> None:
        grid.forget_before(grid.slot_at(now()))  # no call is placed in the past
        runs = grid.taken
        if len(runs) > MAX_GRID_RUNS:  # the earliest runs are the ones placing calls; keep the last too
            runs = runs[: MAX_GRID_RUNS // 2] + runs[-MAX_GRID_RUNS // 2 :]
        self.grid = {
            "start": grid.start.isoformat(),
            "spacing_s": grid.spacing.total_seconds(),
            "taken": runs,
            "first": grid.first,
        }


def pause_campaign(campaign_id: str, sweep_later: SweepLater | None = None) -> dict[str, Any]:
    """Stop dialing: every scheduled call loses its schedule and stays scheduled, marked paused."""
    campaign = get_campaign(campaign_id)
    if campaign.status == CampaignStatus.CANCELED:
        raise Conflict("the campaign is canceled", "campaign_id")
    paused = repo.set_status_if_in(
        campaign_id, CampaignStatus.PAUSED, (CampaignStatus.DRAFT, CampaignStatus.RUNNING)
    )
    return _start_sweep(paused or get_campaign(campaign_id), Steering.PAUSE, sweep_later)


def resume_campaign(
    campaign_id: str,
    continue_later: Callable[[str], None] | None = None,
    sweep_later: SweepLater | None = None,
) -> dict[str, Any]:
    """Dial again: held calls get schedules back (a due time gone by moves to the next free slot);
    an unfinished fan-out goes on."""
    campaign = get_campaign(campaign_id)
    if campaign.status == CampaignStatus.CANCELED:
        raise Conflict("the campaign is canceled", "campaign_id")
    resumed = repo.set_status_if_in(campaign_id, CampaignStatus.RUNNING, (CampaignStatus.PAUSED,))
    view = _start_sweep(resumed or get_campaign(campaign_id), Steering.RESUME, sweep_later)
    state = Fanout.load(campaign.fanout)
    if view["status"] == CampaignStatus.RUNNING and state is not None and not state.done and continue_later:
        continue_later(campaign_id)
    return view


def cancel_campaign(campaign_id: str, sweep_later: SweepLater | None = None) -> dict[str, Any]:
    """End the campaign: every call not dialed yet is canceled and loses its schedule."""
    get_campaign(campaign_id)
    canceled = repo.set_status_if_in(
        campaign_id,
        CampaignStatus.CANCELED,
        (CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.PAUSED),
    )
    return _start_sweep(canceled or get_campaign(campaign_id), Steering.CANCEL, sweep_later)


def _start_sweep(campaign: Campaign, action: Steering, sweep_later: SweepLater | None) -> dict[str, Any]:
    """The campaign's new status at once; its calls follow in ``sweep_later`` (or here, without)."""
    campaign_id = campaign.campaign_id
    view = _steering_view(campaign)
    if view["status"] != STEERING_STATUS[action]:  # e.g. resuming a campaign never started
        return {**view, "sweep": {"action": action.value, "state": "not_needed"}}
    moment = now()
    sweep = Sweep(campaign_id, action.value, moment.isoformat())
    if action is Steering.RESUME:  # calls gone past due catch up as fast as pacing allows
        sweep.keep_grid(SlotGrid(moment, dial_spacing()))
    logger.info(f"campaign {action.value} sweep started", extra={"campaign_id": campaign_id})
    if sweep_later is None:
        result = continue_sweep(asdict(sweep), lambda: math.inf)
        return {**view, "sweep": result["sweep"]}
    sweep_later(asdict(sweep))
    return {**view, "sweep": {"action": action.value, "state": "started"}}


def continue_sweep(stored: dict[str, Any], seconds_left: Callable[[], float]) -> dict[str, Any]:
    """Steer pages of calls while the invocation has time; ``more`` says whether to carry on
    elsewhere, with ``sweep`` as the state to carry."""
    sweep = Sweep(**stored)
    action = Steering(sweep.action)
    longest = 0.0
    while True:
        campaign = get_campaign(sweep.campaign_id)
        if campaign.status != STEERING_STATUS[action]:
            logger.info(
                "campaign sweep overtaken by another status",
                extra={"campaign_id": sweep.campaign_id, "action": action.value, "status": campaign.status},
            )
            return {"more": False, "sweep": _sweep_summary(sweep, "overtaken")}
        started = seconds_left()
        calls, cursor = calls_repo.scheduled_calls_page(sweep.campaign_id, sweep.cursor, STEERING_PAGE_SIZE)
        sweep.changed += _STEER[action](campaign, sweep, calls)
        sweep.pages += 1
        sweep.cursor = cursor
        if cursor is None:
            logger.info(
                f"campaign {action.value} sweep done",
                extra={"campaign_id": sweep.campaign_id, "changed": sweep.changed, "pages": sweep.pages},
            )
            return {"more": False, "sweep": _sweep_summary(sweep, "done")}
        longest = max(longest, started - seconds_left())
        if seconds_left() < STEERING_RESERVE_S + 2 * longest:
            return {"more": True, "sweep": asdict(sweep)}


def _sweep_summary(sweep: Sweep, state: str) -> dict[str, Any]:
    return {"action": sweep.action, "state": state, "changed": sweep.changed, "pages": sweep.pages}


def _last_steering(call: Call) -> str | None:
    steering = [r.get("reason") for r in call.reasons or [] if r.get("reason") in (_PAUSED, _RESUMED)]
    return steering[-1] if steering else None


def is_held(call: Call) -> bool:
    """Paused: no schedule, and the last word about it was the pause (a call resumed to be dialed
    at once has no schedule either, and must not be sent to the dialer twice)."""
    return not call.schedule_name and _last_steering(call) == _PAUSED


def _unschedule(calls: Iterable[Call], move: Callable[[Call, str], Call | None], steering: str) -> int:
    """Each call moved (held or cancelled) with the steering's reason, then its schedule removed."""

    def unschedule(call: Call) -> Callable[[], bool]:
        def task() -> bool:
            if move(call, steering) is None:
                return False
            if call.schedule_name:  # the schedule the call had as read (the move took it off)
                scheduler.delete_schedule(call.schedule_name)
            return True

        return task

    return sum(in_pool(unschedule(call) for call in calls))


def _pause_page(campaign: Campaign, sweep: Sweep, calls: list[Call]) -> int:
    return _unschedule((call for call in calls if not is_held(call)), calls_repo.hold_scheduled, _PAUSED)


def _cancel_page(campaign: Campaign, sweep: Sweep, calls: list[Call]) -> int:
    return _unschedule(calls, calls_repo.cancel, _CANCELED)


def _resume_page(campaign: Campaign, sweep: Sweep, calls: list[Call]) -> int:
    """Held calls get a schedule again: at their own time while it is ahead, in the window and free;
    otherwise at the first free dial slot of the sweep's grid inside the callee's window."""
    moment = now()
    grid = sweep.slot_grid()
    for call in calls:
        if call.schedule_name:  # still armed: its slot is taken
            grid.reserve(datetime.fromisoformat(call.scheduled_time))
    held = sorted((c for c in calls if is_held(c)), key=lambda c: c.scheduled_time)
    contacts = contacts_repo.get_contacts([c.contact_id for c in held]) if held else {}
    window = CallingWindow.from_config(campaign.calling_window)
    plan: list[tuple[Call, datetime]] = []
    for call in held:
        contact = contacts.get(call.contact_id)
        due = datetime.fromisoformat(call.scheduled_time)
        if contact is not None:
            bound = resolve_contact(contact)  # the rules' moments, as the fan-out and the dialer
            opening = window_opening(bound, window, contact.country, moment + MAX_AHEAD)
            if due > moment + DUE_NOW and opening(due) == due and grid.reserve(due):
                plan.append((call, due))
                continue
            due = grid.take(opening) or max(due, moment)
        plan.append((call, max(due, moment)))
    sweep.keep_grid(grid)

    def rearm(call: Call, due: datetime) -> Callable[[], bool]:
        def task() -> bool:
            name = schedule_name(call.call_id, due) if due > now() + DUE_NOW else None
            rearmed = calls_repo.rearm_scheduled(call, due, name, _RESUMED)
            if rearmed is None:
                return False
            arm(rearmed)
            return True

        return task

    return sum(in_pool(rearm(call, due) for call, due in plan))


_STEER: dict[Steering, Callable[[Campaign, Sweep, list[Call]], int]] = {
    Steering.PAUSE: _pause_page,
    Steering.RESUME: _resume_page,
    Steering.CANCEL: _cancel_page,
}


def _steering_view(campaign: Campaign) -> dict[str, Any]:
    state = Fanout.load(campaign.fanout)
    return {
        "campaign_id": campaign.campaign_id,
        "status": campaign.status,
        "fanout": state.summary() if state else None,
    }
