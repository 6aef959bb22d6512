"""Per-number rules, whatever contacts share the number.

- **One live or scheduled call per number and purpose.** A trigger claims the number and purpose
  for its call (``claim_pending``); while another call holds them and is not over, the trigger is
  refused with ``CallPending`` (409, naming the pending call) — the web form answers with the
  pending call instead (forms.py). The dialer claims them again before it dials, so calls that got
  past a trigger some other way (a campaign, two triggers racing) are ended as duplicates there.
- **Frequency caps,** enforced by the dialer whatever asked for the call: no dial within
  ``MIN_DIAL_GAP`` of the number's last one, at most ``MAX_DIALS_PER_NUMBER_DAY`` dials in any
  rolling 24 h and ``MAX_DIALS_PER_NUMBER_WEEK`` in 7 days (``claim_dial``). A capped dial is
  rescheduled to the moment the number may be dialed again.

Both live on the number's row (stores/numbers.py), written with a version check: two triggers or
two dials racing for one number cannot both pass."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from autocall.clock import now
from autocall.config import get_settings
from autocall.errors import Conflict
from autocall.models.enums import CallStatus
from autocall.models.records import Call, NumberState
from autocall.stores import calls as calls_repo
from autocall.stores import numbers as repo

MIN_DIAL_GAP = timedelta(minutes=5)  # form posts, bulk and single triggers never ring a phone in a row
DAY = timedelta(days=1)
WEEK = timedelta(days=7)
# how long a number's dials are kept on its row: the longest cap of the compliance rules (France's
# 4 attempts in 30 days) counts them
DIAL_HISTORY = timedelta(days=31)
UNWRITTEN_CLAIM = timedelta(minutes=2)  # a claim whose call was never written (the trigger died) lapses
WRITE_TRIES = 6


class CallPending(Conflict):
    """The number already has a live or scheduled call for this purpose."""

    code = "call_pending"

    def __init__(self, call_id: str, purpose: str, field: str = "contact_id") -> None:
        super().__init__(
            f"the contact's number already has a {purpose} call that is scheduled or under way "
            f"({call_id}); read it, or cancel it before asking for another",
            field,
        )
        self.call_id = call_id

    def to_body(self) -> dict[str, Any]:
        return {**super().to_body(), "call_id": self.call_id}


def _holder(
    row: NumberState, purpose: str, call_id: str, moment: datetime, calls: dict[str, Call] | None = None
) -> str | None:
    """The other call holding the number for ``purpose`` while it is live or scheduled, if any
    (``calls``: the holders already read, else each is read here)."""
    held = (row.pending or {}).get(purpose)
    if not held or held.get("call_id") == call_id:
        return None
    holder = calls_repo.get_call(str(held["call_id"])) if calls is None else calls.get(str(held["call_id"]))
    if holder is None:  # claimed by a trigger that has not written (or never wrote) its call
        claimed = datetime.fromisoformat(str(held["at"]))
        return str(held["call_id"]) if claimed > moment - UNWRITTEN_CLAIM else None
    return None if CallStatus(holder.status).terminal else holder.call_id


def _hold(row: NumberState, purpose: str, call_id: str, moment: datetime) -> None:
    row.pending = {**(row.pending or {}), purpose: {"call_id": call_id, "at": moment.isoformat()}}


def claim_pending(phone: str, purpose: str, call_id: str, field: str = "contact_id") -> None:
    """Make ``call_id`` the number's pending call for ``purpose``; ``CallPending`` when another is."""
    for _ in range(WRITE_TRIES):
        moment = now()
        row = repo.read_number(phone)
        holder = _holder(row, purpose, call_id, moment)
        if holder is not None:
            raise CallPending(holder, purpose, field)
        if ((row.pending or {}).get(purpose) or {}).get("call_id") == call_id:
            return
        _hold(row, purpose, call_id, moment)
        if repo.write_number(row, moment):
            return
    raise Conflict("the contact's number keeps changing; ask again", field)


def pending_among(phones: list[str], purpose: str) -> dict[str, str]:
    """Number → the call pending for ``purpose`` on it, for the numbers among ``phones`` that have
    one (reads only: a campaign fan-out skips them; the dialer enforces the rule)."""
    moment = now()
    rows = repo.numbers_among(phones) if phones else {}
    ids = {str(held["call_id"]) for row in rows.values() if (held := (row.pending or {}).get(purpose))}
    calls = calls_repo.get_calls(sorted(ids), ["call_id", "status"]) if ids else {}
    found = {phone: _holder(row, purpose, "", moment, calls) for phone, row in rows.items()}
    return {phone: holder for phone, holder in found.items() if holder is not None}


@dataclass(frozen=True)
class DialClaim:
    """The dialer's answer from the number: granted, or why not and until when."""

    granted: bool
    reason: str | None = None  # duplicate_call | number_dial_gap | number_daily_cap | number_weekly_cap
    not_before: datetime | None = None
    pending_call_id: str | None = None
    dials_24h: int = 0  # the number's dials in the last 24 h and 7 days, this one included if granted
    dials_7d: int = 0


@dataclass(frozen=True)
class PriorDial:
    """A dial already made to the number (any contact, campaign or purpose; ``purpose`` None for a
    dial recorded before purposes were kept: it counts for every purpose)."""

    at: datetime
    purpose: str | None
    call_id: str | None


# Asked with the number's other dials on every try of a claim (so two calls racing for one number
# cannot both pass it): None to let the dial through, else why not and until when (None: never).
Admit = Callable[[list[PriorDial]], tuple[str, datetime | None] | None]


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _at(entry: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(entry["at"]), tz=UTC)


def _caps(others: list[dict[str, Any]], moment: datetime) -> tuple[str, datetime] | None:
    """The cap the number is at (and when it lifts), given its other dials of the last 7 days."""
    settings = get_settings()
    times = sorted(_at(entry) for entry in others)
    waits: list[tuple[datetime, str]] = []
    if times and moment - times[-1] < MIN_DIAL_GAP:
        waits.append((times[-1] + MIN_DIAL_GAP, "number_dial_gap"))
    for span, cap, reason in (
        (DAY, max(1, settings.max_dials_per_number_day), "number_daily_cap"),
        (WEEK, max(1, settings.max_dials_per_number_week), "number_weekly_cap"),
    ):
        inside = [t for t in times if t > moment - span]
        if len(inside) >= cap:  # dialable again once all but cap - 1 of them are out of the span
            waits.append((inside[len(inside) - cap] + span, reason))
    if not waits:
        return None
    until, reason = max(waits)
    return reason, until


def _prior(entries: list[dict[str, Any]]) -> list[PriorDial]:
    return [PriorDial(_at(e), e.get("purpose"), e.get("call_id")) for e in entries]


def prior_dials(phone: str, call_id: str, attempt: int) -> list[PriorDial]:
    """The number's dials kept on its row (``DIAL_HISTORY``), but this attempt's own, oldest first."""
    moment = now()
    return sorted(_prior(_kept(repo.read_number(phone), moment, (call_id, attempt))), key=lambda d: d.at)


def _kept(row: NumberState, moment: datetime, mine: tuple[str, int]) -> list[dict[str, Any]]:
    since = _epoch(moment - DIAL_HISTORY)
    return [
        entry
        for entry in row.dials or []
        if int(entry["at"]) > since and (entry.get("call_id"), entry.get("attempt")) != mine
    ]


def claim_dial(phone: str, call_id: str, purpose: str, attempt: int, admit: Admit | None = None) -> DialClaim:
    """Record the dial of ``call_id``'s attempt ``attempt`` on the number, unless another call holds
    the number for ``purpose``, a cap says not now or ``admit`` (the compliance rules' caps) refuses
    given the number's other dials. Asking again for the same attempt replaces its entry (a dial put
    off by pacing is counted once, at the time it is made)."""
    for _ in range(WRITE_TRIES):
        moment = now()
        row = repo.read_number(phone)
        holder = _holder(row, purpose, call_id, moment)
        if holder is not None:
            return DialClaim(False, "duplicate_call", pending_call_id=holder)
        kept = _kept(row, moment, (call_id, attempt))
        others = [entry for entry in kept if _at(entry) > moment - WEEK]
        day = sum(1 for entry in others if _at(entry) > moment - DAY)
        capped = _caps(others, moment)
        if capped is not None:
            return DialClaim(False, capped[0], capped[1], dials_24h=day, dials_7d=len(others))
        refused = admit(_prior(kept)) if admit is not None else None
        if refused is not None:
            return DialClaim(False, refused[0], refused[1], dials_24h=day, dials_7d=len(others))
        entry = {"at": _epoch(moment), "call_id": call_id, "attempt": attempt, "purpose": purpose}
        row.dials = [*kept, entry]
        _hold(row, purpose, call_id, moment)
        if repo.write_number(row, moment):
            return DialClaim(True, dials_24h=day + 1, dials_7d=len(others) + 1)
    raise Conflict("the contact's number keeps changing", "phone")


def release_dial(phone: str, call_id: str, attempt: int) -> None:
    """Forget a claimed dial that was not made (pacing put it off): it must not count."""
    for _ in range(WRITE_TRIES):
        row = repo.read_number(phone)
        kept = [e for e in row.dials or [] if (e.get("call_id"), e.get("attempt")) != (call_id, attempt)]
        if len(kept) == len(row.dials or []) or repo.write_number(_with_dials(row, kept)):
            return


def _with_dials(row: NumberState, dials: list[dict[str, Any]]) -> NumberState:
    row.dials = dials
    return row
