"""How a session stops and pauses: one stop, one grace deadline; cancel scopes do the rest.

The stop is a cancel-scope policy (the shape of hypercorn's trio worker: a trigger, then one
deadline on one scope), not flags polled in loops::

    first stop: Cancel, Shutdown, the soft session timeout, the caller's block raising,
    a KeyboardInterrupt, an aborting failure
      └─ Stopping.stop(request): fixes the status, the reason and the mode, once, and sets
         `scope.deadline = now + grace_secs` on the one scope around all of the session's work
           hard      every `work` scope (planning, waiting for a batch slot) and every
                     non-drain stage's `window` is cancelled, the window noting why
           graceful  work is left alone: in-flight items finish; intake stops
                     (`may_start` says no: no new batch, item or retry attempt)
    drain stages (`Stage(drain=True)`: validation, saving) are never cancelled by a stop. They
    run over whatever was produced, within the same deadline, sharing what is left of it: a
    drain stage with k drain stages to go (itself included) may use 1/k of the time left, so
    a slow first drain stage cannot starve the ones after it of the time to keep its output.
    later stops never move the deadline and never reach into drain stages; a hard stop after
    a graceful one cancels the non-drain work still running (escalation), nothing else.

Pausing is a gate, not a stop: new items wait at it, in-flight ones finish, and the deadlines
of the stages that waited move by as long as the gate was shut (a paused stage is not stuck).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, TypeAlias

import attrs
import trio

from .accounting import Lost
from .commands import Cancel, Command, Pause, Resume, Shutdown
from .events import EventBus, SessionPaused, SessionResumed, StopRequested
from .results import ErrorKind

StopStatus: TypeAlias = Literal["cancelled", "timed_out", "failed"]


@attrs.frozen
class StopRequest:
    """Why and how the session stops; the first one made is the one that holds."""

    status: StopStatus
    reason: str
    graceful: bool = False


class StageWindow:
    """One stage's time: its deadline, its share of a stop's grace and, when the stop cut it
    short, why. The stop writes the cause here as it acts, so the stage's report reads it
    instead of guessing from the clock which limit ended its items."""

    __slots__ = ("_stopping", "cause", "drain", "drain_left", "gate", "scope", "shared")

    def __init__(
        self, stopping: Stopping, gate: Gate, drain: bool, drain_left: int, deadline: float
    ) -> None:
        self._stopping = stopping
        self.gate = gate
        self.drain = drain
        self.drain_left = drain_left
        self.scope = trio.CancelScope(deadline=deadline)
        self.shared = False
        """Whether the stop gave this (drain) stage a share of its grace as its deadline."""
        self.cause: Lost | None = None
        """Set by a hard stop, or by its batch's `Cancel`, when it cancels this (non-drain)
        stage's work."""

    def may_start(self) -> bool:
        """Whether this stage may start an item (or a retry attempt) now."""
        return self._stopping.may_start(self.drain) and (self.drain or self.cause is None)

    def cancel(self, reason: str) -> None:
        """Its batch was cancelled: a non-drain stage stops at once (a drain stage goes on
        keeping what was produced)."""
        if not self.drain and self.cause is None:
            self.cause = Lost(ErrorKind.cancelled, reason)
            self.scope.cancel()

    def lost(self, elapsed: float) -> Lost:
        """Why this stage's unfinished items did not finish (called once it has ended)."""
        if self.cause is not None:
            return self.cause
        stopping = self._stopping
        stop = stopping.request
        # When the grace ends, the session's scope and a drain stage's share end together;
        # both record it (trio marks a scope whose deadline passed as cancel_called).
        if stop is not None and (
            stopping.scope.cancel_called or (self.shared and self.scope.cancel_called)
        ):
            return Lost(ErrorKind.cancelled, f"{stop.reason}; no time left in the stop's grace")
        if self.scope.cancel_called:
            return Lost(ErrorKind.stage_timeout, f"stage timeout after {elapsed:g}s")
        if stop is None:
            return Lost(ErrorKind.cancelled, "cancelled")
        return Lost(ErrorKind.cancelled, stop.reason)


class Stopping:
    """The session's one stop and its grace deadline (see the module docstring)."""

    __slots__ = (
        "_stopped",
        "_windows",
        "_work",
        "deadline",
        "grace_secs",
        "hard",
        "request",
        "scope",
    )

    def __init__(self, grace_secs: float) -> None:
        self.grace_secs = grace_secs
        self.request: StopRequest | None = None
        self.hard = False
        self.deadline = math.inf
        self.scope = trio.CancelScope()
        """The one scope, entered by the session around all of its work."""
        self._stopped = trio.Event()
        self._work: set[trio.CancelScope] = set()
        self._windows: set[StageWindow] = set()

    def may_start(self, drain: bool = False) -> bool:
        """Whether new work may start: after a stop, only drain work does."""
        return drain or self.request is None

    def stop(self, request: StopRequest) -> tuple[bool, bool]:
        """Stop the session. Returns (first, escalated): whether this was the first stop (the
        one whose reason and deadline hold) and whether it made a graceful stop hard."""
        first = self.request is None
        if first:
            self.request = request
            self.deadline = trio.current_time() + self.grace_secs
            self.scope.deadline = self.deadline
            self._stopped.set()
            for window in self._windows:
                # Draining must not wait for a resume that will not come.
                window.gate.resume()
                if window.drain:
                    self._share(window)
        escalated = not request.graceful and not self.hard
        if escalated:
            self.hard = True
            for scope in tuple(self._work):
                scope.cancel()
            held = self.request if self.request is not None else request
            for window in tuple(self._windows):
                if not window.drain and window.cause is None:
                    window.cause = Lost(ErrorKind.cancelled, held.reason)
                    window.scope.cancel()
        return first, escalated and not first

    @contextmanager
    def work(self) -> Iterator[trio.CancelScope]:
        """A scope for non-drain work: cancelled by a hard stop (at once if one happened)."""
        scope = trio.CancelScope()
        if self.hard:
            scope.cancel()
        self._work.add(scope)
        try:
            with scope:
                yield scope
        finally:
            self._work.discard(scope)

    @contextmanager
    def window(
        self, gate: Gate, drain: bool, drain_left: int, timeout_secs: float
    ) -> Iterator[StageWindow]:
        """Run a stage in its window: its timeout (standing still while `gate` is shut); a
        drain stage's share of the grace once the session stops; a hard stop's cancel for
        a non-drain one. `drain_left` counts the drain stages its batch still has to run,
        itself included."""
        window = StageWindow(self, gate, drain, drain_left, trio.current_time() + timeout_secs)
        if self.request is not None:
            gate.resume()
            if drain:
                self._share(window)
            elif self.hard:
                window.cause = Lost(ErrorKind.cancelled, self.request.reason)
                window.scope.cancel()
        self._windows.add(window)
        try:
            with window.scope, gate.deadline_of(window.scope):
                yield window
        finally:
            self._windows.discard(window)

    def _share(self, window: StageWindow) -> None:
        """Give a drain stage with k drain stages to go (itself included) 1/k of the grace
        that is left (all of it for the last one), unless its own deadline comes first."""
        now = trio.current_time()
        share = now + max(0.0, self.deadline - now) / max(1, window.drain_left)
        if share < window.gate.deadline(window.scope):
            window.gate.set_deadline(window.scope, share)
            window.shared = True

    async def wait_retry(self, delay: float, drain: bool) -> None:
        """Wait `delay` before a retry; a stop ends a non-drain wait at once (its next
        attempt will then not start)."""
        if drain:
            await trio.sleep(delay)
            return
        with trio.move_on_after(delay):
            await self._stopped.wait()


class Gate:
    """One stage's pause: `wait_open()` blocks while paused, and the deadlines of registered
    scopes are suspended while the gate is shut (they resume with the time they had left), so
    pausing never times a stage out. Only its stage actor shuts and opens it, obeying the
    `Pause`/`Resume` on its control channel; the stop opens it (see `Stopping.stop`)."""

    __slots__ = ("_open", "_scopes", "_suspended", "paused")

    def __init__(self) -> None:
        self.paused = False
        self._open = trio.Event()
        self._open.set()
        self._scopes: set[trio.CancelScope] = set()
        self._suspended: dict[trio.CancelScope, float] = {}

    def pause(self) -> bool:
        """Shut the gate; False if it was already shut."""
        if self.paused:
            return False
        self.paused = True
        self._open = trio.Event()
        for scope in self._scopes:
            self._suspend(scope)
        return True

    def resume(self) -> bool:
        """Open the gate; False if it was open."""
        if not self.paused:
            return False
        self.paused = False
        now = trio.current_time()
        for scope, left in self._suspended.items():
            scope.deadline = now + left
        self._suspended.clear()
        self._open.set()
        return True

    async def wait_open(self) -> None:
        """Return once the gate is open (at once, without a checkpoint, when it is)."""
        while self.paused:
            await self._open.wait()

    def _suspend(self, scope: trio.CancelScope) -> None:
        self._suspended[scope] = scope.deadline - trio.current_time()
        scope.deadline = math.inf

    def deadline(self, scope: trio.CancelScope) -> float:
        """A registered scope's deadline as it will be once the gate opens."""
        left = self._suspended.get(scope)
        return scope.deadline if left is None else trio.current_time() + left

    def set_deadline(self, scope: trio.CancelScope, deadline: float) -> None:
        """Set a registered scope's deadline, respecting a pause in progress."""
        if scope in self._suspended:
            self._suspended[scope] = deadline - trio.current_time()
        else:
            scope.deadline = deadline

    @contextmanager
    def deadline_of(self, scope: trio.CancelScope) -> Iterator[None]:
        """While in this block, `scope`'s deadline stands still whenever the gate is shut."""
        self._scopes.add(scope)
        if self.paused:
            self._suspend(scope)
        try:
            yield
        finally:
            self._scopes.discard(scope)
            self._suspended.pop(scope, None)


class SessionControl:
    """What every actor of one session shares: the one stop (and whether the caller paused
    the session, for batches that start later).

    Pause and resume are not shared state: they travel down the control channels (see
    `engine.commands`). A KeyboardInterrupt that a plug-in raised is kept in `interrupt`: the
    session stops for it, and `open_session` re-raises it once all is done.
    """

    __slots__ = ("bus", "gate", "interrupt", "paused", "stopping")

    def __init__(self, grace_secs: float, bus: EventBus | None = None) -> None:
        self.stopping = Stopping(grace_secs)
        self.paused = False
        self.gate = Gate()
        """Shut while the session is paused: the work outside any batch (the planner's reads,
        before the batches and in the settle check after them) waits on it."""
        self.interrupt: BaseException | None = None
        self.bus = bus

    def apply(self, command: Command) -> bool:
        """Obey a session-wide command. True when it is a pause or resume that changed the
        session's state (the session then passes it on to its batches)."""
        if isinstance(command, Pause | Resume):
            pause = isinstance(command, Pause)
            if pause == self.paused or (pause and not self.stopping.may_start()):
                return False
            self.paused = pause
            if pause:
                self.gate.pause()
            else:
                self.gate.resume()
            if self.bus is not None:
                self.bus.emit(SessionPaused if pause else SessionResumed)
            return True
        if isinstance(command, Cancel):
            self.stop(StopRequest("cancelled", command.reason))
        elif isinstance(command, Shutdown):
            mode = "graceful" if command.graceful else "hard"
            self.stop(StopRequest("cancelled", f"{mode} shutdown", command.graceful))
        return False

    def stop(self, request: StopRequest) -> bool:
        """Stop the session (see `Stopping.stop`), announcing it; True if it was the first.

        A stop opens every shut gate: draining must not wait for a resume that will not come."""
        if self.paused:
            self.paused = False
            self.gate.resume()
            if self.bus is not None:
                self.bus.emit(SessionResumed)
        first, escalated = self.stopping.stop(request)
        if (first or escalated) and self.bus is not None:
            stopping = self.stopping
            held = stopping.request if stopping.request is not None else request
            self.bus.emit(
                StopRequested,
                held.status,
                held.reason,
                not stopping.hard,
                max(0.0, stopping.deadline - trio.current_time()),
            )
        return first

    def interrupted(self, exc: BaseException) -> bool:
        """What the engine does with a KeyboardInterrupt, wherever it lands (a plug-in — stage
        handler, planner, outcome hook — raised it, it hit the session's own tasks, or the
        caller's block raised it): the first is kept in `interrupt` and stops the session
        (hard), and `open_session` raises it once the summary is out. False if the session
        was already stopping for one: a plug-in's caller then lets this one propagate (a
        second Ctrl-C ends the grace instead of waiting it out)."""
        if self.interrupt is not None:
            return False
        self.interrupt = exc
        self.stop(StopRequest("cancelled", "KeyboardInterrupt"))
        return True
