"""The hashed lock files agree with the requirements people edit (``make lock`` after an edit).

``.venv`` installs requirements-dev.lock and the layer build layers/common/requirements.lock, both
with ``pip --require-hashes``: a pin edited in a ``.in`` file without ``make lock`` would change
nothing, and a lock without hashes would not install."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LAYER_IN = ROOT / "layers" / "common" / "requirements.in"
LAYER_LOCK = ROOT / "layers" / "common" / "requirements.lock"
DEV_IN = ROOT / "requirements-dev.in"
DEV_LOCK = ROOT / "requirements-dev.lock"


def pins(path: Path) -> dict[str, set[str]]:
    """name → the versions a .in file pins, following ``-r`` includes."""
    found: dict[str, set[str]] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#")[0].strip()
        if line.startswith("-r "):
            for name, versions in pins(path.parent / line[3:].strip()).items():
                found.setdefault(name, set()).update(versions)
        elif line:
            req = Requirement(line)
            found.setdefault(canonicalize_name(req.name), set()).update(s.version for s in req.specifier)
    return found


def locked(path: Path) -> dict[str, tuple[set[str], int]]:
    """name → (its locked versions, the number of its hashes), per entry of a lock file."""
    entries: dict[str, tuple[set[str], int]] = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", path.read_text()):
        head = re.match(r"([A-Za-z0-9._-]+)==([^ ;\\]+)", entry)
        if not head:
            continue
        name = canonicalize_name(head.group(1))
        versions, hashes = entries.get(name, (set(), 0))
        entries[name] = (versions | {head.group(2)}, hashes + entry.count("--hash=sha256:"))
    return entries


@pytest.mark.parametrize(
    ("source", "lock"), [(LAYER_IN, LAYER_LOCK), (DEV_IN, DEV_LOCK)], ids=["layer", "dev"]
)
def test_every_pin_of_the_requirements_is_in_its_lock_with_hashes(source: Path, lock: Path) -> None:
    entries = locked(lock)
    assert len(entries) > 30, f"{lock.name} looks empty"
    for name, versions in pins(source).items():
        assert name in entries, f"{name} is in {source.name} but not in {lock.name}: run `make lock`"
        assert versions <= entries[name][0], (
            f"{name}: {source.name} pins {versions}, {lock.name} has {entries[name][0]}"
        )
    unhashed = sorted(name for name, (_, hashes) in entries.items() if hashes == 0)
    assert not unhashed, f"entries of {lock.name} without a hash: {unhashed}"


def test_dev_runs_the_layers_versions_and_dateparser_is_test_only() -> None:
    layer, dev = locked(LAYER_LOCK), locked(DEV_LOCK)
    differ = {name: (versions, dev.get(name, (set(), 0))[0]) for name, (versions, _) in layer.items()
              if versions != dev.get(name, (set(), 0))[0]}  # fmt: skip
    assert not differ, f"the layer and dev lock different versions (layer, dev): {differ}"
    assert "dateparser" in dev and "dateparser" not in layer
    assert "boto3" in pins(LAYER_IN)  # the layer's own boto3, not Lambda's
