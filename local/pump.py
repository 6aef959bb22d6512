"""EventBridge Scheduler's missing half on moto: fires due one-time schedules.

moto stores schedules but never fires them. The pump reads them from moto's backend (the moto
server runs in this process), invokes each due target with its input as Lambda would, and deletes
it afterwards when ActionAfterCompletion is DELETE, as the real service does."""

from __future__ import annotations

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


class SchedulePump:
    def __init__(self, invoke: Callable[[str, Any], Any], interval_s: float = 0.05, workers: int = 8) -> None:
        self._invoke = invoke
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="schedule")
        self._lock = threading.Lock()
        self.fired = 0
        self.errors: list[str] = []
        self._in_flight = 0

    def pending(self) -> list[tuple[datetime, str, str]]:
        """(due, group, name) of every enabled one-time schedule, earliest first."""
        out = []
        for group in list(_backend().schedule_groups.values()):
            for schedule in list(group.schedules.values()):
                due = due_time(schedule.schedule_expression)
                if due is not None and schedule.state == "ENABLED":
                    out.append((due, group.name, schedule.name))
        out.sort()
        return out

    def next_due(self) -> datetime | None:
        pending = self.pending()
        return pending[0][0] if pending else None

    def fire_due(self) -> int:
        """Fire every schedule due by the clock's now; returns how many were handed out."""
        moment = CLOCK.now()
        count = 0
        for due, group_name, name in self.pending():
            if due > moment:
                break
            group = _backend().schedule_groups.get(group_name)
            schedule = group.schedules.get(name) if group else None
            if schedule is None or due_time(schedule.schedule_expression) != due:
                continue
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
        def loop() -> None:
            while not self._stop.wait(self.interval_s):
                try:
                    self.fire_due()
                except Exception as exc:
                    self.errors.append(repr(exc))

        self._thread = threading.Thread(target=loop, name="schedule-pump", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        self._pool.shutdown(wait=True)
