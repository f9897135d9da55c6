"""The session actor: plans, runs batches (several in flight), owns the session deadline and
the one stop (see `engine.control`).

Everything the session does runs inside `Stopping.scope`; the first stop puts the grace
deadline on it. The summary is decided, recorded (the outcome hook, with its own bound),
announced (the final event) and handed to the caller in a `finally`, so `Session.wait()`
answers however the session ended: a stop takes at most `grace_secs + outcome_timeout_secs`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import attrs
import trio

from .accounting import NOT_STARTED, Lost
from .actor import Child, first_of, obey_pending, spawn, split_failure
from .batch import BatchActor
from .commands import (
    Cancel,
    Command,
    ForBatch,
    Pause,
    ProcessBatch,
    Reconfigure,
    Resume,
    Shutdown,
    Steer,
)
from .control import StopRequest
from .events import (
    PlanReady,
    SessionCancelled,
    SessionCompleted,
    SessionEnded,
    SessionFailed,
    SessionStarted,
    SessionTimedOut,
)
from .oneshot import OneshotSender
from .planning import Plan, PlanContext, Planner, as_plan
from .results import ErrorKind, FatalError, StageError, StageResult, Success
from .runtime import Runtime
from .stage import Stage
from .summary import SessionAccount, SessionStatus, SessionSummary

FINAL_EVENTS: dict[SessionStatus, type[SessionEnded]] = {
    "completed": SessionCompleted,
    "partial": SessionCompleted,
    "cancelled": SessionCancelled,
    "timed_out": SessionTimedOut,
    "failed": SessionFailed,
}

SessionHook = Callable[[SessionSummary], Awaitable[None]]


class SessionActor:
    """The root actor: plan, then the batches, at most `parallel_batches` at a time."""

    name = "session"

    def __init__(
        self,
        session_id: str,
        stages: Sequence[Stage],
        planner: Planner,
        runtime: Runtime,
        on_finish: SessionHook | None = None,
        on_summary: Callable[[SessionSummary], None] | None = None,
    ) -> None:
        self.session_id = session_id
        self.stages = stages
        self.planner = planner
        self.runtime = runtime
        self.on_finish = on_finish
        self.on_summary = on_summary
        self.account = SessionAccount(stages)
        self._batches: dict[int, Child[StageResult]] = {}
        self._early: dict[int, list[Steer]] = {}

    async def run(
        self, control: trio.MemoryReceiveChannel[Command], report: OneshotSender[Any]
    ) -> None:
        runtime = self.runtime
        started = trio.current_time()
        # Commands sent before the session's first checkpoint are obeyed before anything starts.
        obey_pending(control, self._obey)
        runtime.bus.emit(SessionStarted, self.session_id)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._listen, control)
                nursery.start_soon(runtime.bus.heartbeat, runtime.settings.heartbeat_secs, started)
                nursery.start_soon(self._soft_deadline, started)
                with runtime.control.stopping.scope:
                    await self._crawl()
                nursery.cancel_scope.cancel()
        except BaseException as exc:
            failure, rest = split_failure(exc)
            if failure is not None:
                self.account.fail(
                    f"the session broke: {failure!r}", StageError.from_exception(failure)
                )
            if rest is not None:
                interrupt = first_of(rest, KeyboardInterrupt)
                if interrupt is not None:
                    runtime.control.interrupted(interrupt)
                if rest is exc:
                    raise
                raise rest from None
        finally:
            summary = self.account.summary(
                self.session_id,
                trio.current_time() - started,
                runtime.control.stopping.request,
                runtime.late_errors,
            )
            await self._finish(summary, report)

    async def _finish(self, summary: SessionSummary, report: OneshotSender[Any]) -> None:
        """Record the outcome (bounded, shielded), announce it, hand it over."""
        if self.on_finish is not None:
            # Recording the outcome (a crawl_runs row, say) must not cost the caller the
            # summary: a failure or a hang there is noted in it instead.
            problem = "timed out"
            with trio.move_on_after(self.runtime.settings.outcome_timeout_secs, shield=True):
                try:
                    await self.on_finish(summary)
                    problem = ""
                except Exception as exc:  # (a StageError says it in words, others in repr)
                    problem = f"failed: {exc if isinstance(exc, StageError) else repr(exc)}"
                except KeyboardInterrupt as exc:
                    # Kept; open_session raises it once the summary is out.
                    self.runtime.control.interrupted(exc)
                    problem = "was interrupted"
            if problem:
                note = f"recording the session's outcome {problem}"
                reason = f"{summary.reason}; {note}" if summary.reason else note
                summary = attrs.evolve(summary, reason=reason)
        bus = self.runtime.bus
        bus.emit(FINAL_EVENTS[summary.status], summary.status, summary)
        bus.end()
        if self.on_summary is not None:
            self.on_summary(summary)
        if not report.sent:
            report.send(summary)

    async def _crawl(self) -> None:
        runtime = self.runtime
        stopping = runtime.control.stopping
        answer: Plan | Sequence[Sequence[Any]] | None = None
        with stopping.work():
            try:
                answer = await self.planner(PlanContext(runtime.settings, runtime))
            except Exception as exc:
                error = StageError.from_exception(exc)
                self.account.fail(f"planning failed: {error.message}", error)
                return
            except KeyboardInterrupt as exc:
                if not runtime.control.interrupted(exc):
                    raise
                return
        if answer is None or not stopping.may_start():
            return
        plan = as_plan(answer)
        account = self.account
        account.planned = len(plan.batches)
        account.expected = dict(plan.expected)
        account.note = plan.note
        runtime.bus.emit(
            PlanReady, len(plan.batches), plan.items, tuple(plan.expected.items()), plan.note
        )
        slots = trio.CapacityLimiter(runtime.settings.parallel_batches)
        running: dict[Child[StageResult], Sequence[Any]] = {}
        try:
            async with trio.open_nursery() as nursery:
                for batch_id, items in enumerate(plan.batches, start=1):
                    acquired = False
                    with stopping.work():
                        await slots.acquire_on_behalf_of(batch_id)
                        acquired = True
                    if not stopping.may_start():
                        if acquired:
                            slots.release_on_behalf_of(batch_id)
                        for left in plan.batches[batch_id - 1 :]:
                            lost = Lost(ErrorKind.cancelled, NOT_STARTED)
                            runtime.gave_up(0, account.not_run(left, lost))
                        break
                    actor = BatchActor(self.stages, runtime, batch_id)
                    child: Child[StageResult] = spawn(
                        nursery,
                        actor,
                        ProcessBatch(batch_id, items),
                        late_errors=runtime.late_errors,
                    )
                    running[child] = items
                    self._batches[batch_id] = child
                    if runtime.control.paused:
                        child.tell(Pause())
                    for steer in self._early.pop(batch_id, ()):
                        child.tell(steer)
                    nursery.start_soon(self._await_batch, child, slots, batch_id, running)
        finally:
            # Batches whose wait was cut short (the grace ran out): every batch task has ended
            # by now, so each report that was sent is here to take.
            for child, items in running.items():
                result = child.result_nowait()
                if result is None:
                    lost = Lost(ErrorKind.cancelled, "the stop's grace ran out")
                    result = lost.result(items, self.stages[0].name)
                self._absorb(result)
        if plan.settle is not None and stopping.may_start() and account.failure is None:
            account.unsettled = await self._settle(plan.settle)

    async def _settle(self, settle: Callable[[], Awaitable[str]]) -> str:
        stopping = self.runtime.control.stopping
        with stopping.work():
            try:
                return await settle()
            except Exception as exc:
                error = StageError.from_exception(exc)
                return f"the run's work could not be checked at its end: {error.message}"
        return ""

    async def _await_batch(
        self,
        child: Child[StageResult],
        slots: trio.CapacityLimiter,
        batch_id: int,
        running: dict[Child[StageResult], Sequence[Any]],
    ) -> None:
        try:
            result = await child.result()
        finally:
            slots.release_on_behalf_of(batch_id)
            del self._batches[batch_id]
        del running[child]
        self._absorb(result)

    def _absorb(self, result: StageResult) -> None:
        self.account.absorb(result)
        if not isinstance(result, Success):
            self.runtime.gave_up(0, result.failed_items)
        if isinstance(result, FatalError) and result.kind in self.runtime.settings.abort_on:
            self.account.fail(f"aborted: {result.error.message}", result.error)
            self.runtime.control.stop(StopRequest("failed", f"aborted: {result.error.message}"))

    async def _listen(self, control: trio.MemoryReceiveChannel[Command]) -> None:
        async for command in control:
            self._obey(command)

    def _obey(self, command: Command) -> None:
        """A stop is the session's own (`SessionControl`); a pause, resume or reconfigure goes
        on to every batch running; a command for one batch goes to it (or waits for it to start)."""
        if isinstance(command, ForBatch):
            child = self._batches.get(command.batch_id)
            if child is not None:
                child.tell(command.command)
            else:
                self._early.setdefault(command.batch_id, []).append(command.command)
        elif isinstance(command, Reconfigure):
            for child in self._batches.values():
                child.tell(command)
        elif isinstance(command, Pause | Resume | Cancel | Shutdown):
            if self.runtime.control.apply(command):
                for child in self._batches.values():
                    child.tell(command)
        else:
            raise TypeError(f"the session cannot obey {command!r}")

    async def _soft_deadline(self, started: float) -> None:
        settings = self.runtime.settings
        await trio.sleep_until(started + settings.session_timeout_secs)
        reason = f"session timeout after {settings.session_timeout_secs:g}s"
        self.runtime.control.stop(StopRequest("timed_out", reason))
