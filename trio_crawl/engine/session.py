"""The session: plans the crawl, runs batches one after another, owns the session deadline.

Time is structured in two layers. At `session_timeout_secs` the session stops softly: it tells
its batch to cancel, the batch still runs its drain stages (so what was fetched gets saved) and
everyone reports. A hard cancel scope `cancellation_timeout_secs` later ends whatever did not
listen. Either way the summary says `timed_out`, never `failed`.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import attrs
import trio

from ..config.errors import ConfigError
from .actor import Child, spawn
from .batch import BatchActor
from .commands import Cancel, Command, Pause, ProcessBatch, Resume, Shutdown
from .events import (
    ConfigRejected,
    ConfigReloaded,
    EventBus,
    PlanReady,
    SessionCancelled,
    SessionCompleted,
    SessionEnded,
    SessionFailed,
    SessionPaused,
    SessionResumed,
    SessionStarted,
    SessionTimedOut,
    Subscription,
)
from .live import LiveConfig
from .oneshot import OneshotSender
from .results import (
    ErrorKind,
    FailedItem,
    FatalError,
    StageError,
    StageResult,
    StageStats,
    Success,
)
from .stage import Runtime, Stage

if TYPE_CHECKING:
    # The config package builds on engine.retry/results; importing it here at run time would
    # make the two packages' initialisation circular.
    from ..config.model import CrawlConfig

T = TypeVar("T")

SessionStatus = Literal["completed", "partial", "cancelled", "timed_out", "failed"]

FINAL_EVENTS: dict[SessionStatus, type[SessionEnded]] = {
    "completed": SessionCompleted,
    "partial": SessionCompleted,
    "cancelled": SessionCancelled,
    "timed_out": SessionTimedOut,
    "failed": SessionFailed,
}


@attrs.frozen
class SessionSummary:
    """What a session did. `counts` holds the counters its stages feed (see `Stage.count_ok`)."""

    session_id: str
    status: SessionStatus
    elapsed: float
    counts: Mapping[str, int]
    stages: Mapping[str, StageStats]
    failed_items: tuple[FailedItem, ...]
    retries: int
    batches_planned: int
    batches_run: int
    batches_failed: int
    reason: str = ""
    error: StageError | None = None

    @property
    def pages_ok(self) -> int:
        return self.counts.get("pages_ok", 0)

    @property
    def pages_failed(self) -> int:
        return self.counts.get("pages_failed", 0)

    @property
    def products_saved(self) -> int:
        return self.counts.get("products_saved", 0)

    @property
    def products_failed(self) -> int:
        return self.counts.get("products_failed", 0)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready form, for the crawl_runs table, the CLI and logs."""
        return {
            "session_id": self.session_id,
            "status": self.status,
            "elapsed": round(self.elapsed, 3),
            "counts": dict(self.counts),
            "retries": self.retries,
            "batches": {
                "planned": self.batches_planned,
                "run": self.batches_run,
                "failed": self.batches_failed,
            },
            "reason": self.reason,
            "error": self.error.describe() if self.error is not None else None,
            "failed_items": len(self.failed_items),
        }


@attrs.frozen
class PlanContext:
    """Handed to the planner: the config in force and a retry helper under the stage policies."""

    config: CrawlConfig
    runtime: Runtime

    async def retry(self, operation: Callable[[], Awaitable[T]], *, policy: str) -> T:
        """Run `operation`, retrying its `StageError`s under the named stage's retry policy."""
        attempts = 0
        while True:
            attempts += 1
            try:
                return await operation()
            except StageError as error:
                delay = self.runtime.retry_delay(policy, policy, 0, error, attempts)
                if delay is None:
                    raise
                await trio.sleep(delay)


Planner = Callable[[PlanContext], Awaitable[Sequence[Sequence[Any]]]]
SessionHook = Callable[["SessionSummary"], Awaitable[None]]


def batches_of(items: Sequence[Any], size: int) -> list[list[Any]]:
    """Split `items` into batches of at most `size`."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def static_planner(items: Sequence[Any]) -> Planner:
    """A planner for a known list of first-stage items, batched by `crawl.batch_size`."""

    async def plan(context: PlanContext) -> Sequence[Sequence[Any]]:
        return batches_of(items, context.config.crawl.batch_size)

    return plan


def check_stages(config: CrawlConfig, stages: Sequence[Stage]) -> None:
    """Fail fast when a stage has no policy or limit under its own name; never fall back."""
    if not stages:
        raise ConfigError("stages", [], "at least one stage")
    for stage in stages:
        config.retry.for_stage(stage.key)
        config.concurrency.for_stage(stage.key)


class SessionActor:
    """The root actor: plan, then one `BatchActor` at a time, under the session deadline."""

    name = "session"

    def __init__(
        self,
        session_id: str,
        stages: Sequence[Stage],
        planner: Planner,
        runtime: Runtime,
        on_finish: SessionHook | None = None,
    ) -> None:
        self.session_id = session_id
        self.stages = stages
        self._by_name = {stage.name: stage for stage in stages}
        self.planner = planner
        self.runtime = runtime
        self.on_finish = on_finish
        self.paused = False
        self.stop_status: SessionStatus | None = None
        self.stop_command: Command | None = None
        self.reason = ""
        self.error: StageError | None = None
        self.failed = False
        self._children: dict[Child[StageResult], Sequence[Any]] = {}
        self._plan_scope: trio.CancelScope | None = None
        self._failed_items: list[FailedItem] = []
        self._stages: dict[str, StageStats] = {}
        self._counts: dict[str, int] = {}
        self._retries = 0
        self._planned = 0
        self._run = 0
        self._batches_failed = 0

    async def run(
        self, control: trio.MemoryReceiveChannel[Command], report: OneshotSender[Any]
    ) -> None:
        bus = self.runtime.bus
        config = self.runtime.live.current
        system = config.system
        started = trio.current_time()
        bus.emit(SessionStarted, self.session_id)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._listen, control)
            nursery.start_soon(bus.heartbeat, config.events.heartbeat_secs, started)
            nursery.start_soon(self._soft_deadline, started + system.session_timeout_secs)
            if config.source is not None:
                await nursery.start(self._watch, config.source)
            hard_deadline = started + system.session_timeout_secs + system.cancellation_timeout_secs
            with trio.CancelScope(deadline=hard_deadline) as hard:
                await self._crawl()
            if hard.cancelled_caught:
                self._stop("timed_out", "session timeout (hard deadline)", None)
                self._salvage()
            nursery.cancel_scope.cancel()
        summary = self._summary(trio.current_time() - started)
        if self.on_finish is not None:
            # Recording the outcome (a crawl_runs row, say) must not cost the caller the
            # summary: a failure or a hang there is noted in it instead.
            problem = "timed out"
            with trio.move_on_after(system.cancellation_timeout_secs, shield=True):
                try:
                    await self.on_finish(summary)
                    problem = ""
                except Exception as exc:
                    problem = f"failed: {exc!r}"
            if problem:
                note = f"recording the session's outcome {problem}"
                reason = f"{summary.reason}; {note}" if summary.reason else note
                summary = attrs.evolve(summary, reason=reason)
        bus.emit(FINAL_EVENTS[summary.status], summary.status, summary)
        bus.end()
        report.send(summary)

    async def _crawl(self) -> None:
        context = PlanContext(self.runtime.live.current, self.runtime)
        batches: Sequence[Sequence[Any]] = ()
        with trio.CancelScope() as self._plan_scope:
            try:
                batches = await self.planner(context)
            except Exception as exc:
                self.failed = True
                self.error = StageError.from_exception(exc)
                self.reason = f"planning failed: {self.error.message}"
                return
        self._plan_scope = None
        if self.stop_status is not None:
            return
        self._planned = len(batches)
        self.runtime.bus.emit(PlanReady, len(batches), sum(len(b) for b in batches))
        slots = trio.CapacityLimiter(self.runtime.live.current.crawl.parallel_batches)
        async with trio.open_nursery() as nursery:
            for batch_id, items in enumerate(batches, start=1):
                await slots.acquire_on_behalf_of(batch_id)
                if self.stop_status is not None:
                    slots.release_on_behalf_of(batch_id)
                    break
                actor = BatchActor(self.stages, self.runtime, batch_id, paused=self.paused)
                child: Child[StageResult] = spawn(nursery, actor, ProcessBatch(batch_id, items))
                self._children[child] = items
                nursery.start_soon(self._await_batch, child, slots, batch_id)

    async def _await_batch(
        self, child: Child[StageResult], slots: trio.CapacityLimiter, batch_id: int
    ) -> None:
        try:
            result = await child.result()
        finally:
            slots.release_on_behalf_of(batch_id)
        del self._children[child]
        self._absorb(result)
        if isinstance(result, FatalError) and self._aborts(result):
            self.failed = True
            self.error = result.error
            self._stop("failed", f"aborted: {result.error.message}", Cancel("aborted"))

    def _salvage(self) -> None:
        """After the hard deadline: take each running batch's report if it made it, else
        account for the batch's items as cancelled, so nothing vanishes from the summary."""
        children, self._children = self._children, {}
        for child, items in children.items():
            result = child.result_nowait()
            if result is None:
                first = self.stages[0].name
                error = StageError(ErrorKind.cancelled, "session hard deadline")
                lost = tuple(
                    FailedItem(item, first, ErrorKind.cancelled, 0, error.message) for item in items
                )
                stats = StageStats(len(lost), 0, len(lost))
                result = FatalError(error, "session", stats, (), lost)
            self._absorb(result)

    def _aborts(self, result: FatalError) -> bool:
        system = self.runtime.live.current.system
        return (result.kind is ErrorKind.database_error and system.abort_on_database_error) or (
            result.kind is ErrorKind.validation_error and system.abort_on_validation_error
        )

    def _absorb(self, result: StageResult) -> None:
        self._run += 1
        stats = result.stats
        self._retries += stats.retries
        if not isinstance(result, Success):
            self._failed_items.extend(result.failed_items)
        if isinstance(result, FatalError):
            self._batches_failed += 1
            if not stats.by_stage and not result.failed_items:
                self.error = result.error
        for name, stage_stats in stats.by_stage:
            self._stages[name] = self._stages.get(name, StageStats()) + stage_stats
            stage = self._by_name.get(name)
            if stage is None:
                continue
            if stage.count_ok:
                self._add(stage.count_ok, stage_stats.items_ok)
            if stage.count_failed:
                self._add(stage.count_failed, stage_stats.items_failed)

    def _add(self, counter: str, value: int) -> None:
        self._counts[counter] = self._counts.get(counter, 0) + value

    def _summary(self, elapsed: float) -> SessionSummary:
        status: SessionStatus
        if self.failed:
            status = "failed"
        elif self.stop_status is not None:
            status = self.stop_status
        elif self._failed_items or self._batches_failed:
            status = "partial"
        else:
            status = "completed"
        return SessionSummary(
            session_id=self.session_id,
            status=status,
            elapsed=elapsed,
            counts=dict(self._counts),
            stages=dict(self._stages),
            failed_items=tuple(self._failed_items),
            retries=self._retries,
            batches_planned=self._planned,
            batches_run=self._run,
            batches_failed=self._batches_failed,
            reason=self.reason,
            error=self.error,
        )

    # -- control -------------------------------------------------------------------------

    async def _listen(self, control: trio.MemoryReceiveChannel[Command]) -> None:
        bus = self.runtime.bus
        async for command in control:
            if isinstance(command, Pause):
                if not self.paused:
                    self.paused = True
                    bus.emit(SessionPaused)
                self._forward(command)
            elif isinstance(command, Resume):
                if self.paused:
                    self.paused = False
                    bus.emit(SessionResumed)
                self._forward(command)
            elif isinstance(command, Cancel):
                self._stop("cancelled", command.reason, command)
            elif isinstance(command, Shutdown):
                kind = "graceful" if command.graceful else "hard"
                self._stop("cancelled", f"{kind} shutdown", command)

    def _forward(self, command: Command) -> None:
        for child in self._children:
            child.tell(command)

    def _stop(self, status: SessionStatus, reason: str, command: Command | None) -> None:
        if self.stop_status is None:
            self.stop_status = status
            self.reason = reason
        if command is not None:
            self._forward(command)
        if self._plan_scope is not None:
            self._plan_scope.cancel()

    async def _soft_deadline(self, deadline: float) -> None:
        await trio.sleep_until(deadline)
        timeout = self.runtime.live.current.system.session_timeout_secs
        reason = f"session timeout after {timeout:g}s"
        self._stop("timed_out", reason, Cancel(reason))

    async def _watch(self, path: Any, *, task_status: trio.TaskStatus[None]) -> None:
        from ..config.watch import watch_config

        live = self.runtime.live
        bus = self.runtime.bus

        def changed(new: CrawlConfig) -> None:
            old = live.current
            sections = tuple(
                field.name
                for field in attrs.fields(type(old))
                if field.eq and getattr(old, field.name) != getattr(new, field.name)
            )
            live.update(new)
            bus.emit(ConfigReloaded, str(path), sections)

        def rejected(error: ConfigError) -> None:
            bus.emit(ConfigRejected, str(path), str(error))

        await watch_config(
            path,
            poll_secs=live.current.system.config_poll_secs,
            on_change=changed,
            on_error=rejected,
            task_status=task_status,
        )


class Session:
    """A running session: subscribe to its events, steer it, await its summary."""

    def __init__(self, actor: SessionActor, bus: EventBus) -> None:
        self._actor = actor
        self._bus = bus
        self._control: Child[SessionSummary] | None = None
        self._summary: SessionSummary | None = None
        self._done = trio.Event()

    @property
    def session_id(self) -> str:
        return self._actor.session_id

    @property
    def live_config(self) -> LiveConfig:
        return self._actor.runtime.live

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def events(self, buffer: int | None = None) -> Subscription:
        """A new subscription (an async context manager and async iterator of events).

        Subscribe before the first `await` inside `open_session` to see every event."""
        return self._bus.subscribe(buffer)

    def pause(self) -> None:
        self._tell(Pause())

    def resume(self) -> None:
        self._tell(Resume())

    def cancel(self, reason: str = "cancelled") -> None:
        self._tell(Cancel(reason))

    def shutdown(self, graceful: bool = True) -> None:
        self._tell(Shutdown(graceful))

    def _tell(self, command: Command) -> None:
        if self._control is not None:
            self._control.tell(command)

    async def wait(self) -> SessionSummary:
        await self._done.wait()
        assert self._summary is not None
        return self._summary

    async def _run(self, nursery: trio.Nursery) -> None:
        child: Child[SessionSummary] = spawn(nursery, self._actor)
        self._control = child
        result = await child.result()
        if isinstance(result, FatalError):
            # The session actor itself crashed: still give the caller a typed summary.
            actor = self._actor
            actor.failed = True
            actor.error = result.error
            actor.reason = result.error.message
            result = actor._summary(0.0)
            self._bus.emit(SessionFailed, "failed", result)
            self._bus.end()
        self._summary = result
        self._done.set()


@asynccontextmanager
async def open_session(
    config: CrawlConfig,
    *,
    stages: Sequence[Stage],
    planner: Planner | None = None,
    items: Sequence[Any] | None = None,
    rng: random.Random | None = None,
    session_id: str | None = None,
    on_finish: SessionHook | None = None,
) -> AsyncIterator[Session]:
    """Run a session over `stages` in the background of the `async with` block.

    Give either a `planner` (an async callable returning the batches) or `items` (batched by
    `crawl.batch_size`). Leaving the block normally waits for the session to end; leaving it
    with an exception cancels the session first.
    """
    if (planner is None) == (items is None):
        raise TypeError("open_session needs exactly one of planner= or items=")
    check_stages(config, stages)
    bus = EventBus(config.events.subscriber_buffer)
    runtime = Runtime(LiveConfig(config), bus, rng if rng is not None else random.Random())
    actor = SessionActor(
        session_id or uuid.uuid4().hex,
        tuple(stages),
        planner if planner is not None else static_planner(items or ()),
        runtime,
        on_finish,
    )
    session = Session(actor, bus)
    raised: BaseException | None = None
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session._run, nursery)
        try:
            yield session
        except BaseException as exc:
            # Stop through the session's own path, so it drains, records and reports; the
            # grace period is shielded from outer cancellation. The exception is re-raised
            # outside the nursery so callers see it as it was, not wrapped in a group.
            session.cancel("the session's block raised")
            with trio.move_on_after(config.system.cancellation_timeout_secs * 2, shield=True):
                await session.wait()
            nursery.cancel_scope.cancel()
            raised = exc
        else:
            await session.wait()
    if raised is not None:
        raise raised
