"""The built CommonLayer works where Lambda puts it, not just where it was built.

The layer is copied to a fresh path (as Lambda mounts it at /opt/python) and used from a fresh
python3.12 (``-I -S``: the standard library and the moved layer alone on sys.path, no bytecode
written) in which a file opened in the checkout or the build folder fails as on Lambda, where neither
exists."""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import built

CACHE_TAG = "cpython-312"
SKIP_DIRS = {"__pycache__", "bin"}  # bin: console scripts pip installs beside the packages

PROBE = (
    built.LAMBDA_FILESYSTEM
    + r"""
import importlib, json, os, pkgutil, sys, traceback

layer, names, absent, code = json.loads(sys.argv[1])
sys.path.insert(0, layer)
lambda_filesystem([layer], absent)
exec(code)
"""
)

IMPORT_ALL = r"""
failed = {}
for name in names:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        failed[name] = "".join(traceback.format_exception(exc))[-3000:]
import autocall  # the functions' own code: every module of it, not just the package
for info in pkgutil.walk_packages(autocall.__path__, "autocall."):
    try:
        importlib.import_module(info.name)
    except BaseException as exc:
        failed[info.name] = "".join(traceback.format_exception(exc))[-3000:]
inside = os.path.join(layer, "")
modules = {
    n: m for n, m in list(sys.modules.items()) if (getattr(m, "__file__", None) or "").startswith(inside)
}
print(json.dumps({
    "failed": failed,
    "sourceless": sorted(n for n, m in modules.items() if m.__file__.endswith(".pyc")),
    "no_bytecode": sorted(
        n for n, m in modules.items()
        if m.__file__.endswith(".py") and not (m.__cached__ and os.path.exists(m.__cached__))
    ),
    "loaded": len(modules),
}))
"""

# Every import statement of our code, those inside functions too: they run when a call gets there
# (phonenumbers.timezone on a turn, twilio.rest on a dial, openai on an LLM turn), so importing the
# modules alone would not notice that the layer build pruned something they need. Then Twilio's
# REST resources that integrations/twilio/client.py uses: the Client imports a REST domain on first use.
CALL_IMPORTS = r"""
failed = {}
for module, attributes in names:
    try:
        imported = importlib.import_module(module)
        for attribute in attributes:  # `from module import attribute`: a name in it, or a submodule
            if not hasattr(imported, attribute):
                importlib.import_module(f"{module}.{attribute}")
    except BaseException as exc:
        failed[module] = "".join(traceback.format_exception(exc))[-3000:]
try:
    from twilio.rest import Client

    client = Client("AC" + "0" * 32, "deploy-tier-token")
    resources = [client.calls, client.calls("CA" + "0" * 32), client.messages]
except BaseException as exc:
    failed["twilio.rest resources"] = "".join(traceback.format_exception(exc))[-3000:]
print(json.dumps({"failed": failed}))
"""
# Deliberately not in the layer: the brain's time rules replaced dateparser (dev keeps it for their
# equivalence test), so no code of ours may import it.
NOT_SHIPPED = {"dateparser"}
# What layers/common/Makefile prunes (PRUNE), a sample of each kind: gone from the built layer.
PRUNED = ("aiohttp", "yarl", "multidict", "twilio/http/async_http_client.py", "twilio/rest/conversations",
          "phonenumbers/geodata", "phonenumbers/carrierdata", "icalendar/tests")  # fmt: skip

SENTIMENT = r"""
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
print(json.dumps(SentimentIntensityAnalyzer().polarity_scores("great")))
"""


def top_level_names(layer: Path) -> tuple[list[str], list[str]]:
    """Importable top-level packages and modules of the layer, and the entries that are not (stubs)."""
    names, other = set(), []
    for entry in layer.iterdir():
        if entry.name.endswith((".dist-info", ".egg-info")) or entry.name in SKIP_DIRS:
            continue
        name = entry.name if entry.is_dir() else entry.name.split(".")[0]
        if entry.is_file() and entry.suffix not in (".py", ".pyc", ".so"):
            other.append(entry.name)
        elif name.isidentifier():
            names.add(name)
        else:
            other.append(entry.name)  # e.g. wrapt-stubs: type stubs, not importable by design
    return sorted(names), other


class _Imports(ast.NodeVisitor):
    """(module, names) of each absolute import statement, but those under ``if TYPE_CHECKING:``."""

    def __init__(self) -> None:
        self.found: set[tuple[str, tuple[str, ...]]] = set()

    def visit_If(self, node: ast.If) -> None:
        if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
            self.generic_visit(node)
        else:
            for child in node.orelse:
                self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        self.found.update((alias.name, ()) for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        assert node.level == 0 and node.module, f"a relative import: {ast.unparse(node)}"
        self.found.add((node.module, tuple(alias.name for alias in node.names if alias.name != "*")))


def code_imports(layer: Path, build: Path) -> list[tuple[str, list[str]]]:
    """Every import statement in the layer's autocall and in the built functions' own code."""
    visitor = _Imports()
    sources = list((layer / "autocall").rglob("*.py"))
    for spec in built.functions(build).values():
        sources += [path for path in Path(spec["code"]).rglob("*.py") if "__pycache__" not in path.parts]
    for source in sources:
        visitor.visit(ast.parse(source.read_text(), str(source)))
    return sorted((module, list(names)) for module, names in visitor.found)


def run_in_layer(python: str, layer: Path, build: Path, code: str, names: Any, cwd: Path) -> Any:
    absent = [str(built.ROOT), str(build)]
    result = subprocess.run(
        [python, "-I", "-S", "-B", "-c", PROBE, json.dumps([str(layer), names, absent, code])],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"python3.12 on the moved layer failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def imported(python312: str, moved_layer: Path, build: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    names, _ = top_level_names(moved_layer)
    assert len(names) > 20, f"the layer looks empty: {names}"
    return run_in_layer(python312, moved_layer, build, IMPORT_ALL, names, tmp_path_factory.mktemp("cwd"))


def test_every_package_in_the_moved_layer_imports(imported: Any, moved_layer: Path) -> None:
    names, other = top_level_names(moved_layer)
    assert not imported["failed"], "\n\n".join(f"{n}:\n{tb}" for n, tb in imported["failed"].items())
    assert {"autocall", "boto3", "botocore", "vaderSentiment", "pydantic_core"} <= set(names)
    assert all(name.endswith("-stubs") for name in other), other


def test_everything_our_code_imports_is_in_the_pruned_layer(
    python312: str, moved_layer: Path, build: Path, tmp_path: Path
) -> None:
    """The layer build prunes what no code of ours imports (layers/common/Makefile, PRUNE): every
    import statement of the layer and the functions, lazy ones included, still imports from it."""
    imports = code_imports(moved_layer, build)
    assert len(imports) > 100 and ("phonenumbers", ["timezone"]) in imports, imports
    assert not [module for module, _ in imports if module.split(".")[0] in NOT_SHIPPED]
    result = run_in_layer(python312, moved_layer, build, CALL_IMPORTS, imports, tmp_path)
    assert not result["failed"], "\n\n".join(f"{n}:\n{tb}" for n, tb in result["failed"].items())
    assert not any((moved_layer / name).exists() for name in NOT_SHIPPED)


def test_the_layer_build_prunes_what_no_code_imports(moved_layer: Path) -> None:
    present = [path for path in PRUNED if (moved_layer / path).exists()]
    assert not present, f"shipped although layers/common/Makefile prunes them: {present}"
    assert not list(moved_layer.glob("aiohttp*.dist-info")) and not list(moved_layer.rglob("*.pyi"))
    kept = ("phonenumbers/tzdata", "phonenumbers/shortdata", "twilio/rest/api")  # what we do use
    assert all((moved_layer / path).is_dir() for path in kept)


def test_sentiment_works_from_the_moved_layer(
    python312: str, moved_layer: Path, build: Path, tmp_path: Path
) -> None:
    """vaderSentiment reads its lexicon from beside its own source file: a layer whose build removed
    the .py (or that points back at the build folder) raises FileNotFoundError on Lambda."""
    scores = run_in_layer(python312, moved_layer, build, SENTIMENT, [], tmp_path)
    assert scores["compound"] > 0.5 and scores["pos"] == 1.0, scores


def test_the_layer_ships_sources_and_precompiled_bytecode(imported: Any, moved_layer: Path) -> None:
    """Every module is loaded from its .py (tracebacks, data beside the source) with its bytecode
    already in __pycache__, hash-based and unchecked: /opt is read-only, nothing compiled at run
    time is kept, and no import reads a source to revalidate it."""
    assert imported["loaded"] > 500
    assert not imported["sourceless"], f"sourceless modules (no .py): {imported['sourceless'][:20]}"
    assert not imported["no_bytecode"], f"compiled at import: {imported['no_bytecode'][:20]}"
    checked, missing = [], []
    for source in moved_layer.rglob("*.py"):
        pyc = source.parent / "__pycache__" / f"{source.stem}.{CACHE_TAG}.pyc"
        if not pyc.is_file():
            missing.append(str(source.relative_to(moved_layer)))
            continue
        flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
        if flags != 0b01:  # PEP 552: bit 0 hash-based, bit 1 check_source
            checked.append(str(pyc.relative_to(moved_layer)))
    assert not missing, f"{len(missing)} sources without bytecode, e.g. {missing[:10]}"
    assert not checked, f"{len(checked)} pycs are not unchecked-hash, e.g. {checked[:10]}"
