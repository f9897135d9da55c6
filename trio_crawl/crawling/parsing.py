"""Where a crawl's pages are parsed: in worker processes when it pays, in the crawl otherwise.

Parsing is the largest single cost of a page after HTTP (~140 µs a Matter detail page, ~200 µs
a list page, against ~600 µs for everything else a page costs), and it is plain CPU work on
bytes already fetched, so another core can do it while the crawl's own thread goes on fetching.
Threads cannot: the parsers hold the GIL, and handing work to a trio thread costs more than the
parse. `ParsePool` runs ``[concurrency] parse_processes`` children (`parse_worker`), sends
each page's response down a pipe and waits for its record; the crawl's thread spends ~20 µs a
page on that instead of the parse. Measured on the benchmark's 2-core VM, where the server
left most of the second core idle: see ``benchmarks/results/latest.md``.

What it guarantees, so that it can be on by default:

- **Same answers.** A record, or the very exception, the site's parser gave; a `StageError`
  keeps its kind. A record or error that pickle cannot carry is parsed again in the crawl.
- **Nothing waits on a process.** Pages parse in the crawl until a worker says it is ready
  (start-up is ~0.3 s of the other core), and for good once no worker is left: a worker that
  dies (killed, crashed) hands its pages in flight back to be parsed in the crawl, with a
  warning. A site pickle cannot carry, or that does not load in the child (defined in
  ``__main__``, say), is parsed in the crawl from the start.
- **Structured lifetime.** The workers are children of the pool's block and killed when it
  ends, however it ends; a worker whose crawl dies by SIGKILL sees its input end and exits.
  A cancelled parse just stops waiting (its answer is dropped when it comes).
- With one core, or ``parse_processes = 0``, there are no workers at all; nor under a trio
  `MockClock` (a test's clock): its autojump would count a worker's real time as idle time and
  fire the crawl's timeouts while a page is being parsed.
"""

from __future__ import annotations

import itertools
import logging
import os
import pickle
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from ..sites.protocol import Site
from ..sites.records import ListPage
from ..sites.response import Response
from .parse_worker import frame, frames

log = logging.getLogger(__name__)

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
"""The folder trio_crawl is imported from, so that the child imports this very trio_crawl."""


def default_processes(configured: int) -> int:
    """How many parse processes to run: as configured, none on a single core or a mock clock."""
    if (os.cpu_count() or 1) < 2 or _on_mock_clock():
        return 0
    return configured


def _on_mock_clock() -> bool:
    # Importing trio.testing to ask would import pytest (~90 ms, in the crawl's thread, measured
    # as 5 % of a benchmark crawl); a MockClock comes from trio.testing, so none exists without it.
    testing = sys.modules.get("trio.testing")
    return testing is not None and isinstance(trio.lowlevel.current_clock(), testing.MockClock)


class _Waiting:
    """A page sent to a worker, until its answer comes (or the worker is gone)."""

    __slots__ = ("done", "ok", "value")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.ok: bool | None = None  # None: parse it in the crawl
        self.value: Any = None


class _Worker:
    """One child process and its two pipes; its own reader and writer tasks."""

    def __init__(self, process: trio.Process, number: int) -> None:
        self.process = process
        self.number = number
        self.ready = False
        self.settled = trio.Event()  # ready, or gone
        self.pending: dict[int, _Waiting] = {}
        self.outbox: list[bytes] = []
        self.wake = trio.lowlevel.ParkingLot()

    def send(self, data: bytes) -> None:
        self.outbox.append(data)
        if self.wake:
            self.wake.unpark()

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

    async def read_loop(self, pool: ParsePool) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        buffer = bytearray()
        async for chunk in stdout:
            buffer += chunk
            for ident, ok, value in frames(buffer):
                if ident == 0:
                    if not ok:
                        raise RuntimeError(f"parse process {self.number}: {value}")
                    self.ready = True
                    self.settled.set()
                    continue
                waiting = self.pending.pop(ident, None)
                if waiting is not None:  # else its parse was cancelled
                    waiting.ok, waiting.value = ok, value
                    waiting.done.set()

    def lost(self) -> None:
        """The worker is gone: everything it had goes back to the crawl."""
        self.ready = False
        self.settled.set()
        for waiting in self.pending.values():
            waiting.done.set()
        self.pending.clear()


class ParsePool:
    """Parses pages of `site`: `parse_list` and `parse_detail` as the site's own methods,
    awaited. Open it with `ParsePool.open`."""

    def __init__(self, site: Site[Any]) -> None:
        self.site = site
        self.workers: list[_Worker] = []
        self.closing = False
        self.in_workers = 0
        """Pages a worker parsed (the rest were parsed in the crawl)."""
        self.in_crawl = 0
        self._ids = itertools.count(1)

    @classmethod
    @asynccontextmanager
    async def open(cls, site: Site[Any], processes: int) -> AsyncIterator[ParsePool]:
        pool = cls(site)
        try:
            pickled_site = pickle.dumps(site, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            if processes:
                log.info("pages are parsed in the crawl: the site does not pickle (%r)", exc)
            processes = 0
        if processes == 0:
            yield pool
            return
        raised: BaseException | None = None
        async with trio.open_nursery() as nursery:
            try:
                for number in range(1, processes + 1):
                    worker = await pool._start(number, pickled_site)
                    nursery.start_soon(pool._run, worker)
                try:
                    yield pool
                except GeneratorExit:
                    raise
                except BaseException as exc:  # re-raised as it was, not in a group
                    raised = exc
            finally:
                pool.closing = True
                log.debug(
                    "pages parsed: %d in parse processes, %d in the crawl",
                    pool.in_workers,
                    pool.in_crawl,
                )
                with trio.CancelScope(shield=True):
                    for worker in pool.workers:
                        worker.lost()
                        await _stop(worker.process)
                nursery.cancel_scope.cancel()
        if raised is not None:
            raise raised

    async def _start(self, number: int, pickled_site: bytes) -> _Worker:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p
        )
        process = await trio.lowlevel.open_process(
            [sys.executable, "-m", "trio_crawl.crawling.parse_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        worker = _Worker(process, number)
        worker.send(frame((list(sys.path), pickled_site)))
        self.workers.append(worker)
        return worker

    async def _run(self, worker: _Worker) -> None:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(worker.write_loop)
                await worker.read_loop(self)
                nursery.cancel_scope.cancel()
            reason = "its output ended"
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            reason = f"its pipe broke ({exc!r})"
        except Exception as exc:  # a garbled frame, or the site did not load there
            reason = repr(exc)
        worker.lost()
        unexpected = not self.closing
        await _stop(worker.process)
        if not unexpected:
            return
        log.warning(
            "parse process %d stopped (%s, exit code %s): its pages are parsed in the crawl",
            worker.number,
            reason,
            worker.process.returncode,
        )

    async def started(self) -> int:
        """Wait until every worker is ready or gone; how many are ready (tests use it: until
        then, pages are parsed in the crawl)."""
        for worker in self.workers:
            await worker.settled.wait()
        return sum(worker.ready for worker in self.workers)

    async def parse_list(self, response: Response) -> ListPage:
        record: ListPage = await self._parse("list", response)
        return record

    async def parse_detail(self, response: Response) -> Any:
        return await self._parse("detail", response)

    async def _parse(self, kind: str, response: Response) -> Any:
        worker = self._choose()
        if worker is not None:
            ident = next(self._ids)
            waiting = worker.pending[ident] = _Waiting()
            worker.send(
                frame((ident, kind, response.url, response.status, response.body, response.headers))
            )
            try:
                await waiting.done.wait()
            finally:
                worker.pending.pop(ident, None)
            if waiting.ok is not None:
                self.in_workers += 1
                if waiting.ok:
                    return waiting.value
                raise waiting.value
        self.in_crawl += 1
        site = self.site
        return site.parse_list(response) if kind == "list" else site.parse_detail(response)

    def _choose(self) -> _Worker | None:
        """The ready worker with the fewest pages waiting, if any."""
        best = None
        for worker in self.workers:
            if worker.ready and (best is None or len(worker.pending) < len(best.pending)):
                best = worker
        return best


async def _stop(process: trio.Process) -> None:
    if process.returncode is None:
        process.kill()
    await process.wait()
