"""The arrows that must never exist in the code (docs/ARCHITECTURE.md, "Imports"). Every import counts,
also one inside a function or under TYPE_CHECKING: a lazy import is still a dependency.

A rule names who may not import what; the test reads every Python file of the checkout as text (no
import runs) and fails with the file, line and rule of each forbidden import."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "common" / "autocall"

VENDOR_SDKS = ("pynamodb", "twilio", "openai", "boto3", "botocore")


@dataclass(frozen=True)
class Rule:
    name: str
    files: str  # a glob below the checkout
    forbidden: tuple[str, ...]  # module prefixes
    reason: str


RULES = (
    Rule(
        "domain → vendor SDKs",
        "layers/common/autocall/domain/**/*.py",
        VENDOR_SDKS,
        "the domain speaks its own terms; vendors live in autocall.stores and autocall.integrations",
    ),
    Rule(
        "domain → table models",
        "layers/common/autocall/domain/**/*.py",
        ("autocall.stores.tables",),
        "rows are the stores' business; the domain gets records",
    ),
    Rule(
        "stores/integrations → domain",
        "layers/common/autocall/[si][tn]*/**/*.py",
        ("autocall.domain",),
        "the edge does not know the product's logic",
    ),
    Rule(
        "models → anything of ours but models",
        "layers/common/autocall/models/**/*.py",
        ("autocall.domain", "autocall.stores", "autocall.integrations"),
        "models are the leaf everyone shares",
    ),
    Rule(
        "table models outside the stores",
        "layers/common/autocall/[!s]*/**/*.py",
        ("autocall.stores.tables",),
        "only a store touches its rows",
    ),
    Rule(
        "the layer → handlers, local stack, bench, tests",
        "layers/common/autocall/**/*.py",
        ("app", "authorizer", "functions", "local", "bench", "tests"),
        "the layer is deployed alone",
    ),
    Rule(
        "handlers → local stack, bench, tests",
        "functions/**/*.py",
        ("local", "bench", "tests"),
        "a handler runs on Lambda, where none of them exist",
    ),
    Rule(
        "local stack → bench, tests",
        "local/**/*.py",
        ("bench", "tests"),
        "the local stack stands on its own; bench and tests use it, not the other way round",
    ),
)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module an import in ``path`` names, absolute (relative imports resolved in the package)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = (
                    path.relative_to(PACKAGE.parent).parent.parts if path.is_relative_to(PACKAGE) else ()
                )
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # `from autocall.stores import tables` imports autocall.stores.tables
            found.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
    return found


def names(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def violations(rule: Rule) -> list[str]:
    broken = []
    for path in sorted(ROOT.glob(rule.files)):
        if "__pycache__" in path.parts:
            continue
        for line, module in imported_modules(path):
            for prefix in rule.forbidden:
                if names(module, prefix):
                    broken.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return sorted(set(broken))


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_no_forbidden_import(rule: Rule) -> None:
    broken = violations(rule)
    assert not broken, f"{rule.name} ({rule.reason}):\n" + "\n".join(broken)


def test_every_rule_reads_files() -> None:
    """A glob that matches nothing would pass for ever: each rule must read at least one file."""
    empty = [rule.name for rule in RULES if not any(ROOT.glob(rule.files))]
    assert not empty


def test_the_rules_catch_a_forbidden_import(tmp_path: Path) -> None:
    """The reader finds lazy and aliased imports and resolves relative ones."""
    source = tmp_path / "module.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import pynamodb.models as m\n"
        "def later():\n    from twilio.rest import Client\n"
        "from autocall.stores import tables\n"
    )
    modules = [module for _, module in imported_modules(source)]
    assert "pynamodb.models" in modules
    assert "twilio.rest" in modules
    assert "autocall.stores.tables" in modules


# --- the tests' own arrows (STYLE.md "Tests"): a tier means what its folder says -----------------

TIERS = ROOT / "tests"
# every package or module right under tests/ but the support package: test modules and conftests
OTHER_TEST_MODULES = tuple(
    sorted(
        f"tests.{path.stem}"
        for path in TIERS.iterdir()
        if path.name != "support" and ((path.is_dir() and path.name != "__pycache__") or path.suffix == ".py")
    )
)

TEST_RULES = (
    Rule(
        "unit tests → other tiers, moto, handlers",
        "tests/unit/**/*.py",
        (
            "tests.integration",
            "tests.e2e",
            "tests.reliability",
            "tests.deploy",
            "tests.support.aws",
            "moto",
            "app",
            "authorizer",
            "functions",
        ),
        "a unit test is pure logic: no moto, no handler, nothing of another tier",
    ),
    Rule(
        "a test module → another test module or a conftest",
        "tests/**/*.py",
        OTHER_TEST_MODULES,
        "what tests share lives in tests.support; a conftest is pytest's to load, never imported",
    ),
)


@pytest.mark.parametrize("rule", TEST_RULES, ids=[rule.name for rule in TEST_RULES])
def test_no_forbidden_import_in_the_tests(rule: Rule) -> None:
    assert any(ROOT.glob(rule.files)), f"{rule.name}: its glob reads no file"
    broken = violations(rule)
    assert not broken, f"{rule.name} ({rule.reason}):\n" + "\n".join(broken)


def test_the_test_rule_names_every_tier_and_the_conftests() -> None:
    """The forbidden list is read from the folder: a new tier is covered the day it appears."""
    assert {"tests.unit", "tests.integration", "tests.e2e", "tests.reliability", "tests.deploy"} <= set(
        OTHER_TEST_MODULES
    )
    assert "tests.conftest" in OTHER_TEST_MODULES and "tests.support" not in OTHER_TEST_MODULES
    source = TIERS / "reliability" / "conftest.py"
    assert any(names(module, "tests.support") for _, module in imported_modules(source))
