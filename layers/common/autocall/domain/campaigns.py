"""Campaigns: a named set of contacts called for one purpose inside a calling window.

The fan-out creates one call per eligible contact, a page of contacts at a time. Each call gets
the first free dial slot (``pacing.SlotGrid``: slots ``spacing`` apart from the fan-out's start)
inside its callee's calling window. The campaign row keeps the fan-out's start, cursor and taken
slots, and the page being written is claimed on it first: a fan-out that dies half way and runs
again rewrites nothing, creates no duplicates and hands out the same times. Call ids are
deterministic (``campaign_call_id``); rows are batch-written only after a batch read said they do
not exist; schedules are created by a small thread pool.

Steering: pause takes the schedules of the campaign's scheduled calls away (the calls stay
scheduled; the dialer holds any that fires anyway), resume gives them back (a due time gone by is
moved to the next free slot), cancel ends every call not dialed yet. The status changes at once;
the calls follow in a paged sweep that goes on in other invocations (see ``continue_sweep``)."""

from __future__ import annotations

import math
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

from autocall.adapters import scheduler
from autocall.clock import now
from autocall.config import get_settings
from autocall.domain.calls import _ID_NAMESPACE, DUE_NOW, MAX_AHEAD, parse_purpose, schedule_name
from autocall.domain.contacts import callee_time_zones
from autocall.domain.numbers import pending_among
from autocall.domain.pacing import Opening, SlotGrid, dial_spacing
from autocall.domain.phones import NumberNotDialable, check_dialable
from autocall.domain.windows import CallingWindow, NoCallingWindow, open_stretch
from autocall.errors import CampaignNotFound, Conflict, ValidationFailed
from autocall.models.enums import POSITIVE_OUTCOMES, CallStatus, Outcome
from autocall.models.records import Call as CallRow  # records; renamed when its storage code is converted
from autocall.models.records import Campaign as CampaignRow
from autocall.models.records import Contact as ContactRow
from autocall.observability import count, logger
from autocall.stores import calls as calls_repo
from autocall.stores import campaigns as repo
from autocall.stores import contacts as contacts_repo
from autocall.stores.suppression import suppressed_among

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
FANOUT_PAGE_SIZE = 500  # contacts read per page (a Scan page for a tag)
FANOUT_LEASE = timedelta(minutes=2)  # a claimed page nobody finished in this long is taken over
FANOUT_WORKERS = 8
WRITE_CHUNK = 25  # BatchWriteItem's limit
# what a fan-out page reads: no more (each attribute read costs, most of all on the local stack)
CONTACT_FIELDS = ["contact_id", "phone", "time_zone", "time_zone_given", "country", "consent"]
CALL_FIELDS = ["call_id", "contact_id", "status", "fanout_pass", "scheduled_time", "schedule_name"]


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    CANCELED = "canceled"


@dataclass(frozen=True)
class CallPrices:
    """Twilio's US list prices the cost estimate uses (see FIELD-NOTES.md), with their date."""

    as_of: str
    voice_per_started_minute: float
    speech_per_15_seconds: float
    amd_per_call: float


TWILIO_PRICES = CallPrices(
    as_of="2026-11", voice_per_started_minute=0.014, speech_per_15_seconds=0.02, amd_per_call=0.0075
)


def _check_window(window: dict[str, Any] | None) -> dict[str, Any]:
    settings = get_settings()
    window = dict(window or {})
    start = window.get("start", settings.calling_window_start)
    end = window.get("end", settings.calling_window_end)
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, str) or not _HHMM.match(value):
            raise ValidationFailed(f"calling_window.{name} must be HH:MM (24-hour)", f"calling_window.{name}")
    if start >= end:
        raise ValidationFailed(
            "calling_window.start must be before calling_window.end", "calling_window.start"
        )
    return {
        "start": start,
        "end": end,
        "exclude_weekends": bool(window.get("exclude_weekends", False)),
        "exclude_holidays": bool(window.get("exclude_holidays", False)),
    }


def create_campaign(fields: dict[str, Any]) -> CampaignRow:
    purpose = parse_purpose(fields["purpose"], "purpose")
    contact_ids = list(dict.fromkeys(fields.get("contact_ids") or []))
    tag = fields.get("tag")
    if not contact_ids and not tag:
        raise ValidationFailed("give contact_ids or a tag to choose the campaign's contacts", "contact_ids")
    found = contacts_repo.get_contacts(contact_ids) if contact_ids else {}
    for index, contact_id in enumerate(contact_ids):
        if contact_id not in found:
            raise ValidationFailed(f"contact {contact_id!r} does not exist", f"contact_ids[{index}]")
    row = CampaignRow(
        campaign_id=str(uuid.uuid4()),
        name=fields["name"],
        purpose=purpose.value,
        contact_ids=contact_ids,
        tag=tag,
        context=fields.get("context") or {},
        calling_window=_check_window(fields.get("calling_window")),
        stagger_minutes=float(fields.get("stagger_minutes") or 0),
        max_attempts=int(fields.get("max_attempts") or get_settings().max_attempts),
        status=CampaignStatus.DRAFT.value,
        fanout={},
    )
    return repo.save_campaign(row)


def get_campaign(campaign_id: str, field: str = "campaign_id") -> CampaignRow:
    row = repo.get_campaign(campaign_id)
    if row is None:
        raise CampaignNotFound(campaign_id, field)
    return row


def campaign_call_id(campaign_id: str, contact_id: str) -> str:
    """Deterministic: a fan-out that runs twice creates each call once."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"campaign:{campaign_id}:{contact_id}"))


# --- the fan-out's state, kept on the campaign row ------------------------------------------


@dataclass
class Fanout:
    pass_no: int  # a finished fan-out triggered again starts a new pass (for contacts added since)
    started_at: str  # slot 0 of the grid (ISO UTC, microseconds kept)
    spacing_s: float
    purpose: str
    source: str
    cursor: Any = None  # next page: an index into contact_ids, or a Scan's LastEvaluatedKey
    done: bool = False
    created: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    taken: list[list[int]] = field(default_factory=list)
    first: int = 0
    claim: dict[str, Any] | None = None  # {"owner", "at", "first"}: the page being written
    finished_at: str | None = None

    @classmethod
    def load(cls, stored: dict[str, Any] | None) -> Fanout | None:
        return cls(**stored) if stored and "pass_no" in stored else None

    def grid(self, first: int) -> SlotGrid:
        start = datetime.fromisoformat(self.started_at)
        return SlotGrid(start, timedelta(seconds=self.spacing_s), [list(r) for r in self.taken], first)

    def summary(self) -> dict[str, Any]:
        return {
            "pass": self.pass_no,
            "state": "done" if self.done else "running",
            "created": self.created,
            "skipped": dict(self.skipped),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


@dataclass
class PageResult:
    calls: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def _claim_is_live(claim: dict[str, Any] | None, owner: str) -> bool:
    """Another run is writing a page right now (its claim is recent)."""
    if not claim or not claim.get("owner") or claim["owner"] == owner:
        return False
    return datetime.fromisoformat(claim["at"]) > now() - FANOUT_LEASE


def trigger_campaign(
    campaign_id: str,
    purpose: str | None = None,
    stagger_minutes: float | None = None,
    source: str = "api",
    continue_later: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Start the campaign's fan-out (or resume an unfinished one) and write its first page.

    When contacts remain, ``continue_later`` hands the rest to another invocation."""
    campaign = get_campaign(campaign_id)
    if campaign.status == CampaignStatus.CANCELED:
        raise Conflict("the campaign is canceled", "campaign_id")
    if campaign.status == CampaignStatus.PAUSED:
        raise Conflict("the campaign is paused; resume it first", "campaign_id")
    state = Fanout.load(campaign.fanout)
    if state is None or state.done:
        _start_pass(campaign, state, purpose, stagger_minutes, source)
    owner = str(uuid.uuid4())
    page = _run_page(campaign_id, owner)
    state = Fanout.load(get_campaign(campaign_id).fanout)
    assert state is not None
    if not state.done and page is not None and continue_later is not None:
        continue_later(campaign_id)
    return {
        "campaign_id": campaign_id,
        "status": get_campaign(campaign_id).status,
        "calls": page.calls if page else [],
        "skipped": page.skipped if page else [],
        "fanout": state.summary(),
    }


def _start_pass(
    campaign: CampaignRow,
    previous: Fanout | None,
    purpose: str | None,
    stagger_minutes: float | None,
    source: str,
) -> None:
    call_purpose = parse_purpose(purpose or campaign.purpose)
    stagger = float(campaign.stagger_minutes if stagger_minutes is None else stagger_minutes)
    if stagger < 0 or stagger > 24 * 60:
        raise ValidationFailed("stagger_minutes must be between 0 and 1440", "stagger_minutes")
    state = Fanout(
        pass_no=(previous.pass_no + 1) if previous else 1,
        started_at=now().isoformat(),
        spacing_s=dial_spacing(stagger).total_seconds(),
        purpose=call_purpose.value,
        source=source,
    )
    if not repo.save_fanout(campaign, asdict(state), status=CampaignStatus.RUNNING.value):
        raise Conflict("the campaign changed while its fan-out was starting; try again", "campaign_id")
    logger.info(
        "campaign fan-out started", extra={"campaign_id": campaign.campaign_id, "pass": state.pass_no}
    )


def continue_fanout(campaign_id: str, seconds_left: Callable[[], float]) -> dict[str, Any]:
    """Write pages while the invocation has time; ``more`` says whether to carry on elsewhere."""
    owner = str(uuid.uuid4())
    longest = 0.0
    while seconds_left() > 2 * longest + 1:
        started = seconds_left()
        if _run_page(campaign_id, owner) is None:
            break
        longest = max(longest, started - seconds_left())
    campaign = get_campaign(campaign_id)
    state = Fanout.load(campaign.fanout)
    more = (
        state is not None
        and not state.done
        and campaign.status == CampaignStatus.RUNNING
        and not _claim_is_live(state.claim, owner)
    )
    return {"campaign_id": campaign_id, "more": more, "fanout": state.summary() if state else None}


def _run_page(campaign_id: str, owner: str) -> PageResult | None:
    """Claim the next page, write its calls, move the cursor. None when there was nothing to do
    (done, paused, canceled, or another run holds the page)."""
    claimed = _claim_page(campaign_id, owner)
    if claimed is None:
        return None
    campaign, state, first, replay = claimed
    try:
        contacts, cursor = _contacts_page(campaign, state.cursor)
        grid = state.grid(first)
        # calls of this campaign exist only from an earlier pass or an earlier try of this page
        may_exist = replay or state.pass_no > 1
        result, by_reason = _write_page(campaign, state, grid, contacts, may_exist)
    except Exception:
        _release_claim(campaign_id, owner)
        raise
    _commit_page(campaign_id, owner, cursor, grid, len(result.calls), by_reason)
    return result


def _claim_page(campaign_id: str, owner: str) -> tuple[CampaignRow, Fanout, int, bool] | None:
    for _ in range(5):
        campaign = get_campaign(campaign_id)
        state = Fanout.load(campaign.fanout)
        if state is None or state.done or campaign.status != CampaignStatus.RUNNING:
            return None
        if _claim_is_live(state.claim, owner):
            return None
        # a run died on this page: write it again from the same first slot
        first = int(state.claim["first"]) if state.claim else max(state.first, state.grid(0).slot_at(now()))
        replay = state.claim is not None
        state.claim = {"owner": owner, "at": now().isoformat(), "first": first}
        if repo.save_fanout(campaign, asdict(state)):
            return campaign, state, first, replay
    raise Conflict("the campaign keeps changing; its fan-out will resume when triggered again", "campaign_id")


def _release_claim(campaign_id: str, owner: str) -> None:
    """The page failed: keep its first slot for the run that writes it again, let any run take it."""
    for _ in range(5):
        campaign = get_campaign(campaign_id)
        state = Fanout.load(campaign.fanout)
        if state is None or not state.claim or state.claim.get("owner") != owner:
            return
        state.claim = {**state.claim, "owner": None}
        if repo.save_fanout(campaign, asdict(state)):
            return


def _commit_page(
    campaign_id: str, owner: str, cursor: Any, grid: SlotGrid, created: int, by_reason: Counter[str]
) -> None:
    for _ in range(10):
        campaign = get_campaign(campaign_id)
        state = Fanout.load(campaign.fanout)
        if state is None or not state.claim or state.claim.get("owner") != owner:
            logger.warning("fan-out page taken over before its commit", extra={"campaign_id": campaign_id})
            return
        state.claim = None
        state.cursor = cursor
        state.done = cursor is None
        state.created += created
        state.skipped = dict(Counter(state.skipped) + by_reason)
        grid.forget_before(grid.first)
        state.taken, state.first = grid.taken, grid.first
        if state.done:
            state.finished_at = now().isoformat()
        if repo.save_fanout(campaign, asdict(state)):
            if state.done:
                summary = state.summary()
                logger.info("campaign fan-out done", extra={"campaign_id": campaign_id, "fanout": summary})
            return
    raise Conflict("the campaign keeps changing; its fan-out will resume when triggered again", "campaign_id")


def _contacts_page(campaign: CampaignRow, cursor: Any) -> tuple[list[ContactRow | str], Any]:
    """The page's contacts in a stable order (an id stands for a contact that no longer exists)."""
    if campaign.contact_ids:
        index = int(cursor or 0)
        ids = campaign.contact_ids[index : index + FANOUT_PAGE_SIZE]
        found = contacts_repo.get_contacts(ids, CONTACT_FIELDS) if ids else {}
        following = index + len(ids)
        return [found.get(cid, cid) for cid in ids], following if following < len(
            campaign.contact_ids
        ) else None
    rows, last_key = contacts_repo.contacts_page(campaign.tag, cursor, FANOUT_PAGE_SIZE, CONTACT_FIELDS)
    return list(rows), last_key


def _skip_reason(contact: ContactRow, suppressed: set[str], pending: dict[str, str]) -> str | None:
    if contact.phone in suppressed:
        return "suppressed"
    if not contact.consent:
        return "no_consent"
    if contact.phone in pending:  # the number has a live or scheduled call for this purpose already
        return "call_pending"
    try:
        check_dialable(contact.phone)
    except NumberNotDialable:
        return "number_not_dialable"
    return None


def _window_opening(
    zones: tuple[str, ...], window: CallingWindow, country: str | None, horizon: datetime
) -> Opening:
    """``SlotGrid.take``'s question for callees who can be in ``zones`` (open only when the window
    is open in every one of them); remembers the last open stretch it found, since the callees of
    the same zones ask about the same hours again and again."""
    known: list[datetime] = []  # [opened, closes] of the last stretch found open

    def opening(moment: datetime) -> datetime | None:
        if known and known[0] <= moment < known[1]:
            return moment
        try:
            opened, closes = open_stretch(moment, zones, window, country, horizon)
        except NoCallingWindow:
            return None
        known[:] = [opened, closes]
        return opened

    return opening


def _write_page(
    campaign: CampaignRow, state: Fanout, grid: SlotGrid, contacts: list[ContactRow | str], may_exist: bool
) -> tuple[PageResult, Counter[str]]:
    moment = now()
    horizon = moment + MAX_AHEAD
    window = CallingWindow.from_config(campaign.calling_window)
    context = {**(campaign.context or {}), "campaign": campaign.name}
    ids = [c if isinstance(c, str) else c.contact_id for c in contacts]
    call_ids = {cid: campaign_call_id(campaign.campaign_id, cid) for cid in ids}
    existing = calls_repo.get_calls(list(call_ids.values()), CALL_FIELDS) if call_ids and may_exist else {}
    phones = [c.phone for c in contacts if not isinstance(c, str) and call_ids[c.contact_id] not in existing]
    suppressed = suppressed_among(phones) if phones else set()
    pending = pending_among(phones, state.purpose) if phones else {}
    result, by_reason = PageResult(), Counter[str]()
    openings: dict[tuple[tuple[str, ...], str | None], Opening] = {}
    new_rows: list[CallRow] = []
    to_arm: list[CallRow] = []
    for contact in contacts:
        contact_id = contact if isinstance(contact, str) else contact.contact_id
        prior = existing.get(call_ids[contact_id])
        if prior is not None and prior.fanout_pass != state.pass_no:
            reason: str | None = "already_called"
        elif isinstance(contact, str):
            reason = "contact_deleted"
        else:
            reason = None if prior is not None else _skip_reason(contact, suppressed, pending)
        due = None
        if reason is None and not isinstance(contact, str):
            zones = callee_time_zones(contact)
            if (zones, contact.country) not in openings:
                openings[zones, contact.country] = _window_opening(zones, window, contact.country, horizon)
            due = grid.take(openings[zones, contact.country])
            reason = None if due is not None else "no_calling_window_within_90_days"
        if reason is not None or due is None:
            by_reason[reason or "unknown"] += 1
            result.skipped.append({"contact_id": contact_id, "reason": reason or "unknown"})
            continue
        if prior is not None:  # written by a run of this pass that died: keep it, arm it again
            row = prior
        else:
            due = max(due, moment)
            row = CallRow(
                call_id=call_ids[contact_id],
                contact_id=contact_id,
                purpose=state.purpose,
                context=context,
                status=CallStatus.SCHEDULED.value,
                scheduled_time=calls_repo.iso(due),
                schedule_name=schedule_name(call_ids[contact_id], due) if due > moment + DUE_NOW else None,
                campaign_id=campaign.campaign_id,
                fanout_pass=state.pass_no,
                attempts=0,
                max_attempts=int(campaign.max_attempts),
                source=state.source,
                attempt_history=[],
                turns=[],
                actions_taken=[],
                reasons=[],
                failures=[],
                memory={},
            )
            new_rows.append(row)
        if row.status == CallStatus.SCHEDULED.value:
            to_arm.append(row)
        result.calls.append(
            {"call_id": row.call_id, "status": row.status, "scheduled_time": row.scheduled_time}
        )
    _write_and_arm(new_rows, to_arm)
    if new_rows:
        count("CallsTriggered", len(new_rows))
    return result, by_reason


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=FANOUT_WORKERS, thread_name_prefix="fanout")


def _in_pool(tasks: Iterable[Callable[[], Any]]) -> list[Any]:
    """Run ``tasks`` on the pool; wait for all of them, then raise the first failure if any."""
    futures = [_pool().submit(task) for task in tasks]
    wait(futures)
    return [future.result() for future in futures]


def _write_and_arm(new_rows: list[CallRow], to_arm: list[CallRow]) -> None:
    """Write new rows in chunks of 25, each chunk followed by its schedules (a row exists before its
    schedule can fire); calls written earlier are armed again (creating a schedule is idempotent)."""
    fresh = {row.call_id for row in new_rows}
    again = [row for row in to_arm if row.call_id not in fresh]

    def chunk_task(rows: list[CallRow]) -> Callable[[], None]:
        def task() -> None:
            if rows and rows[0].call_id in fresh:
                calls_repo.insert_new_calls(rows)
            for row in rows:
                _arm(row)

        return task

    chunks = [new_rows[i : i + WRITE_CHUNK] for i in range(0, len(new_rows), WRITE_CHUNK)]
    chunks += [again[i : i + WRITE_CHUNK] for i in range(0, len(again), WRITE_CHUNK)]
    _in_pool(chunk_task(rows) for rows in chunks)


def _arm(row: CallRow) -> None:
    """A schedule at the call's due time, or the dialer now when it is due within a minute."""
    due = datetime.fromisoformat(row.scheduled_time)
    if row.schedule_name:
        scheduler.put_one_time_schedule(row.schedule_name, due, {"call_id": row.call_id})
    elif due <= now() + DUE_NOW:
        scheduler.invoke_dialer_now({"call_id": row.call_id})


# --- steering -----------------------------------------------------------------------------------
#
# Pause, resume and cancel change the campaign's status at once; a sweep then walks the campaign's
# scheduled calls a page at a time (in due-time order), in another invocation of the trigger
# function, and hands the rest on to the next one while pages remain: a campaign of any size is
# steered within API Gateway's 29 s. A sweep only goes on while the campaign still has the status it
# steers to (a pause overtaken by a resume stops), and every call is changed under a condition, so a
# repeated or overlapping sweep changes each call once.


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
    repo.set_status(campaign_id, CampaignStatus.PAUSED, (CampaignStatus.DRAFT, CampaignStatus.RUNNING))
    return _start_sweep(campaign_id, Steering.PAUSE, sweep_later)


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
    repo.set_status(campaign_id, CampaignStatus.RUNNING, (CampaignStatus.PAUSED,))
    view = _start_sweep(campaign_id, Steering.RESUME, sweep_later)
    state = Fanout.load(campaign.fanout)
    if view["status"] == CampaignStatus.RUNNING and state is not None and not state.done and continue_later:
        continue_later(campaign_id)
    return view


def cancel_campaign(campaign_id: str, sweep_later: SweepLater | None = None) -> dict[str, Any]:
    """End the campaign: every call not dialed yet is canceled and loses its schedule."""
    get_campaign(campaign_id)
    repo.set_status(
        campaign_id,
        CampaignStatus.CANCELED,
        (CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.PAUSED),
    )
    return _start_sweep(campaign_id, Steering.CANCEL, sweep_later)


def _start_sweep(campaign_id: str, action: Steering, sweep_later: SweepLater | None) -> dict[str, Any]:
    """The campaign's new status at once; its calls follow in ``sweep_later`` (or here, without)."""
    view = _steering_view(campaign_id)
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
        calls, cursor = repo.scheduled_calls_page(sweep.campaign_id, sweep.cursor, STEERING_PAGE_SIZE)
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


def _last_steering(call: CallRow) -> str | None:
    steering = [r.get("reason") for r in call.reasons or [] if r.get("reason") in (_PAUSED, _RESUMED)]
    return steering[-1] if steering else None


def _held(call: CallRow) -> bool:
    """Paused: no schedule, and the last word about it was the pause (a call resumed to be dialed
    at once has no schedule either, and must not be sent to the dialer twice)."""
    return not call.schedule_name and _last_steering(call) == _PAUSED


def _unschedule(calls: Iterable[CallRow], move: Callable[[CallRow, str], bool], steering: str) -> int:
    """Each call moved (held or cancelled) with the steering's reason, then its schedule removed."""

    def unschedule(call: CallRow) -> Callable[[], bool]:
        def task() -> bool:
            name = call.schedule_name  # the move below reads the row back without it
            if not move(call, steering):
                return False
            if name:
                scheduler.delete_schedule(name)
            return True

        return task

    return sum(_in_pool(unschedule(call) for call in calls))


def _pause_page(campaign: CampaignRow, sweep: Sweep, calls: list[CallRow]) -> int:
    return _unschedule((call for call in calls if not _held(call)), calls_repo.hold_scheduled, _PAUSED)


def _cancel_page(campaign: CampaignRow, sweep: Sweep, calls: list[CallRow]) -> int:
    return _unschedule(calls, calls_repo.cancel_scheduled, _CANCELED)


def _resume_page(campaign: CampaignRow, sweep: Sweep, calls: list[CallRow]) -> int:
    """Held calls get a schedule again: at their own time while it is ahead, in the window and free;
    otherwise at the first free dial slot of the sweep's grid inside the callee's window."""
    moment = now()
    grid = sweep.slot_grid()
    for call in calls:
        if call.schedule_name:  # still armed: its slot is taken
            grid.reserve(datetime.fromisoformat(call.scheduled_time))
    held = sorted((c for c in calls if _held(c)), key=lambda c: c.scheduled_time)
    contacts = contacts_repo.get_contacts([c.contact_id for c in held]) if held else {}
    window = CallingWindow.from_config(campaign.calling_window)
    plan: list[tuple[CallRow, datetime]] = []
    for call in held:
        contact = contacts.get(call.contact_id)
        due = datetime.fromisoformat(call.scheduled_time)
        if contact is not None:
            opening = _window_opening(callee_time_zones(contact), window, contact.country, moment + MAX_AHEAD)
            if due > moment + DUE_NOW and opening(due) == due and grid.reserve(due):
                plan.append((call, due))
                continue
            due = grid.take(opening) or max(due, moment)
        plan.append((call, max(due, moment)))
    sweep.keep_grid(grid)

    def rearm(call: CallRow, due: datetime) -> Callable[[], bool]:
        def task() -> bool:
            name = schedule_name(call.call_id, due) if due > now() + DUE_NOW else None
            if not calls_repo.rearm_scheduled(call, due, name, _RESUMED):
                return False
            _arm(call)
            return True

        return task

    return sum(_in_pool(rearm(call, due) for call, due in plan))


_STEER: dict[Steering, Callable[[CampaignRow, Sweep, list[CallRow]], int]] = {
    Steering.PAUSE: _pause_page,
    Steering.RESUME: _resume_page,
    Steering.CANCEL: _cancel_page,
}


def _steering_view(campaign_id: str) -> dict[str, Any]:
    campaign = get_campaign(campaign_id)
    state = Fanout.load(campaign.fanout)
    return {
        "campaign_id": campaign_id,
        "status": campaign.status,
        "fanout": state.summary() if state else None,
    }


# --- what users read back -------------------------------------------------------------------


def campaign_view(row: CampaignRow) -> dict[str, Any]:
    by_status: Counter[str] = Counter()
    by_outcome: Counter[str] = Counter()
    held = 0
    for call in calls_repo.calls_for_campaign(row.campaign_id):
        by_status[call.status] += 1
        if call.outcome:
            by_outcome[call.outcome] += 1
        held += call.status == CallStatus.SCHEDULED.value and _held(call)
    state = Fanout.load(row.fanout)
    return {
        "campaign_id": row.campaign_id,
        "name": row.name,
        "purpose": row.purpose,
        "status": row.status,
        "contact_ids": row.contact_ids or [],
        "tag": row.tag,
        "context": row.context or {},
        "calling_window": row.calling_window or {},
        "stagger_minutes": row.stagger_minutes,
        "max_attempts": int(row.max_attempts),
        "counts": {
            "total": sum(by_status.values()),
            "by_status": dict(by_status),
            "by_outcome": dict(by_outcome),
            "held": held,  # scheduled calls a pause took the schedule of (0 once a resume is through)
        },
        "fanout": state.summary() if state else None,
    }


def _answered(call: CallRow) -> bool:
    """A person picked up: the call went live and no machine answered."""
    if call.status not in (CallStatus.IN_PROGRESS.value, CallStatus.COMPLETED.value):
        return False
    machine = (call.answered_by or "").startswith(("machine", "fax"))
    return not machine and call.outcome != Outcome.VOICEMAIL.value


def _cost(call: CallRow, answered: bool, prices: CallPrices) -> tuple[float, float, float]:
    """Voice, speech recognition and AMD for every attempt placed with Twilio."""
    placed = [a for a in call.attempt_history or [] if a.get("twilio_sid")]
    durations = [int(a.get("duration_s") or 0) for a in placed]
    if placed and not any(durations) and call.duration_s:
        durations[-1] = int(call.duration_s)  # the last attempt's length is on the call itself
    voice = sum(math.ceil(d / 60) for d in durations) * prices.voice_per_started_minute
    speech = math.ceil((durations[-1] if durations else 0) / 15) * prices.speech_per_15_seconds
    return voice, speech if answered else 0.0, len(placed) * prices.amd_per_call


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
