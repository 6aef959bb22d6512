"""Waiting for the calls the demo asked for, with the clock run fast: the calls are polled over the
API, and when the whole stack stayed idle the clock jumps to the next first attempt due."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from local.api_client import ApiClient
from local.demo.seeding import Tracked

if TYPE_CHECKING:
    from local.stack import LocalStack

TERMINAL = frozenset({"completed", "busy", "no_answer", "failed", "canceled"})
POLL_S = 0.5


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


def parse_time(value: str) -> datetime:
    """An API timestamp (``2026-12-02T17:00:00Z``)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Waiter:
    """Polls the calls over the API. When the whole stack stayed idle across a poll, moves the
    clock to the next first attempt the demo waits for: never to a retry or a follow-up the agent
    planned, so those stay in the future and show up as the next call scheduled."""

    def __init__(self, stack: LocalStack, api: ApiClient, tracked: list[Tracked], post_call: bool) -> None:
        self.stack, self.api, self.tracked, self.post_call = stack, api, tracked, post_call
        self.views: dict[str, dict[str, Any]] = {}
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="demo-poll")

    def quiet(self) -> bool:
        return self.stack.idle() and not self.stack.pump.busy

    def poll(self, ids: list[str]) -> list[str]:
        """Fresh views of ``ids``; returns the ids of the calls still pending."""
        for call_id, view in zip(
            ids, self._pool.map(lambda i: self.api.expect(200, "GET", f"/calls/{i}"), ids), strict=True
        ):
            self.views[call_id] = view
        return [i for i in self.views if not finished(self.views[i], self.post_call)]

    def skip_idle_time(self, pending: list[str]) -> None:
        from autocall.clock import CLOCK

        due = [
            parse_time(view["scheduled_time"])
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
