"""One parse process as the crawl sees it (`parsing.ParsePool` runs them): its pipes, their
reader and writer tasks, and the pages in flight on it, each waiting for its answer.

Answers come in the order pages were sent, so when a worker dies the oldest page it had is the
likely cause (`Worker.lost`).
"""

from __future__ import annotations

from typing import Any

import trio

from .parse_worker import frames


class Waiting:
    """A page sent to a worker, until its answer comes (or the worker is gone)."""

    __slots__ = ("done", "ok", "sent", "took_down", "url", "value")

    def __init__(self, url: str, sent: float) -> None:
        self.done = trio.Event()
        self.ok: bool | None = None  # None: parse it in the crawl
        self.value: Any = None
        self.url = url
        self.sent = sent
        self.took_down = False  # its worker died while parsing it


class Worker:
    """One child process and its two pipes; its own reader and writer tasks."""

    def __init__(self, process: trio.Process, number: int) -> None:
        self.process = process
        self.number = number
        self.ready = False
        self.settled = trio.Event()  # ready, or gone
        self.pending: dict[int, Waiting] = {}
        self.outbox: list[bytes] = []
        self.wake = trio.lowlevel.ParkingLot()
        self.wake_watch = trio.lowlevel.ParkingLot()
        self.answered = trio.current_time()  # when it last answered (or started)
        self.stuck = False
        self.was_ready = False
        self.retired = False  # out of service: no page is sent to it any more
        self.restart = False  # a new worker takes its place

    def send(self, data: bytes) -> None:
        self.outbox.append(data)
        if self.wake:
            self.wake.unpark()
        if self.wake_watch:
            self.wake_watch.unpark()

    async def write_loop(self) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        while True:
            if not self.outbox:
                await self.wake.park()
                continue
            data = b"".join(self.outbox)
            self.outbox.clear()
            await stdin.send_all(data)

    async def read_loop(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        buffer = bytearray()
        async for chunk in stdout:
            buffer += chunk
            for ident, ok, value in frames(buffer):
                if ident == 0:
                    if not ok:
                        raise RuntimeError(f"parse process {self.number}: {value}")
                    self.ready = self.was_ready = True
                    self.settled.set()
                    continue
                self.answered = trio.current_time()
                waiting = self.pending.pop(ident, None)
                if waiting is not None:  # else its parse was cancelled
                    waiting.ok, waiting.value = ok, value
                    waiting.done.set()

    def lost(self, *, died: bool = False) -> None:
        """The worker is gone: everything it had goes back to the crawl. When it `died`, the
        page it was on (the oldest sent: it answers in order) is marked as the likely cause."""
        self.ready = False
        self.settled.set()
        first = died
        for waiting in self.pending.values():
            waiting.took_down, first = first, False
            waiting.done.set()
        self.pending.clear()


async def stop(process: trio.Process) -> None:
    if process.returncode is None:
        process.kill()
    await process.wait()
