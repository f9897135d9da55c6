"""A single-use result channel: one value, sent once, received once, never a hang.

A child actor reports to its parent through a one-shot. If the child exits without reporting
(the sender is closed explicitly, by ``with sender:``, or by garbage collection), the parent's
``receive()`` raises `SenderClosedError` at once instead of waiting forever.

    sender, receiver = oneshot()
    with sender:                      # closing without a send wakes the receiver with an error
        sender.send(value)
    value = await receiver.receive()
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Generic, TypeVar

import trio

T = TypeVar("T")

_EMPTY = object()


class OneshotError(Exception):
    """Base class of the one-shot's errors."""


class AlreadySentError(OneshotError):
    """Raised by `OneshotSender.send` when a value was already sent or the sender was closed."""


class AlreadyReceivedError(OneshotError):
    """Raised by `OneshotReceiver.receive` when the value was already received."""


class SenderClosedError(OneshotError):
    """Raised by `OneshotReceiver.receive` when the sender was closed without sending."""


class _State(Generic[T]):
    __slots__ = ("closed", "event", "received", "value")

    def __init__(self) -> None:
        self.value: object = _EMPTY
        self.closed = False
        self.received = False
        self.event = trio.Event()


class OneshotSender(Generic[T]):
    """The sending half; `send` is synchronous so it works even while being cancelled."""

    __slots__ = ("_state",)

    def __init__(self, state: _State[T]) -> None:
        self._state = state

    @property
    def sent(self) -> bool:
        return self._state.value is not _EMPTY

    @trio.lowlevel.enable_ki_protection
    def send(self, value: T) -> None:
        # Protected as trio's channels are: a Ctrl-C between marking the value sent and
        # waking the receiver would leave the receiver waiting for a value that never comes.
        state = self._state
        if state.value is not _EMPTY:
            raise AlreadySentError("a one-shot carries one value; it was already sent")
        if state.closed:
            raise AlreadySentError("the one-shot sender is closed")
        state.value = value
        state.closed = True
        state.event.set()

    @trio.lowlevel.enable_ki_protection
    def close(self) -> None:
        """Close without sending (if nothing was sent): the receiver then raises at once."""
        state = self._state
        if not state.closed:
            state.closed = True
            state.event.set()

    def __enter__(self) -> OneshotSender[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # A sender dropped without a send must not leave its receiver hanging. Event.set()
        # needs a running trio loop; outside one nobody can be waiting, so there is no one to wake.
        state = self._state
        if not state.closed:
            state.closed = True
            with contextlib.suppress(RuntimeError):
                state.event.set()


class OneshotReceiver(Generic[T]):
    """The receiving half."""

    __slots__ = ("_state",)

    def __init__(self, state: _State[T]) -> None:
        self._state = state

    async def receive(self) -> T:
        """Wait for the value; raise `SenderClosedError` if the sender closed without one."""
        state = self._state
        if state.received:
            raise AlreadyReceivedError("a one-shot's value can be received once")
        await state.event.wait()
        return self.receive_nowait()

    def receive_nowait(self) -> T:
        """The value if it has arrived; raise `trio.WouldBlock` if the sender is still open."""
        state = self._state
        if state.received:
            raise AlreadyReceivedError("a one-shot's value can be received once")
        if state.value is _EMPTY:
            if state.closed:
                raise SenderClosedError("the sender was closed without sending a value")
            raise trio.WouldBlock
        state.received = True
        value: T = state.value  # type: ignore[assignment]
        state.value = None
        return value


def oneshot() -> tuple[OneshotSender[T], OneshotReceiver[T]]:
    """Create a connected (sender, receiver) pair, as `trio.open_memory_channel` does."""
    state: _State[T] = _State()
    return OneshotSender(state), OneshotReceiver(state)
