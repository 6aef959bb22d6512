"""What a call costs: the list prices, each with where it is published and when it was read, and the
one rule that turns a call's record into Twilio's charges. ``GET /campaigns/{id}/stats``, the demo's
report and the benchmarks all price calls here, so a user reads one cost for one call.

Prices are USD, US / us-east-1, pay-as-you-go, no free tier, as read from the public pages named
below. Prices change: re-read the pages before quoting a bill."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from autocall.models.prompts import listened


@dataclass(frozen=True)
class Price:
    usd: float
    per: str
    source: str
    read: str  # when the figure was read


LIST_DATE = "2026-11"
AWS = "https://aws.amazon.com/{}/pricing/"

# --- AWS -----------------------------------------------------------------------------------------
LAMBDA_GB_S_ARM = Price(0.0000133334, "GB-second (arm64)", AWS.format("lambda"), LIST_DATE)
LAMBDA_REQUEST = Price(0.20 / 1e6, "request", AWS.format("lambda"), LIST_DATE)
API_GATEWAY_REST = Price(3.50 / 1e6, "REST API request", AWS.format("api-gateway"), LIST_DATE)
DYNAMODB_WRITE = Price(0.625 / 1e6, "write request unit (on-demand)", AWS.format("dynamodb"), LIST_DATE)
DYNAMODB_READ = Price(0.125 / 1e6, "read request unit (on-demand)", AWS.format("dynamodb"), LIST_DATE)
STEP_FUNCTIONS_TRANSITION = Price(
    0.025 / 1000, "state transition (Standard)", AWS.format("step-functions"), LIST_DATE
)
SCHEDULER_INVOCATION = Price(1.00 / 1e6, "schedule invocation", AWS.format("eventbridge"), LIST_DATE)
EVENTBRIDGE_EVENT = Price(1.00 / 1e6, "custom event published", AWS.format("eventbridge"), LIST_DATE)
SES_EMAIL = Price(0.10 / 1000, "e-mail", AWS.format("ses"), LIST_DATE)
SNS_PUBLISH = Price(0.50 / 1e6, "publish", AWS.format("sns"), LIST_DATE)
SECRETS_MANAGER_CALL = Price(0.05 / 10_000, "API call", AWS.format("secrets-manager"), LIST_DATE)
CLOUDWATCH_LOGS_GB = Price(0.50, "GB ingested", AWS.format("cloudwatch"), LIST_DATE)
XRAY_TRACE = Price(5.00 / 1e6, "trace recorded", AWS.format("xray"), LIST_DATE)

# --- Twilio (US) ---------------------------------------------------------------------------------
TWILIO = "https://www.twilio.com/en-us/voice/pricing/us"
TWILIO_OUTBOUND_MINUTE = Price(0.014, "outbound minute, each started minute", TWILIO, LIST_DATE)
TWILIO_SPEECH_15S = Price(
    0.02, "15 s of <Gather> speech recognition, at least one per Gather", TWILIO, LIST_DATE
)
TWILIO_AMD = Price(0.0075, "call with answering-machine detection", TWILIO, LIST_DATE)
# realtime voice mode: ConversationRelay does the speech recognition and text-to-speech itself,
# billed per minute of the session in place of <Gather>'s 15-s units
TWILIO_CONVERSATION_RELAY_MINUTE = Price(
    0.07, "minute of ConversationRelay (speech recognition and text-to-speech included)", TWILIO, "2026-12"
)

# --- the LLM (the template's default OpenAiModel) ------------------------------------------------
OPENAI = "https://openai.com/api/pricing/"
LLM_MODEL = "gpt-4o-mini"
LLM_INPUT_TOKEN = Price(0.15 / 1e6, f"{LLM_MODEL} input token", OPENAI, "2026-04")
LLM_OUTPUT_TOKEN = Price(0.60 / 1e6, f"{LLM_MODEL} output token", OPENAI, "2026-04")


@dataclass(frozen=True)
class CallPrices:
    """Twilio's prices a call's cost is made of, with their date (as ``GET /campaigns/{id}/stats``
    shows them)."""

    as_of: str
    voice_per_started_minute: float
    speech_per_15_seconds: float
    amd_per_call: float
    relay_per_started_minute: float = TWILIO_CONVERSATION_RELAY_MINUTE.usd


TWILIO_PRICES = CallPrices(
    as_of=TWILIO_OUTBOUND_MINUTE.read,
    voice_per_started_minute=TWILIO_OUTBOUND_MINUTE.usd,
    speech_per_15_seconds=TWILIO_SPEECH_15S.usd,
    amd_per_call=TWILIO_AMD.usd,
    relay_per_started_minute=TWILIO_CONVERSATION_RELAY_MINUTE.usd,
)


# --- the cost rule -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallUsage:
    """What Twilio bills a call for."""

    attempt_seconds: tuple[int, ...]  # each attempt Twilio placed: how long it was connected
    amd_runs: int  # attempts answering-machine detection classified (someone or something answered)
    answered: bool  # a person picked up the last attempt: the conversation, with speech recognition
    talk_seconds: int  # the last attempt's length
    gathers: int  # <Gather input="speech"> verbs the agent sent in it
    voice_mode: str = "gather"  # realtime: the conversation ran on ConversationRelay instead


@dataclass(frozen=True)
class TwilioCost:
    voice: float
    speech: float
    amd: float

    @property
    def total(self) -> float:
        return self.voice + self.speech + self.amd


def speech_units(talk_seconds: int, gathers: int) -> int:
    """15-second units of speech recognition billed for a conversation.

    Twilio bills ``<Gather input="speech">`` per 15 s of audio recognised, rounded up **per
    Gather**, at least one unit for every Gather, even one that hears nothing. The agent's prompt is
    nested in its Gather (barge-in), so the Gathers listen for about the whole connected time.
    Units are therefore at least one per Gather and at least the talk time in 15-s units:
    ``max(ceil(talk / 15), gathers)``. Counting the talk time alone (what the campaign stats did)
    misses the per-Gather minimum — a 60-s call of eight short turns is billed eight units, not
    four — and is the smaller of the two figures a user saw for the same call."""
    return max(math.ceil(max(talk_seconds, 0) / 15), gathers)


def twilio_cost(usage: CallUsage, prices: CallPrices = TWILIO_PRICES) -> TwilioCost:
    """Voice per started minute of every placed attempt, speech recognition of the conversation
    (``speech_units``), answering-machine detection for every attempt it classified (it runs once
    a call is answered: an attempt nobody picked up has no verdict and no AMD charge)."""
    voice = sum(math.ceil(s / 60) for s in usage.attempt_seconds) * prices.voice_per_started_minute
    if usage.voice_mode == "realtime":  # ConversationRelay per started minute of the conversation
        speech = math.ceil(max(usage.talk_seconds, 0) / 60) * prices.relay_per_started_minute
    else:
        speech = speech_units(usage.talk_seconds, usage.gathers) * prices.speech_per_15_seconds
    amd = usage.amd_runs * prices.amd_per_call
    return TwilioCost(voice, speech if usage.answered else 0.0, amd)


def call_usage(
    attempt_history: Iterable[Mapping[str, Any]],
    *,
    answered: bool,
    answered_by: str | None,
    duration_s: int | None,
    turns: Iterable[Mapping[str, Any]],
    voice_mode: str | None = None,
) -> CallUsage:
    """A call's usage from its record (the stored call or ``GET /calls/{id}``, which show the same
    fields): the attempts Twilio placed are those with a Call SID; each finished attempt's length
    and, for attempts before the last, who answered are on its history entry; the last attempt's
    answerer and length are on the call itself (its length also on its entry once it ended)."""
    placed = [a for a in attempt_history if a.get("twilio_sid")]
    seconds = [int(a.get("duration_s") or 0) for a in placed]
    if placed and not any(seconds) and duration_s:
        seconds[-1] = int(duration_s)  # the last attempt's length is on the call itself
    amd = sum(1 for a in placed[:-1] if a.get("answered_by"))
    amd += 1 if answered_by or (placed and placed[-1].get("answered_by")) else 0
    return CallUsage(
        attempt_seconds=tuple(seconds),
        amd_runs=amd,
        answered=answered,
        talk_seconds=int(duration_s or 0),
        gathers=count_gathers(turns),
        voice_mode=voice_mode or "gather",
    )


def count_gathers(turns: Iterable[Mapping[str, Any]]) -> int:
    """Speech Gathers the agent sent: every turn whose document listened for an answer."""
    return sum(listened(turn) for turn in turns)
