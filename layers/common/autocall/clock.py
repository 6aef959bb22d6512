"""The one source of time. Domain code calls ``now()``; tests pin it, the local stack runs it fast."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall time, optionally pinned, offset or sped up (the local stack's fast clock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._anchor_real = time.time()
        self._anchor_virtual = self._anchor_real
        self._speed = 1.0
        self._frozen: float | None = None

    def timestamp(self) -> float:
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return self._anchor_virtual + (time.time() - self._anchor_real) * self._speed

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), tz=UTC)

    def freeze(self, at: datetime) -> None:
        """Pin the clock to ``at`` until ``advance``/``set_speed`` moves it."""
        with self._lock:
            self._frozen = at.timestamp()

    def advance(self, delta: timedelta) -> datetime:
        """Move virtual time forward (skip to the next due schedule)."""
        with self._lock:
            if self._frozen is not None:
                self._frozen += delta.total_seconds()
            else:
                self._anchor_virtual += delta.total_seconds()
        return self.now()

    def set_speed(self, speed: float) -> None:
        """Run virtual time ``speed`` times faster than wall time, from the current moment."""
        current = self.timestamp()
        with self._lock:
            self._frozen = None
            self._anchor_real = time.time()
            self._anchor_virtual = current
            self._speed = speed

    def reset(self) -> None:
        with self._lock:
            self._anchor_real = time.time()
            self._anchor_virtual = self._anchor_real
            self._speed = 1.0
            self._frozen = None


CLOCK = Clock()


def now() -> datetime:
    """The current moment, timezone-aware UTC."""
    return CLOCK.now()
