"""Memory of the turn handler (and of the bare TwiML handler) over 100 turns: peak RSS, and no growth
between turns.

    .venv/bin/python bench/memory.py [--turns 100]

Each handler runs alone in a fresh child process, so its RSS is its own: DynamoDB is moto's server
in this (parent) process, with the template's resources; the child's environment is the voice
webhook's own (template.yaml's variables for it, as the local stack gives them), nothing else.
The child takes calls through their turns as bench/turn.py does and reads its resident set after
turn 10 and after the last turn, and its peak (VmRSS, VmHWM). Then it runs the same number of
turns again under tracemalloc: the Python heap after turn 10 of that pass vs after its last turn
(growth per turn must be ~0: bounded caches only, e.g. the conversation's per-call callee cache of
at most 1,024 contacts)."""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tracemalloc
from typing import Any

from harness import ROOT

HANDLERS = ("voice_webhook", "bare")


def status_kb(field: str) -> int:
    """VmRSS (resident now) or VmHWM (peak) of this process, in KB. Not getrusage's ru_maxrss: Linux
    carries it across exec, so a child would report its forked parent's peak."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1])


def child(handler_name: str, turns: int) -> dict[str, Any]:
    """Runs in the child: the handler alone, its memory read from inside."""
    from harness import quiet

    with quiet():
        if handler_name == "bare":
            from bare_twiml import lambda_handler as handler
            from harness import TURN_ROUTE, lambda_context, webhook_event

            event = webhook_event(TURN_ROUTE, {"call_id": "c1", "turn": "1"}, {"SpeechResult": "hi"}, "t")
            context = lambda_context("bare")

            def one_turn() -> None:
                handler(event, context)
        else:
            import importlib.util

            from turn import Conversations

            spec = importlib.util.spec_from_file_location(
                "voice_app", ROOT / "functions/voice_webhook/app.py"
            )
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            talk = Conversations(module.lambda_handler, os.environ["TWILIO_AUTH_TOKEN"])

            def one_turn() -> None:
                result = module.lambda_handler(talk.next_event(), talk.context)
                assert result["statusCode"] == 200, result
                talk.after(result["body"])

        figures: dict[str, Any] = {}
        for index in range(1, turns + 1):
            one_turn()
            if index == 10:
                gc.collect()
                figures["rss_10_kb"] = status_kb("VmRSS")
        gc.collect()
        figures["rss_last_kb"] = status_kb("VmRSS")
        figures["peak_kb"] = status_kb("VmHWM")
        tracemalloc.start()
        for index in range(1, turns + 1):
            one_turn()
            if index == 10:
                gc.collect()
                figures["heap_10_b"] = tracemalloc.get_traced_memory()[0]
        gc.collect()
        figures["heap_last_b"] = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    return figures


def measure(turns: int) -> dict[str, dict[str, Any]]:
    from harness import moto_server

    results = {}
    with moto_server() as env:  # the voice webhook's own environment, nothing else of this process
        for name in HANDLERS:
            run = subprocess.run(
                [sys.executable, __file__, "--child", name, "--turns", str(turns)],
                env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            if run.returncode != 0:
                raise RuntimeError(f"{name} failed:\n{run.stderr[-3000:]}")
            results[name] = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"memory over {turns} turns, each handler alone in a fresh process")
    print(f"  {'handler':14s} {'RSS @10':>9s} {'RSS @' + str(turns):>9s} {'growth':>8s} {'peak RSS':>9s} "
          f"{'heap growth/turn':>17s}")  # fmt: skip
    for name, f in results.items():
        per_turn = (f["heap_last_b"] - f["heap_10_b"]) / max(turns - 10, 1)
        print(
            f"  {name:14s} {f['rss_10_kb'] / 1024:7.1f}MB {f['rss_last_kb'] / 1024:7.1f}MB "
            f"{(f['rss_last_kb'] - f['rss_10_kb']) / 1024:6.1f}MB {f['peak_kb'] / 1024:7.1f}MB "
            f"{per_turn / 1024:14.2f} KB"
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--child", choices=HANDLERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.turns)))
    else:
        measure(args.turns)


if __name__ == "__main__":
    main()
