"""Stages as plug-ins, and the actor that runs one stage over a batch's items.

A stage is "a named async operation over items": the engine knows nothing of what the items
are. The stage name is also the key of its retry policy and concurrency limit in the config,
looked up with the same name everywhere (the original system used mismatched keys and silently
fell back to defaults).
"""

from __future__ import annotations

import enum
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import attrs
import trio

from .commands import Cancel, Command, ExecuteStage, Pause, Resume, Shutdown
from .events import EventBus, ItemProgress, StageCompleted, StageRetrying, StageStarted
from .live import LiveConfig
from .oneshot import OneshotSender
from .results import (
    ErrorKind,
    FailedItem,
    FatalError,
    PartialSuccess,
    RecoverableError,
    StageError,
    StageResult,
    StageStats,
    Success,
)
from .retry import RetryCalculator

Handler = Callable[[Any], Awaitable[Any]]

_NONE: Any = object()

YIELD_EVERY = 16
"""A worker yields to the scheduler at least once every this many units."""

PROGRESS_INTERVAL = 0.25
"""Seconds between grouped progress events of one stage."""


@attrs.frozen
class Stage:
    """One step of a batch. What its handler returns becomes the next stage's items.

    - `fan_out`: the handler returns an iterable; each element is a next-stage item.
    - `batched`: the handler gets the whole list of pending items at once (one database
      transaction, say); a failure fails, and retries, them together.
    - `drain`: the stage still runs over already-completed work when the session is cancelled,
      shut down or timed out, so that what was fetched gets saved.
    - `count_ok` / `count_failed`: summary counters this stage's items add to.
    - `policy`: config key for retry policy and concurrency, when it differs from `name`.
    """

    name: str
    handler: Handler
    fan_out: bool = False
    batched: bool = False
    drain: bool = False
    count_ok: str | None = None
    count_failed: str | None = None
    policy: str | None = None

    @property
    def key(self) -> str:
        return self.policy or self.name


@attrs.define
class Runtime:
    """What every actor of one session shares: the live config, the event bus, the jitter rng,
    and one concurrency limiter per stage key, so a limit holds across batches in flight."""

    live: LiveConfig
    bus: EventBus
    rng: random.Random
    _limiters: dict[str, tuple[int, trio.CapacityLimiter]] = attrs.field(factory=dict)

    def retry_delay(
        self, key: str, stage: str, batch_id: int, error: StageError, attempts: int
    ) -> float | None:
        """Seconds to wait before retrying after `error` on attempt `attempts`, under the
        policy in force for `key` (announced as `StageRetrying`); None when it is not retried."""
        live = self.live.current
        calculator = RetryCalculator(
            live.retry.for_stage(key),
            self.rng,
            max_retry_after_secs=live.crawl.max_retry_after_secs,
        )
        if not calculator.should_retry(error.kind, attempts):
            return None
        delay = calculator.delay(attempts, error.retry_after)
        self.bus.emit(
            StageRetrying, batch_id, stage, attempts + 1, delay, error.kind.value, error.message
        )
        return delay

    def limiter(self, key: str) -> trio.CapacityLimiter:
        """The stage's limiter, resized from the config in force when that has changed."""
        live = self.live
        entry = self._limiters.get(key)
        if entry is not None and entry[0] == live.version:
            return entry[1]
        tokens = live.current.concurrency.for_stage(key)
        if entry is None:
            limiter = trio.CapacityLimiter(tokens)
        else:
            limiter = entry[1]
            limiter.total_tokens = tokens
        self._limiters[key] = (live.version, limiter)
        return limiter


class Stop(enum.Enum):
    """Why an actor is stopping; graceful lets in-flight items finish."""

    cancel = "cancel"
    graceful = "graceful"
    hard = "hard"


class StageActor:
    """Runs one stage's items concurrently under the configured limit, with per-item retries."""

    def __init__(self, stage: Stage, runtime: Runtime, batch_id: int, paused: bool = False) -> None:
        self.stage = stage
        self.name = f"stage {stage.name} (batch {batch_id})"
        self.runtime = runtime
        self.batch_id = batch_id
        self.paused = paused
        self.stop: Stop | None = None
        self.stop_reason = ""
        self._resume = trio.Event()
        if not paused:
            self._resume.set()
        self._stopped = trio.Event()
        self._items_scope = trio.CancelScope()
        self._limiter = runtime.limiter(stage.key)
        self._outputs: list[Any] = []
        self._failed: list[FailedItem] = []
        self._unfinished: list[tuple[Any, int, str]] = []
        self._ok = 0
        self._retries = 0
        self._total = 0
        self._last_progress = 0.0
        self._next = 0

    async def run(
        self, control: trio.MemoryReceiveChannel[Command], report: OneshotSender[Any]
    ) -> None:
        command = await control.receive()
        if not isinstance(command, ExecuteStage):
            raise TypeError(f"{self.name} expected ExecuteStage first, got {command!r}")
        items: Sequence[Any] = command.items
        bus = self.runtime.bus
        started = trio.current_time()
        config = self.runtime.live.current
        units: list[Any] = [list(items)] if self.stage.batched and items else list(items)
        self._total = len(items)
        self._outputs = [None] * len(units)
        bus.emit(StageStarted, self.batch_id, self.stage.name, len(items))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._listen, control)
            with trio.move_on_after(config.system.stage_timeout_secs) as deadline:
                with self._items_scope:
                    async with trio.open_nursery() as items_nursery:
                        await self._feed(units, items_nursery)
            elapsed = trio.current_time() - started
            result = self._result(deadline.cancelled_caught, elapsed)
            self._emit_progress(force=True)
            failures = 0 if isinstance(result, Success) else len(result.failed_items)
            bus.emit(
                StageCompleted,
                self.batch_id,
                self.stage.name,
                type(result).__name__,
                self._ok,
                failures,
                self._retries,
                elapsed,
            )
            report.send(result)
            nursery.cancel_scope.cancel()

    # -- control -------------------------------------------------------------------------

    async def _listen(self, control: trio.MemoryReceiveChannel[Command]) -> None:
        async for command in control:
            if isinstance(command, Pause):
                if not self.paused:
                    self.paused = True
                    self._resume = trio.Event()
            elif isinstance(command, Resume):
                self.paused = False
                self._resume.set()
            elif isinstance(command, Cancel):
                self._begin_stop(Stop.cancel, command.reason, hard=True)
            elif isinstance(command, Shutdown):
                stop = Stop.graceful if command.graceful else Stop.hard
                self._begin_stop(stop, "shutdown", hard=not command.graceful)

    def _begin_stop(self, stop: Stop, reason: str, *, hard: bool) -> None:
        if self.stop is None or hard:
            self.stop = stop
            self.stop_reason = reason
        self._stopped.set()
        self._resume.set()
        if hard:
            self._items_scope.cancel()

    # -- items ---------------------------------------------------------------------------

    async def _acquire(self, borrower: tuple[int, int]) -> bool:
        """Wait for a free slot while not paused; False when the stage is stopping."""
        while True:
            if self.paused:
                await self._resume.wait()
            if self.stop is not None:
                return False
            self._limiter = self.runtime.limiter(self.stage.key)  # resized on a reload
            try:
                # A free slot is taken without a trip through the scheduler: the handler
                # checkpoints anyway, and the nowait form still respects waiters' order.
                self._limiter.acquire_on_behalf_of_nowait(borrower)
            except trio.WouldBlock:
                await self._limiter.acquire_on_behalf_of(borrower)
            if not self.paused and self.stop is None:
                return True
            self._limiter.release_on_behalf_of(borrower)

    async def _feed(self, units: list[Any], nursery: trio.Nursery) -> None:
        """Start as many workers as the stage's limit allows. Workers take units in input
        order; a unit that must wait to retry moves to a task of its own, so waiting never
        holds a worker. Units no worker took are reported as not started."""
        self._next = 0
        workers = min(len(units), max(1, int(self._limiter.total_tokens)))
        try:
            async with trio.open_nursery() as own:
                for number in range(workers):
                    own.start_soon(self._worker, units, nursery, number)
        finally:
            for unit in units[self._next :]:
                self._unfinished.append((unit, 0, "not started"))

    async def _worker(self, units: list[Any], nursery: trio.Nursery, number: int) -> None:
        borrower = (id(self), -1 - number)
        current: Any = _NONE
        taken = 0
        try:
            while self._next < len(units):
                taken += 1
                if taken % YIELD_EVERY == 0:
                    # Slots are taken without yielding; a handler that never awaits would
                    # otherwise keep this worker from ever letting others (or a cancel) in.
                    await trio.lowlevel.checkpoint()
                if not await self._acquire(borrower):
                    return
                if self._next >= len(units):
                    self._limiter.release_on_behalf_of(borrower)
                    return
                index = self._next
                self._next += 1
                current = units[index]
                retry = await self._attempt(index, current, borrower, 1)
                if retry is not None:
                    nursery.start_soon(self._retry, index, current, *retry)
                current = _NONE
        finally:
            if current is not _NONE:
                self._unfinished.append((current, 1, "in flight"))

    async def _retry(
        self, index: int, unit: Any, attempts: int, delay: float, error: StageError
    ) -> None:
        """Wait `delay`, then try `unit` again (and again) under the stage's policy."""
        borrower = (id(self), index)
        settled = False
        note = "last error"
        try:
            while True:
                with trio.move_on_after(delay):
                    await self._stopped.wait()
                if self.stop is not None or not await self._acquire(borrower):
                    return
                attempts += 1
                note = "in flight after error"
                retry = await self._attempt(index, unit, borrower, attempts)
                if retry is None:
                    settled = True
                    return
                _, delay, error = retry
                note = "last error"
        finally:
            if not settled:
                self._unfinished.append((unit, attempts, f"{note}: {error.message}"))

    async def _attempt(
        self, index: int, unit: Any, borrower: tuple[int, int], attempts: int
    ) -> tuple[int, float, StageError] | None:
        """One attempt at `unit`, holding `borrower`'s slot (released here). None when the
        unit is settled (done, or failed for good); else (attempts, delay, error) to retry."""
        stage = self.stage
        try:
            output = await stage.handler(unit)
        except StageError as exc:
            error = exc
        except Exception as exc:
            error = StageError.from_exception(exc)
        else:
            self._outputs[index] = output
            self._ok += len(unit) if stage.batched else 1
            return None
        finally:
            self._limiter.release_on_behalf_of(borrower)
            self._emit_progress()
        delay = self.runtime.retry_delay(stage.key, stage.name, self.batch_id, error, attempts)
        if delay is None:
            self._fail(unit, error.kind, attempts, error.message)
            return None
        self._retries += 1
        return attempts, delay, error

    def _fail(self, unit: Any, kind: ErrorKind, attempts: int, message: str) -> None:
        units: Iterable[Any] = unit if self.stage.batched else (unit,)
        for item in units:
            self._failed.append(FailedItem(item, self.stage.name, kind, attempts, message))

    def _emit_progress(self, force: bool = False) -> None:
        now = trio.current_time()
        if force or now - self._last_progress >= PROGRESS_INTERVAL:
            self._last_progress = now
            self.runtime.bus.emit(
                ItemProgress,
                self.batch_id,
                self.stage.name,
                self._ok,
                len(self._failed),
                self._total,
                self._retries,
            )

    # -- result --------------------------------------------------------------------------

    def _collect_outputs(self) -> tuple[Any, ...]:
        if self.stage.fan_out or self.stage.batched:
            collected: list[Any] = []
            for output in self._outputs:
                if output is not None:
                    collected.extend(output)
            return tuple(collected)
        return tuple(output for output in self._outputs if output is not None)

    def _result(self, timed_out: bool, elapsed: float) -> StageResult:
        interrupted = self.stop is not None or (timed_out and bool(self._unfinished))
        if interrupted:
            kind = ErrorKind.cancelled if self.stop is not None else ErrorKind.stage_timeout
            reason = self.stop_reason or f"stage timeout after {elapsed:g}s"
            for unit, attempts, note in self._unfinished:
                self._fail(unit, kind, attempts, f"{reason}; {note}")
        failed = tuple(self._failed)
        stats = StageStats(self._total, self._ok, len(failed), self._retries, elapsed)
        outputs = self._collect_outputs()
        if interrupted:
            error = StageError(kind, reason)
            return RecoverableError(error, 1, None, stats, outputs, failed)
        if not failed:
            return Success(stats, outputs)
        system = self.runtime.live.current.system
        for item in failed:
            if (item.kind is ErrorKind.database_error and system.abort_on_database_error) or (
                item.kind is ErrorKind.validation_error and system.abort_on_validation_error
            ):
                error = StageError(item.kind, f"{self.stage.name}: {item.last_error}")
                return FatalError(error, self.stage.name, stats, outputs, failed)
        return PartialSuccess(stats, outputs, failed)
