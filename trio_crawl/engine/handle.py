"""The caller's side of a session: `open_session` and the `Session` handle it yields.

The handle is ready at `yield`: the session actor and its control channel exist before the
caller's block runs, so a command sent on its first line is obeyed (cancel at once gives
`cancelled`; pause at once starts nothing until resume). Leaving the block with an exception —
the caller's own, a cancellation from outside, a KeyboardInterrupt — is a stop like any other:
the session drains within its grace, records its outcome, and the exception is re-raised as
it was (a KeyboardInterrupt as a plain KeyboardInterrupt, never inside an exception group).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import trio

from .actor import Child, contains, first_of, spawn
from .commands import Cancel, Command, ForBatch, Pause, Reconfigure, Resume, Shutdown
from .control import StopRequest
from .events import ConfigRejected, ConfigReloaded, EventBus, SessionFailed, Subscription
from .planning import Planner, static_planner
from .results import FatalError, StageError
from .runtime import Runtime
from .session import SessionActor, SessionHook
from .settings import EngineSettings
from .stage import Stage
from .summary import SessionSummary


class Session:
    """A running session: subscribe to its events, steer it, await its summary."""

    def __init__(self, actor: SessionActor, runtime: Runtime) -> None:
        self._actor = actor
        self._runtime = runtime
        self._child: Child[SessionSummary] | None = None
        self._summary: SessionSummary | None = None
        self._done = trio.Event()

    @property
    def session_id(self) -> str:
        return self._actor.session_id

    @property
    def settings(self) -> EngineSettings:
        """The settings in force."""
        return self._runtime.settings

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def stop_deadline(self) -> float:
        """When the stop's grace ends (trio time; infinite while nobody asked to stop)."""
        return self._runtime.control.stopping.deadline

    def events(self, buffer: int | None = None) -> Subscription:
        """A new subscription (an async context manager and async iterator of events).

        Subscribe before the first `await` inside `open_session` to see every event."""
        return self._runtime.bus.subscribe(buffer)

    def pause(self) -> None:
        self._tell(Pause())

    def resume(self) -> None:
        self._tell(Resume())

    def cancel(self, reason: str = "cancelled") -> None:
        self._tell(Cancel(reason))

    def pause_batch(self, batch_id: int) -> None:
        """Start no new item of batch `batch_id` (its in-flight ones finish) until
        `resume_batch` or `resume`; other batches go on. Batches are numbered from 1 in the
        order planned (`BatchStarted.batch_id`)."""
        self._tell(ForBatch(batch_id, Pause()))

    def resume_batch(self, batch_id: int) -> None:
        """Undo `pause_batch` (or a session `pause`) for this batch alone."""
        self._tell(ForBatch(batch_id, Resume()))

    def cancel_batch(self, batch_id: int, reason: str = "batch cancelled") -> None:
        """Stop batch `batch_id` alone: its fetching work is cancelled and its unfinished items
        are reported `cancelled` with `reason`; what it already fetched still goes through its
        drain stages (validation, saving); the session and the other batches go on."""
        self._tell(ForBatch(batch_id, Cancel(reason)))

    def fail(self, error: StageError) -> None:
        """Stop the session as `failed` because of `error`: something the stages need can no
        longer do its part (a store that cannot be written, say). As with any stop, what was
        completed is kept; the session's reason is the error's message."""
        if self.done:
            return
        self._actor.account.fail(error.message, error)
        self._runtime.control.stop(StopRequest("failed", error.message))

    def shutdown(self, graceful: bool = True) -> None:
        self._tell(Shutdown(graceful))

    def reconfigure(
        self, settings: EngineSettings, *, source: str = "", changed: Sequence[str] = ()
    ) -> None:
        """Put new settings in force (limits at once, the rest from the next attempt or stage),
        announced as `ConfigReloaded(source, changed)`."""
        if self.done:
            return
        self._runtime.reconfigure(settings)
        self._tell(Reconfigure())
        self._runtime.bus.emit(ConfigReloaded, source, tuple(changed))

    def reject_config(self, source: str, error: str) -> None:
        """Announce that a change of the settings' source was refused (the old ones stay)."""
        if not self.done:
            self._runtime.bus.emit(ConfigRejected, source, error)

    def _tell(self, command: Command) -> None:
        assert self._child is not None, "a Session is made and started by open_session"
        self._child.tell(command)

    async def wait(self) -> SessionSummary:
        await self._done.wait()
        assert self._summary is not None
        return self._summary

    def _start(self, nursery: trio.Nursery) -> None:
        self._child = spawn(nursery, self._actor)
        nursery.start_soon(self._watch, self._child)

    def _finished(self, summary: SessionSummary) -> None:
        if not self._done.is_set():
            self._summary = summary
            self._done.set()

    async def _watch(self, child: Child[SessionSummary]) -> None:
        """The actor hands over its summary itself; this only covers an actor that broke
        before it could (a bug), so that `wait()` still answers with a typed summary."""
        result = await child.result()
        if isinstance(result, FatalError) and not self._done.is_set():
            account = self._actor.account
            account.fail(result.error.message, result.error)
            summary = account.summary(self.session_id, 0.0, None)
            bus = self._runtime.bus
            bus.emit(SessionFailed, "failed", summary)
            bus.end()
            self._finished(summary)

    def _stop_for(self, exc: BaseException) -> None:
        """The caller's block (or its wait) ended with `exc`: stop the session for it."""
        control = self._runtime.control
        interrupt = first_of(exc, KeyboardInterrupt)
        if interrupt is not None:
            control.interrupted(interrupt)
            return
        if contains(exc, trio.Cancelled):
            reason = "cancelled by the caller"
        else:
            reason = f"the session's block raised {exc!r}"
        control.stop(StopRequest("cancelled", reason))


@asynccontextmanager
async def open_session(
    settings: EngineSettings,
    *,
    stages: Sequence[Stage],
    planner: Planner | None = None,
    items: Sequence[Any] | None = None,
    rng: random.Random | None = None,
    session_id: str | None = None,
    on_finish: SessionHook | None = None,
) -> AsyncIterator[Session]:
    """Run a session over `stages` in the background of the `async with` block.

    Give either a `planner` (an async callable returning a `Plan` or the batches) or `items`
    (batched by `settings.batch_size`). Leaving the block normally waits for the session to
    end; leaving it with an exception stops the session first (see the module docstring).
    `on_finish` is awaited with the summary before the final event (bounded by
    `settings.outcome_timeout_secs`).
    """
    if (planner is None) == (items is None):
        raise TypeError("open_session needs exactly one of planner= or items=")
    if not stages:
        raise ValueError("a session needs at least one stage")
    bus = EventBus(settings.subscriber_buffer)
    runtime = Runtime(settings, bus, rng if rng is not None else random.Random())
    actor = SessionActor(
        session_id or uuid.uuid4().hex,
        tuple(stages),
        planner if planner is not None else static_planner(items or ()),
        runtime,
        on_finish,
    )
    session = Session(actor, runtime)
    actor.on_summary = session._finished
    raised: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            session._start(nursery)
            try:
                yield session
            except GeneratorExit:
                raise
            except BaseException as exc:
                raised = exc
            if raised is None:
                try:
                    await session.wait()
                except BaseException as exc:  # cancelled from outside while waiting
                    raised = exc
            if raised is not None:
                session._stop_for(raised)
                # The session's own stop bounds this (its grace, then the outcome's bound);
                # the shield keeps the caller's cancellation from cutting the drain short.
                with trio.CancelScope(shield=True):
                    await session.wait()
            nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        interrupt = first_of(group, KeyboardInterrupt)
        if interrupt is None:
            raise
        raise interrupt from None
    if raised is not None:
        raise raised
    if runtime.control.interrupt is not None:
        raise runtime.control.interrupt
