"""A campaign at scale on the embedded local stack, with the fast clock.

    .venv/bin/python bench/campaign.py [--contacts 10000] [--cps 1] [--max-concurrent 10]

Contacts spread over the compliance rules' jurisdictions (the US states with rules of their own,
states under the federal floor alone, Canadian provinces, the countries with rules, a few only the
fallback covers) are called by one campaign through the real path: API → fan-out → EventBridge
Scheduler (moto + the pump) → dialer and its dial-time gate → carrier simulator → Twilio webhooks
→ post-call chain. Every 20th number is in a second campaign of another purpose too, so the same
people are called twice and the rules' per-person caps decide. The pump skips the clock to the
next due schedule whenever nothing is in flight, so a campaign spread over days runs in the time
its calls take.

Prints: calls scheduled per second by the fan-out beside raw CreateSchedule throughput measured
in the same run (same client, same thread-pool size), calls completed, calls placed outside the
callee's calling window (must be 0), duplicate dials (must be 0), and the peak of concurrent calls
beside the limit. Then, counted from the audit records (bench/compliance_audit.py): decisions,
dials, refusals by reason, dials outside any rule and dials over a cap (both must be 0). A script
that prints figures, not a test."""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "common")]
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
warnings.filterwarnings("ignore", message="No application metrics to publish")

import compliance_audit  # noqa: E402
from autocall.clock import CLOCK  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from local.api_client import ApiClient  # noqa: E402

# Where the callees are, over the compliance rules' jurisdictions (domain/compliance/rules.json):
# (jurisdiction, number kind, share). A US state or Canadian province is reached by one of its own
# area codes (nanp_area_codes.json); a country by phonenumbers' example number of that kind. The
# US states with rules of their own, states under the federal floor alone, Canadian provinces, the
# countries with rules, and countries only the fallback covers.
RULED_STATES = "AL CT FL GA IL KY LA MA MD ME MI MN MS NE NM NV OK PA RI SD TX UT WA".split()  # noqa: SIM905
FLOOR_STATES = "NY CA OH NJ CO AZ AK HI NC VA".split()  # noqa: SIM905
PROVINCES = "ON QC BC AB NS MB".split()  # noqa: SIM905
RULED_COUNTRIES = "GB DE FR ES IT BR MX IN JP AU".split()  # noqa: SIM905
FALLBACK_COUNTRIES = "NL SE ZA NZ SG".split()  # noqa: SIM905
JURISDICTIONS: list[tuple[str, str, float]] = [
    *((f"US-{s}", "fixed", 0.35 / len(RULED_STATES)) for s in RULED_STATES),
    *((f"US-{s}", "fixed", 0.25 / len(FLOOR_STATES)) for s in FLOOR_STATES),
    *((f"CA-{p}", "fixed", 0.10 / len(PROVINCES)) for p in PROVINCES),
    *((c, "fixed", 0.20 / len(RULED_COUNTRIES)) for c in RULED_COUNTRIES),
    ("AU", "mobile", 0.02),  # an Australian mobile: eight zones, narrowed by the contact's own
    ("GB", "mobile", 0.01),
    ("DE", "mobile", 0.01),
    ("IN", "mobile", 0.01),
    *((c, "fixed", 0.05 / len(FALLBACK_COUNTRIES)) for c in FALLBACK_COUNTRIES),
]
CALLED_COUNTRIES = ["US", "CA", *RULED_COUNTRIES, *FALLBACK_COUNTRIES]
GIVEN_ZONE = {("AU", "mobile"): "Australia/Sydney", ("GB", "mobile"): "Europe/London"}
REPEAT_EVERY = 20  # every 20th contact is in a second campaign too (another purpose, same number)
REPEAT_PURPOSE = "renewal_reminder"
# how callees behave: short calls dominate, as in real outbound campaigns
PERSONAS = [
    ("no_answer", 0.35),
    ("busy", 0.10),
    ("voicemail", 0.20),
    ("not_interested", 0.15),
    ("interested_buyer", 0.10),
    ("gatekeeper", 0.10),
]
START = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)  # a Saturday: every window closed until Monday
TERMINAL = {"completed", "busy", "no_answer", "failed", "canceled"}


@dataclass
class Peaks:
    slots: int = 0
    carrier: int = 0


def _number_base(jurisdiction: str, kind: str) -> str:
    """An E.164 number of the jurisdiction whose last five digits the contacts vary."""
    import phonenumbers
    from autocall.domain.compliance.engine import nanp_table

    if jurisdiction[:3] in ("US-", "CA-"):
        # its own area code; Nova Scotia shares both of its codes with Prince Edward Island
        table = nanp_table().area_codes
        code = min((len(regions), c) for c, regions in table.items() if jurisdiction in regions)[1]
        return f"+1{code}2340000"
    kinds = phonenumbers.PhoneNumberType
    wanted = kinds.MOBILE if kind == "mobile" else kinds.FIXED_LINE
    example = phonenumbers.example_number_for_type(jurisdiction, wanted)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)


def _number(base: str, index: int) -> str:
    import phonenumbers

    phone = f"{base[:-5]}{index:05d}"
    if not phonenumbers.is_valid_number(phonenumbers.parse(phone)):
        raise ValueError(f"the bench made an invalid number for {base[:4]}…")
    return phone


def make_contacts(count: int, seed: int = 7) -> tuple[list[Any], dict[str, str], set[str]]:
    """Contacts tagged "bench" over the rules' jurisdictions (1% without consent, 1% on the
    do-not-call list; every ``REPEAT_EVERY``-th also tagged "bench-repeat"), their personas."""
    from autocall.domain.compliance import resolve
    from autocall.stores.tables import ContactRow

    rng = random.Random(seed)
    moment = CLOCK.now()
    bases = {(j, kind): _number_base(j, kind) for j, kind, _ in JURISDICTIONS}
    rows, personas, suppressed = [], {}, set()
    for index in range(count):
        jurisdiction, kind, _ = rng.choices(JURISDICTIONS, weights=[j[2] for j in JURISDICTIONS])[0]
        phone = _number(bases[(jurisdiction, kind)], index)
        resolution = resolve(phone)
        zone = GIVEN_ZONE.get((jurisdiction, kind), resolution.zones[0])
        personas[phone] = rng.choices([p[0] for p in PERSONAS], weights=[p[1] for p in PERSONAS])[0]
        if index % 100 == 50:
            suppressed.add(phone)
        rows.append(
            ContactRow(
                contact_id=f"bench-{index:06d}",
                name=f"Callee {index}",
                phone=phone,
                time_zone=zone,
                country=resolution.country,
                tags={"bench", "bench-repeat"} if index % REPEAT_EVERY == 3 else {"bench"},
                consent=index % 100 != 99,
                ai_interaction_history=[],
                custom_context={},
                created_at=moment,
                updated_at=moment,
                version=1,
            )
        )
    return rows, personas, suppressed


def load_contacts(rows: list[Any], suppressed: set[str]) -> None:
    from autocall.stores.tables import ContactRow, SuppressionRow

    with ContactRow.batch_write() as batch:
        for row in rows:
            batch.save(row)
    with SuppressionRow.batch_write() as batch:
        for phone in suppressed:
            batch.save(SuppressionRow(phone=phone, reason="opted_out", created_at=CLOCK.now()))


def raw_schedule_rate(stack: Any, count: int, workers: int) -> float:
    """CreateSchedule calls per second and nothing else: the fan-out's client, request (target,
    retry policy, dead-letter queue) and thread-pool size, into a group of its own; run as the
    fan-out runs, in the campaign worker's environment (its settings name the target)."""
    from local import environ

    with environ.function_environment(stack.registry.function_env("CampaignWorkerFunction")):
        return _raw_schedule_rate(count, workers)


def _raw_schedule_rate(count: int, workers: int) -> float:
    from autocall.config import get_settings
    from autocall.integrations import scheduler

    settings, client, group = get_settings(), scheduler._scheduler(), "bench-raw"
    client.create_schedule_group(Name=group)
    target = {
        "Arn": settings.scheduler_function_arn,
        "RoleArn": settings.scheduler_role_arn,
        "RetryPolicy": {"MaximumEventAgeInSeconds": 900, "MaximumRetryAttempts": 10},
        "DeadLetterConfig": {"Arn": settings.schedule_dlq_arn},
    }

    def create(index: int) -> None:
        client.create_schedule(
            Name=f"raw-{index}",
            GroupName=group,
            ScheduleExpression="at(2030-01-01T00:00:00)",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={**target, "Input": json.dumps({"call_id": f"raw-{index}"})},
            ActionAfterCompletion="DELETE",
            State="DISABLED",  # never fired, and the pump does not skip the clock to it
        )

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(create, range(count)))
    elapsed = time.perf_counter() - started
    client.delete_schedule_group(Name=group)
    return count / elapsed


def sample_peaks(stack: Any, peaks: Peaks, stop: threading.Event) -> None:
    """Concurrent calls as the pacing counter (slots held) and the carrier (calls alive) see them."""
    from autocall.domain.pacing import slot_holders

    while not stop.wait(0.05):
        peaks.slots = max(peaks.slots, len(slot_holders() or {}))
        peaks.carrier = max(peaks.carrier, stack.carrier._active)


def campaign_calls(campaign_ids: list[str]) -> list[Any]:
    from autocall.stores.tables import CallRow

    return [call for campaign_id in campaign_ids for call in CallRow.by_campaign.query(campaign_id)]


def terminal_count(campaign_ids: list[str]) -> tuple[int, Counter[str]]:
    """Calls by status, counted in the moto server's memory: through the API, reading 10,000 calls
    every 15 s slowed the campaign it watched."""
    from autocall.config import get_settings

    from local.moto_patches import item_attributes

    calls = item_attributes(get_settings().calls_table, ["campaign_id", "status"])
    statuses = Counter(c["status"] for c in calls if c.get("campaign_id") in campaign_ids)
    return sum(n for status, n in statuses.items() if status in TERMINAL), statuses


def wait_for_calls(stack: Any, campaign_ids: list[str], expected: int, budget: float) -> tuple[int, float]:
    """Until every call is in a terminal status, or ``budget`` wall seconds: counted every 15 s
    for a progress line, and when the stack looks finished (nothing due, nothing in flight)."""
    started = time.perf_counter()
    shown = started
    while (elapsed := time.perf_counter() - started) < budget:
        time.sleep(0.5)
        finished = stack.pump.next_due() is None and stack.idle()
        if not finished and time.perf_counter() - shown < 15:
            continue
        shown = time.perf_counter()
        done, statuses = terminal_count(campaign_ids)
        if done >= expected:
            return done, time.perf_counter() - started
        print(
            f"  {elapsed:5.0f} s  {CLOCK.now():%a %H:%M}  done {done:,}/{expected:,}  {dict(statuses)}",
            flush=True,
        )
    return terminal_count(campaign_ids)[0], time.perf_counter() - started


def audit(
    placed: list[Any], calls: list[Any], contacts: dict[str, Any], window_config: dict[str, Any]
) -> dict[str, int]:
    """Dials the carrier received outside the callee's window, and dials beyond one per attempt.

    ``placed`` (the carrier's calls) is read before ``calls``: an attempt is counted on the call
    before it is dialed, so calls still running when the bench stops cannot look like duplicates."""
    from autocall.domain.calendar.windows import CallingWindow, is_open

    window = CallingWindow.from_config(window_config)
    dials_to = Counter(sim.to for sim in placed)
    outside = sum(
        1
        for sim in placed
        if not is_open(sim.date_created, contacts[sim.to].time_zone, window, contacts[sim.to].country)
    )
    phone_of = {row.contact_id: phone for phone, row in contacts.items()}
    calls_per_contact = Counter((call.campaign_id, call.contact_id) for call in calls)
    duplicates = sum(n - 1 for n in calls_per_contact.values())
    attempts_to: Counter[str] = Counter()
    for call in calls:
        attempts_to[phone_of[call.contact_id]] += int(call.attempts or 0)
    duplicates += sum(max(0, dials - attempts_to[phone]) for phone, dials in dials_to.items())
    return {"outside": outside, "duplicates": duplicates, "dials": len(placed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--cps", type=float, default=1.0, help="calls per second (a new Twilio account: 1)")
    parser.add_argument("--max-concurrent", type=int, default=10)
    parser.add_argument("--speed", type=float, default=10.0, help="virtual seconds per wall second")
    parser.add_argument("--raw", type=int, default=1000, help="schedules created to measure CreateSchedule")
    parser.add_argument(
        "--run-seconds", type=float, default=150.0, help="wall time the calls may run (a sample)"
    )
    parser.add_argument("--until-done", action="store_true", help="run the calls until all are done")
    parser.add_argument(
        "--post-call", action="store_true", help="run the post-call chain (and its retries) after each call"
    )
    args = parser.parse_args()

    from autocall.domain import campaigns
    from autocall.domain.campaigns import fanout

    from local.stack import LocalStack, free_port

    stack = LocalStack(
        port=free_port(),
        carrier_port=free_port(),
        moto_port=free_port(),
        clock_speed=args.speed,
        skip_idle=True,
        # template parameters, as `sam deploy --parameter-overrides` sets them
        parameters={
            "CallsPerSecond": str(args.cps),
            "MaxConcurrentCalls": str(args.max_concurrent),
            "AllowedCountries": ",".join(CALLED_COUNTRIES),
        },
        # the chain costs several times a call here (moto runs Step Functions in Python): the
        # functions that start it (dialer, voice webhook) get no state machine
        env_overrides={} if args.post_call else {"POST_CALL_STATE_MACHINE_ARN": ""},
    ).start()
    wall_started = time.perf_counter()
    phases: dict[str, float] = {}
    CLOCK.freeze(START)
    CLOCK.set_speed(args.speed)
    try:
        rows, personas, suppressed = make_contacts(args.contacts)
        load_contacts(rows, suppressed)
        for phone, persona in personas.items():
            stack.carrier.register_callee(phone, persona)
        contacts = {row.phone: row for row in rows}
        phases["contacts loaded"] = time.perf_counter() - wall_started
        raw_before = raw_schedule_rate(stack, min(args.raw, args.contacts), fanout.FANOUT_WORKERS)

        api = ApiClient(stack.url, stack.api_token)
        window: dict[str, Any] = {"start": "09:00", "end": "20:00"}
        window |= {"exclude_weekends": True, "exclude_holidays": True}
        created = api.expect(
            201,
            "POST",
            "/campaigns",
            json={"name": "Bench", "purpose": "sales_outreach", "tag": "bench", "calling_window": window},
            timeout=60,
        )
        campaign_id = created["campaign_id"]
        virtual_started = CLOCK.now()
        fanout_started = time.perf_counter()
        answer = api.post(
            "/calls/api/calls/trigger_campaign_calls/", json={"campaign_id": campaign_id}, timeout=120
        )
        first_page = time.perf_counter() - fanout_started
        while (state := campaigns.get_campaign(campaign_id).fanout).get("done") is not True:
            time.sleep(0.2)
        # the fan-out's own start and finish, in virtual time (nothing is skipped while it runs)
        started, finished = (datetime.fromisoformat(state[k]) for k in ("started_at", "finished_at"))
        fanout_s = (finished - started).total_seconds() / args.speed
        scheduled = int(state["created"])
        # measured again right after: the machine's load drifts, the mean is the fair baseline
        raw_rate = (
            raw_before + raw_schedule_rate(stack, min(args.raw, args.contacts), fanout.FANOUT_WORKERS)
        ) / 2
        # a second campaign on every REPEAT_EVERY-th number, another purpose: the same people are
        # called twice, so the rules' per-person caps decide (counted from the audit records below)
        repeat = api.expect(
            201,
            "POST",
            "/campaigns",
            json={
                "name": "Bench again",
                "purpose": REPEAT_PURPOSE,
                "tag": "bench-repeat",
                "calling_window": window,
            },
            timeout=60,
        )
        repeat_id = repeat["campaign_id"]
        trigger = "/calls/api/calls/trigger_campaign_calls/"
        api.expect(202, "POST", trigger, json={"campaign_id": repeat_id}, timeout=120)
        while (repeat_state := campaigns.get_campaign(repeat_id).fanout).get("done") is not True:
            time.sleep(0.2)
        repeat_scheduled = int(repeat_state["created"])
        peaks, stop = Peaks(), threading.Event()
        sampler = threading.Thread(target=sample_peaks, args=(stack, peaks, stop), daemon=True)
        sampler.start()
        phases["fan-out measured"] = time.perf_counter() - wall_started
        budget = 10 * 3600.0 if args.until_done else args.run_seconds
        campaign_ids = [campaign_id, repeat_id]
        done, waited = wait_for_calls(stack, campaign_ids, scheduled + repeat_scheduled, budget)
        phases["calls run"] = time.perf_counter() - wall_started
        stop.set()
        sampler.join()
        virtual_span = CLOCK.now() - virtual_started
        placed = stack.carrier.calls()
        calls = campaign_calls(campaign_ids)
        checks = audit(placed, calls, contacts, window)
        stats = api.expect(200, "GET", f"/campaigns/{campaign_id}/stats", timeout=300)
        counted_started = time.perf_counter()
        findings = audit_records(stack, rows)
        counted_s = time.perf_counter() - counted_started
    finally:
        stack.stop()

    rate, ratio = scheduled / fanout_s, scheduled / fanout_s / raw_rate
    per_second = done / waited if waited else 0.0
    expected = scheduled + repeat_scheduled
    left = (
        f"the rest needs ~{(expected - done) / per_second / 60:.0f} min more"
        if done < expected
        else "all done"
    )
    table = Table(title=f"campaign of {args.contacts:,} contacts on the local stack ({args.cps:g} CPS)")
    for column, justify in (("figure", "left"), ("value", "right"), ("note", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    table.add_row(
        "API answer, first page", f"{answer.status_code} in {first_page:.2f} s", "202: the rest runs async"
    )
    table.add_row("calls scheduled", f"{scheduled:,}", f"skipped {state['skipped']}")
    table.add_row("fan-out", f"{rate:,.0f} calls/s", f"{fanout_s:.1f} s for the whole fan-out")
    table.add_row(
        "raw CreateSchedule", f"{raw_rate:,.0f} /s", f"before+after mean, {fanout.FANOUT_WORKERS} thr"
    )
    table.add_row("fan-out / raw", f"{ratio:.2f}", "target >= 0.80" + (" ok" if ratio >= 0.8 else " MISSED"))
    table.add_row(
        "second campaign's calls", f"{repeat_scheduled:,}", f"{REPEAT_PURPOSE}, every {REPEAT_EVERY}th number"
    )
    table.add_row("calls completed", f"{done:,} / {expected:,}", f"in {waited:.0f} s wall; {left}")
    table.add_row("dials placed", f"{checks['dials']:,}", f"attempts recorded {stats['attempts']:,}")
    table.add_row("dials outside window", str(checks["outside"]), "must be 0")
    table.add_row("duplicate dials", str(checks["duplicates"]), "must be 0")
    verdict = " ok" if peaks.slots <= args.max_concurrent else " EXCEEDED"
    table.add_row(
        "peak concurrent calls",
        f"{peaks.slots} (carrier {peaks.carrier})",
        f"limit {args.max_concurrent}{verdict}",
    )
    table.add_row("answer rate", f"{stats['answer_rate']}", f"conversion {stats['conversion_rate']}")
    table.add_row("average duration", f"{stats['average_duration_seconds']} s", "")
    table.add_row("cost estimate", f"${stats['cost_estimate_usd']['total']:,.2f}", "voice + speech + AMD")
    wall = time.perf_counter() - wall_started
    table.add_row(
        "virtual time", str(virtual_span).split(".")[0], f"wall {wall:.0f} s, clock x{args.speed:g} + skips"
    )
    Console().print(table)
    window_note = "until all were done" if args.until_done else f"a {args.run_seconds:g}-s wall window"
    print(
        f"{args.contacts:,} contacts (--contacts N to change); the calls ran for {window_note} "
        f"(--run-seconds S, --until-done); wall time by phase: "
        + ", ".join(f"{name} at {seconds:.0f} s" for name, seconds in phases.items())
    )
    print(f"outcomes: {stats['counts']['by_outcome']}")
    reasons = Counter(r["reason"].split(":")[0] for c in calls for r in c.reasons or [])
    print(f"reasons on the calls: {dict(reasons)}")
    print_findings(findings, counted_s, done, expected, rows)


def audit_records(stack: Any, rows: list[Any]) -> compliance_audit.Findings:
    """Every dial decision in the audit table (the dialer's environment names it), judged by
    bench/compliance_audit.py on its own."""
    from autocall.stores import audit as audit_store

    from local import environ

    phones = {row.contact_id: row.phone for row in rows}
    zones = {row.contact_id: row.time_zone for row in rows}
    with environ.function_environment(stack.registry.function_env("SchedulerFunction")):
        records = list(audit_store.all_decisions())
    return compliance_audit.judge(records, phones, zones)


def print_findings(
    found: compliance_audit.Findings, counted_s: float, done: int, expected: int, rows: list[Any]
) -> None:
    table = Table(title="dial decisions, counted from the audit records (DialAuditTable)")
    for column, justify in (("figure", "left"), ("value", "right"), ("note", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    table.add_row("decisions recorded", f"{found.decisions:,}", f"read and judged in {counted_s:.0f} s")
    table.add_row("dials", f"{found.dials:,}", f"calls done {done:,} of {expected:,}")
    table.add_row(
        "contacts with a decision",
        f"{len(found.contacts_decided):,}",
        f"{len(found.contacts_dialed):,} dialed, of {len(rows):,} contacts",
    )
    refused = sum(found.refusals.values())
    table.add_row("not dialed now", f"{refused:,}", "by outcome and reason below")
    table.add_row(
        "dials outside any rule",
        str(len(found.outside)),
        "must be 0: engine re-run at `at` + local time in every zone named",
    )
    table.add_row(
        "dials over a cap",
        str(len(found.over_cap)),
        f"must be 0: {found.caps_checked:,} cap counts on {found.cap_dials:,} capped dials",
    )
    table.add_row("numbers dialed twice or more", f"{found.numbers_dialed_twice:,}", "")
    Console().print(table)
    print(f"refusals by outcome and reason: {dict(found.refusals.most_common())}")
    print(f"dials by binding rule: {dict(sorted(found.dials_by_rule.items()))}")
    from autocall.domain.compliance import resolve

    where = Counter((resolve(row.phone).regions or (row.country,))[0] for row in rows)
    print(f"contacts by jurisdiction ({len(where)}): {dict(where.most_common())}")
    for line in (found.outside + found.over_cap)[:20]:
        print(f"  ! {line}")


if __name__ == "__main__":
    main()
