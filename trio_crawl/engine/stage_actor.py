"""The actor that runs one stage over one batch's items: workers under the stage's limit,
per-item retries, the stage deadline, and the session's stop and pause.

Workers (one per slot of the limit, more are added at once when the limit is raised live) take
units in input order; a unit that must wait to retry moves to a task of its own, so waiting
never holds a worker. The report is built and sent in a `finally`, so that even when the
session's grace runs out around it, the parent still learns where every item ended.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import trio

from .accounting import Lost
from .actor import obey_pending
from .commands import Cancel, Command, ExecuteStage, Pause, Reconfigure, Resume
from .control import Gate, StageWindow
from .events import ItemProgress, StageCompleted, StageStarted
from .oneshot import OneshotSender
from .results import (
    ErrorKind,
    FailedItem,
    FatalError,
    Interrupted,
    PartialSuccess,
    StageError,
    StageResult,
    StageStats,
    Success,
)
from .runtime import Runtime
from .stage import Stage

_NONE: Any = object()

YIELD_EVERY = 16
"""A worker yields to the scheduler at least once every this many units."""

PROGRESS_INTERVAL = 0.25
"""Seconds between grouped progress events of one stage."""


class StageActor:
    """Runs one stage's items concurrently under the stage's limit, with per-item retries.

    `drain_left` is, for a drain stage, how many drain stages its batch still has to run,
    itself included: after a stop it may use that share of the grace that is left.
    """

    def __init__(self, stage: Stage, runtime: Runtime, batch_id: int, drain_left: int = 1) -> None:
        self.stage = stage
        self.name = f"stage {stage.name} (batch {batch_id})"
        self.runtime = runtime
        self.batch_id = batch_id
        self.drain_left = drain_left
        self._units: Sequence[Any] = ()
        self._outputs: list[Any] = []
        self._failed: list[FailedItem] = []
        self._unfinished: list[tuple[Any, int, str]] = []
        self._ok = 0
        self._retries = 0
        self._total = 0
        self._last_progress = -math.inf
        self._next = 0
        self._workers = 0
        self._workers_nursery: trio.Nursery | None = None
        self._gate = Gate()
        self._cancel: str | None = None
        self._window: StageWindow | None = None

    async def run(
        self, control: trio.MemoryReceiveChannel[Command], report: OneshotSender[Any]
    ) -> None:
        # The parent sends the work with the spawn, so it is here without a checkpoint.
        command = control.receive_nowait()
        if not isinstance(command, ExecuteStage):
            raise TypeError(f"{self.name} expected ExecuteStage first, got {command!r}")
        items: Sequence[Any] = command.items
        runtime = self.runtime
        started = trio.current_time()
        self._units = [list(items)] if self.stage.batched and items else list(items)
        self._total = len(items)
        self._outputs = [None] * len(self._units)
        runtime.bus.emit(StageStarted, self.batch_id, self.stage.name, len(items))
        # What the batch sent along with the work (a pause, say) is obeyed before any item.
        obey_pending(control, self._obey)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._listen, control)
                with runtime.control.stopping.window(
                    self._gate,
                    self.stage.drain,
                    self.drain_left,
                    runtime.settings.stage_timeout_secs,
                ) as self._window:
                    if self._cancel is not None:
                        self._window.cancel(self._cancel)
                    await self._feed()
                nursery.cancel_scope.cancel()
        finally:
            self._report(report, trio.current_time() - started)

    def _report(self, report: OneshotSender[Any], elapsed: float) -> None:
        result = self._result(elapsed)
        self._emit_progress(force=True)
        failures = 0 if isinstance(result, Success) else len(result.failed_items)
        if not isinstance(result, Success):
            self.runtime.gave_up(self.batch_id, result.failed_items)
        self.runtime.bus.emit(
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

    # -- control -------------------------------------------------------------------------

    async def _listen(self, control: trio.MemoryReceiveChannel[Command]) -> None:
        async for command in control:
            self._obey(command)

    def _obey(self, command: Command) -> None:
        """Its batch steers it: pause and resume its gate, cancel its window."""
        if isinstance(command, Pause):
            if self.runtime.control.stopping.may_start():  # a stop has opened the gates
                self._gate.pause()
        elif isinstance(command, Resume):
            self._gate.resume()
        elif isinstance(command, Cancel):
            if self._cancel is None:
                self._cancel = command.reason
            if self._window is not None:
                self._window.cancel(command.reason)
        elif isinstance(command, Reconfigure):
            # A raised limit adds workers at once; a lowered one needs nothing (workers beyond
            # it wait at the limiter).
            if self._workers_nursery is not None and not self._intake_closed():
                self._add_workers(self._workers_nursery)
        else:
            raise TypeError(f"{self.name} cannot obey {command!r}")

    def _intake_closed(self) -> bool:
        window = self._window
        return window is None or not window.may_start()

    # -- items ---------------------------------------------------------------------------

    async def _feed(self) -> None:
        """Run workers until every unit is taken (or intake closes); units no worker took are
        reported as not started."""
        units = self._units
        try:
            if units:
                async with trio.open_nursery() as workers:
                    self._workers_nursery = workers
                    self._add_workers(workers)
        finally:
            self._workers_nursery = None
            for unit in units[self._next :]:
                self._unfinished.append((unit, 0, "not started"))

    def _add_workers(self, workers: trio.Nursery) -> None:
        limit = self.runtime.limiter(self.stage.key).total
        wanted = min(len(self._units) - self._next, limit) - self._workers
        for _ in range(max(0, wanted)):
            self._workers += 1
            workers.start_soon(self._worker, workers)

    async def _acquire(self) -> bool:
        """Wait for a free slot while the gate is shut; False once intake is closed."""
        gate = self._gate
        while True:
            await gate.wait_open()
            if self._intake_closed():
                return False
            slots = self.runtime.limiter(self.stage.key)
            # A free slot is taken without a trip through the scheduler: the handler
            # checkpoints anyway, and the nowait form still respects waiters' order.
            if not slots.take_nowait():
                await slots.take()
            if not gate.paused and not self._intake_closed():
                return True
            slots.give()

    async def _worker(self, workers: trio.Nursery) -> None:
        units = self._units
        current: Any = _NONE
        taken = 0
        try:
            while self._next < len(units):
                taken += 1
                if taken % YIELD_EVERY == 0:
                    # Slots are taken without yielding; a handler that never awaits would
                    # otherwise keep this worker from ever letting others (or a cancel) in.
                    await trio.lowlevel.checkpoint()
                if not await self._acquire():
                    return
                if self._next >= len(units):
                    self.runtime.limiter(self.stage.key).give()
                    return
                index = self._next
                self._next += 1
                current = units[index]
                retry = await self._attempt(index, current, 1)
                if retry is not None:
                    workers.start_soon(self._retry, index, current, *retry)
                current = _NONE
        finally:
            if current is not _NONE:
                self._unfinished.append((current, 1, "in flight"))
            self._workers -= 1

    async def _retry(
        self, index: int, unit: Any, attempts: int, delay: float, error: StageError
    ) -> None:
        """Wait `delay`, then try `unit` again (and again) under the stage's policy."""
        stopping = self.runtime.control.stopping
        settled = False
        note = "waiting to retry after"
        try:
            while True:
                await stopping.wait_retry(delay, self.stage.drain)
                if not await self._acquire():
                    return
                attempts += 1
                note = "in flight after"
                retry = await self._attempt(index, unit, attempts)
                if retry is None:
                    settled = True
                    return
                _, delay, error = retry
                note = "waiting to retry after"
        finally:
            if not settled:
                self._unfinished.append((unit, attempts, f"{note} {error.message}"))

    async def _attempt(
        self, index: int, unit: Any, attempts: int
    ) -> tuple[int, float, StageError] | None:
        """One attempt at `unit`, holding a slot (given back here). None when the
        unit is settled (done, failed for good, or interrupted); else (attempts, delay,
        error) to retry."""
        stage = self.stage
        try:
            output = await stage.handler(unit)
        except StageError as exc:
            error = exc
        except Exception as exc:
            error = StageError.from_exception(exc)
        except KeyboardInterrupt as exc:
            # A plug-in's Ctrl-C is the session's stop: drain, record, then re-raise it from
            # open_session. A second one while stopping for the first propagates at once.
            if not self.runtime.control.interrupted(exc):
                raise
            self._unfinished.append((unit, attempts, "interrupted"))
            return None
        else:
            self._outputs[index] = output
            self._ok += len(unit) if stage.batched else 1
            return None
        finally:
            self.runtime.limiter(stage.key).give()
            self._emit_progress()
        delay = self.runtime.retry_delay(stage.key, stage.name, self.batch_id, error, attempts)
        if delay is None:
            self._fail(unit, error.kind, attempts, error.message)
            return None
        self._retries += 1
        return attempts, delay, error

    def _fail(self, unit: Any, kind: ErrorKind, attempts: int, message: str) -> None:
        units: Iterable[Any] = unit if self.stage.batched else (unit,)
        failed = [FailedItem(item, self.stage.name, kind, attempts, message) for item in units]
        self._failed.extend(failed)
        self.runtime.gave_up(self.batch_id, failed)

    def _emit_progress(self, force: bool = False) -> None:
        now = trio.current_time()
        if force or now - self._last_progress >= PROGRESS_INTERVAL:
            self._last_progress = now
            cancelled = sum(item.kind is ErrorKind.cancelled for item in self._failed)
            self.runtime.bus.emit(
                ItemProgress,
                self.batch_id,
                self.stage.name,
                self._ok,
                len(self._failed) - cancelled,
                self._total,
                self._retries,
                cancelled,
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

    def _result(self, elapsed: float) -> StageResult:
        outputs = self._collect_outputs()
        if self._unfinished:
            window = self._window
            lost = window.lost(elapsed) if window is not None else Lost(ErrorKind.cancelled, "")
            for unit, attempts, note in self._unfinished:
                units: Iterable[Any] = unit if self.stage.batched else (unit,)
                self._failed.extend(
                    lost.item(item, self.stage.name, attempts, note) for item in units
                )
            stats = StageStats(self._total, self._ok, len(self._failed), self._retries, elapsed)
            return Interrupted(lost.error(), stats, outputs, tuple(self._failed))
        failed = tuple(self._failed)
        stats = StageStats(self._total, self._ok, len(failed), self._retries, elapsed)
        if not failed:
            return Success(stats, outputs)
        abort_on = self.runtime.settings.abort_on
        for item in failed:
            if item.kind in abort_on:
                error = StageError(item.kind, f"{self.stage.name}: {item.last_error}")
                return FatalError(error, self.stage.name, stats, outputs, failed)
        return PartialSuccess(stats, outputs, failed)
