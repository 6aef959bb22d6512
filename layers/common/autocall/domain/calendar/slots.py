"""The fan-out's grid of dial slots: pacing before the dial. A campaign fan-out hands each call the
first free dial slot inside its callee's calling window, so calls arrive at the dialer no faster
than it may dial. Pure arithmetic: the spacing comes from ``pacing.dial_spacing``."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

Opening = Callable[[datetime], datetime | None]


@dataclass
class SlotGrid:
    """Dial slots every ``spacing`` from ``start``; ``take`` hands out the first free slot, from
    ``first`` on, at which a callee's window is open. ``taken`` keeps runs ``[a, b)`` of taken slots:
    saved with a fan-out's cursor, it makes a resumed fan-out hand out the same times again."""

    start: datetime
    spacing: timedelta
    taken: list[list[int]] = field(default_factory=list)
    first: int = 0

    def time_of(self, slot: int) -> datetime:
        return self.start + self.spacing * slot

    def slot_at(self, moment: datetime) -> int:
        """The first slot at or after ``moment`` (and not before ``first``)."""
        exact = (moment - self.start) / self.spacing
        return max(self.first, math.ceil(round(exact, 6)))

    def take(self, opening: Opening) -> datetime | None:
        """Take the first free slot at which ``opening`` says the window is open.

        ``opening(t)`` returns ``t`` when the window is open at ``t``, the next opening after it
        otherwise, or None when there is none worth waiting for."""
        slot = self.first
        while True:
            index = bisect_right(self.taken, slot, key=lambda run: run[0]) - 1
            if index >= 0 and self.taken[index][1] > slot:
                slot = self.taken[index][1]
                continue
            moment = self.time_of(slot)
            opened = opening(moment)
            if opened is None:
                return None
            if opened > moment:
                slot = self.slot_at(opened)
                continue
            self._mark(slot, index)
            return moment

    def reserve(self, moment: datetime) -> bool:
        """Take the slot at ``moment`` for a call already due then; False if it was taken."""
        slot = self.slot_at(moment)
        index = bisect_right(self.taken, slot, key=lambda run: run[0]) - 1
        if index >= 0 and self.taken[index][1] > slot:
            return False
        self._mark(slot, index)
        return True

    def _mark(self, slot: int, left: int) -> None:
        """Add ``slot`` to the runs; ``left`` is the index of the run starting before it (or -1)."""
        right = left + 1
        joins_left = left >= 0 and self.taken[left][1] == slot
        joins_right = right < len(self.taken) and self.taken[right][0] == slot + 1
        if joins_left and joins_right:
            self.taken[left][1] = self.taken[right][1]
            del self.taken[right]
        elif joins_left:
            self.taken[left][1] = slot + 1
        elif joins_right:
            self.taken[right][0] = slot
        else:
            self.taken.insert(right, [slot, slot + 1])

    def forget_before(self, slot: int) -> None:
        """Slots before ``slot`` will never be handed out again: drop their runs, start there."""
        self.first = max(self.first, slot)
        self.taken = [run for run in self.taken if run[1] > self.first]
