"""Compliance rules as data: a callee is called only when every rule that binds their number (and
address) allows it, in every zone they can be in, under each per-person cap; a refused call learns
the next moment it may be placed. Times below are callee-local in the comments, UTC in the code."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from _pytest.mark.structures import ParameterSet
from autocall.domain.compliance import (
    CampaignWindow,
    PriorAttempt,
    check,
    next_allowed_moments,
    resolve,
)

NEW_YORK = "+12125550123"  # federal floor only
MIAMI = "+13055550123"  # Florida: 08:00-20:00, 3 calls a day on one subject
DALLAS = "+12145550123"  # Texas: Sunday from noon
PROVIDENCE = "+14015550123"  # Rhode Island: short weekdays, Saturday until 17:00, no Sundays
SALT_LAKE = "+18015550123"  # Utah: no Sundays, no legal holidays
PORTLAND_ME = "+12075550123"  # Maine: automated calls weekdays 09:00-17:00, one per 8 hours
SIOUX_FALLS = "+16055550123"  # South Dakota: automated dialing weekdays only; Mountain or Central
TORONTO = "+14165550123"  # CRTC: weekends 10:00-18:00
PARIS_MOBILE = "+33612345678"  # France: weekdays with a lunch break, 4 attempts in 30 days
BERLIN_MOBILE = "+4915112345678"
ROME_MOBILE = "+393123456789"
AMSTERDAM_MOBILE = "+31612345678"  # no Dutch rule: the fallback
AUSTRALIAN_MOBILE = "+61412345678"  # any Australian zone, Cocos to Lord Howe
RUSSIAN_MOBILE = "+79123456789"  # eleven hours of zones
TOLL_FREE = "+18005550199"  # every North American zone, Guam included
LAYER = Path(__file__).resolve().parents[2] / "layers" / "common"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def attempts(*moments: datetime, purpose: str | None = "renewal") -> list[PriorAttempt]:
    return [PriorAttempt(moment, purpose) for moment in moments]


def case(
    name: str,
    number: str,
    moment: datetime,
    expected: datetime | bool,
    prior: list[PriorAttempt] | None = None,
    purpose: str | None = None,
    campaign: CampaignWindow | None = None,
    address: str | None = None,
) -> ParameterSet:
    """One row: the call at ``moment`` is allowed (True), or refused until ``expected``."""
    return pytest.param(number, address, moment, prior or [], purpose, campaign, expected, id=name)


FLORIDA_MORNING = attempts(utc(2026, 12, 2, 15, 0), utc(2026, 12, 2, 16, 0), utc(2026, 12, 2, 17, 0))
WEEKLY_IN_NOVEMBER = attempts(*(utc(2026, 11, day, 10, 0) for day in (9, 16, 23, 30)))
WEEKDAYS_9_TO_5 = CampaignWindow(time(9, 0), time(17, 0), frozenset(range(5)))

CASES = [
    # jurisdiction x weekday x local time
    case("ny-wed-2030-federal-allows", NEW_YORK, utc(2026, 12, 3, 1, 30), True),
    case("fl-wed-2030-state-narrower", MIAMI, utc(2026, 12, 3, 1, 30), utc(2026, 12, 3, 13, 0)),
    case("ny-0759", NEW_YORK, utc(2026, 12, 2, 12, 59), utc(2026, 12, 2, 13, 0)),
    case("tx-sunday-1000-waits-noon", DALLAS, utc(2026, 12, 6, 16, 0), utc(2026, 12, 6, 18, 0)),
    case("tx-saturday-1000", DALLAS, utc(2026, 12, 5, 16, 0), True),
    case("ut-sunday-to-monday-0800", SALT_LAKE, utc(2026, 12, 6, 17, 0), utc(2026, 12, 7, 15, 0)),
    case("ri-saturday-1730-to-monday-0900", PROVIDENCE, utc(2026, 12, 5, 22, 30), utc(2026, 12, 7, 14, 0)),
    case("sd-saturday-to-monday-mountain", SIOUX_FALLS, utc(2026, 12, 5, 16, 0), utc(2026, 12, 7, 16, 0)),
    case("ca-wed-2115", TORONTO, utc(2026, 12, 3, 2, 15), True),
    case("ca-saturday-0930", TORONTO, utc(2026, 12, 5, 14, 30), utc(2026, 12, 5, 15, 0)),
    case("fr-lunch-break", PARIS_MOBILE, utc(2026, 12, 2, 12, 30), utc(2026, 12, 2, 13, 0)),
    case("fr-saturday-to-monday", PARIS_MOBILE, utc(2026, 12, 5, 10, 0), utc(2026, 12, 7, 9, 0)),
    case("it-ordinary-weekday-1930", ROME_MOBILE, utc(2026, 12, 23, 18, 30), True),
    case("fallback-wed-1200", AMSTERDAM_MOBILE, utc(2026, 12, 2, 11, 0), True),
    case("fallback-lunch-break", AMSTERDAM_MOBILE, utc(2026, 12, 2, 12, 30), utc(2026, 12, 2, 13, 0)),
    # holidays of the callee's jurisdiction (none of them a US federal holiday but Christmas)
    case("ut-christmas-to-saturday-0800", SALT_LAKE, utc(2026, 12, 25, 17, 0), utc(2026, 12, 26, 15, 0)),
    case("fr-victory-day-not-a-us-holiday", PARIS_MOBILE, utc(2026, 5, 8, 9, 0), utc(2026, 5, 11, 8, 0)),
    case("de-christmas-boxing-day-sunday", BERLIN_MOBILE, utc(2026, 12, 25, 10, 0), utc(2026, 12, 28, 8, 0)),
    case("it-christmas-eve-1930", ROME_MOBILE, utc(2026, 12, 24, 18, 30), utc(2026, 12, 28, 8, 0)),
    case("fallback-nl-christmas", AMSTERDAM_MOBILE, utc(2026, 12, 24, 17, 30), utc(2026, 12, 28, 9, 0)),
    # daylight-saving changes in the callee's zone
    case("ny-us-spring-forward-sunday-0800-edt", NEW_YORK, utc(2026, 3, 8, 2, 30), utc(2026, 3, 8, 12, 0)),
    case("ny-us-fall-back-sunday-0800-est", NEW_YORK, utc(2026, 11, 1, 2, 0), utc(2026, 11, 1, 13, 0)),
    case("fr-friday-to-eu-dst-monday", PARIS_MOBILE, utc(2026, 3, 27, 19, 30), utc(2026, 3, 30, 8, 0)),
    # a number whose zone is ambiguous: open only where every zone is
    case("au-0900-in-cocos", AUSTRALIAN_MOBILE, utc(2026, 12, 2, 1, 0), utc(2026, 12, 2, 2, 30)),
    case("au-1959-lord-howe", AUSTRALIAN_MOBILE, utc(2026, 12, 2, 8, 59), True),
    case("au-2000-lord-howe", AUSTRALIAN_MOBILE, utc(2026, 12, 2, 9, 0), utc(2026, 12, 3, 2, 30)),
    # prior attempts
    case("fl-cap-reached-until-oldest-leaves-24h", MIAMI, utc(2026, 12, 2, 18, 0), utc(2026, 12, 3, 15, 0),
         FLORIDA_MORNING, "renewal"),
    case("fl-cap-counts-one-subject", MIAMI, utc(2026, 12, 2, 18, 0), True, FLORIDA_MORNING, "appointment"),
    case("fl-cap-attempt-of-unknown-purpose-counts", MIAMI, utc(2026, 12, 2, 18, 0), utc(2026, 12, 3, 15, 0),
         attempts(*(a.moment for a in FLORIDA_MORNING), purpose=None), "appointment"),
    case("me-one-call-per-8h-pushes-past-1700", PORTLAND_ME, utc(2026, 12, 2, 15, 0), utc(2026, 12, 3, 14, 0),
         attempts(utc(2026, 12, 2, 14, 30))),
    case("ny-no-cap", NEW_YORK, utc(2026, 12, 2, 18, 0), True, FLORIDA_MORNING, "renewal"),
    case("fr-four-in-thirty-days", PARIS_MOBILE, utc(2026, 12, 2, 10, 0), utc(2026, 12, 9, 10, 0),
         WEEKLY_IN_NOVEMBER, "renewal"),
    # the campaign's own window narrows, never widens
    case("campaign-cannot-widen-florida", MIAMI, utc(2026, 12, 3, 1, 30), utc(2026, 12, 3, 13, 0),
         campaign=CampaignWindow(time(7, 0), time(23, 0))),
    case("campaign-narrows", NEW_YORK, utc(2026, 12, 2, 13, 30), utc(2026, 12, 2, 14, 0),
         campaign=WEEKDAYS_9_TO_5),
    case("campaign-weekdays-only", NEW_YORK, utc(2026, 12, 5, 15, 0), utc(2026, 12, 7, 14, 0),
         campaign=WEEKDAYS_9_TO_5),
    # the area code says New York, the address Florida: both apply (and Florida's Central zone)
    case("ny-number-florida-address-both-apply", NEW_YORK, utc(2026, 12, 3, 1, 30), utc(2026, 12, 3, 14, 0),
         address="US-FL"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("number", "address", "moment", "prior", "purpose", "campaign", "expected"),
    CASES,
)
def test_calling_decision(number, address, moment, prior, purpose, campaign, expected) -> None:
    resolution = resolve(number, address)
    assert resolution.ok, resolution.failure

    decision = check(resolution, moment, prior, campaign_window=campaign, purpose=purpose)

    if expected is True:
        assert decision.allowed, decision.reason
        assert decision.next_allowed is None
    else:
        assert not decision.allowed
        assert decision.reason
        assert decision.next_allowed == expected
        assert check(resolution, expected, prior, campaign_window=campaign, purpose=purpose).allowed
        just_before = expected - timedelta(minutes=1)
        if just_before > moment:
            assert not check(
                resolution, just_before, prior, campaign_window=campaign, purpose=purpose
            ).allowed


def test_the_next_allowed_moment_is_the_earliest_minute() -> None:
    """Walk minute by minute from a refused moment: no earlier minute is allowed."""
    resolution = resolve(PROVIDENCE)
    moment = utc(2026, 12, 5, 22, 30)  # Saturday 17:30 in Rhode Island
    decision = check(resolution, moment)
    probe = moment
    while probe < decision.next_allowed:
        assert not check(resolution, probe).allowed, probe
        probe += timedelta(minutes=15)


def test_florida_refusal_names_the_state_rule_and_versions() -> None:
    decision = check(resolve(MIAMI), utc(2026, 12, 3, 1, 30))  # Wednesday 20:30 in Miami

    record = decision.to_record()
    assert record["allowed"] is False
    assert {"id": "US", "version": 1} in record["rules"] and {"id": "US-FL", "version": 1} in record["rules"]
    assert record["rules_version"]
    failing = [c for c in record["checks"] if c["verdict"] == "fail"]
    assert [(c["rule_id"], c["zone"]) for c in failing] == [("US-FL", "America/New_York")]
    assert failing[0]["inputs"]["allowed"] == ["08:00-20:00"]
    assert failing[0]["inputs"]["local_time"].startswith("2026-12-02T20:30")
    assert record["next_allowed"] == "2026-12-03T13:00:00Z"


def test_cap_check_lists_the_attempts_it_counted() -> None:
    prior = attempts(utc(2026, 12, 2, 15, 0), utc(2026, 12, 2, 16, 0), utc(2026, 12, 2, 17, 0))
    decision = check(resolve(MIAMI), utc(2026, 12, 2, 18, 0), prior, purpose="renewal")

    (cap,) = [c for c in decision.checks if c.kind == "cap"]
    assert not cap.passed
    assert cap.inputs["counted"] == ["2026-12-02T15:00:00Z", "2026-12-02T16:00:00Z", "2026-12-02T17:00:00Z"]
    assert cap.reason == "3 of 3 attempts in 24 h (person and purpose)"


def test_campaign_window_that_tries_to_widen_is_recorded_as_passing_while_the_rule_refuses() -> None:
    decision = check(
        resolve(MIAMI), utc(2026, 12, 3, 1, 30), campaign_window=CampaignWindow(time(7), time(23))
    )

    by_kind = {(c.kind, c.rule_id): c.passed for c in decision.checks}
    assert by_kind[("campaign_window", None)] is True
    assert by_kind[("hours", "US-FL")] is False
    assert not decision.allowed


@pytest.mark.parametrize(
    ("number", "zones"),
    [
        (MIAMI, ("America/New_York",)),
        (AUSTRALIAN_MOBILE, ("Australia/Perth", "Australia/Sydney", "Indian/Cocos")),
        (RUSSIAN_MOBILE, ("Europe/Moscow", "Asia/Vladivostok")),
        (TOLL_FREE, ("America/Los_Angeles", "America/St_Johns", "Pacific/Guam")),
    ],
)
def test_every_zone_the_number_can_be_in(number: str, zones: tuple[str, ...]) -> None:
    resolution = resolve(number)

    assert set(zones) <= set(resolution.zones)


def test_russian_mobile_spans_too_many_zones_for_any_common_hour() -> None:
    decision = check(resolve(RUSSIAN_MOBILE), utc(2026, 12, 2, 9, 0))

    assert not decision.allowed
    assert decision.next_allowed is None
    assert "no allowed moment within 14 days" in (decision.reason or "")


def test_toll_free_number_binds_every_state_rule_and_fails_closed() -> None:
    resolution = resolve(TOLL_FREE)

    assert resolution.regions == ()
    assert {"US", "US-FL", "US-RI", "US-TX"} <= {a.rule_id for a in resolution.applied}
    assert resolution.derivation["area_code_regions"] == "non_geographic"
    decision = check(resolution, utc(2026, 12, 2, 18, 0))
    assert not decision.allowed and decision.next_allowed is None


def test_area_code_and_address_in_different_states_both_apply() -> None:
    resolution = resolve(NEW_YORK, "US-TX")

    assert resolution.regions == ("US-NY", "US-TX")
    assert {"US", "US-TX"} <= {a.rule_id for a in resolution.applied}
    assert {"America/New_York", "America/Chicago", "America/Denver"} <= set(resolution.zones)


def test_address_abroad_adds_that_countrys_rule_and_zones() -> None:
    resolution = resolve(NEW_YORK, "FR")

    assert [a.rule_id for a in resolution.applied] == ["US", "FR"]
    assert "Europe/Paris" in resolution.zones


def test_canadian_number_with_a_florida_address_binds_both_countries_and_florida_zones() -> None:
    resolution = resolve(TORONTO, "US-FL")

    assert [a.rule_id for a in resolution.applied] == ["CA", "US", "US-FL"]
    assert set(resolution.zones) == {"America/Toronto", "America/New_York", "America/Chicago"}


def test_country_without_rule_gets_the_fallback_with_its_own_holidays() -> None:
    resolution = resolve(AMSTERDAM_MOBILE)

    assert [(a.rule_id, a.country) for a in resolution.applied] == [("fallback", "NL")]
    decision = check(resolution, utc(2026, 4, 27, 9, 0))  # King's Day, a Monday
    assert not decision.allowed
    assert "NL" in (decision.reason or "")
    (hours,) = [c for c in decision.checks if c.kind == "hours"]
    assert hours.inputs["holiday_calendar"] == "NL"
    assert hours.inputs["holiday"]


@pytest.mark.parametrize(
    ("number", "address", "reason"),
    [
        ("not a number", None, "unparseable_number"),
        ("+12120000000", None, "invalid_number"),
        ("+80012345678", None, "no_country"),
        (NEW_YORK, "Florida", "unreadable_address"),
        (NEW_YORK, "US-ZZ", "unknown_region"),
    ],
)
def test_unresolvable_number_fails_closed_with_a_reason(
    number: str, address: str | None, reason: str
) -> None:
    resolution = resolve(number, address)

    assert resolution.failure == reason
    decision = check(resolution, utc(2026, 12, 2, 18, 0))
    assert not decision.allowed
    assert decision.reason == reason
    assert decision.next_allowed is None
    assert [c.kind for c in decision.checks] == ["resolution"]
    assert next_allowed_moments(resolution, utc(2026, 12, 2, 18, 0)) == ()


def test_next_allowed_moments_lists_the_coming_stretches() -> None:
    stretches = next_allowed_moments(resolve(PARIS_MOBILE), utc(2026, 12, 4, 12, 30), n=3)  # Fri 13:30

    assert [(s.opens, s.closes) for s in stretches] == [
        (utc(2026, 12, 4, 13, 0), utc(2026, 12, 4, 19, 0)),  # Friday 14:00-20:00
        (utc(2026, 12, 7, 9, 0), utc(2026, 12, 7, 12, 0)),  # Monday 10:00-13:00
        (utc(2026, 12, 7, 13, 0), utc(2026, 12, 7, 19, 0)),
    ]


def test_next_allowed_moments_for_an_ambiguous_number_is_the_overlap_of_its_zones() -> None:
    (stretch,) = next_allowed_moments(resolve(AUSTRALIAN_MOBILE), utc(2026, 12, 2, 0, 0), n=1)

    assert (stretch.opens, stretch.closes) == (utc(2026, 12, 2, 2, 30), utc(2026, 12, 2, 9, 0))


def test_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check(resolve(NEW_YORK), datetime(2026, 12, 2, 18, 0))


def test_engine_imports_no_store_cloud_or_vendor_sdk() -> None:
    code = "\n".join(
        [
            "import sys",
            "from datetime import UTC, datetime",
            "import autocall.domain.compliance as c",
            "c.check(c.resolve('+13055550123'), datetime(2026, 12, 2, 18, tzinfo=UTC))",
            "vendors = ('pynamodb', 'boto3', 'botocore', 'twilio', 'openai', 'phonenumbers.geocoder')",
            "loaded = [m for m in vendors if m in sys.modules]",
            "print(loaded)",
            "sys.exit(1 if loaded else 0)",
        ]
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=LAYER)
    assert result.returncode == 0, result.stdout + result.stderr
