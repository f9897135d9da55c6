"""A stage key's concurrency limit, shared by every batch in flight: slots handed out first come,
first served.

`trio.CapacityLimiter` would do, but every wait on it raises and catches `trio.WouldBlock`
inside trio (and once more in a caller that tries the free slot first): an exception, its
tracebacks and the frames they pin, for every item that waits. With batches overlapping, the
workers of all of them queue on the one limit, so most items wait once, and those objects live
as long as the wait, where the garbage collector walks them again and again. Here a wait is a
park in a `ParkingLot` and nothing else, and a slot given back passes straight to the first in
line, as the limiter does it, so the order of waiters and the limit in force are the same.
"""

from __future__ import annotations

import trio


class Slots:
    """Up to `total` holders at once; the rest wait in arrival order. `total` may change while
    slots are held: raised, it lets waiters in at once; lowered, holders beyond it finish and
    no one new gets in until the count is under it."""

    __slots__ = ("_lot", "_total", "_used")

    def __init__(self, total: int) -> None:
        self._total = total
        self._used = 0
        self._lot = trio.lowlevel.ParkingLot()

    @property
    def total(self) -> int:
        return self._total

    @total.setter
    def total(self, total: int) -> None:
        self._total = total
        while self._used < total and self._lot:
            self._used += 1
            self._lot.unpark()

    @property
    def used(self) -> int:
        """Slots held now (woken waiters included, whose slot passed to them on release)."""
        return self._used

    @property
    def waiting(self) -> int:
        return len(self._lot)

    def take_nowait(self) -> bool:
        """Take a free slot at once if one is free and nobody is waiting for it."""
        if self._used < self._total and not self._lot:
            self._used += 1
            return True
        return False

    async def take(self) -> None:
        """Take a slot, waiting in line for one if none is free (a checkpoint either way)."""
        await trio.lowlevel.checkpoint_if_cancelled()
        if self.take_nowait():
            await trio.lowlevel.cancel_shielded_checkpoint()
            return
        # The slot is handed over by `give` (or a raised `total`) before this task is woken;
        # once woken it cannot be cancelled out of the park, so a slot is never lost.
        await self._lot.park()

    def give(self) -> None:
        """Give a slot back: to the first waiter, unless the limit was lowered below use."""
        if self._used <= self._total and self._lot:
            self._lot.unpark()
        else:
            self._used -= 1
