"""Count a campaign's dial decisions from the audit records, and judge every dial on its own.

The dialer's gate (domain/dial_gate.py) writes a record for every decision. This module reads
them back and does not trust them: for each record whose outcome is a dial it

- re-runs the rules engine (``autocall.domain.compliance.check``) at the record's ``at`` on the
  number itself, with no prior attempts, so only hours, banned days and resolution can fail;
- looks at the callee's wall clock directly in every zone the record names (and every zone the
  number resolves to) against each binding rule's hours for that weekday, its holiday-eve hours
  and its banned holidays;
- counts the number's other dial records inside each cap's rolling window before ``at`` (same
  purpose when the cap's scope says so), and calls it over the cap when they already reach it.

A dial that fails any of the first two is "outside any rule"; one that fails the third is "over a
cap". Both must be 0. ``judge`` works on plain records, so a hand-built pair can check it."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from autocall.domain.compliance import Resolution, check, load_rules, resolve
from autocall.domain.compliance.engine import FALLBACK_ID, banned_holiday
from autocall.domain.compliance.rules import Rule
from autocall.models.records import DialDecision


@dataclass
class Findings:
    decisions: int = 0
    dials: int = 0
    refusals: Counter[str] = field(default_factory=Counter)  # "<outcome>: <reason>" → count
    outside: list[str] = field(default_factory=list)  # "<call_id>#<attempt>: why"
    over_cap: list[str] = field(default_factory=list)
    dials_by_rule: Counter[str] = field(default_factory=Counter)
    caps_checked: int = 0  # (dial, cap) pairs counted
    cap_dials: int = 0  # dials on numbers bound by a cap
    numbers_dialed_twice: int = 0  # numbers with two or more dials (the caps' real test)
    contacts_decided: set[str] = field(default_factory=set)  # contacts with at least one decision
    contacts_dialed: set[str] = field(default_factory=set)


def narrowed(phone: str, given_zone: str | None) -> Resolution:
    """The number's resolution, narrowed to the contact's own zone when the number could be in
    several and the contact names one of them (the documented rule of resolve_contact)."""
    resolution = resolve(phone)
    if resolution.ok and given_zone in resolution.zones and len(resolution.zones) > 1:
        return replace(resolution, zones=(given_zone,))
    return resolution


def _rule(rule_id: str) -> Rule:
    rules = load_rules()
    return rules.fallback if rule_id == FALLBACK_ID else rules.rules[rule_id]


def _inside(rule: Rule, country: str, zone: str, at: datetime) -> str | None:
    """Why ``at`` is outside ``rule`` in ``zone`` (None: inside)."""
    local = at.astimezone(ZoneInfo(zone))
    day, clock = local.date(), local.time().replace(tzinfo=None)
    holiday = banned_holiday(rule, country, day)
    if holiday:
        return f"{day} is {holiday} ({rule.id}, {zone})"
    if not any(i.start <= clock < i.end for i in rule.intervals_on(day.weekday())):
        return f"{local:%a %H:%M} in {zone} is outside {rule.id}"
    eve = rule.holiday_eve_hours
    eve_of_holiday = eve is not None and banned_holiday(rule, country, day + timedelta(days=1))
    if eve_of_holiday and not any(i.start <= clock < i.end for i in eve or []):
        return f"{local:%a %H:%M} in {zone} is outside {rule.id}'s holiday-eve hours"
    return None


def judge(
    records: Iterable[DialDecision], phones: Mapping[str, str], zones: Mapping[str, str | None]
) -> Findings:
    """Count ``records`` (any order); ``phones``/``zones``: contact id → number / given zone."""
    found = Findings()
    dials_by_phone: dict[str, list[DialDecision]] = defaultdict(list)
    for record in records:
        found.decisions += 1
        found.contacts_decided.add(record.contact_id)
        if record.outcome != "dial":
            found.refusals[f"{record.outcome}: {(record.reason or 'none').split(':')[0]}"] += 1
            continue
        found.dials += 1
        found.contacts_dialed.add(record.contact_id)
        dials_by_phone[phones[record.contact_id]].append(record)
    for phone, dials in dials_by_phone.items():
        dials.sort(key=lambda r: (r.at, r.call_id, r.attempt))
        found.numbers_dialed_twice += len(dials) > 1
        resolution = narrowed(phone, zones.get(dials[0].contact_id))
        for index, record in enumerate(dials):
            label = f"{record.call_id}#{record.attempt}"
            why = _outside(record, resolution)
            if why:
                found.outside.append(f"{label}: {why}")
            for rule_id in {a.rule_id for a in resolution.applied}:
                found.dials_by_rule[rule_id] += 1
            over = _over_cap(record, dials[:index], resolution)
            found.caps_checked += over[1]
            found.cap_dials += over[1] > 0
            if over[0]:
                found.over_cap.append(f"{label}: {over[0]}")
    return found


def _outside(record: DialDecision, resolution: Resolution) -> str | None:
    if not resolution.ok:
        return f"the number resolves to no rule ({resolution.failure})"
    decision = check(resolution, record.at, (), None, record.purpose)
    if not decision.allowed:
        return f"the engine refuses it now: {decision.reason}"
    applied = {a.rule_id: a.country for a in resolution.applied}
    for named in record.rules:  # a rule the record names but the number does not resolve to
        applied.setdefault(str(named["id"]), resolution.country or "")
    zones = dict.fromkeys([*record.zones, *resolution.zones])
    for rule_id, country in applied.items():
        for zone in zones:
            why = _inside(_rule(rule_id), country, zone, record.at)
            if why:
                return why
    return None


def _over_cap(
    record: DialDecision, earlier: list[DialDecision], resolution: Resolution
) -> tuple[str | None, int]:
    """(why the dial is over a cap or None, how many caps were counted)."""
    counted = 0
    for rule_id in dict.fromkeys(a.rule_id for a in resolution.applied):
        for cap in _rule(rule_id).caps:
            counted += 1
            since = record.at - timedelta(hours=cap.window_hours)
            prior = [
                d
                for d in earlier
                if since < d.at <= record.at
                and (cap.scope == "person" or d.purpose is None or d.purpose == record.purpose)
            ]
            if len(prior) >= cap.max_attempts:
                return (
                    f"{len(prior)} earlier dials in {cap.window_hours} h, {rule_id} allows "
                    f"{cap.max_attempts} ({cap.scope})",
                    counted,
                )
    return None, counted
