"""The packaged rules file and NANP table check themselves: every rule cites a source read on a
date, every state rule is reachable from an area code, every holiday ban resolves in the holidays
package, the fallback is no wider than any rule, the schema file matches the models, and a
malformed file fails loudly."""

from __future__ import annotations

import json
from datetime import date

import pytest
from autocall.domain.compliance.engine import _holidays, banned_holiday, knows_calendar, nanp_table
from autocall.domain.compliance.rules import (
    RULES_PATH,
    SCHEMA_PATH,
    WEEKDAYS,
    Interval,
    Rule,
    json_schema,
    load_rules,
    parse_rules,
)
from pydantic import ValidationError

RULES = load_rules()
ALL_RULES = [*RULES.rules.values(), RULES.fallback]


def test_the_rules_cover_the_jurisdictions_the_issue_names() -> None:
    wanted = {"US", "US-FL", "US-OK", "US-MD", "US-TX", "US-LA", "US-AL", "US-MS", "US-RI", "US-UT", "US-WA"}
    wanted |= {"US-CT", "US-KY", "US-MA", "CA", "GB", "DE", "FR", "ES", "IT", "BR", "MX", "IN", "JP", "AU"}

    assert wanted <= set(RULES.rules)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule.id)
def test_every_rule_has_a_version_and_a_source_read_on_a_date(rule: Rule) -> None:
    assert rule.version >= 1
    assert rule.sources
    for source in rule.sources:
        assert source.url.startswith(("https://", "http://"))
        assert source.citation
        assert source.read_on == date(2026, 12, 3)
    assert not rule.uncertain or rule.note


def test_every_state_or_province_rule_is_reachable_from_an_area_code() -> None:
    reachable = {region for regions in nanp_table().area_codes.values() for region in regions}
    regional = {key for key in RULES.rules if key.startswith(("US-", "CA-"))}

    assert regional <= reachable


def test_toll_free_and_non_geographic_area_codes_map_to_no_region() -> None:
    table = nanp_table()

    for code in ("800", "833", "844", "855", "866", "877", "888", "900", "500", "600"):
        assert code in table.non_geographic
        assert code not in table.area_codes
    assert table.area_codes["305"] == ("US-FL",)
    assert table.area_codes["902"] == ("CA-NS", "CA-PE")  # shared by two provinces: both apply


def test_every_region_in_the_area_code_table_has_its_zones() -> None:
    table = nanp_table()

    regions = {region for regions in table.area_codes.values() for region in regions}
    assert regions <= set(table.region_zones)
    assert all(table.region_zones[region] for region in regions)


@pytest.mark.parametrize("rule", [r for r in ALL_RULES if r.banned_holidays], ids=lambda rule: rule.id)
def test_every_holiday_ban_resolves_in_the_holidays_package(rule: Rule) -> None:
    ban = rule.banned_holidays
    assert ban is not None
    calendar = "FR" if ban.calendar == "ZZ" else ban.calendar  # the fallback: any known country
    assert knows_calendar(calendar)
    for year in (2026, 2027):
        days = [
            day for day in _holidays(calendar, ban.subdivision, year) if banned_holiday(rule, calendar, day)
        ]
        assert days, f"{rule.id} bans no day in {year}"
    for name in ban.names or ():
        found = any(
            name.lower() in held.lower() for held in _holidays(calendar, ban.subdivision, 2026).values()
        )
        assert found, f"{rule.id}: {name!r} is not a holiday name the package knows"


def _within(inner: list[Interval], outer: list[Interval]) -> bool:
    return all(any(o.start <= i.start and i.end <= o.end for o in outer) for i in inner)


@pytest.mark.parametrize("rule", list(RULES.rules.values()), ids=lambda rule: rule.id)
def test_the_fallback_is_no_wider_than_any_rule(rule: Rule) -> None:
    fallback = RULES.fallback
    for day in WEEKDAYS:
        assert _within(fallback.hours.get(day, []), rule.hours.get(day, [])), (rule.id, day)
    for cap in rule.caps:
        assert any(
            f.window_hours >= cap.window_hours and f.max_attempts <= cap.max_attempts and f.scope == "person"
            for f in fallback.caps
        ), (rule.id, cap)


def test_the_schema_file_is_in_sync_with_the_models() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == json_schema(), (
        "regenerate: python -m autocall.domain.compliance.rules (from layers/common)"
    )


def _document(**rule_changes: object) -> str:
    document = json.loads(RULES_PATH.read_text(encoding="utf-8"))
    document["rules"]["US-FL"].update(rule_changes)
    return json.dumps(document)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hours": {"funday": [{"start": "08:00", "end": "20:00"}]}}, "funday"),
        ({"hours": {"mon": [{"start": "20:00", "end": "08:00"}]}}, "ends before it starts"),
        (
            {"hours": {"mon": [{"start": "08:00", "end": "13:00"}, {"start": "12:00", "end": "20:00"}]}},
            "overlap",
        ),
        ({"sources": []}, "sources"),
        ({"sources": [{"url": "https://example.org", "citation": "x 1"}]}, "read_on"),
        ({"uncertain": True, "note": None}, "says why"),
        ({"id": "US-GA"}, "has id"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_a_malformed_rules_file_fails_loudly(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_rules(_document(**change))
