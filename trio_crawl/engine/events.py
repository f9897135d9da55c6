"""Typed session events and the bus that fans them out without ever blocking the crawl.

Every event carries `seq` (strictly increasing within a session) and `ts` (wall-clock seconds).
Publishing is synchronous: it appends to each subscriber's bounded buffer. When a buffer is
full, *progress* events (item progress, heartbeats) are dropped for that subscriber only, the
loss is counted and reported to it as one `EventsLost` before its next event; lifecycle events
(and therefore the final session event) are always delivered.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, ClassVar, TypeVar

import attrs
import trio


@attrs.frozen
class Event:
    seq: int
    ts: float
    droppable: ClassVar[bool] = False


@attrs.frozen
class SessionStarted(Event):
    session_id: str


@attrs.frozen
class SessionPaused(Event):
    pass


@attrs.frozen
class SessionResumed(Event):
    pass


@attrs.frozen
class StopRequested(Event):
    """The session is stopping: the stop that holds (the first), whether in-flight work may
    still finish (graceful), and how many seconds of grace are left for draining."""

    status: str
    reason: str
    graceful: bool
    grace_left: float


@attrs.frozen
class PlanReady(Event):
    """The planner's answer: how many batches and first-stage items the session will run, and
    the counts (`expected`) the session must reach to call itself completed."""

    batches: int
    items: int
    expected: tuple[tuple[str, int], ...] = ()
    note: str = ""


@attrs.frozen
class SessionEnded(Event):
    """Base of the final events; exactly one of them ends every session's stream."""

    status: str
    summary: Any


@attrs.frozen
class SessionCompleted(SessionEnded):
    pass


@attrs.frozen
class SessionFailed(SessionEnded):
    pass


@attrs.frozen
class SessionCancelled(SessionEnded):
    pass


@attrs.frozen
class SessionTimedOut(SessionEnded):
    pass


@attrs.frozen
class BatchStarted(Event):
    batch_id: int
    items: int


@attrs.frozen
class BatchCompleted(Event):
    batch_id: int
    outcome: str
    items_ok: int
    items_failed: int


@attrs.frozen
class BatchFailed(Event):
    batch_id: int
    kind: str
    message: str


@attrs.frozen
class StageStarted(Event):
    batch_id: int
    stage: str
    items: int


@attrs.frozen
class StageRetrying(Event):
    batch_id: int
    stage: str
    attempt: int
    delay: float
    kind: str
    reason: str


@attrs.frozen
class StageCompleted(Event):
    batch_id: int
    stage: str
    outcome: str
    items_ok: int
    items_failed: int
    retries: int
    elapsed: float


@attrs.frozen
class ItemFailed(Event):
    """An item given up on: it is in the summary's `failed_items` with these same fields.
    Published once per item, as soon as the engine knows (a stage that ran out of retries at
    once; items a stop or a crash left unfinished when their stage, batch or session reports).
    `item` names it for people: its URL when it has one, else its repr."""

    batch_id: int
    stage: str
    item: str
    url: str | None
    kind: str
    attempts: int
    message: str


@attrs.frozen
class ItemProgress(Event):
    """Grouped progress of one stage: counts so far, not one event per item. `failed` holds
    the items that failed; the items a stop cut short are `cancelled`, never failed."""

    droppable: ClassVar[bool] = True
    batch_id: int
    stage: str
    done: int
    failed: int
    total: int
    retries: int
    cancelled: int = 0


@attrs.frozen
class Heartbeat(Event):
    droppable: ClassVar[bool] = True
    elapsed: float


@attrs.frozen
class ConfigReloaded(Event):
    path: str
    changed: tuple[str, ...]


@attrs.frozen
class ConfigRejected(Event):
    path: str
    error: str


@attrs.frozen
class EventsLost(Event):
    """Told to one subscriber: `count` progress events were dropped because it read too slowly.
    Its `seq` is that of the last dropped event, so each stream stays strictly increasing."""

    count: int


E = TypeVar("E", bound=Event)


class Subscription:
    """One subscriber's bounded view of the bus; async-iterate it for events."""

    def __init__(self, bus: EventBus, capacity: int) -> None:
        self._bus = bus
        self._capacity = capacity
        self._buffer: deque[Event] = deque()
        self._lost = 0
        self._lost_seq = 0
        self._closed = False
        self._lot = trio.lowlevel.ParkingLot()
        self.lost_total = 0

    def _offer(self, event: Event) -> None:
        if self._closed:
            return
        if event.droppable and len(self._buffer) >= self._capacity:
            self._lost += 1
            self.lost_total += 1
            self._lost_seq = event.seq
            return
        if self._lost:
            self._buffer.append(EventsLost(self._lost_seq, event.ts, self._lost))
            self._lost = 0
        self._buffer.append(event)
        if self._lot:
            self._lot.unpark_all()

    def _end(self) -> None:
        self._closed = True
        if self._lot:
            self._lot.unpark_all()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        while not self._buffer:
            if self._closed:
                raise StopAsyncIteration
            await self._lot.park()
        return self._buffer.popleft()

    def receive_nowait(self) -> Event:
        """The next buffered event; raise `trio.WouldBlock` if none is buffered."""
        if not self._buffer:
            raise trio.WouldBlock
        return self._buffer.popleft()

    def close(self) -> None:
        self._end()
        self._bus._unsubscribe(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class EventBus:
    """Assigns sequence numbers and fans events out; never awaits. A subscriber that comes
    after the session started gets `SessionStarted` first all the same: every subscriber's
    story (a log file, say) begins with it."""

    def __init__(self, buffer: int = 1000) -> None:
        self._seq = 0
        self._buffer = buffer
        self._subs: list[Subscription] = []
        self._ended = False
        self._started: SessionStarted | None = None
        self.last_emit = 0.0

    @property
    def seq(self) -> int:
        return self._seq

    def subscribe(self, buffer: int | None = None) -> Subscription:
        sub = Subscription(self, buffer if buffer is not None else self._buffer)
        if self._ended:
            sub._end()
        else:
            if self._started is not None:
                sub._offer(self._started)
            self._subs.append(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    def emit(self, cls: type[E], *args: Any, **kwargs: Any) -> E | None:
        """Build and publish an event; progress events are not even built for nobody."""
        self._seq += 1
        self.last_emit = trio.current_time()
        if not self._subs and cls.droppable:
            return None
        event = cls(self._seq, time.time(), *args, **kwargs)
        if isinstance(event, SessionStarted):
            self._started = event
        for sub in self._subs:
            sub._offer(event)
        return event

    def end(self) -> None:
        """After the final event: subscribers drain what they have, then their iteration stops."""
        self._ended = True
        for sub in self._subs:
            sub._end()
        self._subs.clear()

    async def heartbeat(self, every: float, started_at: float) -> None:
        """Emit a `Heartbeat` after every `every` seconds without any other event."""
        while True:
            await trio.sleep_until(self.last_emit + every)
            if trio.current_time() >= self.last_emit + every:
                self.emit(Heartbeat, trio.current_time() - started_at)
