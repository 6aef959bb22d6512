"""One call's conversation, turn by turn, for the Twilio webhooks and the realtime session.

State lives on the call record between turns; each turn is saved with a version check, and a
repeated delivery of a turn returns the prompt stored for it. The brain decides what to say; this
module decides the prompt's steps (say, listen, hang up, transfer: ``prompts``), makes sure
something is always said (no dead air) and that nothing the brain or the callee says becomes more
than text. The webhook renders the steps for the carrier.

Both voice modes run the same turn (``think``): in Gather mode the reply is answered whole, as
TwiML; in realtime mode (``domain.realtime``) the same turn hands each piece of the reply to a
``Speak`` callback as the brain produces it, and saves the turn with what the callee heard."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autocall.clock import now
from autocall.config import get_settings
from autocall.domain import consent, prompts
from autocall.domain.brain.contract import (
    AgentAction,
    CallContext,
    Decision,
    Speaker,
    TurnAnalysis,
    Utterance,
)
from autocall.domain.contacts import callee_time_zone
from autocall.models.enums import AgentActionKind, CallPurpose, CallStatus, Outcome
from autocall.models.prompts import Prompt, from_data, to_data
from autocall.models.records import Call, Contact
from autocall.observability import count, logger
from autocall.stores import calls as repo
from autocall.stores.contacts import get_contact

MAX_SILENCES = 2
SAVE_TRIES = 5  # a turn's save loses the version race to a status or AMD callback: read, save again
MAX_TURNS = 30
BRIDGE_LINE = "Sorry, one moment."


@dataclass(frozen=True)
class Reply:
    """What the webhook answers: the prompt (always) and whether it changed anything."""

    prompt: Prompt
    replayed: bool = False


def _brain() -> Any:
    from autocall.domain.brain.factory import get_brain

    return get_brain()


def _fallback_brain() -> Any:
    from autocall.domain.brain.engine import PlaybookBrain

    return PlaybookBrain()


def _disclosure(ctx: CallContext) -> str:
    from autocall.domain.brain.lines import disclosure_greeting

    return str(disclosure_greeting(ctx))


def build_context(call: Call, contact: Contact) -> CallContext:
    settings = get_settings()
    transcript: list[Utterance] = []
    for turn in call.turns or []:
        if turn.get("utterance"):
            transcript.append(Utterance(Speaker.CALLEE, turn["utterance"]))
        if turn.get("reply"):
            transcript.append(Utterance(Speaker.AGENT, turn["reply"]))
    memory = call.memory or {}
    return CallContext(
        call_id=call.call_id,
        purpose=CallPurpose(call.purpose),
        contact_name=contact.name,
        company=contact.company,
        time_zone=callee_time_zone(contact),
        now=now(),
        agent_name=settings.required("agent_name"),  # never "calling from ." on a missing setting
        business_name=settings.required("business_name"),
        context=dict(call.context or {}),
        previous_interactions=list(contact.ai_interaction_history or [])[-5:],
        transcript=transcript,
        memory=dict(memory.get("brain") or {}),
        transfer_available=bool(settings.transfer_number),
    )


def _turn_record(
    number: int,
    utterance: str | None,
    confidence: float | None,
    reply: str,
    analysis: TurnAnalysis | None,
    brain: str,
    prompt: Prompt,
) -> dict[str, Any]:
    return {
        "turn": number,
        "utterance": utterance,
        "confidence": confidence,
        "reply": reply,
        "sentiment": analysis.sentiment if analysis else None,
        "sentiment_score": analysis.sentiment_score if analysis else None,
        "intents": list(analysis.intents) if analysis else [],
        "keywords": list(analysis.keywords) if analysis else [],
        "objective_progress": analysis.objective_progress if analysis else None,
        "brain": brain,
        "at": repo.iso(now()),
        "prompt": to_data(prompt),
    }


def _stored(turn: dict[str, Any]) -> Prompt:
    """The prompt a turn was answered with, as it was stored."""
    return from_data(turn["prompt"])


stored_prompt = _stored


def _realtime(call: Call) -> bool:
    """The call talks over a realtime session: asked for, and a WebSocket API to talk over (without
    one it is greeted in Gather mode rather than handed to a session that cannot open)."""
    if not call.realtime:
        return False
    if not get_settings().realtime_url:
        logger.warning("realtime call without REALTIME_URL: Gather mode", extra={"call_id": call.call_id})
        return False
    return True


# The callee of each call this process has served, read once per call: the turns of a
# conversation need the contact as it was when the call was answered, and reading it again on
# every turn cost one DynamoDB read (and a round trip) per turn. Bounded, least recently used out.
_CALLEES: OrderedDict[tuple[str, str], Contact] = OrderedDict()
_CALLEES_MAX = 1024
_callees_lock = threading.Lock()


def _callee(call: Call) -> Contact | None:
    key = (call.call_id, call.contact_id)
    with _callees_lock:
        contact = _CALLEES.get(key)
        if contact is not None:
            _CALLEES.move_to_end(key)
            return contact
    contact = get_contact(call.contact_id)
    if contact is not None:
        with _callees_lock:
            _CALLEES[key] = contact
            while len(_CALLEES) > _CALLEES_MAX:
                _CALLEES.popitem(last=False)
    return contact


def _load(call_id: str, for_turn: bool = False) -> tuple[Call, Contact] | None:
    """The call and its callee; ``for_turn`` reads only what a turn needs (see ``repo.save_turn``)."""
    call = repo.get_call_for_turn(call_id) if for_turn else repo.get_call(call_id)
    if call is None:
        return None
    contact = _callee(call)
    if contact is None:
        return None
    return call, contact


# --- which attempt a webhook belongs to ----------------------------------------------------------
# Twilio signs every webhook, but a valid signature only proves Twilio sent it, not when: a replay of
# an earlier attempt's webhook, or a late one, is as validly signed as the current one. So each
# webhook also proves it belongs to the call's current attempt (its CallSid is the SID stored for
# that attempt) before it may change anything; one that does not is answered harmlessly and recorded.

ANSWER, TURN, AMD, STATUS = "answer", "turn", "amd", "status"
_HANG_UP = prompts.say_and_hang_up("")


def _earlier_sids(call: Call) -> set[str]:
    return {str(a["twilio_sid"]) for a in (call.attempt_history or [])[:-1] if a.get("twilio_sid")}


def _refusal(call: Call, call_sid: str) -> str | None:
    """Why a webhook with ``call_sid`` is not the current attempt's, or None when it is (or when it
    is the first webhook of an attempt being placed whose SID the dialer has not saved yet)."""
    if call_sid in _earlier_sids(call):
        return "earlier_attempt"
    if call.twilio_sid:
        return None if call.twilio_sid == call_sid else "unknown_call_sid"
    if call.status == CallStatus.SCHEDULED.value:
        return "no_attempt_on_the_line"  # waiting for its next attempt: nothing of an old one may wake it
    if call.status not in repo.CLAIMABLE:
        return "no_attempt_on_the_line" if not CallStatus(call.status).terminal else "call_ended"
    return None


def _ignore(call_id: str, webhook: str, reason: str) -> None:
    """A webhook refused: nothing about the call changes; the refusal is counted on it and alarmed."""
    count("IgnoredWebhooks", webhook=webhook, reason=reason)
    logger.info("ignored a webhook", extra={"call_id": call_id, "webhook": webhook, "reason": reason})
    repo.record_ignored_webhook(call_id, webhook, reason)


def _admitted(call: Call, call_sid: str, webhook: str) -> Call | None:
    """The call as this webhook may act on it, with the SID claimed when the webhook came before the
    dialer saved it; None (and recorded) when the webhook belongs to no current attempt."""
    for _ in range(SAVE_TRIES):
        reason = _refusal(call, call_sid)
        if reason is not None:
            _ignore(call.call_id, webhook, reason)
            return None
        if call.twilio_sid == call_sid:
            return call
        claimed = repo.claim_sid(call, call_sid)
        if claimed is not None:
            return claimed
        fresh = repo.get_call(call.call_id)  # the dialer (or another callback) saved the SID meanwhile
        if fresh is None:
            return None
        call = fresh
    return None


# --- answer ------------------------------------------------------------------------------------


def answer(call_id: str, call_sid: str) -> Reply:
    """The callee picked up: identify the caller as an automated AI assistant at once, then listen.

    Only the current attempt's Twilio call is greeted: the call goes ``in_progress`` in the same
    conditional write that checks its stored SID, so no call is ever live without one."""
    loaded = _load(call_id)
    if loaded is None:
        return Reply(prompts.say_and_hang_up("Sorry, this call can't continue. Goodbye."))
    found, contact = loaded
    call = _admitted(found, call_sid, ANSWER)
    if call is None:
        return Reply(_HANG_UP, replayed=True)
    if call.turns:
        return Reply(_stored(call.turns[0]), replayed=True)
    if CallStatus(call.status).terminal:
        _ignore(call_id, ANSWER, "call_ended")
        return Reply(_HANG_UP, replayed=True)
    ctx = build_context(call, contact)
    try:
        opening: Decision = _brain().opening(ctx)
    except Exception:
        logger.exception("brain opening failed; playbook takes over", extra={"call_id": call_id})
        opening = _fallback_brain().opening(ctx)
    text = f"{_disclosure(ctx)} {opening.reply}".strip()
    prompt = prompts.converse(text) if _realtime(call) else prompts.listen(text, 1)
    record = _turn_record(0, None, None, text, opening.analysis, opening.brain, prompt)
    for _ in range(SAVE_TRIES):
        memory = {**(call.memory or {}), "brain": opening.memory, "silences": 0, "last_prompt": opening.reply}
        if repo.start_conversation(call, call_sid, [record], memory) is not None:
            return Reply(prompt)
        fresh = repo.get_call(call_id)  # the SID save, a status or an AMD callback wrote meanwhile
        if fresh is None or CallStatus(fresh.status).terminal:
            return Reply(_HANG_UP, replayed=True)
        if fresh.twilio_sid != call_sid:
            _ignore(call_id, ANSWER, _refusal(fresh, call_sid) or "unknown_call_sid")
            return Reply(_HANG_UP, replayed=True)
        if fresh.turns:  # another delivery of the answer won the race
            return Reply(_stored(fresh.turns[0]), replayed=True)
        call = fresh
    raise RuntimeError(f"the greeting of call {call_id} could not be saved")  # the webhook retries


# --- one turn ----------------------------------------------------------------------------------


def take_turn(
    call_id: str, number: int, speech: str | None, confidence: float | None, call_sid: str
) -> Reply:
    started = time.perf_counter()
    loaded = _load(call_id, for_turn=True)
    if loaded is None:
        return Reply(prompts.say_and_hang_up("Sorry, this call can't continue. Goodbye."))
    call, contact = loaded
    if call.twilio_sid != call_sid:  # a turn comes after the answer, which stored the SID
        whole = repo.get_call(call_id)  # the turn's read has no attempt history: why, for the record
        _ignore(call_id, TURN, (_refusal(whole, call_sid) if whole else None) or "unknown_call_sid")
        return Reply(_HANG_UP, replayed=True)
    turns = list(call.turns or [])
    if number < len(turns):
        return Reply(_stored(turns[number]), replayed=True)
    if CallStatus(call.status).terminal or not turns:
        return Reply(_HANG_UP, replayed=True)
    if number > len(turns):  # a turn from the future: answer with the current one again
        return Reply(_stored(turns[-1]), replayed=True)
    reply = _decide(call, contact, number, (speech or "").strip(), confidence)
    count("TurnLatency", (time.perf_counter() - started) * 1000, unit="Milliseconds")
    return reply


def _decide(call: Call, contact: Contact, number: int, speech: str, confidence: float | None) -> Reply:
    if not speech:
        return _silence(call, number, dict(call.memory or {}))
    turn = think(call, contact, number, speech, confidence)
    return _save_turn(call, number, turn.record, turn.memory, turn.outcome)


Speak = Callable[[str], None]  # a piece of the reply, handed over as the brain produces it


@dataclass
class Turn:
    """One turn decided (not saved yet): the record to store, the memory and outcome it leaves, the
    prompt's steps and the whole reply."""

    record: dict[str, Any]
    memory: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None
    prompt: Prompt = ()
    reply: str = ""


def think(
    call: Call,
    contact: Contact,
    number: int,
    speech: str,
    confidence: float | None,
    on_text: Speak | None = None,
) -> Turn:
    """The callee said ``speech``: the brain answers, the guards, the opt-out and the tools act, and
    the turn is decided — the same for both voice modes. With ``on_text`` (realtime) the reply's
    text is handed over piece by piece as the brain produces it, and the prompt's steps do not listen
    (the realtime session does)."""
    memory = dict(call.memory or {})
    ctx = build_context(call, contact)
    decision = _respond(ctx, speech, confidence, on_text)
    actions = _accepted_actions(decision)
    memory["silences"] = 0
    memory["brain"] = decision.memory
    memory["last_prompt"] = decision.reply
    memory["agent_actions"] = [
        *memory.get("agent_actions", []),
        *({"kind": a.kind.value, "params": a.params, "turn": number} for a in actions),
    ]
    kinds = {a.kind for a in actions}
    settings = get_settings()
    if AgentActionKind.OPT_OUT in kinds:
        said = consent.Evidence(consent.ConsentSource.CALL, text=speech[:500], call_id=call.call_id)
        consent.revoke(contact.phone, said, "opted_out_in_call", contact.contact_id)
    if AgentActionKind.TRANSFER in kinds and settings.transfer_number:
        prompt = prompts.say_and_transfer(decision.reply, settings.transfer_number, settings.caller_id)
        outcome: str | None = Outcome.TRANSFERRED.value
    elif decision.end_call or AgentActionKind.END_CALL in kinds or number >= MAX_TURNS:
        prompt = prompts.say_and_hang_up(decision.reply)
        outcome = decision.outcome.value if decision.outcome else call.outcome
    elif on_text is not None:  # realtime: the session listens on by itself
        prompt = prompts.speak(decision.reply)
        outcome = decision.outcome.value if decision.outcome else call.outcome
    else:
        prompt = prompts.listen(decision.reply, number + 1)
        outcome = decision.outcome.value if decision.outcome else call.outcome
    if decision.brain == "llm_fallback":
        count("LlmFallbacks")
    record = _turn_record(
        number, speech, confidence, decision.reply, decision.analysis, decision.brain, prompt
    )
    return Turn(record, memory, outcome, prompt, decision.reply)


def _respond(
    ctx: CallContext, speech: str, confidence: float | None, on_text: Speak | None = None
) -> Decision:
    try:
        brain = _brain()
        if on_text is not None and getattr(brain, "streams", False):
            decision: Decision = brain.respond(ctx, speech, confidence or 0.0, on_text=on_text)
        else:
            decision = brain.respond(ctx, speech, confidence or 0.0)
        return decision
    except Exception:
        logger.exception("brain failed; playbook takes the turn", extra={"call_id": ctx.call_id})
        fallback: Decision = _fallback_brain().respond(ctx, speech, confidence or 0.0)
        return Decision(
            reply=f"{BRIDGE_LINE} {fallback.reply}",
            end_call=fallback.end_call,
            analysis=fallback.analysis,
            actions=fallback.actions,
            outcome=fallback.outcome,
            memory=fallback.memory,
            brain="llm_fallback",
        )


def _accepted_actions(decision: Decision) -> list[AgentAction]:
    """Only actions of known kinds reach the record; the brains validate their parameters."""
    return [a for a in decision.actions if isinstance(a.kind, AgentActionKind)]


def _silence(call: Call, number: int, memory: dict[str, Any]) -> Reply:
    silences = int(memory.get("silences", 0)) + 1
    memory["silences"] = silences
    if silences > MAX_SILENCES:
        text = "It seems this isn't a good time. We'll try you another time. Goodbye."
        prompt = prompts.say_and_hang_up(text)
        outcome: str | None = call.outcome or Outcome.NO_CONVERSATION.value
    else:
        asked = memory.get("last_prompt") or "Are you still there?"
        text = f"Sorry, I didn't catch that. {asked}"
        prompt = prompts.listen(text, number + 1)
        outcome = call.outcome
    record = _turn_record(number, None, None, text, None, "silence", prompt)
    return _save_turn(call, number, record, memory, outcome)


def _save_turn(
    call: Call, number: int, record: dict[str, Any], memory: dict[str, Any], outcome: str | None
) -> Reply:
    for _ in range(SAVE_TRIES):
        if (
            repo.save_turn(call, [*(call.turns or []), record], {**(call.memory or {}), **memory}, outcome)
            is not None
        ):
            return Reply(_stored(record))
        fresh = repo.get_call_for_turn(call.call_id)  # another delivery of this turn won, or the call ended
        if fresh is not None and fresh.twilio_sid != call.twilio_sid:
            return Reply(_HANG_UP, replayed=True)
        if fresh is not None and number < len(fresh.turns or []):
            return Reply(_stored(fresh.turns[number]), replayed=True)
        if fresh is None or CallStatus(fresh.status).terminal or len(fresh.turns or []) != number:
            return Reply(_HANG_UP, replayed=True)
        call = fresh  # a status or AMD callback wrote meanwhile: this turn is still the next one
    raise RuntimeError(f"turn {number} of call {call.call_id} could not be saved")  # the webhook re-asks


# --- a realtime turn's save -----------------------------------------------------------------------


def load_for_turn(call_id: str) -> tuple[Call, Contact] | None:
    """The call as a turn reads it, and its callee."""
    return _load(call_id, for_turn=True)


def save_heard_turn(call: Call, turn: Turn, superseded: bool) -> Call | None:
    """Save a realtime turn: its record placed by turn number among the call's turns (a turn
    superseded by a newer prompt may finish after it), with the memory and outcome it leaves unless
    it was superseded (the newer turn's decision stands). None when the call ended meanwhile."""
    number = int(turn.record["turn"])
    for _ in range(SAVE_TRIES):
        turns = [t for t in call.turns or [] if t.get("turn") != number]
        turns = sorted([*turns, turn.record], key=lambda t: int(t.get("turn") or 0))
        memory = dict(call.memory or {}) if superseded else {**(call.memory or {}), **turn.memory}
        outcome = call.outcome if superseded else turn.outcome
        saved = repo.save_turn(call, turns, memory, outcome)
        if saved is not None:
            return saved
        fresh = repo.get_call_for_turn(call.call_id)  # another frame of the call saved meanwhile
        if fresh is None or CallStatus(fresh.status).terminal:
            logger.warning("realtime turn not saved: the call ended", extra={"call_id": call.call_id})
            return None
        call = fresh
    raise RuntimeError(f"realtime turn {number} of call {call.call_id} could not be saved")


def keep_heard(call_id: str, number: int, heard: str) -> bool:
    """The callee talked over turn ``number``'s reply: its stored agent line keeps only what they
    heard. Once per turn (False when the turn is not saved yet or already cut)."""
    for _ in range(SAVE_TRIES):
        call = repo.get_call_for_turn(call_id)
        if call is None:
            return False
        turns = list(call.turns or [])
        index = next((i for i, t in enumerate(turns) if t.get("turn") == number), None)
        if index is None or turns[index].get("interrupted"):
            return False
        turns[index] = {**turns[index], "reply": heard, "interrupted": True}
        if repo.save_turn(call, turns, dict(call.memory or {}), call.outcome) is not None:
            return True
    return False


# --- answering machine, status -------------------------------------------------------------------


@dataclass(frozen=True)
class Voicemail:
    """What to play into the call's own Twilio call (the SID stored for its current attempt)."""

    call_sid: str
    prompt: Prompt


_KEEPS_ITS_OUTCOME = frozenset({None, Outcome.NO_CONVERSATION.value})


def machine_answered(call_id: str, answered_by: str, call_sid: str) -> Voicemail | None:
    """Async AMD result. For a machine on the line of a live call: record it and return the voicemail
    to play into the call's stored Twilio call. Never for another attempt's call, never for a call
    that has ended, and never over an outcome the conversation already reached."""
    for _ in range(SAVE_TRIES):
        loaded = _load(call_id)
        if loaded is None:
            return None
        found, contact = loaded
        call = _admitted(found, call_sid, AMD)
        if call is None:
            return None
        if CallStatus(call.status).terminal:
            _ignore(call_id, AMD, "call_ended")
            return None
        changes: dict[str, Any] = {"answered_by": answered_by}
        document: Prompt | None = None
        machine = answered_by.startswith("machine") or answered_by == "fax"
        if machine and call.outcome in _KEEPS_ITS_OUTCOME:
            message = _brain_voicemail(build_context(call, contact))
            document = prompts.voicemail(message)
            changes.update(
                outcome=Outcome.VOICEMAIL.value, memory={**(call.memory or {}), "voicemail": message}
            )
        if repo.record_answered_by_while_live(call, changes) is not None:
            return Voicemail(str(call.twilio_sid), document) if document else None
    logger.warning("AMD result not saved: the call kept changing", extra={"call_id": call_id})
    return None


def _brain_voicemail(ctx: CallContext) -> str:
    try:
        return str(_brain().voicemail(ctx))
    except Exception:
        return str(_fallback_brain().voicemail(ctx))


def status_changed(
    call_id: str, status: CallStatus, duration_s: int | None, answered_by: str | None, call_sid: str
) -> CallStatus | None:
    """Move the call forward; late, repeated or backwards callbacks change nothing, and one about
    another attempt's Twilio call (or with no attempt on the line) is recorded as ignored. A
    terminal status comes through ``call_end.call_ended``, which starts what follows the end.

    Returns the new status when this callback moved the call into a terminal status (exactly one
    callback does), else None."""
    call = repo.get_call(call_id)
    if call is None:
        return None
    refused = _refusal(call, call_sid)
    if refused is not None and refused != "call_ended":  # an ended call: a late copy, moved by nothing
        _ignore(call_id, STATUS, refused)
        return None
    outcomes: list[str] = []

    def extra(fresh: Call) -> dict[str, Any]:
        """Computed from the freshest record: the dialer may be saving the SID at the same moment."""
        if _stale_callback(fresh, call_sid):
            raise _StaleCallback
        changes: dict[str, Any] = {}
        if call_sid and not fresh.twilio_sid:  # the callback can beat the dialer's own save of the SID
            changes["twilio_sid"] = call_sid
        if not status.terminal:
            return changes
        if duration_s is not None:
            changes["duration_s"] = duration_s
        if answered_by and not fresh.answered_by:
            changes["answered_by"] = answered_by
        outcomes[:] = [_final_outcome(status, fresh, answered_by)]
        changes["outcome"] = outcomes[0]
        history = list(fresh.attempt_history or [])
        if history:
            history[-1] = {
                **history[-1],
                "twilio_sid": history[-1].get("twilio_sid") or call_sid,
                "result": status.value,
                "ended_at": repo.iso(now()),
                "duration_s": duration_s,
            }
            changes["attempt_history"] = history
        return changes

    try:
        if repo.apply_status(call, status, extra) is None:
            return None
    except _StaleCallback:
        return None
    if status == CallStatus.IN_PROGRESS:
        count("CallsAnswered")
    if status.terminal:
        outcome = outcomes[0] if outcomes else None
        # the update that moved the call wrote ``outcome``: no need to read the call back for it
        count("CallOutcome", outcome=outcome or "unknown", purpose=call.purpose)
        return status
    return None


class _StaleCallback(Exception):
    """A callback about no attempt on the line: it must not move the call."""


def _stale_callback(call: Call, call_sid: str) -> bool:
    """The call is not dialed (a retry waits: a late callback of the last attempt would revive it),
    or the callback names another Twilio call than the current attempt's."""
    return call.status == CallStatus.SCHEDULED.value or _refusal(call, call_sid) not in (None, "call_ended")


def _machine(answered_by: str | None) -> bool:
    """Twilio's AnsweredBy for an answering machine: machine_start, machine_end_beep, ..."""
    return (answered_by or "").startswith("machine")


def _final_outcome(status: CallStatus, call: Call, answered_by: str | None) -> str:
    """The brain's outcome stands, but "no conversation" on a line a machine answered was voicemail
    (the AMD callback never came, so the agent talked to the machine until it gave up)."""
    machine = _machine(answered_by or call.answered_by)
    if call.outcome and not (call.outcome == Outcome.NO_CONVERSATION.value and machine):
        return str(call.outcome)
    return _outcome_without_conversation(status, call, answered_by)


def _outcome_without_conversation(status: CallStatus, call: Call, answered_by: str | None = None) -> str:
    if status == CallStatus.BUSY:
        return Outcome.BUSY.value
    if status == CallStatus.NO_ANSWER:
        return Outcome.NO_ANSWER.value
    if status == CallStatus.FAILED:
        return Outcome.FAILED.value
    if status == CallStatus.CANCELED:
        return Outcome.CANCELED.value
    if _machine(answered_by or call.answered_by):  # this callback's AnsweredBy is not on the row yet
        return Outcome.VOICEMAIL.value
    return Outcome.NO_CONVERSATION.value
