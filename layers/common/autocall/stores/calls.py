"""Data access for the calls table. Every write that can race says in its name what it guards."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from autocall.clock import now
from autocall.models.enums import CallStatus
from autocall.stores.tables import CallRow
from botocore.exceptions import ClientError
from pynamodb.exceptions import PutError, UpdateError


def iso(moment: datetime) -> str:
    """The sortable UTC form stored in ``scheduled_time``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _conditional_failed(exc: PutError | UpdateError) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


def insert_call(row: CallRow) -> bool:
    """Write a new call; False when a call with this id already exists (deterministic ids dedupe)."""
    moment = now()
    row.created_at = row.created_at or moment
    row.updated_at = moment
    row.status_rank = CallStatus(row.status).rank
    try:
        row.save(condition=CallRow.call_id.does_not_exist())
    except PutError as exc:
        if _conditional_failed(exc):
            return False
        raise
    return True


def get_call(call_id: str) -> CallRow | None:
    try:
        return CallRow.get(call_id, consistent_read=True)
    except CallRow.DoesNotExist:
        return None


# --- the conversation's hot path -------------------------------------------------------------------
# A turn is on the caller's clock: its read and its write go through pynamodb's own botocore client
# (same endpoint, credentials, retries and timeouts) without the model layer's per-request work.
# The read is projected to what a turn uses; the write returns nothing (pynamodb's update asks for
# the whole item back and parses it again).

TURN_ATTRIBUTES = ("call_id", "contact_id", "purpose", "context", "status", "status_rank", "turns", "memory",
                   "outcome", "twilio_sid", "version")  # fmt: skip
_TURN_NAMES = {f"#a{index}": name for index, name in enumerate(TURN_ATTRIBUTES)}
_TURN_PROJECTION = ", ".join(_TURN_NAMES)


def _client() -> Any:
    return CallRow._get_connection().connection.client


def get_call_for_turn(call_id: str) -> CallRow | None:
    """The call as a conversation turn reads it (strongly consistent): only ``TURN_ATTRIBUTES``
    are set, so the row is for reading and for ``save_turn``, not for ``update_call``."""
    response = _client().get_item(
        TableName=CallRow.Meta.table_name,
        Key={"call_id": {"S": call_id}},
        ConsistentRead=True,
        ProjectionExpression=_TURN_PROJECTION,
        ExpressionAttributeNames=_TURN_NAMES,
    )
    item = response.get("Item")
    return CallRow.from_raw_data(item) if item else None


def save_turn(row: CallRow, turns: list[dict[str, Any]], memory: dict[str, Any], outcome: str | None) -> bool:
    """Write a conversation's turns and memory (and outcome) if the call has not ended and nobody
    wrote it since ``row`` was read (its version, as pynamodb's version check); False otherwise."""
    moment = now()
    names = {"#turns": "turns", "#memory": "memory", "#updated_at": "updated_at", "#version": "version",
             "#status_rank": "status_rank"}  # fmt: skip
    values: dict[str, Any] = {
        ":turns": {"S": CallRow.turns.serialize(turns)},
        ":memory": {"S": CallRow.memory.serialize(memory)},
        ":updated_at": {"S": CallRow.updated_at.serialize(moment)},
        ":ended": {"N": str(CallStatus.COMPLETED.rank)},
        ":next": {"N": str(int(row.version or 0) + 1)},
    }
    update = "SET #turns = :turns, #memory = :memory, #updated_at = :updated_at, #version = :next"
    if outcome:
        names["#outcome"] = "outcome"
        values[":outcome"] = {"S": outcome}
        update += ", #outcome = :outcome"
    if row.version is None:
        condition = "#status_rank < :ended AND attribute_not_exists(#version)"
    else:
        condition = "#status_rank < :ended AND #version = :version"
        values[":version"] = {"N": str(int(row.version))}
    try:
        _client().update_item(
            TableName=CallRow.Meta.table_name,
            Key={"call_id": {"S": row.call_id}},
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    row.turns, row.memory, row.updated_at, row.version = turns, memory, moment, int(row.version or 0) + 1
    if outcome:
        row.outcome = outcome
    return True


def record_ignored_webhook(call_id: str, kind: str, reason: str) -> None:
    """Count a Twilio webhook refused for belonging to no current attempt, and keep the last one.

    One atomic ADD, outside the row's version on purpose: a flood of replayed webhooks must neither
    change the call's state nor make its real writes (a turn, a status) lose their version checks.
    Bounded: a counter and one entry, however many arrive. Nothing is written for an unknown call."""
    last = CallRow.last_ignored_webhook.serialize({"webhook": kind, "reason": reason, "at": iso(now())})
    names = {"#count": "ignored_webhooks", "#last": "last_ignored_webhook", "#id": "call_id"}
    try:
        _client().update_item(
            TableName=CallRow.Meta.table_name,
            Key={"call_id": {"S": call_id}},
            UpdateExpression="ADD #count :one SET #last = :last",
            ConditionExpression="attribute_exists(#id)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":one": {"N": "1"}, ":last": {"S": last}},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise


CLAIMABLE = (CallStatus.DIALING.value, CallStatus.QUEUED.value, CallStatus.RINGING.value)


def claim_sid(row: CallRow, sid: str) -> bool:
    """Record ``sid`` as the current attempt's Twilio call when a webhook of it beats the dialer's
    own save: only while the attempt is being placed and no SID is stored yet."""
    history = list(row.attempt_history or [])
    if history:
        history[-1] = {**history[-1], "twilio_sid": history[-1].get("twilio_sid") or sid}
    return update_call(
        row,
        [CallRow.twilio_sid.set(sid), CallRow.attempt_history.set(history)],
        condition=CallRow.twilio_sid.does_not_exist() & CallRow.status.is_in(*CLAIMABLE),
    )


def return_to_schedule(row: CallRow, at: datetime, schedule_name: str | None, reason: str) -> bool:
    """A call whose attempt had already ended but which is marked live without a Twilio call goes
    back to waiting for its next attempt (the repair of a lost line, see dialer.repair_lost_line)."""
    return update_call(
        row,
        [*_scheduled_at(at, schedule_name), _with_reason(row, reason)],
        condition=(CallRow.status == row.status) & CallRow.twilio_sid.does_not_exist(),
    )


def calls_for_contact(contact_id: str, limit: int = 10) -> list[CallRow]:
    return list(CallRow.by_contact.query(contact_id, scan_index_forward=False, limit=limit))


def calls_for_campaign(campaign_id: str) -> Iterator[CallRow]:
    return CallRow.by_campaign.query(campaign_id)


def update_call(row: CallRow, actions: list[Any], condition: Any = None) -> bool:
    """Apply ``actions`` if ``condition`` and the row's version still hold; False if they do not."""
    actions = [*actions, CallRow.updated_at.set(now())]
    try:
        row.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if _conditional_failed(exc):
            return False
        raise
    return True


def move_status(
    row: CallRow, status: CallStatus, extra: list[Any] | Callable[[CallRow], list[Any]] | None = None
) -> bool:
    """Move a call forward to ``status``; never backwards, never out of a terminal status.

    ``extra`` may be a function of the row: when another write wins the version race, the extra
    actions are computed again from the fresh row instead of overwriting what that write did."""
    condition = CallRow.status_rank < status.rank
    for _ in range(5):
        more = extra(row) if callable(extra) else (extra or [])
        actions = [CallRow.status.set(status.value), CallRow.status_rank.set(status.rank), *more]
        if update_call(row, actions, condition):
            return True
        fresh = get_call(row.call_id)
        if fresh is None or fresh.status_rank >= status.rank:
            return False
        row = fresh
    return False


def mark_dialing(row: CallRow, checked: dict[str, Any] | None = None) -> bool:
    """scheduled → dialing, exactly once per attempt: the guard against a double dial. ``checked``
    (the zones the window was checked in, the number's dial counts) goes on the attempt's entry."""
    moment = now()
    attempt = {"attempt": int(row.attempts) + 1, "started_at": iso(moment), "result": None, **(checked or {})}
    return update_call(
        row,
        [
            CallRow.status.set(CallStatus.DIALING.value),
            CallRow.status_rank.set(CallStatus.DIALING.rank),
            CallRow.attempts.add(1),
            CallRow.dial_started_at.set(moment),
            CallRow.twilio_sid.remove(),
            CallRow.attempt_history.set([*(row.attempt_history or []), attempt]),
        ],
        condition=CallRow.status == CallStatus.SCHEDULED.value,
    )


def reschedule(
    row: CallRow, at: datetime, reason: str, schedule_name: str | None, detail: dict[str, Any] | None = None
) -> bool:
    """Back to scheduled at ``at`` with the reason (and ``detail``: what was checked) recorded (a
    guard failed or a retry is due)."""
    return update_call(
        row,
        [*_scheduled_at(at, schedule_name), _with_reason(row, reason, detail)],
        condition=CallRow.status_rank < CallStatus.COMPLETED.rank,
    )


def end_call(
    row: CallRow,
    status: CallStatus,
    reason: str,
    outcome: str | None = None,
    detail: dict[str, Any] | None = None,
) -> bool:
    """Close a call that will not be dialed (or not again), with the reason users will read (and
    ``detail``: what was checked)."""

    def extra(fresh: CallRow) -> list[Any]:
        entry = {"at": iso(now()), "reason": reason, **(detail or {})}
        actions = [CallRow.reasons.set([*(fresh.reasons or []), entry])]
        if outcome:
            actions.append(CallRow.outcome.set(outcome))
        return actions

    return move_status(row, status, extra)


def reopen_for_retry(row: CallRow, at: datetime, reason: str, schedule_name: str | None) -> bool:
    """A finished attempt (no answer, busy, voicemail, failed) becomes the next scheduled attempt.

    Guarded by the status and attempt count read: two retries of the same attempt reopen it once."""
    return update_call(
        row,
        [*_scheduled_at(at, schedule_name), CallRow.twilio_sid.remove(), _with_reason(row, reason)],
        condition=(CallRow.status == row.status) & (CallRow.attempts == row.attempts),
    )


def get_calls(call_ids: list[str], attributes: list[str] | None = None) -> dict[str, CallRow]:
    """The calls among ``call_ids`` that exist (BatchGetItem, strongly consistent; only
    ``attributes`` when given)."""
    found = CallRow.batch_get(call_ids, consistent_read=True, attributes_to_get=attributes)
    return {row.call_id: row for row in found}


def insert_new_calls(rows: list[CallRow]) -> None:
    """Write calls known not to exist yet (``get_calls`` said so) with BatchWriteItem.

    A batch write has no condition: the caller must own the ids (a campaign fan-out page, claimed
    on the campaign row), or an existing call could be overwritten."""
    moment = now()
    with CallRow.batch_write() as batch:
        for row in rows:
            row.created_at = row.created_at or moment
            row.updated_at = moment
            row.status_rank = CallStatus(row.status).rank
            row.version = 1
            batch.save(row)


def _scheduled_at(at: datetime, schedule_name: str | None) -> list[Any]:
    """The actions that make a call ``scheduled`` at ``at`` under ``schedule_name`` (none: no schedule)."""
    return [
        CallRow.status.set(CallStatus.SCHEDULED.value),
        CallRow.status_rank.set(CallStatus.SCHEDULED.rank),
        CallRow.scheduled_time.set(iso(at)),
        CallRow.schedule_name.set(schedule_name) if schedule_name else CallRow.schedule_name.remove(),
    ]


def _with_reason(row: CallRow, reason: str, detail: dict[str, Any] | None = None) -> Any:
    return CallRow.reasons.set([*(row.reasons or []), {"at": iso(now()), "reason": reason, **(detail or {})}])


def hold_scheduled(row: CallRow, reason: str) -> bool:
    """A scheduled call stays scheduled but loses its schedule (its campaign is paused)."""
    return update_call(
        row,
        [CallRow.schedule_name.remove(), _with_reason(row, reason)],
        condition=CallRow.status == CallStatus.SCHEDULED.value,
    )


def rearm_scheduled(row: CallRow, at: datetime, schedule_name: str | None, reason: str) -> bool:
    """A held call gets its due time (and schedule name) back; only while it is still scheduled."""
    return update_call(
        row,
        [
            CallRow.scheduled_time.set(iso(at)),
            CallRow.schedule_name.set(schedule_name) if schedule_name else CallRow.schedule_name.remove(),
            _with_reason(row, reason),
        ],
        condition=CallRow.status == CallStatus.SCHEDULED.value,
    )


def cancel_scheduled(row: CallRow, reason: str) -> bool:
    """scheduled → canceled; a call already dialing or done is left alone."""
    return update_call(
        row,
        [
            CallRow.status.set(CallStatus.CANCELED.value),
            CallRow.status_rank.set(CallStatus.CANCELED.rank),
            CallRow.outcome.set("canceled"),
            _with_reason(row, reason),
        ],
        condition=CallRow.status == CallStatus.SCHEDULED.value,
    )
