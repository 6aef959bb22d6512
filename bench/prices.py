"""List prices used by bench/cost.py, in one place: USD, us-east-1, pay-as-you-go, no free tier.

Each price names where it is published and when it was read. AWS and Twilio figures are the ones
the team recorded in shared/FIELD-NOTES.md (checked late 2026) against the public pricing pages
named here; the hosted platforms' and OpenAI's figures come from their public pages as quoted on
the date given. Prices change: re-read the pages before quoting a bill."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    usd: float
    per: str
    source: str
    read: str  # when the figure was read


AWS = "https://aws.amazon.com/{}/pricing/"
FIELD_NOTES = "2026-11 (shared/FIELD-NOTES.md)"

# --- AWS -----------------------------------------------------------------------------------------
LAMBDA_GB_S_ARM = Price(0.0000133334, "GB-second (arm64)", AWS.format("lambda"), FIELD_NOTES)
LAMBDA_REQUEST = Price(0.20 / 1e6, "request", AWS.format("lambda"), FIELD_NOTES)
API_GATEWAY_REST = Price(3.50 / 1e6, "REST API request", AWS.format("api-gateway"), FIELD_NOTES)
DYNAMODB_WRITE = Price(0.625 / 1e6, "write request unit (on-demand)", AWS.format("dynamodb"), FIELD_NOTES)
DYNAMODB_READ = Price(0.125 / 1e6, "read request unit (on-demand)", AWS.format("dynamodb"), FIELD_NOTES)
STEP_FUNCTIONS_TRANSITION = Price(0.025 / 1000, "state transition (Standard)", AWS.format("step-functions"),
                                  FIELD_NOTES)  # fmt: skip
SCHEDULER_INVOCATION = Price(1.00 / 1e6, "schedule invocation", AWS.format("eventbridge"), FIELD_NOTES)
EVENTBRIDGE_EVENT = Price(1.00 / 1e6, "custom event published", AWS.format("eventbridge"), FIELD_NOTES)
SES_EMAIL = Price(0.10 / 1000, "e-mail", AWS.format("ses"), FIELD_NOTES)
SNS_PUBLISH = Price(0.50 / 1e6, "publish", AWS.format("sns"), FIELD_NOTES)
SECRETS_MANAGER_CALL = Price(0.05 / 10_000, "API call", AWS.format("secrets-manager"), "2026-11")
CLOUDWATCH_LOGS_GB = Price(0.50, "GB ingested", AWS.format("cloudwatch"), "2026-11")
XRAY_TRACE = Price(5.00 / 1e6, "trace recorded", AWS.format("xray"), "2026-11")

# --- Twilio (US) -----------------------------------------------------------------------------------
TWILIO = "https://www.twilio.com/en-us/voice/pricing/us"
TWILIO_OUTBOUND_MINUTE = Price(0.014, "outbound minute, each started minute", TWILIO, FIELD_NOTES)
TWILIO_SPEECH_15S = Price(0.02, "15 s of <Gather> speech recognition, at least one per Gather", TWILIO,
                          FIELD_NOTES)  # fmt: skip
TWILIO_AMD = Price(0.0075, "call with answering-machine detection", TWILIO, FIELD_NOTES)

# --- the LLM (the template's default OpenAiModel) ------------------------------------------------
OPENAI = "https://openai.com/api/pricing/"
LLM_MODEL = "gpt-4o-mini"
LLM_INPUT_TOKEN = Price(0.15 / 1e6, f"{LLM_MODEL} input token", OPENAI, "2026-04")
LLM_OUTPUT_TOKEN = Price(0.60 / 1e6, f"{LLM_MODEL} output token", OPENAI, "2026-04")

# --- hosted voice-agent platforms, per connected minute (what a user compares us with) -----------
PLATFORMS: dict[str, Price] = {
    "Vapi": Price(0.05, "minute, platform fee only (STT, LLM, TTS, telephony billed on top)",
                  "https://vapi.ai/pricing", "2026-04"),
    "Retell AI": Price(0.07, "minute, voice engine only (LLM and telephony billed on top)",
                       "https://www.retellai.com/pricing", "2026-03"),
    "Bland AI": Price(0.14, "connected minute, Start plan (Build $0.12, Scale $0.11)",
                      "https://docs.bland.ai/platform/billing", "2025-12-05 (effective date)"),
}  # fmt: skip
