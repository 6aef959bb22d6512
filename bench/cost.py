"""What a call costs: every AWS request it really makes, priced, beside Twilio, the LLM and the
hosted voice-agent platforms.

    .venv/bin/python bench/cost.py

One call of each purpose runs through the local stack (trigger → dialer → carrier → webhooks →
post-call chain), one after the other, and everything it causes is metered until the stack is idle:
  AWS requests   botocore's before-send on every session (boto3's and pynamodb's, which makes its
                 own: the hook sits in botocore's built-in handlers, so every session gets it),
                 made by our handlers (Step Functions' own Lambda invokes are priced as transitions
                 and invocations);
                 DynamoDB request units from the items' sizes (1 KB per write unit, 4 KB per read
                 unit, half for eventually consistent reads, twice for transactions)
  Lambda         invocations and billed milliseconds (measured here, rounded up) x configured memory
  API Gateway    requests through the gateway; Step Functions: state transitions of the executions
  Scheduler      one invocation per schedule created; CloudWatch Logs: bytes the handlers printed
  X-Ray          one trace per API request, async invoke and workflow execution
  Twilio         the one cost rule of autocall/pricing.py on the carrier's call: started minutes,
                 speech recognition (15-s units of the talk time, at least one per <Gather>), AMD
  LLM            the tokens the LLM brain would send for these turns (its prompt, transcript and
                 tools, ~4 characters a token) and the post-call analysis, at the template's model
Prices: layers/common/autocall/pricing.py (the hosted platforms' per-minute prices, a comparison only
this bench makes, are here). Target: AWS ≤ $0.002 for a 3-minute call (the fixed part of a call plus
the per-turn part at the turns per minute of these calls)."""

from __future__ import annotations

import argparse
import json
import math
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from harness import TURN_ROUTE, Api, as_function, local_stack, phone_number, quiet

# isort: split
# (harness puts the layer on sys.path first)
from autocall import pricing as P
from autocall.pricing import CallUsage, Price, speech_units, twilio_cost

PURPOSES = {
    "sales_outreach": "interested_buyer",
    "follow_up": "follow_up_proposal",
    "customer_support": "support_unresolved",
    "appointment_booking": "appointment_taker",
    "renewal_reminder": "renewal_happy",
}
TARGET_3MIN_AWS = 0.002
CHARS_PER_TOKEN = 4.0

# hosted voice-agent platforms, per connected minute: what a user compares us with (not a charge of
# a call of ours, so not in autocall.pricing)
PLATFORMS: dict[str, Price] = {
    "Vapi": Price(0.05, "minute, platform fee only (STT, LLM, TTS, telephony billed on top)",
                  "https://vapi.ai/pricing", "2026-04"),
    "Retell AI": Price(0.07, "minute, voice engine only (LLM and telephony billed on top)",
                       "https://www.retellai.com/pricing", "2026-03"),
    "Bland AI": Price(0.14, "connected minute, Start plan (Build $0.12, Scale $0.11)",
                      "https://docs.bland.ai/platform/billing", "2025-12-05 (effective date)"),
}  # fmt: skip


# --- metering -----------------------------------------------------------------------------------


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values (numbers ~1 byte per 2 digits)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    (kind, inner), *_ = value.items()
    if kind in ("S", "B"):
        return len(inner.encode() if isinstance(inner, str) else inner)
    if kind == "N":
        return len(inner) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + _value_size(v) for k, v in inner.items())
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in inner)
    return sum(len(str(v)) for v in inner)  # SS, NS, BS


def _units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))


@dataclass
class Meter:
    """Everything metered since the last ``take``; attributed to the function running in the thread."""

    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    rru: float = 0.0
    wru: float = 0.0
    invocations: list[tuple[str, str, float]] = field(default_factory=list)  # (function, kind, seconds)
    api_requests: int = 0
    async_invokes: int = 0
    turn_rru: float = 0.0
    turn_wru: float = 0.0
    turn_requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _local: threading.local = field(default_factory=threading.local)

    def install_hooks(self) -> None:
        """Before any botocore session exists: every session then copies these handlers."""
        from botocore.handlers import BUILTIN_HANDLERS

        BUILTIN_HANDLERS.append(("before-send", self._sent))
        BUILTIN_HANDLERS.append(("before-parameter-build.dynamodb", self._dynamodb_request))
        BUILTIN_HANDLERS.append(("after-call.dynamodb", self._dynamodb_response))

    def _in_turn(self) -> bool:
        return getattr(self._local, "kind", None) == TURN_ROUTE

    def _in_handler(self) -> bool:
        """Our code's requests only: not Step Functions invoking the post-call Lambda (priced as
        Lambda invocations and transitions), nor the bench's own reads."""
        return getattr(self._local, "kind", None) is not None

    def _sent(self, event_name: str = "", **kwargs: Any) -> None:
        if not self._in_handler():
            return
        _, service, operation = [*event_name.split("."), "", ""][:3]
        with self._lock:
            self.requests[(service, operation)] += 1
            self.turn_requests += self._in_turn()

    @staticmethod
    def _dynamodb_request(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench_params"] = params

    def _dynamodb_response(
        self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        if not self._in_handler():
            return
        params = context.get("bench_params") or {}
        op, consistent = model.name, 1.0 if params.get("ConsistentRead") else 0.5
        rru = wru = 0.0
        if op == "GetItem":
            rru = _units(item_size(parsed.get("Item") or {}), 4096) * consistent
        elif op in ("Query", "Scan"):
            rru = _units(sum(item_size(i) for i in parsed.get("Items") or []), 4096) * consistent
        elif op == "BatchGetItem":
            rru = sum(_units(item_size(i), 4096) for items in (parsed.get("Responses") or {}).values()
                      for i in items)  # fmt: skip
        elif op == "PutItem":
            wru = _units(item_size(params.get("Item") or {}), 1024)
        elif op in ("UpdateItem", "DeleteItem"):
            wru = _units(item_size(parsed.get("Attributes") or {}), 1024)
        elif op == "BatchWriteItem":
            wru = sum(_units(item_size((r.get("PutRequest") or {}).get("Item") or {}), 1024)
                      for rs in (params.get("RequestItems") or {}).values() for r in rs)  # fmt: skip
        elif op == "TransactWriteItems":
            wru = 2.0 * len(params.get("TransactItems") or [])
        elif op == "TransactGetItems":
            rru = 2.0 * len(params.get("TransactItems") or [])
        with self._lock:
            self.rru += rru
            self.wru += wru
            if self._in_turn():
                self.turn_rru += rru
                self.turn_wru += wru

    def install_registry(self, registry: Any, gateway: Any) -> None:
        invoke, invoke_async, handle = registry.invoke, registry.invoke_async, gateway.handle
        meter = self

        def metered_invoke(function: str, event: Any) -> Any:
            lid = registry.logical_id(function)
            # an API event's route (its resource path: a turn's ids are in its path), a step's name
            kind = str(event.get("resource") or event.get("step") or lid) if isinstance(event, dict) else lid
            outer = getattr(meter._local, "kind", None)
            meter._local.kind = kind
            started = time.perf_counter()
            try:
                return invoke(function, event)
            finally:
                seconds = time.perf_counter() - started
                meter._local.kind = outer
                with meter._lock:
                    meter.invocations.append((lid, kind, seconds))

        def metered_async(function: str, event: Any) -> None:
            with meter._lock:
                meter.async_invokes += 1
            invoke_async(function, event)

        def metered_handle(*args: Any, **kwargs: Any) -> Any:
            with meter._lock:
                meter.api_requests += 1
            return handle(*args, **kwargs)

        registry.invoke, registry.invoke_async, gateway.handle = metered_invoke, metered_async, metered_handle

    def take(self) -> Meter:
        with self._lock:
            taken = Meter(
                Counter(self.requests), self.rru, self.wru, list(self.invocations), self.api_requests,
                self.async_invokes, self.turn_rru, self.turn_wru, self.turn_requests,
            )  # fmt: skip
            self.requests.clear()
            self.invocations.clear()
            self.rru = self.wru = self.turn_rru = self.turn_wru = 0.0
            self.api_requests = self.async_invokes = self.turn_requests = 0
        return taken


def transitions() -> int:
    """State transitions of every post-call execution so far (moto keeps their histories)."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    from local.template import ACCOUNT_ID, REGION

    backend: Any = stepfunctions_parser_backends[ACCOUNT_ID][REGION]
    return sum(
        1
        for machine in list(backend.state_machines)
        for execution in list(machine.executions)
        for event in execution.to_history_output()["events"]
        if str(event["type"]).endswith("StateEntered")
    )


def executions() -> int:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    from local.template import ACCOUNT_ID, REGION

    backend = stepfunctions_parser_backends[ACCOUNT_ID][REGION]
    return sum(len(list(machine.executions)) for machine in list(backend.state_machines))


# --- tokens ---------------------------------------------------------------------------------------


def llm_tokens(registry: Any, call_id: str) -> tuple[int, int, int]:
    """(input tokens, output tokens, model calls) the LLM brain and the LLM analysis would use:
    each part built as its function builds it, with that function's settings (its environment)."""
    import copy

    from autocall.domain.brain.llm.prompt import messages as _messages
    from autocall.domain.brain.llm.tools import tool_specs
    from autocall.domain.brain.memory import load_memory
    from autocall.domain.brain.purposes import playbook_for
    from autocall.domain.conversation import build_context
    from autocall.domain.post_call.analysis import _llm_prompt, transcript
    from autocall.domain.post_call.context import load
    from autocall.models.enums import CallPurpose
    from autocall.stores.calls import get_call
    from autocall.stores.contacts import get_contact

    prompt = completion = calls = 0
    with as_function(registry, "VoiceWebhookFunction"):  # the brain runs in the voice webhook
        call = get_call(call_id)
        contact = get_contact(call.contact_id) if call else None
        if call is None or contact is None:
            return 0, 0, 0
        turns = list(call.turns or [])
        pb = playbook_for(CallPurpose(call.purpose))
        for number, turn in enumerate(turns[1:], start=1):  # turn 0 is the fixed opening: no model call
            before = copy.copy(call)
            before.turns = turns[:number]
            ctx = build_context(before, contact)
            mem = load_memory((call.memory or {}).get("brain") or {})
            sent = json.dumps(_messages(ctx, pb, mem, turn.get("utterance") or "")) + json.dumps(
                tool_specs(ctx, pb)
            )
            prompt += math.ceil(len(sent) / CHARS_PER_TOKEN)
            completion += math.ceil(len(turn.get("reply") or "") / CHARS_PER_TOKEN) + 20  # + a tool call
            calls += 1
    with as_function(registry, "PostCallFunction"):  # the analysis runs in the post-call chain
        post = load(call_id)
        schema = 400  # the CallAnalysis JSON schema sent as response_format
        prompt += math.ceil((len(_llm_prompt(post)) + len(transcript(post))) / CHARS_PER_TOKEN) + schema
        completion += 250
    return prompt, completion, calls + 1


# --- one call ---------------------------------------------------------------------------------------


def run_call(stack: Any, api: Api, meter: Meter, purpose: str, persona: str, index: int) -> dict[str, Any]:
    from autocall.stores.calls import get_call

    number = phone_number(90_000 + index)
    stack.carrier.register_callee(number, persona, name="John")
    contact = api.contact(number)
    stack.idle()
    meter.take()
    sfn_before, runs_before = transitions(), executions()
    sink_before = _printed()
    call_id = api.expect(
        202,
        "POST",
        "/calls/api/calls/trigger_autonomous_call/",
        json={"contact_id": contact, "call_purpose": purpose, "context": {"budget_range": "$10k-50k"}},
    )["call_id"]
    deadline = time.monotonic() + 120
    time.sleep(0.5)
    while time.monotonic() < deadline and not (stack.carrier.wait_idle(0) and stack.idle()):
        time.sleep(0.2)
    used = meter.take()
    sim = stack.carrier.calls(to=number)[0]
    row = get_call(call_id)
    gathers = [w for w in sim.webhooks if w.kind == "action" and w.attempt == 1 and not w.duplicate]
    prompt, completion, model_calls = llm_tokens(stack.registry, call_id)
    return {
        "purpose": purpose,
        "outcome": row.outcome if row else None,
        "seconds": int(sim.duration or 0),
        "turns": sum(1 for _, kind, _ in used.invocations if kind == TURN_ROUTE),
        "gathers": len(gathers),
        "amd": 1 if sim.machine_detection else 0,
        "meter": used,
        "transitions": transitions() - sfn_before,
        "executions": executions() - runs_before,
        "log_bytes": _printed() - sink_before,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "model_calls": model_calls,
    }


_SINK: Any = None


def _printed() -> int:
    return int(_SINK.written) if _SINK is not None else 0


# --- pricing ----------------------------------------------------------------------------------------


def memory_gb(template: Any) -> dict[str, float]:
    globals_mb = template.template.get("Globals", {}).get("Function", {}).get("MemorySize", 128)
    return {
        lid: float(res["Properties"].get("MemorySize", globals_mb)) / 1024
        for lid, res in template.of_type("AWS::Serverless::Function").items()
    }


def aws_cost(call: dict[str, Any], gb: dict[str, float], turns_only: bool = False) -> dict[str, float]:
    """USD by AWS service for the whole call, or for its /twilio/turn invocations only."""
    m: Meter = call["meter"]
    invocations = [i for i in m.invocations if not turns_only or i[1] == TURN_ROUTE]
    gb_s = sum(gb[lid] * math.ceil(seconds * 1000) / 1000 for lid, _, seconds in invocations)
    if turns_only:
        n = len(invocations)
        return {
            "Lambda": gb_s * P.LAMBDA_GB_S_ARM.usd + n * P.LAMBDA_REQUEST.usd,
            "API Gateway": n * P.API_GATEWAY_REST.usd,
            "DynamoDB": m.turn_rru * P.DYNAMODB_READ.usd + m.turn_wru * P.DYNAMODB_WRITE.usd,
            "X-Ray": n * P.XRAY_TRACE.usd,
        }
    requests = m.requests
    return {
        "Lambda": gb_s * P.LAMBDA_GB_S_ARM.usd + len(invocations) * P.LAMBDA_REQUEST.usd,
        "API Gateway": m.api_requests * P.API_GATEWAY_REST.usd,
        "DynamoDB": m.rru * P.DYNAMODB_READ.usd + m.wru * P.DYNAMODB_WRITE.usd,
        "Step Functions": call["transitions"] * P.STEP_FUNCTIONS_TRANSITION.usd,
        "Scheduler": requests[("scheduler", "CreateSchedule")] * P.SCHEDULER_INVOCATION.usd,
        "EventBridge": requests[("eventbridge", "PutEvents")] * P.EVENTBRIDGE_EVENT.usd,
        "SES": (requests[("ses", "SendRawEmail")] + requests[("ses", "SendEmail")]) * P.SES_EMAIL.usd,
        "SNS": requests[("sns", "Publish")] * P.SNS_PUBLISH.usd,
        "Secrets Manager": requests[("secrets-manager", "GetSecretValue")] * P.SECRETS_MANAGER_CALL.usd,
        "CloudWatch Logs": call["log_bytes"] / 1e9 * P.CLOUDWATCH_LOGS_GB.usd,
        "X-Ray": (m.api_requests + m.async_invokes + call["executions"]) * P.XRAY_TRACE.usd,
    }


def other_cost(call: dict[str, Any]) -> dict[str, float]:
    twilio = twilio_cost(
        CallUsage(
            attempt_seconds=(call["seconds"],),
            amd_runs=call["amd"],
            answered=True,  # every persona here picks up and talks
            talk_seconds=call["seconds"],
            gathers=call["gathers"],
        )
    )
    return {
        "Twilio minutes": twilio.voice,
        "Twilio speech": twilio.speech,
        "Twilio AMD": twilio.amd,
        "LLM": call["prompt_tokens"] * P.LLM_INPUT_TOKEN.usd
        + call["completion_tokens"] * P.LLM_OUTPUT_TOKEN.usd,
    }


def three_minute_call(calls: list[dict[str, Any]], gb: dict[str, float]) -> dict[str, float]:
    """A 3-minute call: each call's fixed AWS part, plus its per-turn part at its turns per minute;
    Twilio by the one cost rule at 3 minutes and a Gather per turn; the LLM per turn likewise."""
    aws, twilio, llm = [], [], []
    for call in calls:
        total, turn = sum(aws_cost(call, gb).values()), sum(aws_cost(call, gb, turns_only=True).values())
        per_minute = call["turns"] / max(call["seconds"] / 60, 1e-9)
        turns_3 = per_minute * 3
        aws.append(total - turn + turn / max(call["turns"], 1) * turns_3)
        twilio.append(
            3 * P.TWILIO_OUTBOUND_MINUTE.usd
            + speech_units(180, math.ceil(turns_3)) * P.TWILIO_SPEECH_15S.usd
            + P.TWILIO_AMD.usd
        )
        llm.append(other_cost(call)["LLM"] / max(call["model_calls"], 1) * (turns_3 + 1))
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    return {"aws": mean(aws), "twilio": mean(twilio), "llm": mean(llm)}


def report(calls: list[dict[str, Any]], gb: dict[str, float]) -> dict[str, float]:
    print("cost per call (one call of each purpose through the local stack, post-call chain included)")
    print(f"  {'purpose':20s} {'outcome':22s} {'min':>4s} {'turns':>5s} {'AWS req':>7s} {'RRU':>5s} "
          f"{'WRU':>5s} {'AWS $':>9s} {'Twilio $':>9s} {'LLM $':>8s} {'total $':>8s} {'$/min':>7s}"
          )  # fmt: skip
    by_service: dict[str, float] = defaultdict(float)
    totals = []
    for call in calls:
        aws, other = aws_cost(call, gb), other_cost(call)
        for service, usd in aws.items():
            by_service[service] += usd / len(calls)
        twilio = sum(v for k, v in other.items() if k.startswith("Twilio"))
        total = sum(aws.values()) + twilio + other["LLM"]
        minutes = max(call["seconds"] / 60, 1e-9)
        totals.append((sum(aws.values()), total, minutes))
        m: Meter = call["meter"]
        print(
            f"  {call['purpose']:20s} {call['outcome'] or '-':22s} {call['seconds'] / 60:4.1f} "
            f"{call['turns']:5d} "
            f"{sum(m.requests.values()):7d} {m.rru:5.1f} {m.wru:5.0f} {sum(aws.values()):9.6f} {twilio:9.4f} "
            f"{other['LLM']:8.5f} {total:8.4f} {total / minutes:7.4f}"
        )
    ranked = sorted(by_service.items(), key=lambda kv: -kv[1])
    print("  AWS per call by service (mean): " + ", ".join(f"{k} ${v:.6f}" for k, v in ranked if v))
    requests: Counter[tuple[str, str]] = Counter()
    for call in calls:
        requests.update(call["meter"].requests)
    print("  AWS requests per call (mean): " + ", ".join(
        f"{s}.{o} {n / len(calls):.1f}" for (s, o), n in requests.most_common()))  # fmt: skip
    turn_requests = sum(c["meter"].turn_requests for c in calls) / max(sum(c["turns"] for c in calls), 1)
    print(f"  AWS requests per turn: {turn_requests:.2f}")
    three = three_minute_call(calls, gb)
    total_3 = sum(three.values())
    print(
        f"  a 3-minute call: AWS ${three['aws']:.5f} (target <= ${TARGET_3MIN_AWS}), "
        f"Twilio ${three['twilio']:.4f}, LLM ${three['llm']:.4f}: ${total_3:.4f} a call, "
        f"${total_3 / 3:.4f} a minute"
    )
    print("  hosted platforms, list price per minute: " + ", ".join(
        f"{name} ${price.usd:.2f} ({price.per})" for name, price in PLATFORMS.items()))  # fmt: skip
    return {"aws_3min": three["aws"], "total_3min": total_3, "per_minute_3min": total_3 / 3,
            "aws_per_call": sum(a for a, _, _ in totals) / len(totals)}  # fmt: skip


def measure() -> dict[str, float]:
    global _SINK
    meter = Meter()
    meter.install_hooks()
    calls = []
    with local_stack() as stack:
        meter.install_registry(stack.registry, stack.gateway)
        api = Api(stack)
        with quiet() as sink:
            _SINK = sink
            for index, (purpose, persona) in enumerate(PURPOSES.items()):
                calls.append(run_call(stack, api, meter, purpose, persona, index))
        _SINK = None
        return report(calls, memory_gb(stack.template))


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    measure()


if __name__ == "__main__":
    main()
