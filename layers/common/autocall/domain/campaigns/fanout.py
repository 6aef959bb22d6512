"""The fan-out: one call per eligible contact of a campaign, a page of contacts at a time.

Each call gets the first free dial slot (``pacing.SlotGrid``: slots ``spacing`` apart from the
fan-out's start) inside its callee's calling window. The campaign row keeps the fan-out's start,
cursor and taken slots, and the page being written is claimed on it first: a fan-out that dies half
way and runs again rewrites nothing, creates no duplicates and hands out the same times. Call ids
are deterministic (``campaign_call_id``); rows are batch-written only after a batch read said they
do not exist; schedules are created by a small thread pool. The first page is written in the
request that triggers the campaign; the rest goes on in the campaign worker (``continue_fanout``)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from autocall.clock import now
from autocall.domain.calendar.slots import Opening, SlotGrid
from autocall.domain.calendar.windows import CallingWindow, NoCallingWindow, open_stretch
from autocall.domain.calls import DUE_NOW, MAX_AHEAD, parse_purpose, schedule_name, scheduled_call
from autocall.domain.campaigns.model import CampaignStatus, campaign_call_id, get_campaign
from autocall.domain.compliance import Resolution, next_allowed_moments
from autocall.domain.dial_gate import campaign_window, resolve_contact
from autocall.domain.numbers import pending_among
from autocall.domain.pacing import dial_spacing
from autocall.domain.phones import NumberNotDialable, check_dialable
from autocall.errors import Conflict, ValidationFailed
from autocall.integrations import scheduler
from autocall.models.enums import CallStatus
from autocall.models.records import Call, Campaign, Contact
from autocall.observability import count, logger
from autocall.stores import calls as calls_repo
from autocall.stores import campaigns as repo
from autocall.stores import contacts as contacts_repo
from autocall.stores.suppression import suppressed_among

FANOUT_PAGE_SIZE = 500  # contacts read per page (a Scan page for a tag)
FANOUT_LEASE = timedelta(minutes=2)  # a claimed page nobody finished in this long is taken over
FANOUT_WORKERS = 8
WRITE_CHUNK = 25  # BatchWriteItem's limit
# what a fan-out page reads: no more (each attribute read costs, most of all on the local stack)
CONTACT_FIELDS = ["contact_id", "phone", "time_zone", "time_zone_given", "country", "consent"]
CALL_FIELDS = ["call_id", "contact_id", "status", "fanout_pass", "scheduled_time", "schedule_name"]


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
    campaign: Campaign | None = None  # as the page's commit wrote it (None: taken over before)


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
    campaign = page.campaign if page and page.campaign else get_campaign(campaign_id)
    state = Fanout.load(campaign.fanout)
    assert state is not None
    if not state.done and page is not None and continue_later is not None:
        continue_later(campaign_id)
    return {
        "campaign_id": campaign_id,
        "status": campaign.status,
        "calls": page.calls if page else [],
        "skipped": page.skipped if page else [],
        "fanout": state.summary(),
    }


def _start_pass(
    campaign: Campaign,
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
    if repo.start_fanout(campaign, asdict(state)) is None:
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
    result.campaign = _commit_page(campaign, owner, cursor, grid, len(result.calls), by_reason)
    return result


def _claim_page(campaign_id: str, owner: str) -> tuple[Campaign, Fanout, int, bool] | None:
    """The campaign as claimed (the fresh record), its fan-out, the page's first slot, and whether
    the page is written again."""
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
        claimed = repo.claim_page(campaign, asdict(state))
        if claimed is not None:
            return claimed, state, first, replay
    raise Conflict("the campaign keeps changing; its fan-out will resume when triggered again", "campaign_id")


def _release_claim(campaign_id: str, owner: str) -> None:
    """The page failed: keep its first slot for the run that writes it again, let any run take it."""
    for _ in range(5):
        campaign = get_campaign(campaign_id)
        state = Fanout.load(campaign.fanout)
        if state is None or not state.claim or state.claim.get("owner") != owner:
            return
        state.claim = {**state.claim, "owner": None}
        if repo.release_page(campaign, asdict(state)) is not None:
            return


def _commit_page(
    claimed: Campaign, owner: str, cursor: Any, grid: SlotGrid, created: int, by_reason: Counter[str]
) -> Campaign | None:
    """Move the fan-out past the page: the campaign as committed; None if the page was taken over.
    Tried first on the campaign as claimed (its version holds unless somebody wrote it since)."""
    campaign_id = claimed.campaign_id
    campaign = claimed
    for tries in range(10):
        if tries:
            campaign = get_campaign(campaign_id)
        state = Fanout.load(campaign.fanout)
        if state is None or not state.claim or state.claim.get("owner") != owner:
            logger.warning("fan-out page taken over before its commit", extra={"campaign_id": campaign_id})
            return None
        state.claim = None
        state.cursor = cursor
        state.done = cursor is None
        state.created += created
        state.skipped = dict(Counter(state.skipped) + by_reason)
        grid.forget_before(grid.first)
        state.taken, state.first = grid.taken, grid.first
        if state.done:
            state.finished_at = now().isoformat()
        committed = repo.commit_page(campaign, asdict(state))
        if committed is not None:
            if state.done:
                summary = state.summary()
                logger.info("campaign fan-out done", extra={"campaign_id": campaign_id, "fanout": summary})
            return committed
    raise Conflict("the campaign keeps changing; its fan-out will resume when triggered again", "campaign_id")


def _contacts_page(campaign: Campaign, cursor: Any) -> tuple[list[Contact | str], Any]:
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


def _skip_reason(contact: Contact, suppressed: set[str], pending: dict[str, str]) -> str | None:
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


def window_opening(
    resolution: Resolution, window: CallingWindow, country: str | None, horizon: datetime
) -> Opening:
    """``SlotGrid.take``'s question for callees bound by ``resolution``: the first moment the
    compliance rules and the campaign's window allow in every zone they can be in (the dialer's own
    gate, domain/dial_gate.py, so a call is not scheduled into a moment it would be moved from);
    remembers the last open stretch it found, since callees of the same rules and zones ask about
    the same hours again and again. None when the jurisdiction cannot be resolved."""
    known: list[datetime] = []  # [opened, closes] of the last stretch found open
    narrowed = campaign_window(window)

    def opening(moment: datetime) -> datetime | None:
        if known and known[0] <= moment < known[1]:
            return moment
        start = moment
        while start <= horizon:
            found = next_allowed_moments(resolution, start, 1, campaign_window=narrowed)
            if not found:
                return None
            opened, closes = found[0].opens, found[0].closes
            try:  # the campaign's holiday switch (its weekdays and hours are in the rules' check)
                held, held_closes = open_stretch(opened, resolution.zones, window, country, horizon)
            except NoCallingWindow:
                return None
            if held == opened:
                known[:] = [opened, min(closes, held_closes)]
                return opened if opened <= horizon else None
            start = held
        return None

    return opening


def _write_page(
    campaign: Campaign, state: Fanout, grid: SlotGrid, contacts: list[Contact | str], may_exist: bool
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
    openings: dict[tuple[Any, ...], Opening] = {}
    new_calls: list[Call] = []
    to_arm: list[Call] = []
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
            resolution = resolve_contact(contact)
            if not resolution.ok:
                reason = f"jurisdiction_unresolved: {resolution.failure}"
            else:
                key = (tuple(a.rule_id for a in resolution.applied), resolution.zones, contact.country)
                if key not in openings:
                    openings[key] = window_opening(resolution, window, contact.country, horizon)
                due = grid.take(openings[key])
                reason = None if due is not None else "no_calling_window_within_90_days"
        if reason is not None or due is None:
            by_reason[reason or "unknown"] += 1
            result.skipped.append({"contact_id": contact_id, "reason": reason or "unknown"})
            continue
        if prior is not None:  # written by a run of this pass that died: keep it, arm it again
            call = prior
        else:
            due = max(due, moment)
            call = scheduled_call(
                call_ids[contact_id],
                contact_id,
                state.purpose,
                context,
                due,
                schedule_name=schedule_name(call_ids[contact_id], due) if due > moment + DUE_NOW else None,
                campaign_id=campaign.campaign_id,
                fanout_pass=state.pass_no,
                max_attempts=int(campaign.max_attempts),
                source=state.source,
                voice_mode=campaign.voice_mode,
            )
            new_calls.append(call)
        if call.status == CallStatus.SCHEDULED.value:
            to_arm.append(call)
        result.calls.append(
            {"call_id": call.call_id, "status": call.status, "scheduled_time": call.scheduled_time}
        )
    _write_and_arm(new_calls, to_arm)
    if new_calls:
        count("CallsTriggered", len(new_calls))
    return result, by_reason


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=FANOUT_WORKERS, thread_name_prefix="fanout")


def in_pool(tasks: Iterable[Callable[[], Any]]) -> list[Any]:
    """Run ``tasks`` on the pool; wait for all of them, then raise the first failure if any."""
    futures = [_pool().submit(task) for task in tasks]
    wait(futures)
    return [future.result() for future in futures]


def _write_and_arm(new_calls: list[Call], to_arm: list[Call]) -> None:
    """Write new calls in chunks of 25, each chunk followed by its schedules (a call exists before
    its schedule can fire); calls written earlier are armed again (creating a schedule is idempotent)."""
    fresh = {call.call_id for call in new_calls}
    again = [call for call in to_arm if call.call_id not in fresh]

    def chunk_task(calls: list[Call]) -> Callable[[], None]:
        def task() -> None:
            written = calls_repo.new_calls(calls) if calls and calls[0].call_id in fresh else calls
            for call in written:
                arm(call)

        return task

    chunks = [new_calls[i : i + WRITE_CHUNK] for i in range(0, len(new_calls), WRITE_CHUNK)]
    chunks += [again[i : i + WRITE_CHUNK] for i in range(0, len(again), WRITE_CHUNK)]
    in_pool(chunk_task(calls) for calls in chunks)


def arm(call: Call) -> None:
    """A schedule at the call's due time, or the dialer now when it is due within a minute."""
    due = datetime.fromisoformat(call.scheduled_time)
    if call.schedule_name:
        scheduler.put_one_time_schedule(call.schedule_name, due, {"call_id": call.call_id})
    elif due <= now() + DUE_NOW:
        scheduler.invoke_dialer_now({"call_id": call.call_id})
