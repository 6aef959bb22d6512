"""The playbook engine: the offline brain. It drives a purpose's playbook (``purposes``, data) with
the nlu's understanding, one small state machine per call.

Deterministic: the same context and utterance always give the same decision. Its state lives in
``Decision.memory`` (plain JSON types) and comes back in ``CallContext.memory`` next turn, so the LLM
brain can hand a turn to it at any point.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from autocall.config import get_settings
from autocall.domain.brain.booking import (
    BOOKING_OUTCOME,
    callback_problem,
    nearest_slot,
    offered_slot,
    slot_problem,
)
from autocall.domain.brain.contract import AgentAction, CallContext, Decision, TurnAnalysis
from autocall.domain.brain.lines import fields, first_name, last_sentence, spoken_number
from autocall.domain.brain.memory import bump, load_memory, mark, new_memory, progress, utc_iso
from autocall.domain.brain.nlu import Understanding, understand
from autocall.domain.brain.nlu.times import TimeMention
from autocall.domain.brain.purposes import Booking, Playbook, Rule, playbook_for
from autocall.domain.calendar.phrasing import spoken_time
from autocall.models.enums import AgentActionKind, CallPurpose, Outcome

MAX_AGENT_TURNS = 12
_SMALL_TALK = frozenset({"greeting_confirm", "hello", "agree", "ask_purpose", "ask_identity", "thanks"})
_NEED_INTENTS = frozenset(
    {"interest", "pain_point", "problem_unresolved", "problem_resolved", "price_objection", "concern",
     "competitor", "renew", "negotiate", "ask_proposal", "time_proposal", "not_interested", "cancel"}
)  # fmt: skip
_ABOUT_OTHERS = re.compile(
    r"\b(caller|person|people|customer|client|someone|somebody|else|number|phone|email)\b"
)


@dataclass
class _Turn:
    """What one move produces before it becomes a Decision."""

    say: str = ""
    ask: str = ""
    actions: list[AgentAction] = field(default_factory=list)
    end: bool = False


class PlaybookBrain:
    name = "playbook"

    # --- the Brain protocol --------------------------------------------------------------------

    def opening(self, ctx: CallContext) -> Decision:
        pb = playbook_for(ctx.purpose)
        mem = load_memory(ctx.memory)
        mem["turns"] += 1
        reply = pb.opening.format(**fields(ctx, pb, mem))
        mem["question"] = last_sentence(reply)
        return Decision(reply, False, TurnAnalysis("neutral", 0.0), memory=mem, brain=self.name)

    def respond(self, ctx: CallContext, utterance: str, confidence: float) -> Decision:
        pb = playbook_for(ctx.purpose)
        mem = load_memory(ctx.memory)
        u = understand(utterance, ctx.now, ctx.time_zone, first_name(ctx))
        return self.decide(ctx, pb, mem, u, utterance, confidence)

    def voicemail(self, ctx: CallContext) -> str:
        pb = playbook_for(ctx.purpose)
        number = get_settings().required("caller_id")  # our own number: never one from a call's context
        return pb.voicemail.format(**fields(ctx, pb, new_memory()), callback_number=spoken_number(number))

    # --- one turn --------------------------------------------------------------------------------

    def decide(
        self,
        ctx: CallContext,
        pb: Playbook,
        mem: dict[str, Any],
        u: Understanding,
        utterance: str,
        confidence: float,
    ) -> Decision:
        """The decision for an utterance already understood (the LLM brain's fallback enters here)."""
        mem["turns"] += 1
        if u.pain_points:
            mem["pains"] = list(dict.fromkeys([*mem["pains"], *u.pain_points]))
        f = fields(ctx, pb, mem)
        if u.has("interest", "pain_point"):
            mem["interest"] = True
        if set(u.intents) & _NEED_INTENTS:
            mark(mem, "identify_needs")
        turn = self._turn(ctx, pb, mem, u, utterance, confidence, f)
        if not turn.end and (u.has("goodbye") or mem["turns"] >= MAX_AGENT_TURNS):
            # what was said this turn only matters on the way out when it reads back an action
            say = turn.say if turn.actions else ""
            if not u.has("goodbye"):
                say = f"{say} I don't want to take more of your time.".strip()
            turn = self._close(pb, mem, f, say, turn.actions)
        if turn.end and mem["outcome"] is None:
            interested = ctx.purpose is CallPurpose.SALES_OUTREACH and mem["interest"]
            mem["outcome"] = (Outcome.INTERESTED if interested else Outcome.NO_CONVERSATION).value
        question = turn.ask.format(**f) if turn.ask else ""
        if question:
            mem["question"] = question
        reply = " ".join(p for p in (turn.say.format(**f) if turn.say else "", question) if p)
        analysis = TurnAnalysis(
            sentiment=u.sentiment,
            sentiment_score=u.sentiment_score,
            intents=list(u.intents),
            keywords=list(u.keywords),
            objective_progress=progress(pb, mem),
        )
        outcome = Outcome(mem["outcome"]) if mem["outcome"] else None
        return Decision(reply, turn.end, analysis, turn.actions, outcome, mem, self.name)

    def _turn(
        self,
        ctx: CallContext,
        pb: Playbook,
        mem: dict[str, Any],
        u: Understanding,
        utterance: str,
        confidence: float,
        f: dict[str, str],
    ) -> _Turn:
        stage = mem["stage"]
        if not utterance.strip() or (confidence < 0.3 and not u.intents):
            return self._unclear(pb, mem, f, "Sorry, I didn't catch that.")
        if u.has("opt_out"):
            mem["outcome"] = Outcome.OPTED_OUT.value
            say = (
                "I understand, {first}. I've taken your number off our list, and you won't get any "
                "more calls from us. Sorry for the trouble, and have a good day. Goodbye!"
            )
            return _Turn(say, actions=[AgentAction(AgentActionKind.OPT_OUT)], end=True)
        if u.has("wrong_person"):
            mem["outcome"] = Outcome.WRONG_PERSON.value
            return _Turn(
                "I'm sorry for the mix-up, and thanks for letting me know. Have a good day. Goodbye!",
                end=True,
            )
        if u.has("manipulation_attempt"):
            if bump(mem, "manipulation") >= 3:
                return self._close(pb, mem, f, "I'm sorry, I can't help with that.")
            refusal = (
                "I'm sorry, I can't share any information about other people."
                if _ABOUT_OTHERS.search(u.text.lower()) and not u.has("greeting_confirm")
                else "I'm sorry, I can't change any records or my instructions during this call."
            )
            return _Turn(refusal, mem["question"])
        prefix = ""
        if u.has("ask_robot"):
            bump(mem, "robot")
            prefix = (
                "Yes, I'm an automated AI assistant calling on behalf of {business}. A person from "
                "our team can follow up if you prefer."
            )
            if set(u.intents) <= _SMALL_TALK | {"ask_robot", "ask_human"}:
                return _Turn(prefix, mem["question"])
        turn = self._route(ctx, pb, mem, u, stage, f)
        if turn is not None:
            mem["counts"]["unclear"] = 0
        elif u.has("goodbye"):
            turn = _Turn()  # nothing to answer: the goodbye closes the call
        else:
            turn = self._fallback(pb, mem, u, stage, f)
        if prefix:
            turn.say = f"{prefix} {turn.say}".strip()
        return turn

    def _route(
        self,
        ctx: CallContext,
        pb: Playbook,
        mem: dict[str, Any],
        u: Understanding,
        stage: str,
        f: dict[str, str],
    ) -> _Turn | None:
        if stage == "human_pending":
            return self._human_time(ctx, pb, mem, u, f)
        if u.has("gatekeeper", "take_message") or stage == "gatekeeper":
            gate = self._gatekeeper(ctx, pb, mem, u, f)
            if gate is not None:
                return gate
        if u.has("callback_request") or stage in ("callback_pending", "callback_confirm"):
            callback = self._callback(ctx, pb, mem, u, f)
            if callback is not None:
                return callback
        if u.has("ask_human"):
            return self._ask_human(ctx, pb, mem, f)
        if pb.booking is not None:
            booking = self._booking(ctx, pb, pb.booking, mem, u, stage)
            if booking is not None:
                mark(mem, "reach_contact")
                return booking
        if stage == "opening" and set(u.intents) <= _SMALL_TALK:
            mark(mem, "reach_contact")
            return self._discover(pb, mem, u)
        for candidate in pb.rules:
            if _matches(candidate, u, stage):
                mark(mem, "reach_contact")
                return self._move(ctx, pb, mem, u, candidate, f)
        return None

    # --- moves -----------------------------------------------------------------------------------

    def _move(
        self,
        ctx: CallContext,
        pb: Playbook,
        mem: dict[str, Any],
        u: Understanding,
        r: Rule,
        f: dict[str, str],
    ) -> _Turn:
        if r.outcome is not None:
            mem["outcome"] = r.outcome.value
        if r.move in ("offer", "propose_slot", "troubleshoot", "ticket", "escalate", "probe"):
            mark(mem, "present_offer")
        if r.move == "close" or (r.move == "probe" and mem["probed"]):
            return self._close(pb, mem, f)  # the closing line acknowledges it
        if r.move == "propose_slot" and pb.booking is not None:
            return self._propose(ctx, pb, mem, r.say)
        if r.move == "troubleshoot":
            tip = next((pb.tips[p] for p in u.pain_points if p in pb.tips), pb.tips.get("", ""))
            mem["stage"] = r.to or "troubleshoot"
            return _Turn(f"{r.say} {tip}".strip(), r.ask or "Did that help?")
        if r.move == "escalate":
            if mem["escalated"]:
                mem["stage"] = "escalated"
                return _Turn(
                    "I understand, and I'm sorry. It's already escalated with high priority.",
                    r.ask or "Anything else?",
                )
            mem["escalated"] = True
            mem["stage"] = "escalated"
            reason = (
                "callee frustrated" if u.has("frustration") else "problem still unresolved after a ticket"
            )
            if u.has("ask_human"):
                reason = "callee asked for a person"
            if mem["pains"]:
                reason += f": {', '.join(mem['pains'])} issue"
            return _Turn(r.say, r.ask, [AgentAction(AgentActionKind.ESCALATE, {"reason": reason})])
        if r.move == "probe":
            mem["probed"] = True
        default_stage = {"offer": "offer", "probe": "probe", "ticket": "ticket", "wrap": "wrap"}.get(
            r.move, mem["stage"]
        )
        mem["stage"] = r.to or default_stage
        ask = r.ask or (pb.offer if r.move == "offer" else "")
        return _Turn(r.say, ask or mem["question"])

    def _discover(self, pb: Playbook, mem: dict[str, Any], u: Understanding, say: str = "") -> _Turn:
        parts = [say]
        if u.has("ask_identity", "hello"):
            parts.append("This is {agent}, an automated AI assistant from {business}.")
        if u.has("ask_purpose", "ask_identity", "hello"):
            parts.append(pb.pitch)
        elif u.has("greeting_confirm", "agree"):
            parts.append("Thanks, {first}.")
        index = mem["discovery"]
        if index < len(pb.discovery):
            mem["discovery"] = index + 1
            mem["stage"] = "discovery"
            return _Turn(" ".join(p for p in parts if p), pb.discovery[index])
        if pb.offer:
            mem["stage"] = "offer"
            mark(mem, "present_offer")
            return _Turn(" ".join(p for p in parts if p), pb.offer)
        mem["stage"] = "wrap"
        return _Turn(" ".join(p for p in parts if p), "Is there anything else I can help you with?")

    def _fallback(
        self, pb: Playbook, mem: dict[str, Any], u: Understanding, stage: str, f: dict[str, str]
    ) -> _Turn:
        done = u.has("decline", "nothing_else", "not_interested", "thanks")
        if stage == "probe" or (
            done and stage in ("wrap", "ticket", "escalated", "callback_pending", "offer")
        ):
            return self._close(pb, mem, f)
        if bump(mem, "unclear") >= 3:
            return self._close(pb, mem, f)
        if stage in ("opening", "discovery"):
            return self._discover(pb, mem, u, "I see.")
        if stage in ("wrap", "ticket", "escalated"):
            return _Turn("Got it, I've noted that.", "Is there anything else I can help you with?")
        return _Turn("Sorry, I didn't quite get that.", mem["question"] or "Could you say that again?")

    def _unclear(self, pb: Playbook, mem: dict[str, Any], f: dict[str, str], say: str) -> _Turn:
        if bump(mem, "unclear") >= 3:
            return self._close(pb, mem, f, "I'm having trouble hearing you, so I'll let you go.")
        return _Turn(say, mem["question"] or "Are you still there?")

    def _close(
        self,
        pb: Playbook,
        mem: dict[str, Any],
        f: dict[str, str],
        say: str = "",
        actions: list[AgentAction] | None = None,
    ) -> _Turn:
        outcome = Outcome(mem["outcome"]) if mem["outcome"] else None
        if mem["gatekeeper"] and outcome is Outcome.CALLBACK_REQUESTED:
            later = "" if mem["callback_at"] else " We'll try again later."
            closing = f"Thank you for your help.{later} Goodbye!"
        elif outcome is Outcome.CALLBACK_REQUESTED and outcome not in pb.closing:
            closing = "Thanks, {first}. Talk to you then. Goodbye!"
        else:
            closing = pb.closing.get(outcome, pb.closing[None])
        mem["stage"] = "closed"
        return _Turn(f"{say} {closing}".strip(), actions=list(actions or []), end=True)

    # --- cross-purpose situations ----------------------------------------------------------------

    def _gatekeeper(
        self, ctx: CallContext, pb: Playbook, mem: dict[str, Any], u: Understanding, f: dict[str, str]
    ) -> _Turn | None:
        if mem["stage"] == "gatekeeper" and u.has("greeting_confirm"):
            mem["gatekeeper"] = False
            return self._discover(pb, mem, u)  # the contact came on the line
        mem["gatekeeper"] = True
        text = u.text.lower()
        if u.has("take_message"):
            return self._leave_message(ctx, pb, mem, u, f)
        if u.time is not None:
            turn = self._callback(ctx, pb, mem, u, f)
            if turn is not None and turn.actions:
                turn.ask = ""
                return self._close(
                    pb, mem, f, turn.say.replace("call you back", "call {first} back"), turn.actions
                )
            return turn
        if u.has("goodbye"):
            return _Turn()  # the caller's goodbye closes the call
        if re.search(r"\b(put you through|transfer you|one moment|hold on|let me get)\b", text):
            mem["stage"] = "gatekeeper"
            return _Turn("Thank you, I'll hold.")
        if u.has("callback_request") or re.search(
            r"not available|unavailable|stepped out|in a meeting|\bout of\b", text
        ):
            mem["outcome"] = Outcome.CALLBACK_REQUESTED.value
            mem["stage"] = "gatekeeper"
            return _Turn("No problem.", "Is there a good time to reach {first}?")
        if mem["stage"] == "gatekeeper" and u.has("decline", "not_interested"):
            mem["outcome"] = mem["outcome"] or Outcome.CALLBACK_REQUESTED.value
            return self._close(pb, mem, f)
        mem["stage"] = "gatekeeper"
        return _Turn(
            "Hi, this is {agent}, an automated AI assistant calling from {business}. I'm trying to "
            "reach {first}.",
            "Is {first} available?",
        )

    def _callback(
        self, ctx: CallContext, pb: Playbook, mem: dict[str, Any], u: Understanding, f: dict[str, str]
    ) -> _Turn | None:
        stage = mem["stage"]
        if u.time is None:
            if stage == "callback_confirm" and u.has("agree", "thanks"):
                return self._close(pb, mem, f)
            if stage == "callback_pending" and not u.has("callback_request") and not u.has("agree"):
                return None  # let the fallback close politely
            mem["outcome"] = Outcome.CALLBACK_REQUESTED.value
            mem["stage"] = "callback_pending"
            return _Turn("Of course.", "When would be a good time to call you back?")
        problem = callback_problem(u.time.at, ctx.now)
        mem["outcome"] = Outcome.CALLBACK_REQUESTED.value
        if problem is not None:
            mem["stage"] = "callback_pending"
            return _Turn("Sorry, I can only schedule a time in the coming weeks.", "When would suit you?")
        mem["stage"] = "callback_confirm"
        mem["callback_at"] = utc_iso(u.time.at)
        mark(mem, "reach_contact")
        action = AgentAction(AgentActionKind.SCHEDULE_CALLBACK, {"at": mem["callback_at"]})
        when = spoken_time(u.time.at, ctx.time_zone, ctx.now)
        return _Turn(f"Of course. I'll call you back {when}, your time.", "Does that work?", [action])

    def _ask_human(self, ctx: CallContext, pb: Playbook, mem: dict[str, Any], f: dict[str, str]) -> _Turn:
        """A person, now if one can take the call, else a promise kept: a person from the team calls
        back at the time the callee prefers (the post-call chain notifies the team and marks the
        follow-up for a person; the agent never makes that call)."""
        if ctx.transfer_available:
            mem["outcome"] = Outcome.TRANSFERRED.value
            mem["stage"] = "closed"
            action = AgentAction(AgentActionKind.TRANSFER, {"reason": "callee asked to speak with a person"})
            return _Turn(
                "Of course. Let me connect you with a member of our team now.", actions=[action], end=True
            )
        mem["outcome"] = Outcome.HUMAN_REQUESTED.value
        mem["stage"] = "human_pending"
        return _Turn(
            "Of course. I can't put you through right now, so I'll ask a person from our team to call "
            "you back.",
            "When would suit you best for their call?",
            [AgentAction(AgentActionKind.REQUEST_HUMAN)],
        )

    def _human_time(
        self, ctx: CallContext, pb: Playbook, mem: dict[str, Any], u: Understanding, f: dict[str, str]
    ) -> _Turn:
        """The callee's preferred time for the person's call (or none), then goodbye."""
        mem["stage"] = "closed"
        if u.time is not None and callback_problem(u.time.at, ctx.now) is None:
            at = utc_iso(u.time.at)
            mem["human_at"] = at
            when = spoken_time(u.time.at, ctx.time_zone, ctx.now)
            return _Turn(
                f"Thank you. I've asked a person from our team to call you {when}, your time. Goodbye!",
                actions=[AgentAction(AgentActionKind.REQUEST_HUMAN, {"at": at})],
                end=True,
            )
        return _Turn(
            "Thank you. A person from our team will call you back as soon as they can. Goodbye!", end=True
        )

    def _leave_message(
        self, ctx: CallContext, pb: Playbook, mem: dict[str, Any], u: Understanding, f: dict[str, str]
    ) -> _Turn:
        """A receptionist offers to take a message: who called, about what, how to call back."""
        number = spoken_number(get_settings().required("caller_id"))
        message = (  # a template, as every line a move says: ``decide`` fills it
            "Please tell {first} that {agent}, an automated AI assistant from {business}, called "
            f"{pb.topic}. {{first}} can call us back at {number}."
        )
        mem["message_left"] = message.format(**f)
        actions: list[AgentAction] = []
        later = " We'll also try again later."
        if u.time is not None and callback_problem(u.time.at, ctx.now) is None:
            mem["callback_at"] = utc_iso(u.time.at)
            actions.append(AgentAction(AgentActionKind.SCHEDULE_CALLBACK, {"at": mem["callback_at"]}))
            later = f" We'll call back {spoken_time(u.time.at, ctx.time_zone, ctx.now)}, your time."
        mem["outcome"] = mem["outcome"] or Outcome.CALLBACK_REQUESTED.value
        mem["stage"] = "closed"
        return _Turn(
            f"Yes, thank you. {message}{later} Thank you for your help. Goodbye!", actions=actions, end=True
        )

    # --- booking a slot --------------------------------------------------------------------------

    def _booking(
        self,
        ctx: CallContext,
        pb: Playbook,
        booking: Booking,
        mem: dict[str, Any],
        u: Understanding,
        stage: str,
    ) -> _Turn | None:
        if u.time is not None and not u.has("callback_request"):
            return self._book(ctx, pb, booking, mem, u.time)
        if stage == "slot_offered" and mem["offered_slot"]:
            if u.has("agree"):
                start = datetime.fromisoformat(mem["offered_slot"])
                return self._book(ctx, pb, booking, mem, TimeMention(start, True, "offered"))
            if u.has("decline"):
                if mem["proposals"] >= 3:
                    mem["stage"] = "ask_time"
                    return _Turn("No problem.", "What day and time would suit you best?")
                return self._propose(ctx, pb, mem, "No problem.")
        if stage == "booked_check":
            if u.has("agree"):
                mem["stage"] = "wrap"
                return _Turn("Great, you're all set.", "Is there anything else I can help you with?")
            if u.has("decline"):
                mem["stage"] = "ask_time"
                return _Turn("Sorry about that.", "What day and time would suit you better?")
        if stage == "ask_time" and u.has("agree"):
            return self._propose(ctx, pb, mem, "")
        return None

    def _propose(
        self, ctx: CallContext, pb: Playbook, mem: dict[str, Any], say: str, at: datetime | None = None
    ) -> _Turn:
        mark(mem, "present_offer")
        start = offered_slot(ctx.now, ctx.time_zone, mem["proposals"]) if at is None else at
        mem["proposals"] += 1
        mem["offered_slot"] = utc_iso(start)
        mem["stage"] = "slot_offered"
        when = spoken_time(start, ctx.time_zone, ctx.now)
        action = AgentAction(AgentActionKind.PROPOSE_SLOT, {"start": mem["offered_slot"]})
        return _Turn(
            f"{say} How about {when}, your time?".strip(),
            "Or tell me a time that suits you better.",
            [action],
        )

    def _book(
        self, ctx: CallContext, pb: Playbook, booking: Booking, mem: dict[str, Any], when: TimeMention
    ) -> _Turn:
        duration = booking.duration_minutes
        problem = slot_problem(when.at, duration, ctx.now, ctx.time_zone)
        if problem is not None or not when.exact:
            start = nearest_slot(when.at, ctx.now, ctx.time_zone, duration)
            say = (
                ""
                if problem is None
                else "I'm afraid I can only book weekdays between 8 AM and 6 PM your time."
            )
            return self._propose(ctx, pb, mem, say, start)
        mem["outcome"] = BOOKING_OUTCOME[ctx.purpose].value
        mem["booked_slot"] = utc_iso(when.at)
        mem["offered_slot"] = None
        mem["stage"] = "booked_check"
        mark(mem, "present_offer")
        spoken = spoken_time(when.at, ctx.time_zone, ctx.now)
        action = AgentAction(
            AgentActionKind.CONFIRM_SLOT, {"start": mem["booked_slot"], "duration_minutes": duration}
        )
        return _Turn(f"Perfect. I've booked your {duration}-minute {booking.label} for {spoken}, your time.",
                     "Is that right?", [action])  # fmt: skip


def _matches(r: Rule, u: Understanding, stage: str) -> bool:
    return bool(r.intents & set(u.intents)) and (not r.stages or stage in r.stages)
