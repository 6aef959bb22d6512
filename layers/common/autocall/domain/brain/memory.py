"""What a call remembers between turns: the brains' state, plain JSON types, kept in
``Decision.memory`` and handed back in ``CallContext.memory`` next turn. Both brains keep it, so
the playbook can take any turn from the LLM."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from autocall.domain.brain.purposes import Playbook


def new_memory() -> dict[str, Any]:
    return {
        "stage": "opening",
        "outcome": None,
        "turns": 0,
        "question": "",
        "discovery": 0,
        "pains": [],
        "interest": False,
        "probed": False,
        "gatekeeper": False,
        "escalated": False,
        "offered_slot": None,
        "booked_slot": None,
        "proposals": 0,
        "callback_at": None,
        "done": [],
        "counts": {},
    }


def load_memory(memory: dict[str, Any]) -> dict[str, Any]:
    """The call's playbook state, with defaults for anything missing (the LLM brain keeps it too)."""
    mem = new_memory()
    mem.update(_copied(memory))
    return mem


def _copied(value: Any) -> Any:
    """A deep copy of JSON-shaped state (dicts, lists, scalars): several times cheaper than
    ``copy.deepcopy``, which it falls back to for anything else."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return copy.deepcopy(value)


def bump(mem: dict[str, Any], counter: str, by: int = 1) -> int:
    counts: dict[str, int] = mem.setdefault("counts", {})
    counts[counter] = counts.get(counter, 0) + by
    return counts[counter]


def mark(mem: dict[str, Any], objective: str) -> None:
    if objective not in mem["done"]:
        mem["done"].append(objective)


def progress(pb: Playbook, mem: dict[str, Any]) -> float:
    if mem.get("outcome") in {o.value for o in pb.commitment_outcomes}:
        mark(mem, "secure_commitment")
    return round(len(set(mem["done"])) / len(pb.objectives), 2)


def utc_iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")
