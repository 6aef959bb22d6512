"""The compliance engine: which rules bind a call to a number, and whether a moment satisfies them.

Pure: it reads the packaged rules and the NANP table once, and otherwise works only on its
arguments (the moment comes in as an argument; there is no clock here). No store, no AWS, no vendor.

``resolve`` turns a number (and the contact's address, when known) into a ``Resolution``: the
jurisdictions, the rules that bind them and every IANA zone the callee can be in, or the reason it
cannot (then every check fails closed). ``check`` decides one moment: each rule's hours in each
zone, its banned days, the campaign's own window, and each per-person cap counted from the prior
attempts; when refused it names the earliest moment that satisfies all of them.
``next_allowed_moments`` lists the coming open stretches, for an "explain before you dial" view."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from autocall.domain.compliance.rules import WEEKDAYS, Cap, Interval, Rule, RulesFile, load_rules

NANP_PATH = Path(__file__).with_name("nanp_area_codes.json")
SEARCH_DAYS = 14  # how far ahead the next allowed moment is looked for
CALLEE_COUNTRY = "ZZ"  # a holiday calendar meaning "the callee's own country"
NANP_COUNTRIES = ("US", "CA")
FALLBACK_ID = "fallback"

CheckKind = Literal["resolution", "hours", "campaign_window", "cap"]


# --- inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriorAttempt:
    """A call attempt already made to the same person (any campaign); ``purpose`` None counts for
    every purpose."""

    moment: datetime
    purpose: str | None = None


@dataclass(frozen=True)
class CampaignWindow:
    """The campaign's own hours, callee-local. It can only narrow the rules: the effective window is
    its intersection with every rule."""

    start: time
    end: time
    weekdays: frozenset[int] = frozenset(range(7))  # date.weekday() numbers

    def intervals_on(self, weekday: int) -> list[Interval]:
        return [Interval(start=self.start, end=self.end)] if weekday in self.weekdays else []


# --- the NANP table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NanpTable:
    version: str
    area_codes: Mapping[str, tuple[str, ...]]
    non_geographic: frozenset[str]
    region_zones: Mapping[str, tuple[str, ...]]


@lru_cache(maxsize=1)
def nanp_table() -> NanpTable:
    raw = json.loads(NANP_PATH.read_text(encoding="utf-8"))
    return NanpTable(
        version=raw["version"],
        area_codes={code: tuple(regions) for code, regions in raw["area_codes"].items()},
        non_geographic=frozenset(raw["non_geographic"]),
        region_zones={region: tuple(zones) for region, zones in raw["region_zones"].items()},
    )


# --- resolution --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppliedRule:
    """A rule that binds this callee, the country whose holidays it uses when its calendar is the
    callee's own (the fallback), and why it applies."""

    rule_id: str
    country: str
    why: str


@dataclass(frozen=True)
class Resolution:
    e164: str
    country: str | None = None
    regions: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()
    applied: tuple[AppliedRule, ...] = ()
    derivation: Mapping[str, Any] = field(default_factory=dict)
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def jurisdictions(self) -> tuple[str, ...]:
        countries = tuple(dict.fromkeys(a.country for a in self.applied))
        return countries + self.regions

    def to_record(self) -> dict[str, Any]:
        return {
            "e164": self.e164,
            "country": self.country,
            "regions": list(self.regions),
            "zones": list(self.zones),
            "rules": [{"id": a.rule_id, "country": a.country, "why": a.why} for a in self.applied],
            "derivation": dict(self.derivation),
            "failure": self.failure,
        }


def _failed(e164: str, reason: str, **derivation: Any) -> Resolution:
    return Resolution(e164=e164, derivation=derivation, failure=reason)


def _parse_address(address: str) -> tuple[str, str | None] | None:
    """``FR`` → (FR, None); ``US-FL`` → (US, US-FL); anything else → None."""
    code = address.strip().upper()
    country, _, subdivision = code.partition("-")
    if len(country) != 2 or not country.isalpha() or (subdivision and not subdivision.isalnum()):
        return None
    return country, (code if subdivision else None)


def _country_zones(country: str) -> tuple[str, ...]:
    """Every zone of a country, from phonenumbers' prefix time-zone data (no geocoder)."""
    import phonenumbers
    from phonenumbers import tzdata

    calling_code = str(phonenumbers.country_code_for_region(country))
    if calling_code == "0":
        return ()
    zones = {
        zone
        for prefix, names in tzdata.TIMEZONE_DATA.items()
        if prefix.startswith(calling_code)
        for zone in names
        if zone != "Etc/Unknown"
    }
    return tuple(sorted(zones))


def resolve(e164: str, contact_address: str | None = None, rules: RulesFile | None = None) -> Resolution:
    """The jurisdictions, rules and zones that bind a call to ``e164``.

    ``contact_address``: the contact's ISO 3166 country (``FR``) or state/province (``US-FL``).
    For a +1 number the state or province comes from the area code and from the address: when they
    differ both apply, and the zones of both. When neither says (a toll-free number, no address),
    every state or province rule of the country applies. A country without a rule gets the
    fallback. Any step that cannot be resolved fails closed with a reason."""
    import phonenumbers
    from phonenumbers import timezone as phone_timezone

    rules = rules or load_rules()
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return _failed(e164, "unparseable_number")
    if not phonenumbers.is_valid_number(parsed):
        return _failed(e164, "invalid_number")
    country = phonenumbers.region_code_for_number(parsed)
    if not country or country == "001":
        return _failed(e164, "no_country")
    zones = [z for z in phone_timezone.time_zones_for_number(parsed) if z != "Etc/Unknown"]
    if not zones:
        return _failed(e164, "no_time_zone", country=country)
    derivation: dict[str, Any] = {"number_country": country, "number_zones": list(zones)}

    regions: list[str] = []
    table = nanp_table()
    if parsed.country_code == 1 and country in NANP_COUNTRIES:
        area_code = str(parsed.national_number)[:3]
        derivation["area_code"] = area_code
        derivation["nanp_table_version"] = table.version
        if area_code in table.area_codes:
            regions.extend(table.area_codes[area_code])
            derivation["area_code_regions"] = list(table.area_codes[area_code])
        elif area_code in table.non_geographic:
            derivation["area_code_regions"] = "non_geographic"
        else:
            return _failed(e164, "unknown_area_code", **derivation)

    countries = [country]
    if contact_address:
        parsed_address = _parse_address(contact_address)
        if parsed_address is None:
            return _failed(e164, "unreadable_address", **derivation, address=contact_address)
        address_country, address_region = parsed_address
        derivation["address"] = contact_address
        if address_country not in countries:
            countries.append(address_country)
        if address_region and address_country in NANP_COUNTRIES:
            if address_region not in table.region_zones:
                return _failed(e164, "unknown_region", **derivation)
            regions.append(address_region)
            zones.extend(table.region_zones[address_region])
        elif address_country != country:  # abroad, region unknown: every zone of that country
            country_zones = _country_zones(address_country)
            if not country_zones:
                return _failed(e164, "no_time_zone_for_address", **derivation)
            zones.extend(country_zones)

    applied: list[AppliedRule] = []
    for each_country in countries:
        if each_country in rules.rules:
            applied.append(AppliedRule(each_country, each_country, "country"))
        else:
            applied.append(AppliedRule(FALLBACK_ID, each_country, f"no rule for {each_country}"))
        if each_country in NANP_COUNTRIES:
            own = [r for r in regions if r.startswith(each_country + "-")]
            if own:
                applied.extend(AppliedRule(r, each_country, "region") for r in own if r in rules.rules)
            else:
                applied.extend(
                    AppliedRule(key, each_country, "region unknown: every region's rule")
                    for key in sorted(rules.rules)
                    if key.startswith(each_country + "-")
                )
    return Resolution(
        e164=e164,
        country=country,
        regions=tuple(dict.fromkeys(regions)),
        zones=tuple(dict.fromkeys(zones)),
        applied=tuple(dict.fromkeys(applied)),
        derivation=derivation,
    )


# --- holidays ----------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _holidays(calendar: str, subdivision: str | None, year: int) -> Mapping[date, str]:
    """The holidays package's public holidays; ``*`` unites every subdivision's. Empty for a
    country the package does not know (the check records that)."""
    import holidays

    try:
        national = holidays.country_holidays(calendar, subdiv=None, years=year)
    except NotImplementedError:
        return {}
    if subdivision is None:
        return dict(national)
    if subdivision != "*":
        return dict(holidays.country_holidays(calendar, subdiv=subdivision, years=year))
    united: dict[date, str] = dict(national)
    for code in national.subdivisions:
        for day, name in holidays.country_holidays(calendar, subdiv=code, years=year).items():
            united.setdefault(day, name)
    return united


def knows_calendar(calendar: str) -> bool:
    return bool(_holidays(calendar, None, 2026))


def holiday_calendar(rule: Rule, country: str) -> str | None:
    """The calendar a rule bans holidays from, as an audit record names it (``US-LA``, ``DE-*``,
    ``NL``), or None when the rule bans none."""
    ban = rule.banned_holidays
    if ban is None:
        return None
    calendar = country if ban.calendar == CALLEE_COUNTRY else ban.calendar
    label = f"{calendar}-{ban.subdivision}" if ban.subdivision else calendar
    return label if knows_calendar(calendar) else f"{label} (unknown to the holidays package: none banned)"


def banned_holiday(rule: Rule, country: str, day: date) -> str | None:
    """The name of the banned holiday on ``day`` under ``rule``, or None."""
    ban = rule.banned_holidays
    if ban is None:
        return None
    calendar = country if ban.calendar == CALLEE_COUNTRY else ban.calendar
    name = _holidays(calendar, ban.subdivision, day.year).get(day)
    if name is None:
        return None
    if ban.names is None or any(wanted.lower() in name.lower() for wanted in ban.names):
        return name
    return None


# --- windows -----------------------------------------------------------------------------------


def _intersect(first: Sequence[Interval], second: Sequence[Interval]) -> list[Interval]:
    out = []
    for a in first:
        for b in second:
            start, end = max(a.start, b.start), min(a.end, b.end)
            if start < end:
                out.append(Interval(start=start, end=end))
    return sorted(out, key=lambda interval: interval.start)


@dataclass(frozen=True)
class _Window:
    """One constraint on the callee's wall clock: a rule (with its calendar country) or the
    campaign's window."""

    kind: CheckKind
    rule: Rule | None
    country: str
    campaign: CampaignWindow | None = None

    def day(self, day: date) -> tuple[list[Interval], str | None]:
        """(the day's intervals, the holiday that bans the day, if any)."""
        if self.campaign is not None:
            return self.campaign.intervals_on(day.weekday()), None
        assert self.rule is not None
        holiday = banned_holiday(self.rule, self.country, day)
        if holiday:
            return [], holiday
        intervals = self.rule.intervals_on(day.weekday())
        if self.rule.holiday_eve_hours is not None and banned_holiday(
            self.rule, self.country, day + timedelta(days=1)
        ):
            intervals = _intersect(intervals, self.rule.holiday_eve_hours)
        return intervals, None


def _stretches(window: _Window, zone: ZoneInfo, day: date) -> list[tuple[datetime, datetime]]:
    intervals, _ = window.day(day)
    return [
        (datetime.combine(day, i.start, tzinfo=zone), datetime.combine(day, i.end, tzinfo=zone))
        for i in intervals
    ]


def _open_stretch(window: _Window, zone: ZoneInfo, moment: datetime) -> tuple[datetime, datetime] | None:
    day = moment.astimezone(zone).date()
    return next(((s, e) for s, e in _stretches(window, zone, day) if s <= moment < e), None)


def _next_opening(window: _Window, zone: ZoneInfo, moment: datetime) -> datetime | None:
    day = moment.astimezone(zone).date()
    for offset in range(SEARCH_DAYS + 2):
        for start, _ in _stretches(window, zone, day + timedelta(days=offset)):
            if start > moment:  # a failing window has no stretch around the moment itself
                return start
    return None


# --- decisions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    kind: CheckKind
    passed: bool
    reason: str
    rule_id: str | None = None
    rule_version: int | None = None
    zone: str | None = None
    inputs: Mapping[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "verdict": "pass" if self.passed else "fail",
            "reason": self.reason,
            "rule_id": self.rule_id,
            "rule_version": self.rule_version,
            "zone": self.zone,
            "inputs": dict(self.inputs),
        }


@dataclass(frozen=True)
class Decision:
    allowed: bool
    moment: datetime
    checks: tuple[Check, ...]
    rules: tuple[tuple[str, int], ...]  # (rule id, rule version) that shaped the decision
    rules_version: str
    next_allowed: datetime | None = None
    reason: str | None = None

    def to_record(self) -> dict[str, Any]:
        """JSON-ready, for an audit record."""
        return {
            "allowed": self.allowed,
            "moment": _iso(self.moment),
            "reason": self.reason,
            "next_allowed": _iso(self.next_allowed) if self.next_allowed else None,
            "rules_version": self.rules_version,
            "rules": [{"id": rule_id, "version": version} for rule_id, version in self.rules],
            "checks": [c.to_record() for c in self.checks],
        }


@dataclass(frozen=True)
class AllowedStretch:
    opens: datetime
    closes: datetime  # when the first window closes (caps can close it earlier: a new attempt)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class _Plan:
    """What a resolution binds, loaded once per decision."""

    windows: tuple[_Window, ...]
    caps: tuple[tuple[Rule, Cap], ...]
    zones: tuple[ZoneInfo, ...]
    rule_refs: tuple[tuple[str, int], ...]


def _plan(resolution: Resolution, campaign_window: CampaignWindow | None, rules: RulesFile) -> _Plan:
    windows: list[_Window] = []
    caps: list[tuple[Rule, Cap]] = []
    refs: list[tuple[str, int]] = []
    for applied in resolution.applied:
        rule = rules.fallback if applied.rule_id == FALLBACK_ID else rules.rules[applied.rule_id]
        windows.append(_Window("hours", rule, applied.country))
        caps.extend((rule, cap) for cap in rule.caps if (rule.id, cap) not in {(r.id, c) for r, c in caps})
        refs.append((rule.id, rule.version))
    if campaign_window is not None:
        windows.append(_Window("campaign_window", None, resolution.country or "", campaign_window))
    return _Plan(
        windows=tuple(windows),
        caps=tuple(caps),
        zones=tuple(ZoneInfo(z) for z in resolution.zones),
        rule_refs=tuple(dict.fromkeys(refs)),
    )


def _counted(
    cap: Cap, moment: datetime, attempts: Sequence[PriorAttempt], purpose: str | None
) -> list[datetime]:
    """The attempts inside (moment - window, moment] that this cap counts, oldest first."""
    since = moment - timedelta(hours=cap.window_hours)
    return sorted(
        a.moment
        for a in attempts
        if since < a.moment <= moment
        and (cap.scope == "person" or purpose is None or a.purpose is None or a.purpose == purpose)
    )


def _cap_reopens(cap: Cap, counted: list[datetime]) -> datetime | None:
    """When enough of the counted attempts have left the window for one more to fit."""
    if len(counted) < cap.max_attempts:
        return None
    return counted[len(counted) - cap.max_attempts] + timedelta(hours=cap.window_hours)


def _evaluate(
    plan: _Plan, moment: datetime, attempts: Sequence[PriorAttempt], purpose: str | None
) -> list[Check]:
    """Every check at ``moment``, with its inputs and verdict (for the audit record)."""
    checks: list[Check] = []
    for window in plan.windows:
        for zone in plan.zones:
            local = moment.astimezone(zone)
            intervals, holiday = window.day(local.date())
            passed = _open_stretch(window, zone, moment) is not None
            label = "campaign window" if window.rule is None else f"rule {window.rule.id}"
            if passed:
                reason = f"{local:%a %H:%M} in {zone.key} is inside the {label}"
            elif holiday:
                reason = f"{local:%Y-%m-%d} is {holiday} in {window.country} ({label})"
            elif not intervals:
                reason = f"no calls on {WEEKDAYS[local.weekday()]} under the {label}"
            else:
                reason = f"{local:%a %H:%M} in {zone.key} is outside the {label}"
            checks.append(
                Check(
                    kind=window.kind,
                    passed=passed,
                    reason=reason,
                    rule_id=window.rule.id if window.rule else None,
                    rule_version=window.rule.version if window.rule else None,
                    zone=zone.key,
                    inputs={
                        "local_time": local.isoformat(),
                        "weekday": WEEKDAYS[local.weekday()],
                        "allowed": [i.label() for i in intervals],
                        "holiday": holiday,
                        "holiday_calendar": holiday_calendar(window.rule, window.country)
                        if window.rule
                        else None,
                    },
                )
            )
    for rule, cap in plan.caps:
        counted = _counted(cap, moment, attempts, purpose)
        reopens = _cap_reopens(cap, counted)
        checks.append(
            Check(
                kind="cap",
                passed=reopens is None,
                reason=(
                    f"{len(counted)} of {cap.max_attempts} attempts in {cap.window_hours} h "
                    f"({cap.scope.replace('_', ' ')})"
                ),
                rule_id=rule.id,
                rule_version=rule.version,
                inputs={
                    "max_attempts": cap.max_attempts,
                    "window_hours": cap.window_hours,
                    "scope": cap.scope,
                    "purpose": purpose,
                    "counted": [_iso(m) for m in counted],
                },
            )
        )
    return checks


def _reopenings(
    plan: _Plan, moment: datetime, attempts: Sequence[PriorAttempt], purpose: str | None
) -> list[datetime | None]:
    """For each check failing at ``moment``, the earliest moment it could pass (None: not within
    the horizon). Empty when every check passes. The lean twin of ``_evaluate``, for the search."""
    reopenings: list[datetime | None] = []
    for window in plan.windows:
        for zone in plan.zones:
            if _open_stretch(window, zone, moment) is None:
                reopening = _next_opening(window, zone, moment)
                if reopening is None:
                    return [None]
                reopenings.append(reopening)
    for _, cap in plan.caps:
        reopens = _cap_reopens(cap, _counted(cap, moment, attempts, purpose))
        if reopens is not None:
            reopenings.append(reopens)
    return reopenings


def _earliest(
    plan: _Plan, start: datetime, attempts: Sequence[PriorAttempt], purpose: str | None, horizon: datetime
) -> datetime | None:
    """The earliest moment at or after ``start`` where every check passes: jump to the latest of
    the failing checks' own reopenings (none can pass sooner) and look again."""
    moment = start
    while moment <= horizon:
        reopenings = _reopenings(plan, moment, attempts, purpose)
        if not reopenings:
            return moment.astimezone(UTC)
        if any(r is None for r in reopenings):
            return None
        moment = max(r for r in reopenings if r is not None)
    return None


def _refusal(resolution: Resolution, moment: datetime, rules: RulesFile) -> Decision:
    check = Check(
        kind="resolution",
        passed=False,
        reason=f"the number's jurisdiction cannot be resolved: {resolution.failure}",
        inputs=resolution.to_record(),
    )
    return Decision(
        allowed=False,
        moment=moment,
        checks=(check,),
        rules=(),
        rules_version=rules.version,
        reason=resolution.failure,
    )


def check(
    resolution: Resolution,
    moment_utc: datetime,
    prior_attempts: Iterable[PriorAttempt] = (),
    campaign_window: CampaignWindow | None = None,
    purpose: str | None = None,
    rules: RulesFile | None = None,
) -> Decision:
    """May the callee be called at ``moment_utc``? When not, the earliest moment they may (searched
    up to ``SEARCH_DAYS`` ahead; none → refused with that reason)."""
    rules = rules or load_rules()
    moment = _aware(moment_utc, "moment_utc")
    if not resolution.ok:
        return _refusal(resolution, moment, rules)
    attempts = tuple(PriorAttempt(_aware(a.moment, "attempt moment"), a.purpose) for a in prior_attempts)
    plan = _plan(resolution, campaign_window, rules)
    checks = _evaluate(plan, moment, attempts, purpose)
    failing = [c for c in checks if not c.passed]
    if not failing:
        return Decision(True, moment, tuple(checks), plan.rule_refs, rules.version)
    following = _earliest(plan, moment, attempts, purpose, moment + timedelta(days=SEARCH_DAYS))
    reason = failing[0].reason
    if following is None:
        reason = f"{reason}; no allowed moment within {SEARCH_DAYS} days"
    return Decision(False, moment, tuple(checks), plan.rule_refs, rules.version, following, reason)


def _closes(plan: _Plan, moment: datetime) -> datetime:
    ends = []
    for window in plan.windows:
        for zone in plan.zones:
            stretch = _open_stretch(window, zone, moment)
            if stretch is not None:
                ends.append(stretch[1])
    return min(ends)


def next_allowed_moments(
    resolution: Resolution,
    after: datetime,
    n: int = 3,
    prior_attempts: Iterable[PriorAttempt] = (),
    campaign_window: CampaignWindow | None = None,
    purpose: str | None = None,
    rules: RulesFile | None = None,
) -> tuple[AllowedStretch, ...]:
    """The next ``n`` stretches (within ``SEARCH_DAYS``) in which a call is allowed, assuming no
    further attempt is made. Empty when the resolution failed or nothing opens."""
    rules = rules or load_rules()
    if not resolution.ok:
        return ()
    start = _aware(after, "after")
    attempts = tuple(PriorAttempt(_aware(a.moment, "attempt moment"), a.purpose) for a in prior_attempts)
    plan = _plan(resolution, campaign_window, rules)
    horizon = start + timedelta(days=SEARCH_DAYS)
    stretches: list[AllowedStretch] = []
    while len(stretches) < n:
        opens = _earliest(plan, start, attempts, purpose, horizon)
        if opens is None:
            break
        closes = _closes(plan, opens)
        stretches.append(AllowedStretch(opens, closes.astimezone(UTC)))
        start = closes
    return tuple(stretches)
