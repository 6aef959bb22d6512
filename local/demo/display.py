"""What the user sees in the terminal: the live progress while the calls run, then the results
table, the funnel and cost, the campaign's figures, one transcript and the verdict."""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import TYPE_CHECKING, Any

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

from local.demo.judge import DemoResult
from local.demo.waiter import TERMINAL, Waiter, finished

if TYPE_CHECKING:
    from local.report import CallEntry

STATUS_ORDER = ("scheduled", "dialing", "queued", "ringing", "in_progress", *sorted(TERMINAL))
DASH = "\u2013"


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


def wait_with_progress(waiter: Waiter, console: Console, live: bool, timeout_s: float) -> list[str]:
    """``waiter.run`` with the live display (when ``live``); returns the calls still pending."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    task = progress.add_task("calls finished (post-call done)", total=len(waiter.tracked))
    with contextlib.ExitStack() as context:
        display = None
        if live:
            display = context.enter_context(
                Live(console=console, refresh_per_second=8, redirect_stdout=False, redirect_stderr=False)
            )

        def tick(views: dict[str, dict[str, Any]]) -> None:
            progress.update(task, completed=sum(finished(v, waiter.post_call) for v in views.values()))
            if display is not None:
                display.update(live_view(progress, views, waiter.post_call))

        return waiter.run(timeout_s, tick)


def results_table(calls: list[CallEntry]) -> Table:
    table = Table(title="Results", header_style="bold")
    table.add_column("contact", no_wrap=True)
    table.add_column("purpose / via · voice", no_wrap=True)
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
            Text.assemble(
                view["call_purpose"], "\n", (f"{entry.trigger} · {view.get('voice_mode') or 'gather'}", "dim")
            ),
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
