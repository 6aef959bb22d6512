"""The voice-to-voice gap and the cost per minute of a call, Gather mode beside realtime mode.

    .venv/bin/python bench/voice_gap.py [--ours-gather-ms X] [--ours-realtime-ms Y]

The gap a callee hears is the time from the end of their speech to the first syllable of the agent's
answer. Most of it is not ours: speech-end detection, the model, text-to-speech and the network
belong to Twilio, OpenAI and the carriers. This script adds **our measured time** (the voice
webhook's own time per turn from ``bench/turn.py``; the realtime function's time from a final
``prompt`` to its first ``text`` message from ``bench/realtime.py``) to each vendor part, taken from
published figures: every part below names its source and when it was read, or says it is our
assumption and why. Change a figure here when a vendor's page changes; the table follows.

What differs between the modes (the reason realtime is faster):
  Gather    Twilio waits for the end of speech with ``speechTimeout="auto"``, posts the final
            transcript to our webhook, we ask the model for the **whole** answer, return TwiML,
            and only then does Twilio fetch and start speaking it.
  realtime  ConversationRelay's streaming recognition sends the final ``prompt`` over a WebSocket;
            the model streams and we send the first speakable clause as soon as it is complete,
            so the caller hears the first words while the model is still writing the rest.

Cost per minute uses the same list prices as the rest of autocall (``autocall/pricing.py``) plus the
ConversationRelay and WebSocket prices below, at a stated conversation shape (turns per minute,
chunks per reply)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import harness  # noqa: F401  (puts the layer on sys.path)
from cost import PLATFORMS

# isort: split
# (harness puts the layer on sys.path first)
from autocall import pricing as P
from autocall.pricing import Price, speech_units

READ = "2026-12"


@dataclass(frozen=True)
class Part:
    name: str
    ms: float
    source: str  # a URL, or "assumption: why"


# --- the model the figures assume -------------------------------------------------------------------
MODEL = P.LLM_MODEL  # gpt-4o-mini, the template's default OpenAiModel
ARTIFICIAL_ANALYSIS = "https://artificialanalysis.ai/models/gpt-4o-mini (median of their daily runs)"
MODEL_TTFT_MS = 450.0  # time to first token, OpenAI API
MODEL_TOKENS_PER_S = 70.0  # output speed once streaming
REPLY_TOKENS = 40  # a spoken reply of ~2 sentences (~30 words)
FIRST_CLAUSE_TOKENS = 8  # our chunker sends at a clause boundary of at least a few words

TWILIO_GATHER = "https://www.twilio.com/docs/voice/twiml/gather#speechtimeout"
RELAY_DOCS = "https://www.twilio.com/docs/voice/conversationrelay"
ELEVENLABS = "https://elevenlabs.io/docs/models#flash-v25 (~75 ms model latency)"


def gather_parts(ours_ms: float) -> list[Part]:
    full_completion = MODEL_TTFT_MS + REPLY_TOKENS / MODEL_TOKENS_PER_S * 1000
    return [
        Part("end of speech detected (speechTimeout=auto)", 1000.0,
             f"assumption: {TWILIO_GATHER} sets no figure for 'auto'; ~1 s is what Gather users report"),
        Part("final transcript POSTed to API Gateway (Twilio us1 → us-east-1)", 60.0,
             "assumption: one HTTPS request inside the US east coast, TLS reused"),
        Part("API Gateway + Lambda invoke (warm)", 25.0,
             "assumption: REST proxy integration overhead, AWS does not publish a figure"),
        Part("ours: the voice webhook's own time", ours_ms, "measured: bench/turn.py, same run"),
        Part(f"the model's whole answer ({MODEL}, {REPLY_TOKENS} tokens)", full_completion,
             f"{ARTIFICIAL_ANALYSIS}: TTFT {MODEL_TTFT_MS:.0f} ms + "
             f"{REPLY_TOKENS} tokens at {MODEL_TOKENS_PER_S:.0f}/s"),
        Part("TwiML back to Twilio, parsed", 60.0, "assumption: the same path back"),
        Part("<Say> text-to-speech starts (Amazon Polly neural via Twilio)", 300.0,
             "assumption: Twilio synthesises the whole <Say> sentence before playing"),
    ]  # fmt: skip


def realtime_parts(ours_ms: float) -> list[Part]:
    first_clause = FIRST_CLAUSE_TOKENS / MODEL_TOKENS_PER_S * 1000
    return [
        Part("end of speech detected (ConversationRelay streaming STT)", 250.0,
             f"assumption: {RELAY_DOCS} — streaming recognition finalises on a short pause "
             "(Deepgram's default endpointing is 10 ms of silence plus model time)"),
        Part("prompt over the WebSocket to API Gateway", 40.0,
             "assumption: one frame on an open socket inside the US east coast"),
        Part("API Gateway WebSocket → Lambda invoke (warm)", 25.0,
             "assumption: AWS does not publish a figure; as the REST route"),
        Part("ours: prompt in → first text message out, minus the model", ours_ms,
             "measured: bench/realtime.py, same run"),
        Part(f"the model's first token ({MODEL})", MODEL_TTFT_MS, ARTIFICIAL_ANALYSIS),
        Part(f"the first clause ({FIRST_CLAUSE_TOKENS} tokens)", first_clause,
             f"{ARTIFICIAL_ANALYSIS}: {MODEL_TOKENS_PER_S:.0f} tokens/s"),
        Part("PostToConnection → Twilio", 40.0, "assumption: the same path back"),
        Part("text-to-speech first audio (ElevenLabs Flash via ConversationRelay)", 150.0,
             f"{ELEVENLABS} plus ~75 ms of network to Twilio's media edge (assumption)"),
    ]  # fmt: skip


# --- prices this comparison adds to autocall/pricing.py ---------------------------------------------
CONVERSATION_RELAY_MINUTE = P.TWILIO_CONVERSATION_RELAY_MINUTE
APIGW = "https://aws.amazon.com/api-gateway/pricing/"
WEBSOCKET_MESSAGE = Price(1.00 / 1e6, "WebSocket message (32 KB units), either direction", APIGW, READ)
WEBSOCKET_CONNECTION_MINUTE = Price(0.25 / 1e6, "WebSocket connection minute", APIGW, READ)

TURNS_PER_MINUTE = 6  # the callee and the agent alternate about every 10 s
CHUNKS_PER_REPLY = 3  # a two-sentence reply in clauses
MEMORY_GB = 1.0  # VoiceWebhookFunction and RealtimeFunction are 1024 MB
GATHER_TURN_BILLED_MS = 30.0  # warm, playbook or LLM time not counted (it is the model's)
REALTIME_TURN_BILLED_MS = MODEL_TTFT_MS + REPLY_TOKENS / MODEL_TOKENS_PER_S * 1000  # the stream is awaited
DYNAMODB_WRITES_PER_TURN = 2
TOKENS_PER_TURN_IN, TOKENS_PER_TURN_OUT = 1500, REPLY_TOKENS


@dataclass(frozen=True)
class MinuteCost:
    lines: list[tuple[str, float]]

    @property
    def total(self) -> float:
        return sum(usd for _, usd in self.lines)


def _llm_per_minute() -> float:
    per_turn = TOKENS_PER_TURN_IN * P.LLM_INPUT_TOKEN.usd + TOKENS_PER_TURN_OUT * P.LLM_OUTPUT_TOKEN.usd
    return TURNS_PER_MINUTE * per_turn


def _lambda(billed_ms: float) -> float:
    return P.LAMBDA_REQUEST.usd + billed_ms / 1000 * MEMORY_GB * P.LAMBDA_GB_S_ARM.usd


def gather_minute() -> MinuteCost:
    gathers = TURNS_PER_MINUTE
    return MinuteCost([
        ("Twilio voice minute", P.TWILIO_OUTBOUND_MINUTE.usd),
        ("Twilio <Gather> speech recognition", speech_units(60, gathers) * P.TWILIO_SPEECH_15S.usd),
        ("API Gateway REST requests", TURNS_PER_MINUTE * P.API_GATEWAY_REST.usd),
        ("Lambda (one invoke per turn)", TURNS_PER_MINUTE * _lambda(GATHER_TURN_BILLED_MS)),
        ("DynamoDB writes", TURNS_PER_MINUTE * DYNAMODB_WRITES_PER_TURN * P.DYNAMODB_WRITE.usd),
        (f"LLM tokens ({MODEL})", _llm_per_minute()),
    ])  # fmt: skip


def realtime_minute() -> MinuteCost:
    messages_in = TURNS_PER_MINUTE  # one final prompt per turn (partial prompts are off)
    messages_out = TURNS_PER_MINUTE * CHUNKS_PER_REPLY
    return MinuteCost([
        ("Twilio voice minute", P.TWILIO_OUTBOUND_MINUTE.usd),
        ("Twilio ConversationRelay minute", CONVERSATION_RELAY_MINUTE.usd),
        ("API Gateway WebSocket messages", (messages_in + messages_out) * WEBSOCKET_MESSAGE.usd),
        ("API Gateway WebSocket connection minute", WEBSOCKET_CONNECTION_MINUTE.usd),
        ("Lambda (one invoke per prompt, streaming awaited)", messages_in * _lambda(REALTIME_TURN_BILLED_MS)),
        ("DynamoDB writes (turn + a version check per chunk)",
         TURNS_PER_MINUTE * (DYNAMODB_WRITES_PER_TURN + CHUNKS_PER_REPLY) * P.DYNAMODB_WRITE.usd),
        (f"LLM tokens ({MODEL})", _llm_per_minute()),
    ])  # fmt: skip


def _table(title: str, parts: list[Part]) -> float:
    total = sum(part.ms for part in parts)
    print(f"\n{title}: {total:,.0f} ms modelled median")
    for part in parts:
        print(f"  {part.ms:8.1f} ms  {part.name}\n               {part.source}")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ours-gather-ms", type=float, required=True, help="bench/turn.py's own median")
    parser.add_argument("--ours-realtime-ms", type=float, required=True, help="bench/realtime.py's median")
    args = parser.parse_args()
    gather = _table("Gather mode", gather_parts(args.ours_gather_ms))
    realtime = _table("Realtime mode", realtime_parts(args.ours_realtime_ms))
    fast = "met" if realtime <= 800 else "NOT met"
    faster = "met" if gather >= 2 * realtime else "NOT met"
    print(f"\nrealtime {realtime:,.0f} ms (target ≤ 800 ms: {fast}); "
          f"Gather/realtime {gather / realtime:.2f}x (target ≥ 2x: {faster})")  # fmt: skip

    shape = f"{TURNS_PER_MINUTE} turns, {CHUNKS_PER_REPLY} chunks a reply, list prices"
    print(f"\nCost per connected minute ({shape})")
    for title, minute in (("Gather", gather_minute()), ("realtime", realtime_minute())):
        print(f"  {title}: ${minute.total:.4f}")
        for name, usd in minute.lines:
            print(f"    ${usd:.5f}  {name}")
    print("  hosted platforms (their own fee; most bill the model, speech and telephony on top):")
    for name, price in PLATFORMS.items():
        print(f"    ${price.usd:.3f}  {name}: per {price.per} ({price.source}, read {price.read})")
    print(
        f"  prices: {CONVERSATION_RELAY_MINUTE.source} and {APIGW}, read {READ}; the rest autocall/pricing.py"
    )


if __name__ == "__main__":
    main()
