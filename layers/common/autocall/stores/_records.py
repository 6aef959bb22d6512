"""Rows ↔ records: a record's fields are its row's attribute names (models/records.py)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

from pynamodb.models import Model

R = TypeVar("R")
M = TypeVar("M", bound=Model)


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(record_type: type) -> tuple[str, ...]:
    names = _NAMES.get(record_type)
    if names is None:
        names = _NAMES[record_type] = tuple(f.name for f in fields(record_type))
    return names


def record_of(row: Model, record_type: type[R]) -> R:
    """The record of ``row`` (an attribute the row lacks reads as the row's default)."""
    return record_type(**{name: getattr(row, name) for name in _names(record_type)})


def row_of(record: Any, model: type[M]) -> M:
    """The row that stores ``record`` (its version included: a save checks it). A field that is
    None is left unset: the row's default, as a row read without it has."""
    values = ((name, getattr(record, name)) for name in _names(type(record)))
    return model(**{name: value for name, value in values if value is not None})
