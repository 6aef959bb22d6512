"""One conversation turn: our voice webhook's own time against a bare TwiML handler, same run.

    .venv/bin/python bench/turn.py [--turns 500]

Drives the real ``functions/voice_webhook/app.lambda_handler`` with API Gateway events signed with
X-Twilio-Signature, for calls in progress (moto in-process with the template's resources; the
playbook brain, so no LLM time). Each call is answered, then takes a persona's lines one turn at
a time until the agent hangs up; then the next call starts. The bare handler is a Powertools
resolver route that returns a fixed <Response><Say/><Gather/></Response> for the same signed POST;
the "floor with state" is that route plus the two DynamoDB requests no stateful turn can skip (read
the call, write a same-size item) with raw boto3: what lies between it and ours is our own code.

"Own time" is the handler's wall time minus the time spent inside moto's emulated DynamoDB and
Secrets Manager (on AWS that is the services' and the network's time, not the handler's); the
request count per turn is printed beside it. Runs alternate (ours, bare, floor) so drift hits all.

Targets (issue 8): own median ≤ 1.5x bare median; own p99 ≤ 3x own median. The first is not met
and cannot be while a turn reads and writes its call: the client side of the two DynamoDB requests
(botocore's serialization, SigV4 signing, endpoint resolution and parsing) alone is ~10x the bare
route, as the floor with state shows. What is ours to cut is what lies between the floor and us, so
the script also judges ours/floor against 1.5x, and prints which targets are met and why not."""

from __future__ import annotations

import argparse
import gc
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from harness import (
    ANSWER_ROUTE,
    TURN_ROUTE,
    Stopwatch,
    in_process_aws,
    lambda_context,
    median,
    ms,
    p99,
    quiet,
    webhook_event,
)

PERSONA = "interested_buyer"
TARGET_RATIO = 1.5
TARGET_FLOOR_RATIO = 1.5  # ours/floor: what a stateful turn can aim at
TARGET_TAIL = 3.0


@dataclass
class TurnTimes:
    own: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    calls: int = 0


class Conversations:
    """Calls in progress, one after another, each through its persona's lines."""

    def __init__(self, handler: Any, auth_token: str) -> None:
        from local.personas import PERSONAS

        self.handler = handler
        self.auth_token = auth_token
        self.lines = PERSONAS[PERSONA].lines
        self.context = lambda_context("autocall-VoiceWebhookFunction")
        self.calls = 0
        self._new_call()

    def _new_call(self) -> None:
        from autocall.clock import now
        from autocall.domain.contacts import create_contact
        from autocall.models.records import Call
        from autocall.stores import calls as repo

        self.calls += 1
        number = f"+1212555{self.calls % 10000:04d}"
        contact = create_contact(
            {"name": "John Smith", "phone": number, "company": "TechCorp", "consent": True,
             "time_zone": "America/New_York"}
        )  # fmt: skip
        self.call_id = f"bench-{uuid.uuid4().hex[:12]}"
        self.sid = f"CA{uuid.uuid4().hex}"
        repo.new_call(
            Call(
                call_id=self.call_id, contact_id=contact.contact_id, purpose="sales_outreach",
                context={"budget_range": "$10k-50k"}, status="ringing", scheduled_time=repo.iso(now()),
                attempts=1, twilio_sid=self.sid, turns=[], memory={}, attempt_history=[],
            )
        )  # fmt: skip
        answered = self._post(ANSWER_ROUTE, {"call_id": self.call_id}, {"CallStatus": "in-progress"})
        assert "<Gather" in answered, answered
        self.turn = 1

    def _post(self, route: str, params: dict[str, str], form: dict[str, str]) -> str:
        event = webhook_event(route, params, {"CallSid": self.sid, "AccountSid": "AC" + "0" * 32, **form},
                              self.auth_token)  # fmt: skip
        result = self.handler(event, self.context)
        assert result["statusCode"] == 200, result
        return str(result["body"])

    def next_event(self) -> dict[str, Any]:
        line = self.lines[(self.turn - 1) % len(self.lines)].replace("{name}", "John")
        form = {"CallSid": self.sid, "AccountSid": "AC" + "0" * 32, "SpeechResult": line,
                "Confidence": "0.92", "CallStatus": "in-progress"}  # fmt: skip
        params = {"call_id": self.call_id, "turn": str(self.turn)}
        return webhook_event(TURN_ROUTE, params, form, self.auth_token)

    def after(self, body: str) -> None:
        """The agent hung up (or the persona ran out of lines): the next call starts."""
        self.turn += 1
        if "<Hangup" in body or self.turn > len(self.lines):
            self._new_call()


def _timed(watch: Stopwatch, handler: Any, event: Any, context: Any) -> tuple[float, float, int, Any]:
    """Own seconds, wall seconds, AWS requests and the result of one invocation."""
    inside, requests = watch.seconds, watch.requests
    started = time.perf_counter()
    result = handler(event, context)
    wall = time.perf_counter() - started
    return wall - (watch.seconds - inside), wall, watch.requests - requests, result


def measure(turns: int, warmup: int = 20) -> TurnTimes:
    # the calls' setup and the three handlers run as the voice webhook: its environment only
    with in_process_aws() as aws, aws.as_function("VoiceWebhookFunction"), quiet():
        from bare_twiml import lambda_handler as bare
        from bare_twiml import stateful_handler as floor

        watch = Stopwatch()
        watch.install()
        handler = aws.registry.handler("VoiceWebhookFunction")
        talk = Conversations(handler, aws.secrets["twilio_auth_token"])
        times = TurnTimes()
        gc.collect()
        for index in range(warmup + turns):
            event = talk.next_event()
            own, wall, requests, result = _timed(watch, handler, event, talk.context)
            assert result["statusCode"] == 200 and "<Say" in result["body"], result
            bare_s, *_ = _timed(watch, bare, event, talk.context)
            floor_s, *_ = _timed(watch, floor, event, talk.context)
            talk.after(result["body"])
            if index >= warmup:
                times.own.append(own)
                times.wall.append(wall)
                times.bare.append(bare_s)
                times.floor.append(floor_s)
                times.requests.append(requests)
        times.calls = talk.calls
        return times


def report(times: TurnTimes) -> dict[str, float]:
    own, bare, floor = median(times.own), median(times.bare), median(times.floor)
    figures = {
        "own_median_ms": own * 1000,
        "own_p99_ms": p99(times.own) * 1000,
        "with_moto_median_ms": median(times.wall) * 1000,
        "bare_median_ms": bare * 1000,
        "bare_p99_ms": p99(times.bare) * 1000,
        "floor_median_ms": floor * 1000,
        "floor_p99_ms": p99(times.floor) * 1000,
        "ratio": own / bare,
        "ratio_floor": own / floor,
        "tail": p99(times.own) / own,
        "aws_requests_per_turn": sum(times.requests) / len(times.requests),
    }
    print(f"turn handler, {len(times.own)} turns over {times.calls} calls (playbook brain, moto in-process)")
    print(f"  ours, own time      median {ms(own)}   p99 {ms(p99(times.own))}")
    print(f"  ours, with moto     median {ms(median(times.wall))}   p99 {ms(p99(times.wall))}")
    print(f"  bare TwiML route    median {ms(bare)}   p99 {ms(p99(times.bare))}")
    print(f"  floor with state    median {ms(floor)}   p99 {ms(p99(times.floor))}")
    print(
        f"  ours/bare {figures['ratio']:.2f}x (target <= {TARGET_RATIO}x)   "
        f"ours/floor {figures['ratio_floor']:.2f}x (aim <= {TARGET_FLOOR_RATIO}x)   "
        f"p99/median {figures['tail']:.2f}x (target <= {TARGET_TAIL}x)   "
        f"AWS requests per turn {figures['aws_requests_per_turn']:.2f}"
    )
    for line in verdicts(figures):
        print(f"  {line}")
    return figures


def verdicts(figures: dict[str, float]) -> list[str]:
    """Which targets this run met, and why a missed one was missed."""
    floor_over_bare = figures["floor_median_ms"] / figures["bare_median_ms"]
    met = {True: "met", False: "NOT met"}
    return [
        f"ours/bare <= {TARGET_RATIO}x: {met[figures['ratio'] <= TARGET_RATIO]}"
        + (
            f" - unreachable for a stateful turn: the floor with state alone is {floor_over_bare:.1f}x bare "
            f"(the client side of a GetItem and a write); judge ours against the floor"
            if figures["ratio"] > TARGET_RATIO
            else ""
        ),
        f"ours/floor <= {TARGET_FLOOR_RATIO}x: {met[figures['ratio_floor'] <= TARGET_FLOOR_RATIO]}"
        + (
            " - above the floor: the brain, the Powertools decorators and signature check, and the turn's"
            " own JSON (the floor copies an item it does not build)"
            if figures["ratio_floor"] > TARGET_FLOOR_RATIO
            else ""
        ),
        f"p99/median <= {TARGET_TAIL}x: {met[figures['tail'] <= TARGET_TAIL]}"
        + (
            " - compare the floor's own p99 in this run: a tail the floor shares is the machine's load"
            if figures["tail"] > TARGET_TAIL
            else ""
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=500)
    report(measure(parser.parse_args().turns))


if __name__ == "__main__":
    main()
