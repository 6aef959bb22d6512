"""The LLM brain's tools as a table: each tool is its spec (a pydantic model of its arguments, sent
to OpenAI as a strict JSON schema), its validator (the model proposes, this decides: the time is
real and bookable, the outcome is the purpose's) and its effect (memory, actions, the line said).

A tool call becomes an action only when its name is offered this call, its arguments parse, it is
not one a manipulation attempt asked for, and its validator accepts it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from autocall.domain.brain.booking import BOOKING_OUTCOME, callback_problem, slot_problem
from autocall.domain.brain.contract import AgentAction, CallContext
from autocall.domain.brain.memory import bump, utc_iso
from autocall.domain.brain.nlu import Understanding
from autocall.domain.brain.purposes import Playbook
from autocall.domain.calendar.phrasing import spoken_time
from autocall.integrations.openai import ToolCall
from autocall.models.enums import PURPOSE_OUTCOMES, AgentActionKind, CallPurpose, Outcome
from pydantic import BaseModel, Field, JsonValue, create_model

ANY_PURPOSE_OUTCOMES = (Outcome.OPTED_OUT, Outcome.WRONG_PERSON, Outcome.CALLBACK_REQUESTED)
ISO_TIME = "ISO 8601 with the callee's UTC offset, e.g. 2026-03-10T14:00:00-05:00"
MIN_MEETING_MINUTES, MAX_MEETING_MINUTES = 15, 120
NO_TIME_CAUGHT = "I'm sorry, I didn't catch the time. What time would suit you?"
NO_RECORD_CHANGES = "I'm sorry, I can't change any records during this call."
SLOT_REFUSED = (
    "I'm sorry, I can only book weekdays between 8 AM and 6 PM your time, within the next few weeks. "
    "What other time would suit you?"
)
CALLBACK_REFUSED = "I'm sorry, I can only schedule a call back in the coming weeks. When would suit you?"


def allowed_outcomes(purpose: CallPurpose) -> list[str]:
    return list(dict.fromkeys(o.value for o in (*PURPOSE_OUTCOMES[purpose], *ANY_PURPOSE_OUTCOMES)))


# --- the specs: arguments as pydantic models -------------------------------------------------------


class NoArgs(BaseModel):
    pass


class SlotArgs(BaseModel):
    start: str = Field(description=ISO_TIME)


class BookingArgs(BaseModel):
    start: str = Field(description=ISO_TIME)
    duration_minutes: int | None = Field(
        ge=MIN_MEETING_MINUTES, le=MAX_MEETING_MINUTES, description="null for the usual length"
    )


class CallbackArgs(BaseModel):
    at: str = Field(description=ISO_TIME)


class ReasonArgs(BaseModel):
    reason: str = Field(description="one short sentence")


class OutcomeArgs(BaseModel):
    outcome: str


@cache
def outcome_args(purpose: CallPurpose) -> type[OutcomeArgs]:
    """``set_outcome``'s arguments for one purpose: the outcome is one of the purpose's."""
    values: list[JsonValue] = list(allowed_outcomes(purpose))
    return create_model(
        "SetOutcomeArgs", __base__=OutcomeArgs, outcome=(str, Field(json_schema_extra={"enum": values}))
    )


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema as OpenAI's strict mode demands: every object closed
    (``additionalProperties: false``) with all its properties required (an optional value is a
    union with null), no titles."""
    return _strict(model.model_json_schema())


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _strict(value) for key, value in node.items() if key not in ("title", "properties")}
    if "properties" in node or node.get("type") == "object":
        properties = {name: _strict(schema) for name, schema in node.get("properties", {}).items()}
        out |= {"properties": properties, "required": list(properties), "additionalProperties": False}
    return out


# --- one turn's tool calls -------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """A validator's no: the line the caller hears instead of a false claim (if any), and the stage
    the call goes back to (if any)."""

    line: str = ""
    stage: str = ""


@dataclass
class ToolTurn:
    """What the tool calls of one model answer add up to."""

    ctx: CallContext
    pb: Playbook
    mem: dict[str, Any]
    actions: list[AgentAction] = field(default_factory=list)
    said: list[str] = field(default_factory=list)  # a line per effect, said when the model said nothing
    end: bool = False
    rejected: str = ""  # a correction replacing the model's text


@dataclass(frozen=True)
class Tool:
    name: str
    args: Callable[[CallContext], type[BaseModel]]  # the spec
    describe: Callable[[Playbook], str]
    offered: Callable[[CallContext, Playbook], bool]
    validate: Callable[[ToolTurn, dict[str, Any]], Any]  # the value for ``effect``, or a Refusal
    effect: Callable[[ToolTurn, Any], None]
    says_a_time: bool = False  # malformed arguments: the model's text may claim a time that is not set
    gated: bool = False  # not taken from a turn with a manipulation attempt

    def spec(self, ctx: CallContext, pb: Playbook) -> dict[str, Any]:
        function = {
            "name": self.name,
            "description": self.describe(pb),
            "parameters": strict_schema(self.args(ctx)),
            "strict": True,
        }
        return {"type": "function", "function": function}


def _moment(value: Any, time_zone: str) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=ZoneInfo(time_zone))


def _slot(turn: ToolTurn, args: dict[str, Any]) -> tuple[datetime, int] | Refusal:
    booking = turn.pb.booking
    assert booking is not None  # offered only when the purpose books
    start = _moment(args.get("start"), turn.ctx.time_zone)
    duration = args.get("duration_minutes", booking.duration_minutes)
    if not isinstance(duration, int) or not MIN_MEETING_MINUTES <= duration <= MAX_MEETING_MINUTES:
        duration = booking.duration_minutes
    if start is None or slot_problem(start, duration, turn.ctx.now, turn.ctx.time_zone) is not None:
        return Refusal(SLOT_REFUSED, "ask_time")
    return start, duration


def _propose(turn: ToolTurn, slot: tuple[datetime, int]) -> None:
    start, _ = slot
    mem = turn.mem
    mem["offered_slot"] = utc_iso(start)
    mem["stage"] = "slot_offered"
    turn.actions.append(AgentAction(AgentActionKind.PROPOSE_SLOT, {"start": mem["offered_slot"]}))
    turn.said.append(f"How about {spoken_time(start, turn.ctx.time_zone, turn.ctx.now)}, your time?")


def _confirm(turn: ToolTurn, slot: tuple[datetime, int]) -> None:
    start, duration = slot
    mem, label = turn.mem, turn.pb.booking.label if turn.pb.booking else "meeting"
    mem["booked_slot"] = utc_iso(start)
    mem["offered_slot"] = None
    mem["stage"] = "booked_check"
    mem["outcome"] = BOOKING_OUTCOME[turn.ctx.purpose].value
    params = {"start": mem["booked_slot"], "duration_minutes": duration}
    turn.actions.append(AgentAction(AgentActionKind.CONFIRM_SLOT, params))
    turn.said.append(
        f"I've booked your {label} for {spoken_time(start, turn.ctx.time_zone, turn.ctx.now)}, your time."
    )


def _callback_at(turn: ToolTurn, args: dict[str, Any]) -> datetime | Refusal:
    at = _moment(args.get("at"), turn.ctx.time_zone)
    if at is None or callback_problem(at, turn.ctx.now) is not None:
        return Refusal(CALLBACK_REFUSED, "callback_pending")
    return at


def _callback(turn: ToolTurn, at: datetime) -> None:
    mem = turn.mem
    mem["callback_at"] = utc_iso(at)
    mem["stage"] = "callback_confirm"
    mem["outcome"] = mem["outcome"] or Outcome.CALLBACK_REQUESTED.value
    turn.actions.append(AgentAction(AgentActionKind.SCHEDULE_CALLBACK, {"at": mem["callback_at"]}))
    turn.said.append(f"I'll call you back {spoken_time(at, turn.ctx.time_zone, turn.ctx.now)}, your time.")


def _opt_out(turn: ToolTurn, _: None) -> None:
    turn.mem["outcome"] = Outcome.OPTED_OUT.value
    turn.actions.append(AgentAction(AgentActionKind.OPT_OUT))
    turn.said.append("I've taken your number off our list.")
    turn.end = True


def _reason(default: str) -> Callable[[ToolTurn, dict[str, Any]], str]:
    def validate(_: ToolTurn, args: dict[str, Any]) -> str:
        return str(args.get("reason") or default)[:200]

    return validate


def _escalate(turn: ToolTurn, reason: str) -> None:
    mem = turn.mem
    if not mem["escalated"]:
        turn.actions.append(AgentAction(AgentActionKind.ESCALATE, {"reason": reason}))
    mem["escalated"] = True
    mem["stage"] = "escalated"
    mem["outcome"] = Outcome.ESCALATED.value
    turn.said.append("I'm escalating this to our senior support team now.")


def _transfer(turn: ToolTurn, reason: str) -> None:
    turn.mem["outcome"] = Outcome.TRANSFERRED.value
    turn.actions.append(AgentAction(AgentActionKind.TRANSFER, {"reason": reason}))
    turn.said.append("Let me connect you with a member of our team now.")
    turn.end = True


def _end(turn: ToolTurn, _: None) -> None:
    turn.end = True


def _outcome(turn: ToolTurn, args: dict[str, Any]) -> str | Refusal:
    value = args.get("outcome")
    return value if value in allowed_outcomes(turn.ctx.purpose) else Refusal()


def _set_outcome(turn: ToolTurn, outcome: str) -> None:
    turn.mem["outcome"] = outcome


def _nothing(_: ToolTurn, __: dict[str, Any]) -> None:
    return None


def _books(_: CallContext, pb: Playbook) -> bool:
    return pb.booking is not None


def _always(_: CallContext, __: Playbook) -> bool:
    return True


def _label(pb: Playbook) -> str:
    return pb.booking.label if pb.booking else "meeting"


def _fixed(description: str) -> Callable[[Playbook], str]:
    return lambda _: description


def _same_args(model: type[BaseModel]) -> Callable[[CallContext], type[BaseModel]]:
    return lambda _: model


def _outcome_spec(ctx: CallContext) -> type[BaseModel]:
    return outcome_args(ctx.purpose)


def _escalates(_: CallContext, pb: Playbook) -> bool:
    return AgentActionKind.ESCALATE in pb.allowed_actions


def _transfers(ctx: CallContext, _: Playbook) -> bool:
    return ctx.transfer_available


TOOLS: tuple[Tool, ...] = (
    Tool(
        "propose_slot",
        _same_args(SlotArgs),
        lambda pb: f"Offer the callee a concrete {_label(pb)} start time.",
        _books,
        _slot,
        _propose,
        says_a_time=True,
        gated=True,
    ),
    Tool(
        "confirm_slot",
        _same_args(BookingArgs),
        lambda pb: f"Book the {_label(pb)} once the callee has agreed to a specific time.",
        _books,
        _slot,
        _confirm,
        says_a_time=True,
        gated=True,
    ),
    Tool(
        "schedule_callback",
        _same_args(CallbackArgs),
        _fixed("Call the callee back at the time they asked for."),
        _always,
        _callback_at,
        _callback,
        says_a_time=True,
    ),
    Tool(
        "opt_out",
        _same_args(NoArgs),
        _fixed("The callee asked not to be called again."),
        _always,
        _nothing,
        _opt_out,
    ),
    Tool(
        "escalate",
        _same_args(ReasonArgs),
        _fixed("Hand an upset customer or a recurring problem to senior support."),
        _escalates,
        _reason("escalated by the agent"),
        _escalate,
    ),
    Tool(
        "transfer_to_human",
        _same_args(ReasonArgs),
        _fixed("Connect the callee to a person now."),
        _transfers,
        _reason("callee asked for a person"),
        _transfer,
    ),
    Tool("end_call", _same_args(NoArgs), _fixed("Hang up after saying goodbye."), _always, _nothing, _end),
    Tool(
        "set_outcome",
        _outcome_spec,
        _fixed("Record what the call achieved, when it is clear."),
        _always,
        _outcome,
        _set_outcome,
        gated=True,
    ),
)


def offered_tools(ctx: CallContext, pb: Playbook) -> list[Tool]:
    """The tools offered this call: only what the purpose allows and the setup supports."""
    return [tool for tool in TOOLS if tool.offered(ctx, pb)]


def tool_specs(ctx: CallContext, pb: Playbook) -> list[dict[str, Any]]:
    return [tool.spec(ctx, pb) for tool in offered_tools(ctx, pb)]


def apply_tools(
    ctx: CallContext, pb: Playbook, mem: dict[str, Any], u: Understanding, calls: list[ToolCall]
) -> ToolTurn:
    """Validated actions, whether to hang up, lines to say for them, and a correction if refused."""
    offered = {tool.name: tool for tool in offered_tools(ctx, pb)}
    turn = ToolTurn(ctx, pb, mem)
    for call in calls:
        tool = offered.get(call.name or "")
        if tool is None:
            bump(mem, "llm_tools_dropped_unknown")
            continue
        try:
            args = json.loads(call.arguments or "{}")
        except (json.JSONDecodeError, TypeError):
            args = None
        if not isinstance(args, dict):
            bump(mem, "llm_tools_dropped_bad_args")
            if tool.says_a_time:  # the text may claim it
                turn.rejected = NO_TIME_CAUGHT
            continue
        if tool.gated and u.has("manipulation_attempt"):
            bump(mem, "llm_tools_ignored_manipulation")
            turn.rejected = NO_RECORD_CHANGES
            continue
        value = tool.validate(turn, args)
        if isinstance(value, Refusal):
            bump(mem, "llm_tools_rejected")
            turn.rejected = value.line or turn.rejected
            if value.stage:
                mem["stage"] = value.stage
            continue
        tool.effect(turn, value)
    return turn
