"""The actor that runs one batch's stages in order, feeding each stage's outputs to the next."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import trio

from .actor import Child, spawn
from .commands import Cancel, Command, ExecuteStage, Pause, ProcessBatch, Resume, Shutdown
from .events import BatchCompleted, BatchFailed, BatchStarted
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
from .stage import Runtime, Stage, StageActor


class BatchActor:
    """Runs `stages` over one batch. Once told to stop it runs only the `drain` stages, over
    the work already completed, within `cancellation_timeout_secs`, so fetched work is saved."""

    def __init__(
        self, stages: Sequence[Stage], runtime: Runtime, batch_id: int, paused: bool = False
    ) -> None:
        self.stages = stages
        self.runtime = runtime
        self.batch_id = batch_id
        self.name = f"batch {batch_id}"
        self.paused = paused
        self.stopping = False
        self._child: Child[StageResult] | None = None

    async def run(
        self, control: trio.MemoryReceiveChannel[Command], report: OneshotSender[Any]
    ) -> None:
        command = await control.receive()
        if not isinstance(command, ProcessBatch):
            raise TypeError(f"{self.name} expected ProcessBatch first, got {command!r}")
        bus = self.runtime.bus
        bus.emit(BatchStarted, self.batch_id, len(command.items))
        items: Sequence[Any] = command.items
        failed: list[FailedItem] = []
        by_stage: list[tuple[str, StageStats]] = []
        fatal: FatalError | None = None
        interrupted: RecoverableError | None = None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._listen, control)
            for stage in self.stages:
                if not items:
                    break
                if self.stopping and not stage.drain:
                    skipped = _not_started(stage, items)
                    failed.extend(skipped)
                    by_stage.append((stage.name, StageStats(len(items), 0, len(skipped))))
                    items = ()
                    break
                result = await self._run_stage(nursery, stage, items)
                if isinstance(result, FatalError) and result.stats.items_in == 0:
                    # The stage crashed or was lost: account for its inputs item by item.
                    lost = tuple(
                        FailedItem(item, stage.name, result.kind, 0, result.error.message)
                        for item in items
                    )
                    stats = StageStats(len(items), 0, len(lost))
                    result = FatalError(result.error, result.context, stats, (), lost)
                by_stage.append((stage.name, result.stats))
                if not isinstance(result, Success):
                    failed.extend(result.failed_items)
                items = result.outputs
                if isinstance(result, FatalError):
                    fatal = result
                    break
                if isinstance(result, RecoverableError) and interrupted is None:
                    interrupted = result
            # Report before leaving the nursery: leaving is a checkpoint, and a hard deadline
            # arriving there must not cost the parent this batch's accounting.
            report.send(self._outcome(command, by_stage, items, failed, fatal, interrupted))
            nursery.cancel_scope.cancel()

    def _outcome(
        self,
        command: ProcessBatch,
        by_stage: list[tuple[str, StageStats]],
        items: Sequence[Any],
        failed: list[FailedItem],
        fatal: FatalError | None,
        interrupted: RecoverableError | None,
    ) -> StageResult:
        total = StageStats()
        for _, stage_stats in by_stage:
            total = total + stage_stats
        ok = by_stage[-1][1].items_ok if by_stage and fatal is None else 0
        stats = StageStats(
            len(command.items), ok, len(failed), total.retries, total.elapsed, tuple(by_stage)
        )
        outputs, failures = tuple(items), tuple(failed)
        bus = self.runtime.bus
        if fatal is not None:
            bus.emit(BatchFailed, self.batch_id, fatal.kind.value, fatal.error.message)
            return FatalError(fatal.error, fatal.context, stats, (), failures)
        outcome: StageResult
        if interrupted is not None:
            outcome = RecoverableError(interrupted.error, 1, None, stats, outputs, failures)
        elif failed:
            outcome = PartialSuccess(stats, outputs, failures)
        else:
            outcome = Success(stats, outputs)
        bus.emit(BatchCompleted, self.batch_id, type(outcome).__name__, ok, len(failed))
        return outcome

    async def _run_stage(
        self, nursery: trio.Nursery, stage: Stage, items: Sequence[Any]
    ) -> StageResult:
        actor = StageActor(stage, self.runtime, self.batch_id, paused=self.paused)
        child: Child[StageResult] = spawn(nursery, actor, ExecuteStage(self.batch_id, items))
        self._child = child
        system = self.runtime.live.current.system
        try:
            if not self.stopping:
                return await child.result(
                    system.stage_timeout_secs + system.cancellation_timeout_secs
                )
            # A drain stage after a stop: shielded from the stop, bounded by the grace period.
            with trio.move_on_after(system.cancellation_timeout_secs, shield=True):
                return await child.result()
            child.scope.cancel()
            error = StageError(ErrorKind.cancelled, f"{stage.name}: no time left to drain")
            lost = tuple(
                FailedItem(item, stage.name, ErrorKind.cancelled, 0, error.message)
                for item in items
            )
            return RecoverableError(error, 1, None, StageStats(len(items), 0, len(lost)), (), lost)
        finally:
            self._child = None

    async def _listen(self, control: trio.MemoryReceiveChannel[Command]) -> None:
        async for command in control:
            if isinstance(command, Pause):
                self.paused = True
            elif isinstance(command, Resume):
                self.paused = False
            elif isinstance(command, Cancel | Shutdown):
                self.stopping = True
            if self._child is not None:
                self._child.tell(command)


def _not_started(stage: Stage, items: Sequence[Any]) -> list[FailedItem]:
    """Items a stopping batch will not start, reported rather than dropped."""
    reason = "not started: the session is stopping"
    return [FailedItem(item, stage.name, ErrorKind.cancelled, 0, reason) for item in items]
