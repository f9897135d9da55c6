"""What a session runs: the planner's answer (`Plan`), and the help a planner gets.

A planner is an async callable plugged in from outside (for the catalogue crawl: the status
check plus the smart range); it returns a `Plan`, or just the batches.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar, overload

import attrs
import trio

from .results import StageError
from .runtime import Runtime
from .settings import EngineSettings

T = TypeVar("T")


@attrs.frozen
class Plan:
    """The batches of first-stage items to run, and what a complete run must reach.

    `expected` maps summary counters (`Stage.count_ok` names) to the counts a complete run
    produces; a session that falls short is not `completed` (see `engine.summary`). `note`
    says what the plan leaves for later, for the summary and the caller. `settle`, if given,
    runs once every batch has run (and nothing stopped the session): the work it planned may
    have been overtaken meanwhile (the catalogue moved, say), and a non-empty answer says how;
    the session is then `partial`, with that answer as its reason, never `completed`.
    """

    batches: Sequence[Sequence[Any]]
    expected: Mapping[str, int] = attrs.field(factory=dict)
    note: str = ""
    settle: Callable[[], Awaitable[str]] | None = attrs.field(default=None, eq=False)

    @property
    def items(self) -> int:
        if isinstance(self.batches, BatchesOnDemand):
            return self.batches.items  # without building every batch
        return sum(len(batch) for batch in self.batches)


@attrs.frozen
class PlanContext:
    """Handed to the planner: the settings in force and a retry helper under their policies."""

    settings: EngineSettings
    runtime: Runtime

    async def retry(self, operation: Callable[[], Awaitable[T]], *, policy: str) -> T:
        """Run `operation`, retrying its `StageError`s under the named policy's settings. No
        attempt starts while the session is paused (the one in flight finishes)."""
        gate = self.runtime.control.gate
        attempts = 0
        while True:
            attempts += 1
            await gate.wait_open()
            try:
                return await operation()
            except StageError as error:
                delay = self.runtime.retry_delay(policy, policy, 0, error, attempts)
                if delay is None:
                    raise
                await trio.sleep(delay)


Planner = Callable[[PlanContext], Awaitable["Plan | Sequence[Sequence[Any]]"]]


def as_plan(answer: Plan | Sequence[Sequence[Any]]) -> Plan:
    return answer if isinstance(answer, Plan) else Plan(tuple(answer))


def batches_of(items: Sequence[Any], size: int) -> list[list[Any]]:
    """Split `items` into batches of at most `size`."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


class BatchesOnDemand(Sequence[list[T]]):
    """Batches whose items are made when the session reaches them, from a key each (batches of
    `size` keys, in order): a plan of a large catalogue then holds its keys, not every item
    of every batch at once. A slice is batches on demand too."""

    def __init__(self, keys: Sequence[Any], size: int, make: Callable[[Any], T]) -> None:
        self.keys = keys
        self.size = max(1, size)
        self.make = make

    @property
    def items(self) -> int:
        return len(self.keys)

    def __len__(self) -> int:
        return -(-len(self.keys) // self.size)

    @overload
    def __getitem__(self, index: int) -> list[T]: ...

    @overload
    def __getitem__(self, index: slice) -> BatchesOnDemand[T]: ...

    def __getitem__(self, index: int | slice) -> list[T] | BatchesOnDemand[T]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                raise ValueError("batches on demand are sliced in order")
            keys = self.keys[start * self.size : stop * self.size]
            return BatchesOnDemand(keys, self.size, self.make)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return [self.make(key) for key in self.keys[index * self.size : (index + 1) * self.size]]


def static_planner(items: Sequence[Any]) -> Planner:
    """A planner for a known list of first-stage items, batched by `settings.batch_size`."""

    async def plan(context: PlanContext) -> Plan:
        return Plan(batches_of(items, context.settings.batch_size))

    return plan
