"""Cold start: import-to-ready time of each function, as the build ships it vs the naive layout.

    .venv/bin/python bench/coldstart.py [--runs 5]

Both layouts are laid out from .venv (no download): the layer's requirement closure, file for file
as pip installed it, plus layers/common/autocall, plus the function's folder.
  naive   sources only: what SAM's python3.12 builder ships (no .pyc);
  built   the same after the layer build's `compile` step (layers/common/Makefile: every .py
          kept, bytecode precompiled into __pycache__ with unchecked-hash pycs).
(`sam build` itself targets arm64, whose wheels cannot be imported on this machine: the bench
emulates it with this machine's wheels and the same compile step.)

Each run is a fresh `python -S` (no site-packages: only the layer and the function on the path,
as on Lambda) with PYTHONDONTWRITEBYTECODE=1, so nothing is cached between runs. The first columns
run on a copy of the standard library without its bytecode (PYTHONHOME), so even the standard
library compiles on every start; Lambda's runtime does ship that bytecode: the "stdlib cached"
columns time that case. (Not PYTHONPYCACHEPREFIX: it would hide the layer's __pycache__ too.)
It imports the handler module and prints the time from the first line to the handler object
being ready. Runs alternate naive, built.
Target: voice_webhook built ≤ 0.35x naive."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterable
from pathlib import Path

from harness import ROOT, median

TARGET = 0.35
PROBE = (
    "import time, importlib; t = time.perf_counter(); m = importlib.import_module({module!r}); "
    "getattr(m, {attr!r}); print(time.perf_counter() - t)"
)


def requirement_closure(requirements: list[str]) -> list[str]:
    """The installed distributions ``requirements`` pull in (extras and markers applied)."""
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import Requirement

    pending = [Requirement(line) for line in requirements]
    seen: dict[str, set[str]] = {}
    while pending:
        req = pending.pop()
        name = req.name.lower().replace("_", "-")
        extras = set(req.extras)
        if name in seen and extras <= seen[name]:
            continue
        seen[name] = seen.get(name, set()) | extras
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # a marker-only dependency for another platform or Python
        for line in dist.requires or []:
            dep = Requirement(line)
            wanted = dep.marker is None or any(
                dep.marker.evaluate({"extra": extra}) for extra in (seen[name] or {""})
            )
            if wanted:
                pending.append(dep)
    return sorted(seen)


def layer_requirements() -> list[str]:
    lines = (ROOT / "layers" / "common" / "requirements.in").read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def copy_distributions(names: Iterable[str], target: Path) -> None:
    """Every file each distribution installed in .venv, no bytecode."""
    from importlib.metadata import distribution

    for name in names:
        dist = distribution(name)
        base = Path(str(dist.locate_file("")))
        for file in dist.files or []:
            if file.parts[0] == ".." or "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            destination = target / file
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(base / file, destination)


def _no_bytecode(_: str, names: list[str]) -> Iterable[str]:
    return [n for n in names if n == "__pycache__" or n.endswith(".pyc")]


def build(workdir: Path) -> dict[str, Path]:
    """naive and built layers (each a python/ folder), the runtime's boto3 and the functions."""
    layer = requirement_closure(layer_requirements())
    naive = workdir / "naive" / "python"
    copy_distributions(layer, naive)
    shutil.copytree(ROOT / "layers" / "common" / "autocall", naive / "autocall", ignore=_no_bytecode)
    runtime = workdir / "runtime"  # what of boto3 the layer lacks comes from Lambda's runtime
    copy_distributions(set(requirement_closure(["boto3"])) - set(layer), runtime)
    built = workdir / "built" / "python"
    shutil.copytree(naive, built)
    subprocess.run(
        ["make", "-s", "--no-print-directory", "-C", str(ROOT / "layers" / "common"), "compile",
         f"LAYER={built}", f"PYTHON={sys.executable}"],
        check=True,
    )  # fmt: skip
    functions = workdir / "functions"
    shutil.copytree(ROOT / "functions", functions, ignore=_no_bytecode)
    home = workdir / "stdlib-home"  # PYTHONHOME for the runs whose standard library compiles too
    skip = {"site-packages", "test", "idlelib", "tkinter", "turtledemo", "ensurepip", "__pycache__"}
    shutil.copytree(
        sysconfig.get_path("stdlib"),
        home / "lib" / Path(sysconfig.get_path("stdlib")).name,
        ignore=lambda _, names: [n for n in names if n in skip or n.endswith(".pyc")],
    )
    return {
        "naive": naive,
        "built": built,
        "functions": functions,
        "runtime": runtime,
        "stdlib_home": home,
    }


def functions() -> dict[str, tuple[str, str]]:
    """logical id → (function folder name, handler 'module.attr'), from template.yaml."""
    from local.template import LocalTemplate

    return {lid: (folder.name, spec) for lid, (folder, spec) in LocalTemplate().functions().items()}


def lambda_env(logical_id: str, path: list[Path], home: Path | None) -> dict[str, str]:
    from local.template import LocalTemplate

    env = {k: v for k, v in LocalTemplate().function_environment(logical_id).items() if "${" not in v}
    env.update(
        {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.pathsep.join(map(str, path)),
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_LAMBDA_FUNCTION_NAME": logical_id,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "LAMBDA_TASK_ROOT": str(path[0]),
        }
    )
    if home:
        env["PYTHONHOME"] = str(home)
    return env


def time_import(logical_id: str, spec: str, path: list[Path], home: Path | None) -> float:
    """``home``: a standard library without bytecode (PYTHONHOME); None: the installed one."""
    module, attr = spec.rsplit(".", 1)
    result = subprocess.run(
        [sys.executable, "-S", "-c", PROBE.format(module=module, attr=attr)],
        env=lambda_env(logical_id, path, home),
        capture_output=True,
        text=True,
        cwd=path[0],
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{logical_id} did not import:\n{result.stderr[-2000:]}")
    return float(result.stdout.strip().splitlines()[-1])


def measure(runs: int, only: str | None = None) -> dict[str, dict[str, float]]:
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="autocall-coldstart-") as tmp:
        layout = build(Path(tmp))
        print(f"cold start: import-to-ready, median of {runs} fresh interpreters each")
        print(f"  {'function':24s} {'naive':>9s} {'built':>9s} {'ratio':>7s}   stdlib cached: "
              f"{'naive':>7s} {'built':>7s} {'ratio':>6s}")  # fmt: skip
        for lid, (folder, spec) in sorted(functions().items()):
            if only and only not in (lid, folder):
                continue
            code = layout["functions"] / folder
            times: dict[str, list[float]] = {}
            for _ in range(runs):
                for cached in (False, True):
                    for kind in ("naive", "built"):
                        key = f"{kind}{'_cached' if cached else ''}"
                        path = [
                            code,
                            layout[kind],
                            layout["runtime"],
                        ]  # Lambda's order: task, /opt/python, runtime
                        home = None if cached else layout["stdlib_home"]
                        times.setdefault(key, []).append(time_import(lid, spec, path, home))
            row = {key: median(values) for key, values in times.items()}
            row["ratio"] = row["built"] / row["naive"]
            row["ratio_cached"] = row["built_cached"] / row["naive_cached"]
            figures[f"{folder}:{spec.split('.')[0]}"] = row
            print(
                f"  {lid:24s} {row['naive']:8.3f}s {row['built']:8.3f}s {row['ratio']:6.2f}x   "
                f"{'':14s} {row['naive_cached']:6.3f}s {row['built_cached']:6.3f}s "
                f"{row['ratio_cached']:5.2f}x"
            )
    voice = figures.get("voice_webhook:app")
    if voice:
        cached, cold = voice["ratio_cached"], voice["ratio"]
        verdict = "met" if cached <= TARGET else "NOT met"
        print(
            f"  voice_webhook built/naive {cached:.2f}x with the stdlib's bytecode present, as on Lambda "
            f"(target <= {TARGET}x: {verdict}); {cold:.2f}x if even the stdlib compiles on every start"
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", help="one function: logical id or folder name")
    args = parser.parse_args()
    measure(args.runs, args.only)


if __name__ == "__main__":
    main()
