"""``python -m local.demo``: the command. Starts the local stack, runs the demo on it with the
handlers' logs sent to a file, and exits 1 when anything failed: a call stuck, an outcome other than
the persona's expected one (with the offline playbook brain), a post-call step recorded on
``call.failures``, a Lambda or schedule error. The handlers' JSON logs and EMF metrics go to
``.local-state/demo-logs.jsonl``."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.text import Text

import local.demo
from local.api_client import ApiError
from local.demo.run import DemoOptions, run_demo
from local.demo.seeding import DemoError

ROOT = Path(__file__).resolve().parents[2]
LOG_PATH = ROOT / ".local-state" / "demo-logs.jsonl"


@contextlib.contextmanager
def logs_to_file(path: Path) -> Iterator[IO[str]]:
    """The handlers' JSON logs and EMF lines (stdout) and stray warnings (stderr) go to ``path``.

    The Powertools logger holds the stream it was created with: it is pointed at the file too,
    and at the null device afterwards (daemon threads may still log while the process exits)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger("autocall")

    def point_at(stream: IO[str]) -> None:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(stream)

    with path.open("w", encoding="utf-8") as sink, open(os.devnull, "w") as null:
        point_at(sink)
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                yield sink
        finally:
            point_at(null)


def main(argv: list[str] | None = None) -> int:
    description = (local.demo.__doc__ or "").split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=description)
    parser.add_argument("--small", action="store_true", help="nine contacts instead of thirty")
    parser.add_argument("--no-live", dest="live", action="store_false", help="no live progress display")
    parser.add_argument("--report", type=Path, default=Path("demo-report.html"))
    parser.add_argument("--speed", type=float, default=90.0, help="virtual seconds per wall second")
    parser.add_argument(
        "--timeout", type=float, default=240.0, help="wall seconds before calls count as stuck"
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="No application metrics to publish")  # quiet invocations
    options = DemoOptions(
        args.small, args.live and sys.stdout.isatty(), args.report, args.speed, timeout_s=args.timeout
    )
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 180)

    from local.stack import LocalStack, free_port

    with logs_to_file(LOG_PATH):
        started = time.monotonic()
        console.print("starting the local stack: moto, API gateway, carrier simulator, schedule pump …")
        stack = LocalStack(port=free_port(), carrier_port=free_port(), moto_port=free_port()).start()
        try:
            console.print(f"local stack up in {time.monotonic() - started:.1f} s")
            result = run_demo(stack, options, console)
        except (DemoError, ApiError) as exc:
            console.print(Text(f"demo failed: {exc}", style="bold red"))
            return 1
        finally:
            stack.stop()
    console.print(
        f"logs and EMF metrics: {LOG_PATH.relative_to(ROOT)} · {time.monotonic() - started:.0f} s in all"
    )
    return 0 if result.ok else 1
