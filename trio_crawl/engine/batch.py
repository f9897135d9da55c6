"""The actor that runs one batch's stages in order, feeding each stage's outputs to the next.

Once the session is stopping, the batch starts no further non-drain stage: their inputs are
reported as not started, and the drain stages still run over what the last finished stage
produced (see `engine.control` for how they share the grace). The report is sent in a
`finally`, so a batch cut short by the end of the grace still accounts for every item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import trio

from .accounting import NOT_STARTED, Lost
from .actor import Child, obey_pending, spawn
from .commands import Cancel, Command, ExecuteStage, Pause, ProcessBatch, Reconfigure, Resume
from .events import BatchCompleted, BatchFailed, BatchStarted
from .oneshot import OneshotSender
from .results import (
    ErrorKind,
    FailedItem,
    FatalError,
    Interrupted,
    PartialSuccess,
    StageResult,
    StageStats,
    Success,
)
from .runtime import Runtime
from .stage import Stage
from .stage_actor import StageActor


class BatchActor:
    """Runs `stages` over one batch of first-stage items."""

    def __init__(self, stages: Sequence[Stage], runtime: Runtime, batch_id: int) -> None:
        self.stages = stages
        self.runtime = runtime
        self.batch_id = batch_id
        self.name = f"batch {batch_id}"
        self._by_stage: list[tuple[str, StageStats]] = []
        self._failed: list[FailedItem] = []
        self._items: Sequence[Any] = ()
        self._fatal: FatalError | None = None
        self._interrupted: Interrupted | None = None
        self._running: tuple[Stage, Sequence[Any], Child[StageResult]] | None = None
        self._paused = False
        self._cancel: str | None = None

    async def run(
        self, control: trio.MemoryReceiveChannel[Command], report: OneshotSender[Any]
    ) -> None:
        command = control.receive_nowait()
        if not isinstance(command, ProcessBatch):
            raise TypeError(f"{self.name} expected ProcessBatch first, got {command!r}")
        self.runtime.bus.emit(BatchStarted, self.batch_id, len(command.items))
        self._items = command.items
        # Commands sent along with the work (the session paused, this batch cancelled before
        # it started) are obeyed before the first stage starts.
        obey_pending(control, self._obey)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._listen, control)
                await self._run_stages(nursery)
                nursery.cancel_scope.cancel()
        finally:
            if self._running is not None:
                # Cut short while a stage ran: take its report if it made it.
                stage, items, child = self._running
                self._absorb(stage, items, child.result_nowait())
            report.send(self._outcome(command))

    async def _run_stages(self, nursery: trio.Nursery) -> None:
        stopping = self.runtime.control.stopping
        drains = [stage.drain for stage in self.stages]
        for position, stage in enumerate(self.stages):
            items = self._items
            if not items:
                return
            if not stopping.may_start(stage.drain) or (
                self._cancel is not None and not stage.drain
            ):
                # The skipped stage's inputs end here; nothing is left for later stages.
                why = NOT_STARTED if self._cancel is None else f"{self._cancel}; not started"
                skipped = Lost(ErrorKind.cancelled, why).result(items, stage.name)
                self._absorb(stage, items, skipped)
                return
            actor = StageActor(stage, self.runtime, self.batch_id, sum(drains[position:]))
            child: Child[StageResult] = spawn(
                nursery,
                actor,
                ExecuteStage(self.batch_id, items),
                late_errors=self.runtime.late_errors,
            )
            self._running = (stage, items, child)
            if self._paused:
                child.tell(Pause())
            # No bound of its own: the stage keeps its deadline, the session's stop its grace.
            result = await child.result()
            self._running = None
            self._absorb(stage, items, result)
            if self._fatal is not None:
                return

    def _absorb(self, stage: Stage, items: Sequence[Any], result: StageResult | None) -> None:
        """Take one stage's report (None: it never came) into the batch's account."""
        if result is None:
            result = Lost(ErrorKind.cancelled, "cancelled before the stage reported").result(
                items, stage.name
            )
        elif isinstance(result, FatalError) and result.stats.items_in == 0:
            # The stage crashed or was lost before accounting for anything.
            result = Lost(result.kind, result.error.message).result(items, stage.name)
        self._by_stage.append((stage.name, result.stats))
        if not isinstance(result, Success):
            self._failed.extend(result.failed_items)
            self.runtime.gave_up(self.batch_id, result.failed_items)
        self._items = result.outputs
        if isinstance(result, FatalError):
            self._fatal = result
        elif isinstance(result, Interrupted) and self._interrupted is None:
            self._interrupted = result

    def _outcome(self, command: ProcessBatch) -> StageResult:
        by_stage = tuple(self._by_stage)
        total = StageStats()
        for _, stage_stats in by_stage:
            total = total + stage_stats
        complete = self._fatal is None and len(by_stage) == len(self.stages)
        ok = by_stage[-1][1].items_ok if by_stage and complete else 0
        failed = tuple(self._failed)
        stats = StageStats(
            len(command.items), ok, len(failed), total.retries, total.elapsed, by_stage
        )
        outputs = tuple(self._items) if complete else ()
        bus = self.runtime.bus
        if self._fatal is not None:
            fatal = self._fatal
            bus.emit(BatchFailed, self.batch_id, fatal.kind.value, fatal.error.message)
            return FatalError(fatal.error, fatal.context, stats, (), failed)
        outcome: StageResult
        if self._interrupted is not None:
            outcome = Interrupted(self._interrupted.error, stats, outputs, failed)
        elif failed:
            outcome = PartialSuccess(stats, outputs, failed)
        else:
            outcome = Success(stats, outputs)
        bus.emit(BatchCompleted, self.batch_id, type(outcome).__name__, ok, len(failed))
        return outcome

    async def _listen(self, control: trio.MemoryReceiveChannel[Command]) -> None:
        async for command in control:
            self._obey(command)

    def _obey(self, command: Command) -> None:
        """The session steers this batch: note it (for the stages still to start) and pass it
        on to the stage running now."""
        if isinstance(command, Pause):
            if not self.runtime.control.stopping.may_start():  # a stop has opened the gates
                return
            self._paused = True
        elif isinstance(command, Resume):
            self._paused = False
        elif isinstance(command, Cancel):
            if self._cancel is None:
                self._cancel = command.reason
        elif not isinstance(command, Reconfigure):
            raise TypeError(f"{self.name} cannot obey {command!r}")
        if self._running is not None:
            self._running[2].tell(command)
