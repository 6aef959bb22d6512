"""K simultaneous calls through the local stack: none lost, none doubled, and how turns scale.

    .venv/bin/python bench/concurrency.py [--k 50 200 500]

One local stack (moto server, API gateway emulator, carrier simulator, pump; pacing limits raised
so they do not throttle). For each K: K contacts answer as the interested buyer; one bulk request
triggers K calls due now; the bench waits until every call is terminal. The post-call chain is
off (it runs after the call, off the turn path, and would share the 2 cores; --post-call keeps
it). A call is completed when it ends with its expected outcome (demo_scheduled), lost if it never
reaches a terminal status, doubled if its number was dialed more than once. Turn time is the
voice webhook's own time for /twilio/turn; turn latency adds the wait for the process (every
handler shares its 2 cores and GIL, and API events take turns: see harness.one_request_at_a_time;
--no-lock shows what happens without)."""

from __future__ import annotations

import argparse
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from harness import Api, local_stack, median, one_request_at_a_time, p99, phone_number, quiet

PERSONA, OUTCOME = "interested_buyer", "demo_scheduled"
# Twilio gives a webhook 15 s. One process serving K calls queues their webhooks (2 cores, API
# events one at a time), so past K≈100 the wait alone exceeds it and calls would be cut short by
# the emulator, not by the product: the carrier waits longer here and the latency is reported.
WEBHOOK_TIMEOUT_S = 600.0
TERMINAL = {"completed", "busy", "no_answer", "failed", "canceled"}


class TurnClock:
    """Times every /twilio/turn invocation the gateway makes."""

    def __init__(self, registry: Any) -> None:
        self.turns: list[tuple[float, float]] = []  # (start, seconds)
        self._lock = threading.Lock()
        invoke = registry.invoke

        def timed(function: str, event: Any) -> Any:
            started = time.perf_counter()
            try:
                return invoke(function, event)
            finally:
                if isinstance(event, dict) and event.get("path") == "/twilio/turn":
                    with self._lock:
                        self.turns.append((started, time.perf_counter() - started))

        registry.invoke = timed

    def take(self) -> list[tuple[float, float]]:
        with self._lock:
            turns, self.turns = self.turns, []
        return turns


def wait_until(predicate: Any, timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def run(stack: Any, api: Api, clocks: tuple[TurnClock, TurnClock], k: int, first: int, timeout: float
        ) -> dict[str, float]:  # fmt: skip
    from autocall.adapters.calls import get_calls

    numbers = [phone_number(first + i) for i in range(k)]
    for number in numbers:
        stack.carrier.register_callee(number, PERSONA, name="John")
    with ThreadPoolExecutor(8) as pool:
        contacts = list(pool.map(api.contact, numbers))
    for clock in clocks:
        clock.take()
    started = time.perf_counter()
    body = {
        "calls": [{"contact_id": c, "call_purpose": "sales_outreach", "delay_minutes": 0} for c in contacts]
    }
    call_ids = [
        str(call["call_id"]) for call in api.post("/calls/api/calls/bulk_autonomous_calls/", body)["calls"]
    ]

    def statuses() -> dict[str, Any]:
        return {
            cid: row
            for i in range(0, len(call_ids), 100)
            for cid, row in get_calls(call_ids[i : i + 100]).items()
        }

    wait_until(lambda: sum(r.status in TERMINAL for r in statuses().values()) == k, timeout)
    elapsed = time.perf_counter() - started
    wait_until(stack.idle, 120)  # whatever is still running drains before the next K
    rows = statuses()
    turns, waited = (clock.take() for clock in clocks)
    dials = {number: len(stack.carrier.calls(to=number)) for number in numbers}
    window = max(s + d for s, d in turns) - min(s for s, _ in turns) if turns else 0.0
    durations = [d for _, d in turns]
    return {
        "k": k,
        "completed": sum(r.status == "completed" and r.outcome == OUTCOME for r in rows.values()),
        "lost": k - sum(r.status in TERMINAL for r in rows.values()),
        "doubled": sum(max(0, n - 1) for n in dials.values())
        + sum(int(r.attempts) > 1 for r in rows.values()),
        "turns": len(turns),
        "turns_per_s": len(turns) / window if window else 0.0,
        "turn_median_ms": median(durations) * 1000 if durations else 0.0,
        "turn_p99_ms": p99(durations) * 1000 if durations else 0.0,
        "latency_median_ms": median([d for _, d in waited]) * 1000 if waited else 0.0,
        "seconds": elapsed,
    }


def measure(ks: list[int], timeout: float = 300.0, lock: bool = True, post_call: bool = False
            ) -> list[dict[str, float]]:  # fmt: skip
    results = []
    env = {} if post_call else {"POST_CALL_STATE_MACHINE_ARN": ""}
    with local_stack(workers=max(ks) + 16, serialize_api=False, **env) as stack:
        api = Api(stack)
        stack.carrier.webhook_timeout = WEBHOOK_TIMEOUT_S
        own = TurnClock(stack.registry)
        if lock:
            one_request_at_a_time(stack.registry)
        clocks = (own, TurnClock(stack.registry))
        print("concurrent calls through the local stack (interested_buyer, sales_outreach)")
        print(f"  {'K':>4s} {'completed':>9s} {'lost':>5s} {'doubled':>7s} {'turns':>6s} {'turns/s':>8s} "
              f"{'turn median':>11s} {'turn p99':>9s} {'latency median':>14s} {'all done in':>11s}"
              )  # fmt: skip
        first = 0
        for k in ks:
            with quiet():
                row = run(stack, api, clocks, k, first, timeout)
            first += k
            results.append(row)
            print(
                f"  {k:4d} {row['completed']:9.0f} {row['lost']:5.0f} {row['doubled']:7.0f} "
                f"{row['turns']:6.0f} "
                f"{row['turns_per_s']:8.1f} {row['turn_median_ms']:9.1f}ms {row['turn_p99_ms']:7.1f}ms "
                f"{row['latency_median_ms']:12.1f}ms {row['seconds']:10.1f}s"
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds for all K calls to end")
    parser.add_argument("--no-lock", action="store_true", help="let API events run at once (unsafe)")
    parser.add_argument("--post-call", action="store_true", help="run the post-call chain too")
    args = parser.parse_args()
    measure(args.k, args.timeout, lock=not args.no_lock, post_call=args.post_call)


if __name__ == "__main__":
    main()
