"""The LLM brain: OpenAI chat completions with tools, every tool call validated before it acts.

The model proposes; the tools' validators decide (``tools``). A tool call only becomes an action when
its name is known, its arguments parse, and the action is allowed for this purpose and this moment
(slot in the future, on a weekday, 08:00-18:00 callee-local, within 90 days). On any failure -
timeout, HTTP error, malformed or empty answer - the playbook brain takes the turn behind a short
bridge line, so the caller never hears dead air. The playbook's memory is kept up to date on every
LLM turn so that the fallback can carry on from where the conversation is.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from autocall.config import get_settings
from autocall.domain.brain.contract import AgentAction, CallContext, Decision, TurnAnalysis
from autocall.domain.brain.engine import MAX_AGENT_TURNS, PlaybookBrain
from autocall.domain.brain.lines import fields, first_name, last_sentence
from autocall.domain.brain.llm.prompt import messages
from autocall.domain.brain.llm.tools import apply_tools, tool_specs
from autocall.domain.brain.memory import bump, load_memory, mark, progress
from autocall.domain.brain.nlu import Understanding, understand
from autocall.domain.brain.purposes import Playbook, playbook_for
from autocall.integrations.openai import LlmError, chat
from autocall.models.enums import CallPurpose, Outcome
from autocall.observability import count

logger = logging.getLogger(__name__)

BRIDGE_LINE = "Sorry, one moment."
_MAX_REPLY_CHARS = 500
_FAILURES_BEFORE_GIVING_UP = 2  # consecutive LLM failures after which the playbook runs the rest of the call


class LlmTurnFailed(Exception):
    """The model's answer cannot be used (nothing to say and nothing to do)."""


def spoken(text: str) -> str:
    """Model text made safe to speak: no markup, one line, not too long."""
    text = re.sub(r"[*_#`>|\[\]]+", "", text)
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > _MAX_REPLY_CHARS:
        cut = text[:_MAX_REPLY_CHARS]
        text = cut[: max(cut.rfind(". "), cut.rfind("? "), cut.rfind("! ")) + 1] or cut
    return text


def _handoff(ctx: CallContext, mem: dict[str, Any], u: Understanding) -> bool:
    """A person asked for with nobody to transfer to (and the answer about when they should call),
    or a receptionist offering to take a message: the playbook's moves, which record the promise."""
    asked = u.has("ask_human") and not ctx.transfer_available
    return asked or mem.get("stage") == "human_pending" or u.has("take_message")


class LlmBrain:
    name = "llm"
    streams = True  # ``respond`` can hand the reply's text over as the model writes it (on_text)

    def __init__(self, api_key: str, playbook: PlaybookBrain | None = None) -> None:
        self._api_key = api_key
        self._playbook = playbook or PlaybookBrain()

    # --- the Brain protocol --------------------------------------------------------------------

    def opening(self, ctx: CallContext) -> Decision:
        """The purpose's opening line: fixed text, so the first turn costs no model latency."""
        return self._playbook.opening(ctx)

    def voicemail(self, ctx: CallContext) -> str:
        return self._playbook.voicemail(ctx)

    def respond(
        self,
        ctx: CallContext,
        utterance: str,
        confidence: float,
        on_text: Callable[[str], None] | None = None,
    ) -> Decision:
        """The answer; with ``on_text`` the model streams and each piece of its text is handed over
        as it arrives (the decision returned is the same; tool calls act at the end)."""
        pb = playbook_for(ctx.purpose)
        mem = load_memory(ctx.memory)
        u = understand(utterance, ctx.now, ctx.time_zone, first_name(ctx))
        if u.has("opt_out"):  # a legal duty: honoured deterministically, whatever the model would do
            return self._playbook.decide(ctx, pb, mem, u, utterance, confidence)
        if _handoff(ctx, mem, u):  # promises about people are kept deterministically too
            return self._playbook.decide(ctx, pb, mem, u, utterance, confidence)
        if mem.get("llm_disabled"):
            return replace(
                self._playbook.decide(ctx, pb, mem, u, utterance, confidence), brain="llm_fallback"
            )
        try:
            return self._llm_turn(ctx, pb, load_memory(ctx.memory), u, utterance, on_text)
        except (LlmError, LlmTurnFailed, IndexError, AttributeError, TypeError, ValueError) as exc:
            error = exc.kind if isinstance(exc, LlmError) else type(exc).__name__
            logger.warning("llm turn failed, playbook takes it: %s", error)
            bump(mem, "llm_failures")
            streak = bump(mem, "llm_failure_streak")
            mem["llm_last_error"] = error
            if streak >= _FAILURES_BEFORE_GIVING_UP:
                mem["llm_disabled"] = True
            decision = self._playbook.decide(ctx, pb, mem, u, utterance, confidence)
            return replace(decision, reply=f"{BRIDGE_LINE} {decision.reply}", brain="llm_fallback")

    # --- one model turn --------------------------------------------------------------------------

    def _llm_turn(
        self,
        ctx: CallContext,
        pb: Playbook,
        mem: dict[str, Any],
        u: Understanding,
        utterance: str,
        on_text: Callable[[str], None] | None = None,
    ) -> Decision:
        settings = get_settings()
        started = time.perf_counter()
        try:
            reply = chat(
                self._api_key,
                model=settings.openai_model,
                messages=messages(ctx, pb, mem, utterance),
                tools=tool_specs(ctx, pb),
                temperature=settings.llm_temperature,
                timeout=settings.llm_turn_deadline_s,
                max_retries=0,  # no retries: the caller is waiting
                on_text=on_text,
            )
        finally:  # failures too: a timeout shows up as latency at the deadline
            count("LlmLatency", (time.perf_counter() - started) * 1000, unit="Milliseconds")
        text = spoken(reply.text)
        calls = reply.tool_calls
        if not text and not calls:
            raise LlmTurnFailed("no text and no tool call")
        mem["turns"] += 1
        mem["counts"]["llm_failure_streak"] = 0
        tools = apply_tools(ctx, pb, mem, u, calls)
        actions, end, said, rejected = tools.actions, tools.end, tools.said, tools.rejected
        if rejected:
            text = rejected  # never let the caller hear a booking that did not happen
        elif not text:
            text = " ".join(said)
        if not text and not end:  # every tool call was dropped and nothing is left to say: no dead air
            raise LlmTurnFailed("no usable tool call and no text")
        if not end and mem["turns"] >= MAX_AGENT_TURNS:
            end = True
        if end:
            if mem["outcome"] is None:
                interested = ctx.purpose is CallPurpose.SALES_OUTREACH and mem["interest"]
                mem["outcome"] = (Outcome.INTERESTED if interested else Outcome.NO_CONVERSATION).value
            transferring = mem["outcome"] == Outcome.TRANSFERRED.value
            if not transferring and not re.search(r"\b(bye|goodbye)\b", text.lower()):
                closing = pb.closing.get(Outcome(mem["outcome"]), pb.closing[None])
                text = f"{text} {closing.format(**fields(ctx, pb, mem))}".strip()
            mem["stage"] = "closed"
        self._track(mem, u, text, actions)
        analysis = TurnAnalysis(
            u.sentiment, u.sentiment_score, list(u.intents), list(u.keywords), progress(pb, mem)
        )
        outcome = Outcome(mem["outcome"]) if mem["outcome"] else None
        return Decision(text, end, analysis, actions, outcome, mem, self.name)

    def _track(self, mem: dict[str, Any], u: Understanding, reply: str, actions: list[AgentAction]) -> None:
        """Keep the playbook's view of the call current, so it can take over any turn."""
        if u.pain_points:
            mem["pains"] = list(dict.fromkeys([*mem["pains"], *u.pain_points]))
        if u.has("interest", "pain_point"):
            mem["interest"] = True
        if u.intents:
            mark(mem, "reach_contact")
        if set(u.intents) & {
            "interest",
            "pain_point",
            "problem_unresolved",
            "price_objection",
            "renew",
            "concern",
        }:
            mark(mem, "identify_needs")
        if actions:
            mark(mem, "present_offer")
        if mem["stage"] == "opening":
            mem["stage"] = "discovery"
            mem["discovery"] = max(mem["discovery"], 1)
        if reply.endswith("?"):
            mem["question"] = last_sentence(reply)
