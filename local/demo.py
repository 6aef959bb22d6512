"""``make demo``: the local stack, a book of thirty contacts, a campaign and every other kind of
trigger through the public HTTP API, the clock run fast until every call and every post-call chain
is done; then the results in the terminal and ``demo-report.html``.

    python -m local.demo [--small] [--no-live] [--report PATH] [--speed 90]

Exit code 1 when anything failed: a call stuck, an outcome other than the persona's expected one
(with the offline playbook brain), a post-call step recorded on ``call.failures``, a Lambda or
schedule error. The handlers' JSON logs and EMF metrics go to ``.local-state/demo-logs.jsonl``."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import requests
from requests.adapters import HTTPAdapter
from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from local.demo_book import (
    BOOK,
    CAMPAIGN_CONTEXT,
    CAMPAIGN_PURPOSE,
    CAMPAIGN_TAG,
    DEMO_START,
    SMALL_BOOK,
    DemoContact,
    check_book,
)

if TYPE_CHECKING:
    from local.report import CallEntry
    from local.stack import LocalStack

ROOT = Path(__file__).resolve().parent.parent
LOG_PATH = ROOT / ".local-state" / "demo-logs.jsonl"
TERMINAL = frozenset({"completed", "busy", "no_answer", "failed", "canceled"})
STATUS_ORDER = ("scheduled", "dialing", "queued", "ringing", "in_progress", *sorted(TERMINAL))
POLL_S = 0.5
DASH = "\u2013"


class DemoError(Exception):
    """The demo could not go on (an API call answered something unexpected)."""


@dataclass(frozen=True)
class DemoOptions:
    small: bool = False
    live: bool = True
    report: Path = Path("demo-report.html")
    speed: float = 90.0  # virtual seconds per wall second, on top of skipping idle time
    start: datetime = DEMO_START
    timeout_s: float = 240.0


@dataclass(frozen=True)
class Tracked:
    """A call the demo asked for, and who it is for."""

    contact: DemoContact
    contact_id: str
    call_id: str
    time_zone: str


@dataclass
class DemoResult:
    calls: list[CallEntry]
    report: Path
    brain: str
    campaign_id: str | None = None
    campaign_stats: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class DemoApi:
    """The public HTTP API, as a user's script would call it: bearer token, JSON, status checks."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.mount("http://", HTTPAdapter(pool_maxsize=16))

    def request(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = self.session.request(method, self.base_url + path, timeout=30, **kwargs)
        if response.status_code != expect:
            raise DemoError(f"{method} {path} answered {response.status_code}: {response.text[:400]}")
        return response.json()

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: Any, expect: int = 202, **kwargs: Any) -> Any:
        return self.request("POST", path, expect, json=body, **kwargs)


# --- asking for the calls ---------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seed_contacts(api: DemoApi, book: tuple[DemoContact, ...]) -> dict[str, dict[str, Any]]:
    """POST /contacts for everyone but the web-form leads (the form creates those)."""
    created = {}
    for contact in book:
        if contact.trigger == "form":
            continue
        body: dict[str, Any] = {
            "name": contact.name,
            "phone": contact.phone,
            "email": contact.email,
            "company": contact.company,
            "consent": True,
            "consent_text": "Agreed to be called about their account (demo data).",
            "tags": [CAMPAIGN_TAG] if contact.trigger == "campaign" else ["demo"],
        }
        if contact.time_zone:
            body["time_zone"] = contact.time_zone
        created[contact.name] = api.post("/contacts", body, expect=201)
    return created


def trigger_calls(
    api: DemoApi, book: tuple[DemoContact, ...], contacts: dict[str, dict[str, Any]], form_secret: str
) -> tuple[list[Tracked], str | None]:
    """Every kind of trigger, through the public API. Returns the calls and the campaign id."""
    from autocall.clock import now
    from autocall.domain.campaigns import campaign_call_id
    from autocall.domain.forms import sign

    tracked: list[Tracked] = []

    def track(contact: DemoContact, view: dict[str, Any], call_id: str) -> None:
        tracked.append(Tracked(contact, view["contact_id"], call_id, view["time_zone"]))

    campaign_id = None
    in_campaign = [c for c in book if c.trigger == "campaign"]
    if in_campaign:
        campaign = api.post(
            "/campaigns",
            {
                "name": "Q1 cloud migration outreach",
                "purpose": CAMPAIGN_PURPOSE,
                "tag": CAMPAIGN_TAG,
                "stagger_minutes": 1,
                "calling_window": {"start": "09:00", "end": "20:00", "exclude_weekends": True},
                "context": CAMPAIGN_CONTEXT,
            },
            expect=201,
        )
        campaign_id = campaign["campaign_id"]
        started = api.post(
            "/calls/api/calls/trigger_campaign_calls/",
            {"campaign_id": campaign_id, "call_purpose": CAMPAIGN_PURPOSE, "stagger_minutes": 1},
        )
        created = {c["call_id"] for c in started["calls"]}
        for contact in in_campaign:
            view = contacts[contact.name]
            call_id = campaign_call_id(campaign_id, view["contact_id"])  # deterministic, as the fan-out's
            if call_id not in created:
                raise DemoError(f"the campaign did not call {contact.name}: {started['skipped']}")
            track(contact, view, call_id)

    for contact in book:
        view = contacts.get(contact.name, {})
        if contact.trigger in ("single", "scheduled"):
            body: dict[str, Any] = {
                "contact_id": view["contact_id"],
                "call_purpose": contact.purpose,
                "context": contact.context,
            }
            if contact.trigger == "scheduled":
                body["scheduled_time"] = _iso(now() + timedelta(minutes=contact.delay_minutes))
            answer = api.post(
                "/calls/api/calls/trigger_autonomous_call/",
                body,
                headers={"Idempotency-Key": f"demo-{contact.phone}-{contact.purpose}"},
            )
            track(contact, view, answer["call_id"])

    bulk = [c for c in book if c.trigger == "bulk"]
    if bulk:
        items = [
            {
                "contact_id": contacts[c.name]["contact_id"],
                "call_purpose": c.purpose,
                "delay_minutes": c.delay_minutes,
                "context": c.context,
            }
            for c in bulk
        ]
        answer = api.post("/calls/api/calls/bulk_autonomous_calls/", {"calls": items})
        for contact, call in zip(bulk, answer["calls"], strict=True):
            track(contact, contacts[contact.name], call["call_id"])

    for contact in (c for c in book if c.trigger == "form"):
        fields = {
            "name": contact.name,
            "phone": contact.phone,
            "email": contact.email,
            "company": contact.company,
            "consent_text": "Yes, call me about my request. (website form)",
            **contact.context,
        }
        raw = json.dumps(fields).encode()
        stamp = str(int(now().timestamp()))
        answer = api.request(
            "POST",
            "/forms/website",
            202,
            data=raw,
            headers={
                "Content-Type": "application/json",
                "X-Autocall-Timestamp": stamp,
                "X-Autocall-Signature": sign(form_secret, stamp, raw),
            },
        )
        view = api.get(f"/contacts/{answer['contact_id']}")
        track(contact, view, answer["call_id"])
    return tracked, campaign_id


# --- waiting, with the clock run fast ----------------------------------------------------------------


def finished(view: dict[str, Any], post_call: bool) -> bool:
    """This call's latest attempt is over and its post-call chain has finished (or failed)."""
    attempts = int(view.get("attempts") or 0)
    if attempts == 0:
        return view["status"] in TERMINAL  # ended before dialing: no chain runs
    if view["status"] not in TERMINAL and view["status"] != "scheduled":
        return False  # on the line
    if not post_call:
        return view["status"] in TERMINAL
    result = view.get("result") or {}
    failed = any(f.get("attempt") == attempts for f in view.get("failures") or [])
    return result.get("attempt") == attempts or failed  # scheduled again = the retry is planned


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Waiter:
    """Polls the calls over the API. When the whole stack stayed idle across a poll, moves the
    clock to the next first attempt the demo waits for: never to a retry or a follow-up the agent
    planned, so those stay in the future and show up as the next call scheduled."""

    def __init__(self, stack: LocalStack, api: DemoApi, tracked: list[Tracked], post_call: bool) -> None:
        self.stack, self.api, self.tracked, self.post_call = stack, api, tracked, post_call
        self.views: dict[str, dict[str, Any]] = {}
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="demo-poll")

    def quiet(self) -> bool:
        return self.stack.idle() and not self.stack.pump.busy

    def poll(self, ids: list[str]) -> list[str]:
        """Fresh views of ``ids``; returns the ids of the calls still pending."""
        for call_id, view in zip(
            ids, self._pool.map(lambda i: self.api.get(f"/calls/{i}"), ids), strict=True
        ):
            self.views[call_id] = view
        return [i for i in self.views if not finished(self.views[i], self.post_call)]

    def skip_idle_time(self, pending: list[str]) -> None:
        from autocall.clock import CLOCK

        due = [
            _parse(view["scheduled_time"])
            for view in (self.views[i] for i in pending)
            if view["status"] == "scheduled" and not view.get("attempts")
        ]
        moment = CLOCK.now()
        if due and min(due) > moment:
            CLOCK.advance(min(due) - moment + timedelta(seconds=1))

    def run(self, timeout_s: float, on_tick: Callable[[dict[str, dict[str, Any]]], None]) -> list[str]:
        """Until every call is finished and the stack is quiet; returns the ids still pending."""
        deadline = time.monotonic() + timeout_s
        pending = [t.call_id for t in self.tracked]
        try:
            while True:
                quiet_before = self.quiet()
                pending = self.poll(pending)
                on_tick(self.views)
                if not pending and self.quiet():
                    return []
                if time.monotonic() > deadline:
                    return pending
                if quiet_before and self.quiet():
                    self.skip_idle_time(pending)
                    time.sleep(POLL_S / 5)  # the pump fires what is due now within 50 ms
                else:
                    time.sleep(POLL_S)  # polling is not free: everything runs in this process
        finally:
            self._pool.shutdown()


# --- what the user sees ------------------------------------------------------------------------------


def _local(value: str, zone: str) -> str:
    local = _parse(value).astimezone(ZoneInfo(zone))
    return f"{local:%a %b} {local.day} {local:%H:%M} {local.tzname()}"


def next_call(api: DemoApi, call: Tracked) -> str | None:
    """The contact's next scheduled call, from the seed's status endpoint."""
    status = api.get(f"/calls/api/calls/autonomous_call_status/?contact_id={call.contact_id}")
    upcoming = sorted(
        (c for c in status["recent_calls"] if c["status"] == "scheduled"), key=lambda c: c["scheduled_time"]
    )
    if not upcoming:
        return None
    first = upcoming[0]
    kind = "retry" if first["call_id"] == call.call_id else first["call_purpose"].replace("_", " ")
    return f"{kind} · {_local(first['scheduled_time'], call.time_zone)}"


def crm_note(call: Tracked) -> str | None:
    """The call note the post-call chain wrote (the CRM has no public route; read it in-process)."""
    from autocall.stores import crm

    row = crm.get_record(call.contact_id, crm.record_id("note", call.call_id))
    return str(row.content) if row is not None and row.content else None


def live_view(progress: Progress, views: dict[str, dict[str, Any]], post_call: bool) -> Group:
    from autocall.clock import now

    statuses = Counter(v["status"] for v in views.values())
    outcomes = Counter(v["outcome"] for v in views.values() if v.get("outcome"))
    chains = sum(1 for v in views.values() if v.get("result"))
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1))
    shown = [s for s in STATUS_ORDER if statuses.get(s)]
    for status in shown:
        table.add_column(status.replace("_", " "), justify="right")
    table.add_row(*(str(statuses[s]) for s in shown))
    clock = Text(f"simulated time {now():%a %d %b %H:%M} UTC · calls by status:", style="bold")
    chained = Text(f"post-call chains finished: {chains}" if post_call else "no post-call chain configured")
    tally = Text(" · ".join(f"{o.replace('_', ' ')} {n}" for o, n in outcomes.most_common()), style="cyan")
    return Group(progress, clock, table, chained, tally)


def results_table(calls: list[CallEntry]) -> Table:
    table = Table(title="Results", header_style="bold")
    table.add_column("contact", no_wrap=True)
    table.add_column("purpose / via", no_wrap=True)
    table.add_column("status / outcome", no_wrap=True)
    table.add_column("duration", no_wrap=True)
    table.add_column("prob.", justify="right")
    table.add_column("value", justify="right")
    table.add_column("actions taken", ratio=3)
    table.add_column("next call scheduled", ratio=1)
    for entry in calls:
        view, result = entry.view, entry.view.get("result") or {}
        outcome = Text(f"{view['status']}\n", style="dim")
        outcome.append(
            str(view.get("outcome") or DASH), style="green" if entry.outcome_matches else "bold red"
        )
        if not entry.outcome_matches:
            outcome.append(f"\nexpected {entry.expected_outcome}", style="red")
        table.add_row(
            entry.name,
            Text.assemble(view["call_purpose"], "\n", (entry.trigger, "dim")),
            outcome,
            view.get("duration") or DASH,
            str(result.get("probability") or DASH),
            str(result.get("estimated_value") or DASH),
            ", ".join(view.get("actions_taken") or []) or DASH,
            entry.next_call or DASH,
        )
    return table


def transcript_panel(entry: CallEntry) -> Panel:
    lines = Text()
    for turn in entry.view.get("turns") or []:
        if turn.get("utterance"):
            lines.append(f"{entry.name.split()[0]}: ", style="bold")
            lines.append(f"{turn['utterance']}\n")
            score = turn.get("sentiment_score")
            mood = f"{turn.get('sentiment')} {score:+.2f}" if score is not None else DASH
            intents = ", ".join(turn.get("intents") or []) or "none"
            lines.append(f"    sentiment {mood} · intents {intents}\n", style="dim")
        if turn.get("reply"):
            lines.append("Agent: ", style="bold blue")
            lines.append(f"{turn['reply']}\n")
    view = entry.view
    title = f"Transcript · {entry.name} ({entry.company}) · {view['call_purpose']} → {view.get('outcome')}"
    return Panel(lines, title=title, title_align="left")


def pick_transcript(calls: list[CallEntry]) -> CallEntry | None:
    spoken = [c for c in calls if any(t.get("utterance") for t in c.view.get("turns") or [])]
    booked = [c for c in spoken if c.view.get("outcome") == "demo_scheduled"]
    ranked = booked or sorted(spoken, key=lambda c: -len(c.view.get("turns") or []))
    return ranked[0] if ranked else None


# --- the whole run ---------------------------------------------------------------------------------


def brain_name(stack: LocalStack) -> str:
    if stack.secrets.get("openai_api_key"):
        return f"LLM ({stack.registry.settings('VoiceWebhookFunction').openai_model}, OpenAI)"
    return "playbook (offline)"


def run_demo(stack: LocalStack, options: DemoOptions, console: Console) -> DemoResult:
    """The demo on a running stack: ask for the calls, wait for them, judge them, report."""
    from autocall.clock import CLOCK

    from local.report import ReportMeta, render_report

    book = SMALL_BOOK if options.small else BOOK
    check_book(book)
    api = DemoApi(stack.url, stack.api_token)
    post_call = bool(stack.registry.settings("VoiceWebhookFunction").post_call_state_machine_arn)
    errors_before = len(stack.registry.async_errors), len(stack.pump.errors)
    CLOCK.freeze(options.start)  # still while the calls are asked for; fast from the first wait on
    for contact in book:
        stack.carrier.register_callee(contact.phone, contact.persona, name=contact.first_name)
    console.print(
        f"[bold]autocall demo[/] · {len(book)} contacts · brain: {brain_name(stack)} · API {stack.url}"
    )
    contacts = seed_contacts(api, book)
    tracked, campaign_id = trigger_calls(api, book, contacts, str(stack.secrets["form_secrets"]["website"]))
    kinds = Counter(t.contact.trigger for t in tracked)
    console.print("triggered " + ", ".join(f"{n} {kind}" for kind, n in kinds.items()) + " calls")

    waiter = Waiter(stack, api, tracked, post_call)
    CLOCK.set_speed(options.speed)
    stuck = wait_with_progress(waiter, console, options)
    virtual_end = CLOCK.now()

    entries = [entry_for(api, t, waiter.views[t.call_id]) for t in tracked]
    stats = api.get(f"/campaigns/{campaign_id}/stats") if campaign_id else None
    result = DemoResult(entries, options.report, brain_name(stack), campaign_id, stats)
    judge(result, stuck, llm=bool(stack.secrets.get("openai_api_key")))
    result.problems += [
        f"Lambda error: {e.strip().splitlines()[-1]}" for e in stack.registry.async_errors[errors_before[0] :]
    ]
    result.problems += [f"schedule error: {e}" for e in stack.pump.errors[errors_before[1] :]]

    meta = ReportMeta(
        title="autocall demo report",
        generated_at=datetime.now(UTC),
        virtual_start=options.start,
        virtual_end=virtual_end,
        brain=result.brain,
        campaign=stats,
        problems=result.problems + [f"warning: {w}" for w in result.warnings],
    )
    options.report.write_text(render_report(entries, meta), encoding="utf-8")
    show_results(console, result)
    return result


def wait_with_progress(waiter: Waiter, console: Console, options: DemoOptions) -> list[str]:
    """``waiter.run`` with the live display (when asked for); returns the calls still pending."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    task = progress.add_task("calls finished (post-call done)", total=len(waiter.tracked))
    with contextlib.ExitStack() as context:
        live = None
        if options.live:
            live = context.enter_context(
                Live(console=console, refresh_per_second=8, redirect_stdout=False, redirect_stderr=False)
            )

        def tick(views: dict[str, dict[str, Any]]) -> None:
            progress.update(task, completed=sum(finished(v, waiter.post_call) for v in views.values()))
            if live is not None:
                live.update(live_view(progress, views, waiter.post_call))

        return waiter.run(options.timeout_s, tick)


def entry_for(api: DemoApi, call: Tracked, view: dict[str, Any]) -> CallEntry:
    from local.report import CallEntry

    return CallEntry(
        view=view,
        name=call.contact.name,
        company=call.contact.company,
        time_zone=call.time_zone,
        trigger=call.contact.trigger,
        persona=call.contact.persona,
        expected_outcome=call.contact.expected_outcome,
        next_call=next_call(api, call),
        note=crm_note(call),
    )


def judge(result: DemoResult, stuck: list[str], llm: bool) -> None:
    """Problems: stuck calls, post-call failures, outcomes other than the persona's (only warnings
    with the LLM brain, which words things its own way)."""
    for entry in result.calls:
        view = entry.view
        if view["call_id"] in stuck:
            result.problems.append(f"{entry.name}: stuck ({view['status']}, call {view['call_id']})")
        elif not entry.outcome_matches:
            message = (
                f"{entry.name} ({entry.persona}, {view['call_purpose']}): outcome {view.get('outcome')}, "
                f"expected {entry.expected_outcome}"
            )
            (result.warnings if llm else result.problems).append(message)
        for failure in view.get("failures") or []:
            cause = failure.get("cause") or failure.get("error")
            result.problems.append(f"{entry.name}: post-call step {failure.get('step')} failed: {cause}")


def show_results(console: Console, result: DemoResult) -> None:
    from local.report import call_cost, funnel

    views = [c.view for c in result.calls]
    console.print(results_table(result.calls))
    stages = funnel(views)
    console.print(
        "funnel: "
        + " → ".join(f"{stage.replace('_', ' ')} {n}" for stage, n in stages.items())
        + f" · estimated cost ${sum(call_cost(v).total for v in views):.2f} for {len(views)} calls"
    )
    if result.campaign_stats:
        s = result.campaign_stats
        rate = f"{100 * s['answer_rate']:.0f}%" if s.get("answer_rate") is not None else DASH
        console.print(
            f"campaign (GET /campaigns/{{id}}/stats): {s['counts']['total']} calls, answered {s['answered']} "
            f"({rate}), positive {s['positive_outcomes']}, Twilio ${s['cost_estimate_usd']['total']:.2f}"
        )
    chosen = pick_transcript(result.calls)
    if chosen is not None:
        console.print(transcript_panel(chosen))
    for warning in result.warnings:
        console.print(Text.assemble(("warning: ", "yellow"), warning))
    for problem in result.problems:
        console.print(Text(f"problem: {problem}", style="bold red"))
    console.print(f"report: {result.report.resolve()}")
    warned = f" ({len(result.warnings)} warnings)" if result.warnings else ""
    console.print(f"[bold green]demo passed[/]{warned}" if result.ok else "[bold red]demo failed[/]")


@contextlib.contextmanager
def logs_to_file(path: Path) -> Iterator[IO[str]]:
    """The handlers' JSON logs and EMF lines (stdout) and stray warnings (stderr) go to ``path``.

    The Powertools logger holds the stream it was created with: it is pointed at the file too,
    and at the null device afterwards (daemon threads may still log while the process exits)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger("autocall")

    def point_at(stream: IO[str]) -> None:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(stream)

    with path.open("w", encoding="utf-8") as sink, open(os.devnull, "w") as null:
        point_at(sink)
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                yield sink
        finally:
            point_at(null)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="nine contacts instead of thirty")
    parser.add_argument("--no-live", dest="live", action="store_false", help="no live progress display")
    parser.add_argument("--report", type=Path, default=Path("demo-report.html"))
    parser.add_argument("--speed", type=float, default=90.0, help="virtual seconds per wall second")
    parser.add_argument(
        "--timeout", type=float, default=240.0, help="wall seconds before calls count as stuck"
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="No application metrics to publish")  # quiet invocations
    options = DemoOptions(
        args.small, args.live and sys.stdout.isatty(), args.report, args.speed, timeout_s=args.timeout
    )
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 180)

    from local.stack import LocalStack, free_port

    with logs_to_file(LOG_PATH):
        started = time.monotonic()
        console.print("starting the local stack: moto, API gateway, carrier simulator, schedule pump …")
        stack = LocalStack(port=free_port(), carrier_port=free_port(), moto_port=free_port()).start()
        try:
            console.print(f"local stack up in {time.monotonic() - started:.1f} s")
            result = run_demo(stack, options, console)
        except DemoError as exc:
            console.print(Text(f"demo failed: {exc}", style="bold red"))
            return 1
        finally:
            stack.stop()
    console.print(
        f"logs and EMF metrics: {LOG_PATH.relative_to(ROOT)} · {time.monotonic() - started:.0f} s in all"
    )
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
