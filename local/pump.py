"""EventBridge Scheduler's missing half on moto: fires due one-time schedules.

moto stores schedules but never fires them. The pump reads them from moto's backend (the moto
server runs in this process), invokes each due target with its input as Lambda would, and deletes
it afterwards when ActionAfterCompletion is DELETE, as the real service does.

With ``skip_idle`` the pump also moves the clock: when nothing is in flight (no schedule being
fired, and ``idle()`` says the rest of the stack is quiet too) it advances ``autocall.clock.CLOCK``
to the next due schedule, so a campaign spread over days runs in the time its calls take."""

from __future__ import annotations

import heapq
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from autocall.clock import CLOCK

from local.template import ACCOUNT_ID, REGION


def _backend() -> Any:
    from moto.scheduler.models import scheduler_backends

    return scheduler_backends[ACCOUNT_ID][REGION]


def due_time(expression: str) -> datetime | None:
    if not expression.startswith("at(") or not expression.endswith(")"):
        return None
    return datetime.fromisoformat(expression[3:-1]).replace(tzinfo=UTC)


_WATCHERS: list[SchedulePump] = []


def _watch_schedule_writes() -> None:
    """Tell running pumps about every schedule moto creates or updates: they keep a heap of due
    times instead of reading every schedule on every tick (thousands during a campaign)."""
    from moto.scheduler.models import EventBridgeSchedulerBackend

    if getattr(EventBridgeSchedulerBackend, "_autocall_watched", False):
        return

    def watched(method: Callable[..., Any]) -> Callable[..., Any]:
        def write(self: Any, *args: Any, **kwargs: Any) -> Any:
            schedule = method(self, *args, **kwargs)
            for pump in list(_WATCHERS):
                pump.noticed(schedule.group_name, schedule.name, schedule.schedule_expression)
            return schedule

        return write

    for name in ("create_schedule", "update_schedule"):
        setattr(EventBridgeSchedulerBackend, name, watched(getattr(EventBridgeSchedulerBackend, name)))
    EventBridgeSchedulerBackend._autocall_watched = True  # type: ignore[attr-defined]


class SchedulePump:
    def __init__(
        self,
        invoke: Callable[[str, Any], Any],
        interval_s: float = 0.05,
        workers: int = 8,
        *,
        skip_idle: bool = False,
        idle: Callable[[], bool] | None = None,
        quiet_ticks: int = 3,
    ) -> None:
        self._invoke = invoke
        self.interval_s = interval_s
        self.skip_idle = skip_idle
        self._idle = idle or (lambda: True)
        self.quiet_ticks = quiet_ticks  # idle this many ticks in a row before the clock jumps
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="schedule")
        self._lock = threading.Lock()
        self._due_cache: dict[str, datetime | None] = {}
        self._heap: list[tuple[datetime, str, str]] = []  # (due, group, name); stale entries skipped
        self._quiet = 0
        self.fired = 0
        self.skips = 0
        self.skipped_seconds = 0.0
        self.errors: list[str] = []
        self._in_flight = 0

    def _due(self, expression: str) -> datetime | None:
        if expression not in self._due_cache:
            if len(self._due_cache) > 200_000:
                self._due_cache.clear()
            self._due_cache[expression] = due_time(expression)
        return self._due_cache[expression]

    def _enabled(self) -> list[tuple[datetime, str, str]]:
        """(due, group, name) of every enabled one-time schedule, unordered."""
        out = []
        for group in list(_backend().schedule_groups.values()):
            for schedule in list(group.schedules.values()):
                due = self._due(schedule.schedule_expression)
                if due is not None and schedule.state == "ENABLED":
                    out.append((due, group.name, schedule.name))
        return out

    def pending(self) -> list[tuple[datetime, str, str]]:
        """(due, group, name) of every enabled one-time schedule, earliest first."""
        return sorted(self._enabled())

    def noticed(self, group: str, name: str, expression: str) -> None:
        due = self._due(expression)
        if due is not None:
            with self._lock:
                heapq.heappush(self._heap, (due, group, name))

    def _current(self, entry: tuple[datetime, str, str]) -> Any:
        """The schedule a heap entry stands for, if it still exists, enabled, with that due time."""
        due, group_name, name = entry
        group = _backend().schedule_groups.get(group_name)
        schedule = group.schedules.get(name) if group else None
        if schedule is None or schedule.state != "ENABLED" or self._due(schedule.schedule_expression) != due:
            return None
        return schedule

    def next_due(self) -> datetime | None:
        with self._lock:
            while self._heap and self._current(self._heap[0]) is None:
                heapq.heappop(self._heap)
            return self._heap[0][0] if self._heap else None

    def fire_due(self) -> int:
        """Fire every schedule due by the clock's now; returns how many were handed out."""
        moment = CLOCK.now()
        due_now: list[tuple[datetime, str, str]] = []
        with self._lock:
            while self._heap and self._heap[0][0] <= moment:
                due_now.append(heapq.heappop(self._heap))
        count = 0
        for entry in due_now:
            _, group_name, name = entry
            schedule = self._current(entry)
            if schedule is None:
                continue
            group = _backend().schedule_groups[group_name]
            target = dict(schedule.target)
            if (schedule.action_after_completion or "NONE") == "DELETE":
                group.schedules.pop(name, None)
            else:
                schedule.state = "DISABLED"
            with self._lock:
                self._in_flight += 1
            self._pool.submit(self._run, target)
            count += 1
        return count

    def skip_to_next_due(self) -> bool:
        """Advance the clock to the next due schedule when the whole stack is quiet."""
        if self.busy or not self._idle():
            self._quiet = 0
            return False
        self._quiet += 1
        if self._quiet < self.quiet_ticks:
            return False
        upcoming = self.next_due()
        moment = CLOCK.now()
        if upcoming is None or upcoming <= moment or self.busy or not self._idle():
            return False
        CLOCK.advance(upcoming - moment)
        self.skips += 1
        self.skipped_seconds += (upcoming - moment).total_seconds()
        self._quiet = 0
        return True

    def _run(self, target: dict[str, Any]) -> None:
        try:
            self._invoke(target["Arn"], json.loads(target.get("Input") or "{}"))
            self.fired += 1
        except Exception as exc:  # EventBridge Scheduler would retry, then dead-letter
            self.errors.append(f"{target.get('Arn')}: {exc!r}")
        finally:
            with self._lock:
                self._in_flight -= 1

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._in_flight > 0

    def start(self) -> None:
        _watch_schedule_writes()
        _WATCHERS.append(self)
        with self._lock:
            self._heap = self._enabled()
            heapq.heapify(self._heap)

        def loop() -> None:
            while not self._stop.wait(self.interval_s):
                try:
                    if self.fire_due() == 0 and self.skip_idle:
                        self.skip_to_next_due()
                except Exception as exc:
                    self.errors.append(repr(exc))

        self._thread = threading.Thread(target=loop, name="schedule-pump", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self in _WATCHERS:
            _WATCHERS.remove(self)
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        self._pool.shutdown(wait=True)
