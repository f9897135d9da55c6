"""Every worker's session events in one Redis stream, `{prefix}:events`, for the web page that
shows the whole crawl (`distributed/crawl_page.py`).

Publishing never holds the crawl up. The publisher is one more subscriber of each batch's
session (the engine never blocks on a subscriber); what it takes goes, as a small JSON-ready
record, into a bounded buffer in memory, and a task of its own writes the buffer to Redis. A
slow or silent Redis fills the buffer, not the crawl: further records are dropped and counted
(`dropped`), and the worker's last flush is bounded (`drain`). The stream is capped
(``XADD … MAXLEN ~``), so a long crawl does not grow it without end.

Progress events (item progress, heartbeats) are not published: the page counts finished
batches, which the lifecycle events carry, and the engine may drop progress anyway.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import coredis
import coredis.exceptions
import trio

from ..engine import events as ev

logger = logging.getLogger(__name__)

KEPT = 10_000
"""Events the stream keeps (approximately: ``MAXLEN ~``)."""

BUFFER = 1000
"""Records a worker holds for Redis before it drops new ones."""

RETRY_SECS = 1.0
"""After Redis refused a write, the next is tried this much later (meanwhile records drop)."""

FLUSH_SECS = 5.0
"""How long a worker that ends waits for Redis to take what its buffer holds."""


def event_record(worker: str, session_id: str, event: ev.Event) -> dict[str, str]:
    """The stream entry for `event`: who, which session, what, and its fields as JSON (a
    final event's summary as its counts)."""
    data = {
        name: value
        for name, value in attrs.asdict(event, recurse=False).items()
        if name not in ("seq", "ts", "summary")
    }
    if isinstance(event, ev.SessionEnded):
        summary = event.summary
        for name in ("pages_ok", "pages_failed", "products_saved", "products_failed", "retries"):
            data[name] = getattr(summary, name, 0)
        data["reason"] = getattr(summary, "reason", "")
    return {
        "worker": worker,
        "session": session_id,
        "seq": str(event.seq),
        "ts": repr(event.ts),
        "type": type(event).__name__,
        "data": json.dumps(data, default=str, separators=(",", ":")),
    }


class EventPublisher:
    """One worker's events, from every batch session it runs, to `{prefix}:events`."""

    def __init__(
        self, client: coredis.Redis[str], prefix: str, worker: str, *, buffer: int = BUFFER
    ) -> None:
        self.client = client
        self.stream = f"{prefix}:events"
        self.worker = worker
        self.buffer: deque[dict[str, str]] = deque()
        self.capacity = buffer
        self.dropped = 0
        self.published = 0
        self.failed = 0
        self._waiting = trio.Event()
        self._drained = trio.Event()  # set while the buffer is empty
        self._drained.set()
        self._follows = itertools.count(1)

    def record(self, session_id: str, event: ev.Event) -> None:
        """Queue `event` for Redis at once, never waiting; dropped (and counted) when full."""
        self._put(event_record(self.worker, session_id, event))

    def joined(self) -> None:
        """Say that this worker has joined the crawl, so that the page lists it before its
        first batch (one that takes no batch at all is still one of the crawl's workers)."""
        joined = f"joined/{self.worker}/{time.time_ns()}"
        self._put(
            {"worker": self.worker, "session": joined, "seq": "0", "ts": repr(time.time()),
             "type": "WorkerJoined", "data": "{}"}
        )  # fmt: skip

    def _put(self, record: dict[str, str]) -> None:
        if len(self.buffer) >= self.capacity:
            self.dropped += 1
            return
        self.buffer.append(record)
        if self._drained.is_set():
            self._drained = trio.Event()
        self._waiting.set()

    async def follow(self, session_id: str, subscription: ev.Subscription) -> None:
        """Record a session's events until its last one. Every batch session of a round runs
        under the round's crawl id and numbers its events from the start, so each followed
        session is told apart by the worker and a count: the page folds an event once by it."""
        run = f"{session_id}/{self.worker}/{next(self._follows)}"
        async with subscription:
            async for event in subscription:
                if not event.droppable and not isinstance(event, ev.EventsLost):
                    self.record(run, event)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Write the buffer to Redis as it fills, until cancelled."""
        task_status.started()
        while True:
            await self._waiting.wait()
            self._waiting = trio.Event()
            try:
                await self._write()
            except (coredis.exceptions.RedisError, OSError) as exc:
                # The page loses these events; the crawl must not lose its worker for them.
                if not self.failed:
                    logger.warning("%s: events not published to Redis: %s", self.worker, exc)
                self.failed += 1
                self.dropped += len(self.buffer)
                self.buffer.clear()
                self._drained.set()
                await trio.sleep(RETRY_SECS)
                continue
            if not self.buffer:
                self._drained.set()

    async def _write(self) -> None:
        while self.buffer:
            record = self.buffer[0]
            await self.client.xadd(
                self.stream,
                record,
                trim_strategy=coredis.PureToken.MAXLEN,
                threshold=KEPT,
                trim_operator=coredis.PureToken.APPROXIMATELY,
            )
            self.buffer.popleft()
            self.published += 1

    async def drain(self, wait_secs: float = FLUSH_SECS) -> None:
        """Let the writing task empty the buffer, for at most `wait_secs` (never cancelling a
        write half done, which Redis may have taken: it would be written twice); what is
        still in the buffer then is dropped."""
        with trio.move_on_after(wait_secs):
            await self._drained.wait()
        self.dropped += len(self.buffer)
        self.buffer.clear()


@asynccontextmanager
async def publishing(
    client: coredis.Redis[str], prefix: str, worker: str
) -> AsyncIterator[EventPublisher]:
    """A publisher writing to Redis while the block runs; on leaving, its bounded last flush."""
    publisher = EventPublisher(client, prefix, worker)
    async with trio.open_nursery() as nursery:
        await nursery.start(publisher.run)
        publisher.joined()
        try:
            yield publisher
        finally:
            with trio.CancelScope(shield=True):
                await publisher.drain()
            nursery.cancel_scope.cancel()
