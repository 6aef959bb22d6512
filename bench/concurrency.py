"""K simultaneous calls through the local stack: none lost, none doubled, and how turns scale.

    .venv/bin/python bench/concurrency.py [--k 50 200 500]

One local stack (moto server, API gateway emulator, carrier simulator, pump; pacing limits raised
so they do not throttle). For each K: K contacts answer as the interested buyer; one bulk request
triggers K calls due now; the bench waits until every call is terminal. The post-call chain is
off (it runs after the call, off the turn path, and would share the 2 cores; --post-call keeps
it). A call is completed when it ends with its expected outcome (demo_scheduled), lost if it never
reaches a terminal status, doubled if its number was dialed more than once. Turn time is the
voice webhook's own time for /twilio/turn; turn latency adds the wait for the process (every
handler shares its 2 cores and GIL) and for the voice webhook itself: the local stack runs one
invocation per execution environment, as Lambda does (see local/lambdas.py), and this bench gives
each function one environment (AUTOCALL_LAMBDA_INSTANCES=1), so a turn's own time is not shared
with other turns on the GIL: K calls' webhooks queue for the one emulated instance."""

from __future__ import annotations

import argparse
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from harness import TURN_ROUTE, Api, local_stack, median, p99, phone_number, quiet

PERSONA, OUTCOME = "interested_buyer", "demo_scheduled"
# Twilio gives a webhook 15 s. One process serving K calls queues their webhooks (2 cores, one
# voice webhook invocation at a time), so past K≈100 the wait alone exceeds it and calls would be cut short by
# the emulator, not by the product: the carrier waits longer here and the latency is reported.
WEBHOOK_TIMEOUT_S = 600.0
TERMINAL = {"completed", "busy", "no_answer", "failed", "canceled"}


class TurnClock:
    """Times every /twilio/turn invocation: the handler's own time (``own``, inside the function's
    lock) or the latency the gateway sees (waiting for the function included)."""

    def __init__(self, registry: Any, own: bool) -> None:
        self.turns: list[tuple[float, float]] = []  # (start, seconds)
        self._lock = threading.Lock()
        name = "run_handler" if own else "invoke"
        call = getattr(registry, name)

        def timed(*args: Any) -> Any:
            event = args[-2] if own else args[-1]
            started = time.perf_counter()
            try:
                return call(*args)
            finally:
                if isinstance(event, dict) and event.get("resource") == TURN_ROUTE:
                    with self._lock:
                        self.turns.append((started, time.perf_counter() - started))

        setattr(registry, name, timed)

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
    from autocall.stores.calls import get_calls

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
        str(call["call_id"])
        for call in api.expect(202, "POST", "/calls/api/calls/bulk_autonomous_calls/", json=body)["calls"]
    ]

    def statuses() -> dict[str, Any]:
        return {
            cid: row
            for i in range(0, len(call_ids), 100)
            for cid, row in get_calls(call_ids[i : i + 100]).items()
        }

    def all_terminal() -> bool:
        return sum(r.status in TERMINAL for r in statuses().values()) == k

    def all_dialed_and_quiet() -> bool:
        dialed = stack.carrier.dial_counts()
        return all(number in dialed for number in numbers) and stack.idle()

    # Reading K calls from the table costs the one process real CPU (at K=500, polled every 0.25 s,
    # it was a sixth of the run): the table is read when the carrier has dialed every number and the
    # stack is quiet, and otherwise every 5 s in case a call is lost before it is dialed.
    deadline, read_at = time.monotonic() + timeout, 0.0
    while time.monotonic() < deadline:
        if all_dialed_and_quiet() or time.monotonic() - read_at > 5:
            read_at = time.monotonic()
            if all_terminal():
                break
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    wait_until(stack.idle, 120)  # whatever is still running drains before the next K
    rows = statuses()
    turns, waited = (clock.take() for clock in clocks)
    dial_counts = stack.carrier.dial_counts()
    dials = {number: dial_counts.get(number, 0) for number in numbers}
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


def measure(ks: list[int], timeout: float = 300.0, post_call: bool = False) -> list[dict[str, float]]:
    results = []
    env = {} if post_call else {"POST_CALL_STATE_MACHINE_ARN": ""}
    os.environ["AUTOCALL_LAMBDA_INSTANCES"] = "1"  # read by the stack: one environment per function
    with local_stack(workers=max(ks) + 16, serialize_api=False, **env) as stack:
        api = Api(stack)
        stack.carrier.webhook_timeout = WEBHOOK_TIMEOUT_S
        clocks = (TurnClock(stack.registry, own=True), TurnClock(stack.registry, own=False))
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
    parser.add_argument("--post-call", action="store_true", help="run the post-call chain too")
    args = parser.parse_args()
    measure(args.k, args.timeout, post_call=args.post_call)


if __name__ == "__main__":
    main()
