"""One demo on a running stack: ask for the calls, wait for them, judge them, report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from local.api_client import ApiClient
from local.demo.book import BOOK, DEMO_START, SMALL_BOOK, check_book
from local.demo.display import show_results, wait_with_progress
from local.demo.judge import DemoResult, entry_for, judge
from local.demo.seeding import seed_contacts, trigger_calls
from local.demo.waiter import Waiter

if TYPE_CHECKING:
    from local.stack import LocalStack


@dataclass(frozen=True)
class DemoOptions:
    small: bool = False
    live: bool = True
    report: Path = Path("demo-report.html")
    speed: float = 90.0  # virtual seconds per wall second, on top of skipping idle time
    start: datetime = DEMO_START
    timeout_s: float = 240.0


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
    api = ApiClient(stack.url, stack.api_token, pool_size=16)  # the waiter polls on 8 threads
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
    stuck = wait_with_progress(waiter, console, options.live, options.timeout_s)
    virtual_end = CLOCK.now()

    entries = [entry_for(api, t, waiter.views[t.call_id]) for t in tracked]
    stats = api.expect(200, "GET", f"/campaigns/{campaign_id}/stats") if campaign_id else None
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
