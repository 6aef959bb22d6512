"""The calls table: the only code that reads or writes a call's row.

Every write returns the fresh ``Call`` it wrote, or None when its guard did not hold (the call's
version as read, and what the operation's name says), so a caller never reads the call again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from autocall.clock import now
from autocall.models.enums import CallStatus
from autocall.models.records import Call
from autocall.stores._records import record_of, row_of
from autocall.stores.tables import CallRow
from botocore.exceptions import ClientError
from pynamodb.exceptions import PutError, UpdateError

Changes = dict[str, Any]  # Call field → new value (None: removed)


def iso(moment: datetime) -> str:
    """The sortable UTC form stored in ``scheduled_time``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _conditional_failed(exc: PutError | UpdateError) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


def _call(row: CallRow) -> Call:
    return record_of(row, Call)


# --- reading -------------------------------------------------------------------------------------


def get_call(call_id: str) -> Call | None:
    try:
        return _call(CallRow.get(call_id, consistent_read=True))
    except CallRow.DoesNotExist:
        return None


def calls_for_contact(contact_id: str, limit: int = 10) -> list[Call]:
    """The contact's latest calls, newest due time first."""
    return [_call(row) for row in CallRow.by_contact.query(contact_id, scan_index_forward=False, limit=limit)]


def calls_for_campaign(campaign_id: str) -> Iterator[Call]:
    return (_call(row) for row in CallRow.by_campaign.query(campaign_id))


def get_calls(call_ids: list[str], attributes: list[str] | None = None) -> dict[str, Call]:
    """The calls among ``call_ids`` that exist (BatchGetItem, strongly consistent; only
    ``attributes`` when given: the others read as their defaults)."""
    found = CallRow.batch_get(call_ids, consistent_read=True, attributes_to_get=attributes)
    return {row.call_id: _call(row) for row in found}


def scheduled_calls_page(campaign_id: str, cursor: Any, limit: int) -> tuple[list[Call], Any]:
    """Up to ``limit`` scheduled calls of the campaign in due-time order, after ``cursor`` (the
    by-campaign index's LastEvaluatedKey); the cursor of the next page, None after the last."""
    found = CallRow.by_campaign.query(
        campaign_id,
        filter_condition=CallRow.status == CallStatus.SCHEDULED.value,
        limit=limit,
        last_evaluated_key=cursor or None,
    )
    calls = [_call(row) for row in found]
    return calls, found.last_evaluated_key


# --- creating ------------------------------------------------------------------------------------


def new_call(call: Call) -> Call | None:
    """Write a new call; None when a call with this id already exists (deterministic ids dedupe)."""
    row = _new_row(call)
    try:
        row.save(condition=CallRow.call_id.does_not_exist())
    except PutError as exc:
        if _conditional_failed(exc):
            return None
        raise
    return _call(row)


def new_calls(calls: list[Call]) -> list[Call]:
    """Write calls known not to exist yet (``get_calls`` said so) with BatchWriteItem.

    A batch write has no condition: the caller must own the ids (a campaign fan-out page, claimed
    on the campaign row), or an existing call could be overwritten."""
    rows = [_new_row(call) for call in calls]
    moment = now()
    with CallRow.batch_write() as batch:
        for row in rows:
            row.updated_at = moment
            row.version = 1
            batch.save(row)
    return [_call(row) for row in rows]


def _new_row(call: Call) -> CallRow:
    row = row_of(replace(call, version=None), CallRow)
    row.created_at = call.created_at or now()
    row.updated_at = now()
    row.status_rank = CallStatus(call.status).rank
    return row


# --- the conversation's hot path -------------------------------------------------------------------
# A turn is on the caller's clock: its read and its write go through pynamodb's own botocore client
# (same endpoint, credentials, retries and timeouts) without the model layer's per-request work.
# The read is projected to what a turn uses; the write returns nothing (pynamodb's update asks for
# the whole item back and parses it again).

TURN_ATTRIBUTES = ("call_id", "contact_id", "purpose", "context", "status", "status_rank", "turns", "memory",
                   "outcome", "twilio_sid", "version", "voice_mode", "relay_turn", "relay_interrupted",
                   "relay_heard")  # fmt: skip
_TURN_NAMES = {f"#a{index}": name for index, name in enumerate(TURN_ATTRIBUTES)}
_TURN_PROJECTION = ", ".join(_TURN_NAMES)
_TURN_FIELDS = tuple((name, CallRow.get_attributes()[name]) for name in TURN_ATTRIBUTES)


def _client() -> Any:
    return CallRow._get_connection().connection.client


def get_call_for_turn(call_id: str) -> Call | None:
    """The call as a conversation turn reads it (strongly consistent): only ``TURN_ATTRIBUTES``
    are read (the others are the record's defaults), so it is for reading and for ``save_turn``."""
    response = _client().get_item(
        TableName=CallRow.Meta.table_name,
        Key={"call_id": {"S": call_id}},
        ConsistentRead=True,
        ProjectionExpression=_TURN_PROJECTION,
        ExpressionAttributeNames=_TURN_NAMES,
    )
    item = response.get("Item")
    if not item:
        return None
    values = {}
    for name, attribute in _TURN_FIELDS:  # the attributes' own deserializers, without a model instance
        raw = item.get(name)
        if raw and "NULL" not in raw:
            values[name] = attribute.deserialize(attribute.get_value(raw))
    return Call(**values)


def save_turn(
    call: Call, turns: list[dict[str, Any]], memory: dict[str, Any], outcome: str | None
) -> Call | None:
    """Write a conversation's turns and memory (and outcome) if the call has not ended and nobody
    wrote it since ``call`` was read (its version, as pynamodb's version check); None otherwise."""
    moment = now()
    names = {"#turns": "turns", "#memory": "memory", "#updated_at": "updated_at", "#version": "version",
             "#status_rank": "status_rank"}  # fmt: skip
    values: dict[str, Any] = {
        ":turns": {"S": CallRow.turns.serialize(turns)},
        ":memory": {"S": CallRow.memory.serialize(memory)},
        ":updated_at": {"S": CallRow.updated_at.serialize(moment)},
        ":ended": {"N": str(CallStatus.COMPLETED.rank)},
        ":next": {"N": str(int(call.version or 0) + 1)},
    }
    update = "SET #turns = :turns, #memory = :memory, #updated_at = :updated_at, #version = :next"
    if outcome:
        names["#outcome"] = "outcome"
        values[":outcome"] = {"S": outcome}
        update += ", #outcome = :outcome"
    if call.version is None:
        condition = "#status_rank < :ended AND attribute_not_exists(#version)"
    else:
        condition = "#status_rank < :ended AND #version = :version"
        values[":version"] = {"N": str(int(call.version))}
    if _update_if(call.call_id, update, condition, names, values) is None:
        return None
    return replace(
        call,
        turns=turns,
        memory=memory,
        updated_at=moment,
        version=int(call.version or 0) + 1,
        outcome=outcome or call.outcome,
    )


def record_ignored_webhook(call_id: str, kind: str, reason: str) -> None:
    """Count a Twilio webhook refused for belonging to no current attempt, and keep the last one.

    One atomic ADD, outside the row's version on purpose: a flood of replayed webhooks must neither
    change the call's state nor make its real writes (a turn, a status) lose their version checks.
    Bounded: a counter and one entry, however many arrive. Nothing is written for an unknown call."""
    last = CallRow.last_ignored_webhook.serialize({"webhook": kind, "reason": reason, "at": iso(now())})
    names = {"#count": "ignored_webhooks", "#last": "last_ignored_webhook", "#id": "call_id"}
    values = {":one": {"N": "1"}, ":last": {"S": last}}
    _update_if(call_id, "ADD #count :one SET #last = :last", "attribute_exists(#id)", names, values)


def _update_if(
    call_id: str,
    update: str,
    condition: str,
    names: dict[str, str],
    values: dict[str, Any],
    returns: bool = False,
) -> dict[str, Any] | None:
    """One raw conditional UpdateItem on a call: the attributes it set (``returns``; else an empty
    dict, so a turn's save does not read its own turns back), or None when the condition did not
    hold (any other error is raised)."""
    try:
        response = _client().update_item(
            TableName=CallRow.Meta.table_name,
            Key={"call_id": {"S": call_id}},
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="UPDATED_NEW" if returns else "NONE",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return None
        raise
    return dict(response.get("Attributes") or {})


# --- writing: every operation below checks the version read, and what its name says --------------


def _update(call: Call, actions: list[Any], condition: Any = None) -> Call | None:
    """Apply ``actions`` if ``condition`` and the call's version still hold: the fresh call; None if not."""
    row = CallRow(call_id=call.call_id)
    if call.version is not None:
        row.version = call.version
    try:
        row.update(actions=[*actions, CallRow.updated_at.set(now())], condition=condition)
    except UpdateError as exc:
        if _conditional_failed(exc):
            return None
        raise
    return _call(row)


def _set(changes: Changes) -> list[Any]:
    """The update actions that give the call's fields these values (None removes a field)."""
    attributes = CallRow.get_attributes()
    return [
        attributes[name].remove() if value is None else attributes[name].set(value)
        for name, value in changes.items()
    ]


def reasons_with(call: Call, reason: str, detail: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The call's reasons with one more, stamped now (and ``detail``): the one way a reason is added."""
    return [*(call.reasons or []), {"at": iso(now()), "reason": reason, **(detail or {})}]


def _reason(call: Call, reason: str, detail: dict[str, Any] | None = None) -> Any:
    return CallRow.reasons.set(reasons_with(call, reason, detail))


def save_fields(call: Call, changes: Changes) -> Call | None:
    """Give the call's fields these values (None removes one) if nobody wrote it since it was read."""
    return _update(call, _set(changes))


def add_reason(call: Call, reason: str, detail: dict[str, Any] | None = None) -> Call | None:
    """Append a reason users will read (and ``detail``) if nobody wrote the call since it was read."""
    return _update(call, [_reason(call, reason, detail)])


CLAIMABLE = (CallStatus.DIALING.value, CallStatus.QUEUED.value, CallStatus.RINGING.value)


def claim_sid(call: Call, sid: str) -> Call | None:
    """Record ``sid`` as the current attempt's Twilio call when a webhook of it beats the dialer's
    own save: only while the attempt is being placed and no SID is stored yet."""
    history = list(call.attempt_history or [])
    if history:
        history[-1] = {**history[-1], "twilio_sid": history[-1].get("twilio_sid") or sid}
    return _update(
        call,
        [CallRow.twilio_sid.set(sid), CallRow.attempt_history.set(history)],
        condition=CallRow.twilio_sid.does_not_exist() & CallRow.status.is_in(*CLAIMABLE),
    )


def record_sid_if_unset(call: Call, sid: str) -> Call | None:
    """The dialer's save of the Twilio call it placed, unless a status callback saved one first."""
    history = list(call.attempt_history or [])
    if history:
        history[-1] = {**history[-1], "twilio_sid": sid}
    return _update(
        call,
        [CallRow.twilio_sid.set(sid), CallRow.attempt_history.set(history)],
        condition=CallRow.twilio_sid.does_not_exist(),
    )


def apply_status(
    call: Call, status: CallStatus, changes: Changes | Callable[[Call], Changes] | None = None
) -> Call | None:
    """Move a call forward to ``status`` (with ``changes``); never backwards, never out of a
    terminal status. None when the call is already there or beyond.

    ``changes`` may be a function of the call: when another write wins the version race, they are
    computed again from the fresh call instead of overwriting what that write did."""
    condition = CallRow.status_rank < status.rank
    for _ in range(5):
        more = changes(call) if callable(changes) else (changes or {})
        actions = [CallRow.status.set(status.value), CallRow.status_rank.set(status.rank), *_set(more)]
        moved = _update(call, actions, condition)
        if moved is not None:
            return moved
        fresh = get_call(call.call_id)
        if fresh is None or fresh.status_rank >= status.rank:
            return None
        call = fresh
    return None


def start_conversation(
    call: Call, call_sid: str, turns: list[dict[str, Any]], memory: dict[str, Any]
) -> Call | None:
    """The greeting: in progress with its first turn, while the call is not past in progress and
    ``call_sid`` is the Twilio call stored for its attempt."""
    return _update(
        call,
        [
            CallRow.turns.set(turns),
            CallRow.memory.set(memory),
            CallRow.status.set(CallStatus.IN_PROGRESS.value),
            CallRow.status_rank.set(CallStatus.IN_PROGRESS.rank),
        ],
        condition=(CallRow.status_rank <= CallStatus.IN_PROGRESS.rank) & (CallRow.twilio_sid == call_sid),
    )


def record_answered_by_while_live(call: Call, changes: Changes) -> Call | None:
    """Who answered (and the voicemail played), while the call has not ended and its Twilio call
    is still the one read."""
    live = (CallRow.status_rank < CallStatus.COMPLETED.rank) & (CallRow.twilio_sid == call.twilio_sid)
    return _update(call, _set(changes), condition=live)


def mark_dialing(call: Call, checked: dict[str, Any] | None = None) -> Call | None:
    """scheduled → dialing, exactly once per attempt: the guard against a double dial. ``checked``
    (the zones the window was checked in, the number's dial counts) goes on the attempt's entry."""
    moment = now()
    attempt = {
        "attempt": int(call.attempts) + 1,
        "started_at": iso(moment),
        "result": None,
        **(checked or {}),
    }
    return _update(
        call,
        [
            CallRow.status.set(CallStatus.DIALING.value),
            CallRow.status_rank.set(CallStatus.DIALING.rank),
            CallRow.attempts.add(1),
            CallRow.dial_started_at.set(moment),
            CallRow.twilio_sid.remove(),
            CallRow.attempt_history.set([*(call.attempt_history or []), attempt]),
        ],
        condition=CallRow.status == CallStatus.SCHEDULED.value,
    )


def clear_last_attempt_while_dialing(call: Call, history: list[dict[str, Any]]) -> Call | None:
    """A retry's fresh line: the last attempt's conversation off the call (``history`` keeps it),
    while the call is dialing."""
    return _update(
        call,
        [
            CallRow.turns.set([]),
            CallRow.memory.set({}),
            CallRow.outcome.remove(),
            CallRow.answered_by.remove(),
            CallRow.duration_s.remove(),
            CallRow.attempt_history.set(history),
        ],
        condition=CallRow.status == CallStatus.DIALING.value,
    )


def release_unplaced(
    call: Call, at: datetime, schedule_name: str, reason: str, history: list[dict[str, Any]]
) -> Call | None:
    """dialing → scheduled at ``at``, the attempt not counted, while Twilio has no call for it
    (dialing and no SID stored)."""
    return _update(
        call,
        [
            *_scheduled_at(at, schedule_name),
            CallRow.attempts.add(-1),
            CallRow.attempt_history.set(history),
            _reason(call, reason),
        ],
        condition=(CallRow.status == CallStatus.DIALING.value) & CallRow.twilio_sid.does_not_exist(),
    )


def return_to_schedule(call: Call, at: datetime, schedule_name: str | None, reason: str) -> Call | None:
    """A call whose attempt had already ended but which is marked live without a Twilio call goes
    back to waiting for its next attempt (the repair of a lost line, see dialer.repair_lost_line):
    while its status is the one read and no SID is stored."""
    return _update(
        call,
        [*_scheduled_at(at, schedule_name), _reason(call, reason)],
        condition=(CallRow.status == call.status) & CallRow.twilio_sid.does_not_exist(),
    )


def reschedule(
    call: Call, at: datetime, reason: str, schedule_name: str | None, detail: dict[str, Any] | None = None
) -> Call | None:
    """Back to scheduled at ``at`` with the reason (and ``detail``: what was checked) recorded (a
    guard failed or a retry is due), while the call has not ended."""
    return _update(
        call,
        [*_scheduled_at(at, schedule_name), _reason(call, reason, detail)],
        condition=CallRow.status_rank < CallStatus.COMPLETED.rank,
    )


def end_call(
    call: Call,
    status: CallStatus,
    reason: str,
    outcome: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Call | None:
    """Close a call that will not be dialed (or not again), with the reason users will read (and
    ``detail``: what was checked)."""

    def changes(fresh: Call) -> Changes:
        return {"reasons": reasons_with(fresh, reason, detail), **({"outcome": outcome} if outcome else {})}

    return apply_status(call, status, changes)


def reopen_for_retry(call: Call, at: datetime, reason: str, schedule_name: str | None) -> Call | None:
    """A finished attempt (no answer, busy, voicemail, failed) becomes the next scheduled attempt.

    Guarded by the status and attempt count read: two retries of the same attempt reopen it once."""
    return _update(
        call,
        [*_scheduled_at(at, schedule_name), CallRow.twilio_sid.remove(), _reason(call, reason)],
        condition=(CallRow.status == call.status) & (CallRow.attempts == call.attempts),
    )


def set_schedule_name(call: Call, schedule_name: str) -> Call | None:
    """The one-time schedule that fires the dialer for the call."""
    return _update(call, [CallRow.schedule_name.set(schedule_name)])


def _scheduled_at(at: datetime, schedule_name: str | None) -> list[Any]:
    """The actions that make a call ``scheduled`` at ``at`` under ``schedule_name`` (none: no schedule)."""
    return [
        CallRow.status.set(CallStatus.SCHEDULED.value),
        CallRow.status_rank.set(CallStatus.SCHEDULED.rank),
        CallRow.scheduled_time.set(iso(at)),
        CallRow.schedule_name.set(schedule_name) if schedule_name else CallRow.schedule_name.remove(),
    ]


def hold_scheduled(call: Call, reason: str) -> Call | None:
    """A scheduled call stays scheduled but loses its schedule (its campaign is paused); only while
    it is still scheduled."""
    return _update(
        call,
        [CallRow.schedule_name.remove(), _reason(call, reason)],
        condition=CallRow.status == CallStatus.SCHEDULED.value,
    )


def rearm_scheduled(call: Call, at: datetime, schedule_name: str | None, reason: str) -> Call | None:
    """A held call gets its due time (and schedule name) back; only while it is still scheduled."""
    return _update(
        call,
        [
            CallRow.scheduled_time.set(iso(at)),
            CallRow.schedule_name.set(schedule_name) if schedule_name else CallRow.schedule_name.remove(),
            _reason(call, reason),
        ],
        condition=CallRow.status == CallStatus.SCHEDULED.value,
    )


def cancel(call: Call, reason: str) -> Call | None:
    """scheduled → canceled with the reason; a call already dialing or done is left alone (None)."""
    return _update(
        call,
        [
            CallRow.status.set(CallStatus.CANCELED.value),
            CallRow.status_rank.set(CallStatus.CANCELED.rank),
            CallRow.outcome.set("canceled"),
            _reason(call, reason),
        ],
        condition=CallRow.status == CallStatus.SCHEDULED.value,
    )


# --- realtime voice mode: the turn version, outside the row's version ------------------------------
# A realtime reply streams while other frames of the same call arrive (an interrupt, a new prompt):
# these writes are single atomic updates that do not touch ``version``, so they never make a turn's
# save (``save_turn``) lose its version check, and the streaming loop reads them cheaply.


def _ended_rank() -> dict[str, Any]:
    return {"N": str(CallStatus.COMPLETED.rank)}


def bind_relay_connection(call_id: str, connection_id: str) -> bool:
    """The connection now carrying the live call (a reconnect replaces it); False for a call that
    does not exist or has ended."""
    names = {"#conn": "relay_connection", "#id": "call_id", "#rank": "status_rank"}
    values = {":conn": {"S": connection_id}, ":ended": _ended_rank()}
    condition = "attribute_exists(#id) AND #rank < :ended"
    return _update_if(call_id, "SET #conn = :conn", condition, names, values) is not None


def start_relay_turn(call_id: str, message_id: str, at_ms: int) -> int | None:
    """Bump the call's turn version for a final prompt (message ``message_id``, arrived ``at_ms``):
    the new version, or None when the prompt changes nothing — the same frame again, a prompt older
    than the turn already running, or a call that has ended."""
    names = {"#turn": "relay_turn", "#at": "relay_turn_at", "#seen": "relay_seen", "#rank": "status_rank",
             "#id": "call_id"}  # fmt: skip
    values = {":one": {"N": "1"}, ":at": {"N": str(int(at_ms))}, ":id": {"S": message_id},
              ":ids": {"SS": [message_id]}, ":ended": _ended_rank()}  # fmt: skip
    condition = (
        "attribute_exists(#id) AND #rank < :ended AND NOT contains(#seen, :id)"
        " AND (attribute_not_exists(#at) OR #at <= :at)"
    )
    updated = _update_if(
        call_id, "ADD #turn :one, #seen :ids SET #at = :at", condition, names, values, returns=True
    )
    return None if updated is None else int(updated["relay_turn"]["N"])


def interrupt_relay_turn(call_id: str, at_ms: int, heard: str) -> int | None:
    """The callee talked over the reply of the current turn (the interrupt arrived ``at_ms``, after
    that turn's prompt): mark it interrupted with what they heard. The interrupted turn's version, or
    None when this changes nothing (no turn, an interrupt older than the turn, the turn already
    marked)."""
    names = {"#turn": "relay_turn", "#at": "relay_turn_at", "#int": "relay_interrupted",
             "#heard": "relay_heard"}  # fmt: skip
    values = {":at": {"N": str(int(at_ms))}, ":heard": {"S": heard}}
    condition = "attribute_exists(#turn) AND #at <= :at AND (attribute_not_exists(#int) OR #int < #turn)"
    updated = _update_if(call_id, "SET #int = #turn, #heard = :heard", condition, names, values, returns=True)
    return None if updated is None else int(updated["relay_interrupted"]["N"])


_RELAY_STATE = {"#turn": "relay_turn", "#int": "relay_interrupted", "#heard": "relay_heard"}


def relay_turn_state(call_id: str) -> tuple[int, int, str]:
    """The call's current turn version, the last interrupted one (0: none) and what the callee heard
    of it: one strongly consistent read of three attributes (what a streaming reply checks)."""
    response = _client().get_item(
        TableName=CallRow.Meta.table_name,
        Key={"call_id": {"S": call_id}},
        ConsistentRead=True,
        ProjectionExpression="#turn, #int, #heard",
        ExpressionAttributeNames=_RELAY_STATE,
    )
    item = response.get("Item") or {}
    turn = int(item.get("relay_turn", {}).get("N", 0))
    interrupted = int(item.get("relay_interrupted", {}).get("N", 0))
    return turn, interrupted, str(item.get("relay_heard", {}).get("S", ""))
