"""Every benchmark, one after the other, each in its own process: `make bench`.

    .venv/bin/python bench/run_all.py [--only turn coldstart ...]

Each script prints its own figures (and runs alone too: `.venv/bin/python bench/<name>.py`).
bench/README.md keeps the latest table and how to read it. Nothing is installed: `make venv`
is all it needs. Exit status 1 if a script failed."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS: dict[str, list[str]] = {
    "turn": ["--turns", "500"],
    "coldstart": ["--runs", "3"],
    "memory": ["--turns", "100"],
    "cost": [],
    "concurrency": ["--k", "50", "200", "500"],
    # 10,000 contacts fanned out (the size); the calls then run for a 60-s wall sample, not the
    # script's default 150 s (`bench/campaign.py --run-seconds 150` or `--until-done` for more)
    "campaign": ["--contacts", "10000", "--run-seconds", "60"],
    # realtime voice mode; voice_gap.py then takes its K = 1 median and turn.py's (it runs alone)
    "realtime": ["--interruptions", "20"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(SCRIPTS))
    args = parser.parse_args()
    failed, took = [], {}
    began = time.monotonic()
    for name, script_args in SCRIPTS.items():
        script = HERE / f"{name}.py"
        if (args.only and name not in args.only) or not script.exists():
            continue
        print(f"\n=== {name} {' '.join(script_args)}", flush=True)
        started = time.monotonic()
        run = subprocess.run([sys.executable, str(script), *script_args], cwd=HERE.parent, check=False)
        if run.returncode:
            failed.append(name)
        took[name] = time.monotonic() - started
    print(
        "\n=== took "
        + ", ".join(f"{name} {seconds:.0f}s" for name, seconds in took.items())
        + f"; all {time.monotonic() - began:.0f}s"
    )
    if failed:
        print(f"failed: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
