"""The compliance rules file as typed data: its schema, and the one loader that reads it.

``rules.json`` (next to this module, so it ships in the Lambda layer) holds one rule per
jurisdiction: an ISO 3166-1 country (``FR``) or, for the United States and Canada, an ISO 3166-2
state or province (``US-FL``, ``CA-QC``). A rule says when a callee may be called in their own local
time, which days are banned, how many attempts a person may receive in a rolling window, and where
the rule comes from. The file fails loudly when it is malformed: a weekday that does not exist,
intervals that overlap or end before they start, a rule without a source.

``rules.schema.json`` is generated from these models (``python -m autocall.domain.compliance.rules``) and a
test keeps it in sync, so an editor can validate the JSON without running Python."""

from __future__ import annotations

import json
import re
from datetime import date, time
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

RULES_PATH = Path(__file__).with_name("rules.json")
SCHEMA_PATH = Path(__file__).with_name("rules.schema.json")

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order
JURISDICTION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Interval(_Strict):
    """[start, end) in the callee's wall-clock time."""

    start: time
    end: time

    @model_validator(mode="after")
    def _ordered(self) -> Interval:
        if self.end <= self.start:
            raise ValueError(f"interval {self.start:%H:%M}-{self.end:%H:%M} ends before it starts")
        return self

    def label(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


Intervals = Annotated[list[Interval], Field(description="disjoint intervals, in order")]


def _check_disjoint(intervals: list[Interval], where: str) -> list[Interval]:
    ordered = sorted(intervals, key=lambda interval: interval.start)
    for first, second in pairwise(ordered):
        if second.start < first.end:
            raise ValueError(f"{where}: intervals {first.label()} and {second.label()} overlap")
    return ordered


class HolidayBan(_Strict):
    """Days on which no call may be placed, resolved by the ``holidays`` package.

    ``calendar``: an ISO 3166-1 country, or ``ZZ`` for the callee's own country (the fallback rule).
    ``subdivision``: a subdivision code of ``calendar`` (``LA``), ``*`` for the union of every
    subdivision's holidays (the stricter reading when the callee's region is not known), or none for
    the national calendar. ``names``: the holidays banned, matched as case-insensitive substrings of
    the package's English names (so "Independence Day" also bans "Independence Day (observed)");
    none bans every public holiday of the calendar."""

    calendar: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    subdivision: str | None = None
    names: list[str] | None = None


class Cap(_Strict):
    """At most ``max_attempts`` call attempts to one person in any rolling ``window_hours``.

    ``scope``: ``person`` counts every attempt to the person (across campaigns and purposes);
    ``person_and_purpose`` counts those on the same subject or purpose (attempts whose purpose is
    unknown count for every purpose)."""

    max_attempts: PositiveInt
    window_hours: PositiveInt
    scope: Literal["person", "person_and_purpose"]


class Source(_Strict):
    url: Annotated[str, Field(pattern=r"^https?://\S+$")]
    citation: Annotated[str, Field(min_length=3)]
    read_on: date


class Rule(_Strict):
    """One jurisdiction's rule. A weekday missing from ``hours`` is a day without calls."""

    id: Annotated[str, Field(min_length=2)]
    version: PositiveInt
    jurisdiction: Annotated[str, Field(pattern=JURISDICTION.pattern)]
    name: str
    hours: dict[Weekday, Intervals]
    holiday_eve_hours: Intervals | None = Field(
        default=None,
        description="hours on the day before a banned holiday, intersected with that weekday's hours",
    )
    banned_holidays: HolidayBan | None = None
    caps: list[Cap] = Field(default_factory=list)
    sources: Annotated[list[Source], Field(min_length=1)]
    uncertain: bool = Field(default=False, description="the stricter reading was taken; see note")
    note: str | None = None

    @field_validator("hours")
    @classmethod
    def _hours_disjoint(cls, hours: dict[Weekday, list[Interval]]) -> dict[Weekday, list[Interval]]:
        return {day: _check_disjoint(intervals, day) for day, intervals in hours.items()}

    @field_validator("holiday_eve_hours")
    @classmethod
    def _eve_disjoint(cls, intervals: list[Interval] | None) -> list[Interval] | None:
        return None if intervals is None else _check_disjoint(intervals, "holiday_eve_hours")

    @model_validator(mode="after")
    def _explained(self) -> Rule:
        if self.uncertain and not self.note:
            raise ValueError(f"rule {self.id}: an uncertain rule says why in its note")
        if self.holiday_eve_hours is not None and self.banned_holidays is None:
            raise ValueError(f"rule {self.id}: holiday_eve_hours needs banned_holidays")
        return self

    def intervals_on(self, weekday: int) -> list[Interval]:
        return self.hours.get(WEEKDAYS[weekday], [])


class RulesFile(_Strict):
    version: Annotated[str, Field(min_length=1)]
    read_on: date
    fallback: Rule = Field(description="applies where no rule covers the callee's country")
    rules: dict[str, Rule]

    @model_validator(mode="after")
    def _keys_match(self) -> RulesFile:
        for key, rule in self.rules.items():
            if not JURISDICTION.match(key):
                raise ValueError(f"rules key {key!r} is not an ISO 3166 code")
            if rule.id != key or rule.jurisdiction != key:
                raise ValueError(f"rules[{key!r}] has id {rule.id!r} / jurisdiction {rule.jurisdiction!r}")
        return self


def parse_rules(text: str) -> RulesFile:
    """A rules document, validated; ``pydantic.ValidationError`` names what is wrong."""
    return RulesFile.model_validate_json(text)


@lru_cache(maxsize=1)
def load_rules() -> RulesFile:
    """The packaged rules, read and validated once per process."""
    return parse_rules(RULES_PATH.read_text(encoding="utf-8"))


def json_schema() -> str:
    return json.dumps(RulesFile.model_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # regenerate rules.schema.json after a model change
    SCHEMA_PATH.write_text(json_schema(), encoding="utf-8")
