"""How a parent runs a child actor: own task, control channel in, one-shot result out.

A child never crashes its parent: an unexpected exception becomes `FatalError(kind=internal)`
and a child that ends without reporting becomes `FatalError(kind=channel_closed)`. The guard
splits exception groups as trio means them: their `Exception` parts are the child's failure
(reported, with the exception attached as the error's cause), everything else —
`trio.Cancelled`, `KeyboardInterrupt` — propagates untouched. A failure raised after the child
had already reported is not dropped either: it goes to `Runtime.late_errors`, which the
session's summary reports.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import trio

from .commands import Command
from .oneshot import OneshotReceiver, OneshotSender, SenderClosedError, oneshot
from .results import ErrorKind, FatalError, fatal

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class Actor(Protocol[R_co]):  # R_co: what the actor reports, for the parent's benefit
    """Anything with a name that runs from a control channel and reports through a one-shot."""

    name: str

    async def run(
        self, control: trio.MemoryReceiveChannel[Command], report: OneshotSender[Any]
    ) -> None: ...


class Child(Generic[R]):
    """The parent's handle on a running child actor."""

    __slots__ = ("_control", "_result", "name", "scope")

    def __init__(
        self,
        name: str,
        control: trio.MemorySendChannel[Command],
        result: OneshotReceiver[R],
        scope: trio.CancelScope,
    ) -> None:
        self.name = name
        self._control = control
        self._result = result
        self.scope = scope

    def tell(self, command: Command) -> None:
        """Send a command without blocking; a child that has already finished ignores it."""
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            self._control.send_nowait(command)

    def result_nowait(self) -> R | None:
        """The report if it has already arrived (after a cancellation, say), else None."""
        try:
            return self._result.receive_nowait()
        except (trio.WouldBlock, SenderClosedError):
            return None

    async def result(self) -> R | FatalError:
        """Await the child's report; a child lost without reporting is a typed error."""
        try:
            return await self._result.receive()
        except SenderClosedError as exc:
            return fatal(ErrorKind.channel_closed, f"{self.name} ended without reporting", exc)


def obey_pending(
    control: trio.MemoryReceiveChannel[Command], obey: Callable[[Command], None]
) -> None:
    """Obey the commands already waiting (sent along with the work, or before the actor's
    first checkpoint), so that they hold before anything starts."""
    while True:
        try:
            command = control.receive_nowait()
        except (trio.WouldBlock, trio.EndOfChannel):
            return
        obey(command)


def split_failure(exc: BaseException) -> tuple[Exception | None, BaseException | None]:
    """(the `Exception` part of `exc`, the rest): either may be None. A group is split
    leaf-wise, so a `BaseExceptionGroup[Cancelled, ValueError]` gives the ValueError (in a
    group) as the failure and the Cancelled (in a group) to propagate."""
    if isinstance(exc, Exception):
        return exc, None
    if isinstance(exc, BaseExceptionGroup):
        failure, rest = exc.split(Exception)
        return failure, rest
    return None, exc


def contains(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether `exc` is, or is a group holding (at any depth), an exception of `kind`."""
    if isinstance(exc, kind):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return exc.subgroup(kind) is not None
    return False


def first_of(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first leaf exception of `kind` in `exc` (itself, if it is one), or None."""
    if isinstance(exc, kind):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = first_of(inner, kind)
            if found is not None:
                return found
    return None


async def _guarded(
    actor: Actor[Any],
    control: trio.MemoryReceiveChannel[Command],
    report: OneshotSender[Any],
    scope: trio.CancelScope,
    late: list[BaseException] | None,
) -> None:
    with scope, report, control:
        try:
            await actor.run(control, report)
        except BaseException as exc:
            failure, rest = split_failure(exc)
            if failure is not None:
                if not report.sent:
                    report.send(fatal(ErrorKind.internal, f"{actor.name} crashed", failure))
                elif late is not None:
                    late.append(failure)
            if rest is not None:
                if rest is exc:
                    raise
                raise rest from None


def spawn(
    nursery: trio.Nursery,
    actor: Actor[R],
    first: Command | None = None,
    *,
    late_errors: list[BaseException] | None = None,
) -> Child[R]:
    """Start `actor` in `nursery` (owned by the parent) and send it `first`, if given.

    A failure the actor raises after reporting is appended to `late_errors`, if given."""
    send, receive = trio.open_memory_channel[Command](math.inf)
    sender: OneshotSender[R]
    receiver: OneshotReceiver[R]
    sender, receiver = oneshot()
    scope = trio.CancelScope()
    nursery.start_soon(_guarded, actor, receive, sender, scope, late_errors, name=actor.name)
    child: Child[R] = Child(actor.name, send, receiver, scope)
    if first is not None:
        child.tell(first)
    return child
