"""Between one session and many browsers: the hub folds the session's events once, and each
browser's stream takes from it at its own pace.

The hub is one more subscriber of the event bus; it never awaits a browser, so a stalled page
costs the crawl nothing. It keeps the entries (failures, retries, pauses, stops, ...) in a log
and publishes the state as numbered *frames*, at most one per `update_secs`. A stream sends
every entry after its cursor, then the newest frame; frames it had no time to send are skipped
and counted as lost for it. Entries are never skipped while they are in the log; a client so
far behind that its next entry has left the log gets a whole snapshot instead.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, Protocol

import attrs
import trio

from ...engine import events as ev
from .live import FAILURES_KEPT, NOTES_KEPT, RETRIES_KEPT, LiveView

LOG_KEPT = 20_000
"""Entries a reconnecting page can still be sent one by one (older: a snapshot)."""


class Steerable(Protocol):
    """What the page needs of a session (`trio_crawl.engine.Session` is one)."""

    @property
    def session_id(self) -> str: ...

    def events(self, buffer: int | None = None) -> ev.Subscription: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def cancel(self, reason: str = "cancelled") -> None: ...
    def shutdown(self, graceful: bool = True) -> None: ...

    @property
    def done(self) -> bool: ...


@attrs.define
class StreamStats:
    """One browser stream: what it was sent and what it missed."""

    number: int
    frames_sent: int = 0
    frames_lost: int = 0
    entries_sent: int = 0
    snapshots_sent: int = 0
    connected: bool = True
    last_frame: int = -1

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class Message:
    """One server-sent event: its name, id and JSON-ready data."""

    name: str
    id: int
    data: dict[str, Any]


class LiveHub:
    """The page's view of one session (attached once it opens) and the streams reading it."""

    def __init__(self, *, update_secs: float = 0.25, chart_secs: float = 1.0) -> None:
        self.update_secs = update_secs
        self.chart_secs = chart_secs
        self.view = LiveView()
        self.session: Steerable | None = None
        self.log: deque[dict[str, Any]] = deque(maxlen=LOG_KEPT)
        self.frame = 0
        self._frame_state: dict[str, Any] = {}
        self._version = 0
        self._framed_version = -1
        self._changed = trio.Event()
        self.closing = trio.Event()
        self.ended = trio.Event()
        self.streams: list[StreamStats] = []
        self.epoch = 0
        self._nursery: trio.Nursery | None = None

    # -- the session side ----------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Make frames and chart points until cancelled; sessions attach meanwhile."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self._framer)
            nursery.start_soon(self._charter)
            task_status.started()
            await trio.sleep_forever()

    async def close(self, wait_secs: float = 2.0) -> None:
        """End the streams, once the session's last event is folded (or after `wait_secs`)."""
        if self.session is not None:
            with trio.move_on_after(wait_secs):
                await self.ended.wait()
        self.closing.set()
        self._notify()

    def attach(self, session: Steerable, buffer: int = 100_000) -> None:
        """Follow `session` from now on. Call it right after the session opens, before any
        await, so that the page sees its first event."""
        assert self._nursery is not None, "start LiveHub.run first"
        if self.session is not None:
            # Another session: the page starts over (streams are sent a new snapshot).
            self.epoch += 1
            self.view = LiveView()
            self.log.clear()
            self.ended = trio.Event()
        self.session = session
        subscription = session.events(buffer)
        # Its first events may be gone already (an open_session that awaits before its block).
        self.view.dash.session_id = session.session_id
        self._nursery.start_soon(self._follow, subscription)

    async def _follow(self, subscription: ev.Subscription) -> None:
        epoch = self.epoch
        async with subscription:
            async for event in subscription:
                if self.epoch != epoch:
                    return
                entry = self.view.apply(event)
                if entry is not None:
                    self.log.append(entry)
                self._version += 1
                if entry is not None or isinstance(event, ev.SessionEnded):
                    self._make_frame()
                    self._notify()
        self.view.tick(time.time())
        self._make_frame()
        self.ended.set()
        self._notify()

    def _notify(self) -> None:
        changed, self._changed = self._changed, trio.Event()
        changed.set()

    def _make_frame(self) -> None:
        self.frame += 1
        self._framed_version = self._version
        self._frame_state = self.view.state()

    async def _framer(self) -> None:
        while True:
            await trio.sleep(self.update_secs)
            if self._version != self._framed_version or (
                self.session is not None and not self.ended.is_set()
            ):
                # While a session runs, the clock (elapsed, ETA) moves even without events.
                self._make_frame()
                self._notify()

    async def _charter(self) -> None:
        while True:
            await trio.sleep(self.chart_secs)
            if self.session is not None and not self.ended.is_set():
                self.view.tick(time.time())
                self._version += 1

    # -- controls ------------------------------------------------------------------------

    def control(self, action: str) -> str:
        """Send `action` to the session exactly as its own methods do; "" when sent, else why
        not. The page shows the outcome from the session's events, not from this answer."""
        session = self.session
        if session is None:
            return "no session is running"
        if session.done:
            return "the session has ended"
        if action == "pause":
            session.pause()
        elif action == "resume":
            session.resume()
        elif action == "cancel":
            # Graceful: items in flight finish (and are saved); nothing new starts.
            session.shutdown(graceful=True)
        elif action == "stop":
            # Hard: items in flight are cancelled; what finished is still saved.
            session.cancel("stopped from the web page")
        else:
            return f"unknown action {action!r}"
        return ""

    # -- the browser side ----------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        data = self.view.snapshot()
        data["mode"] = "live" if self.session is not None else "waiting"
        data["limits"] = {
            "failures": FAILURES_KEPT,
            "retries": RETRIES_KEPT,
            "notes": NOTES_KEPT,
        }
        return data

    async def read(self) -> dict[str, Any]:
        return self.snapshot()

    def _entries_after(self, seq: int) -> list[dict[str, Any]] | None:
        """The logged entries with a `seq` above `seq`; None when some have left the log."""
        log = self.log
        if not log or log[-1]["seq"] <= seq:
            return []
        if log.maxlen is not None and len(log) == log.maxlen and log[0]["seq"] > seq + 1:
            return None
        return [entry for entry in log if entry["seq"] > seq]

    async def stream(self, last_seen: int | None = None) -> AsyncIterator[Message]:
        """One browser's messages: a snapshot (or, given the last `seq` it saw, the entries
        after it), then entries and frames as they come, until the hub closes (a stream that
        keeps up is sent everything up to the last frame first)."""
        stats = StreamStats(len(self.streams) + 1)
        self.streams.append(stats)
        try:
            cursor = -1
            frame = self.frame
            epoch = self.epoch
            resumed = None if last_seen is None else self._entries_after(last_seen)
            if resumed is None:
                stats.snapshots_sent += 1
                data = self.snapshot()
                cursor = data["seq"]
                stats.last_frame = frame
                yield Message("snapshot", cursor, data)
            else:
                cursor = last_seen if last_seen is not None else -1
                frame = -1
            while True:
                entries = self._entries_after(cursor)
                if entries is None or epoch != self.epoch:
                    epoch = self.epoch
                    stats.snapshots_sent += 1
                    data = self.snapshot()
                    cursor, frame = data["seq"], self.frame
                    stats.last_frame = frame
                    yield Message("snapshot", cursor, data)
                    continue
                for entry in entries:
                    cursor = entry["seq"]
                    stats.entries_sent += 1
                    yield Message("entry", cursor, entry)
                if self.frame != frame:
                    if self._entries_after(cursor):
                        # Folded while we wrote: entries go first, so that a frame never
                        # counts entries the page has not been sent yet.
                        continue
                    if frame >= 0 and self.frame > frame + 1:
                        stats.frames_lost += self.frame - frame - 1
                    frame = stats.last_frame = self.frame
                    stats.frames_sent += 1
                    # Its id is the last entry sent: a frame may be newer than entries still to
                    # come, and a reconnect must not skip them.
                    yield Message("state", cursor, self._frame_state)
                    # Coalesce: the next write waits, whatever arrives meanwhile.
                    with trio.move_on_after(self.update_secs):
                        await self.closing.wait()
                    continue
                if self.closing.is_set():
                    return  # after sending everything up to the last frame
                await self._wait_change()
        finally:
            stats.connected = False

    async def _wait_change(self) -> None:
        changed = self._changed
        async with trio.open_nursery() as nursery:

            async def closing() -> None:
                await self.closing.wait()
                nursery.cancel_scope.cancel()

            nursery.start_soon(closing)
            await changed.wait()
            nursery.cancel_scope.cancel()

    def stats(self) -> dict[str, Any]:
        """Each stream's counts; a stream stuck in a write is charged now with the frames it
        will skip (all but the newest published since its last)."""
        streams = []
        for stream in self.streams:
            data = stream.to_dict()
            if stream.connected and stream.last_frame >= 0:
                data["frames_lost"] += max(0, self.frame - stream.last_frame - 1)
            streams.append(data)
        return {
            "streams": streams,
            "frames": self.frame,
            "entries": len(self.log),
            "events_lost": self.view.lost,
        }
