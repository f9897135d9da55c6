"""Where a crawl's pages are parsed: in worker processes when it pays, in the crawl otherwise.

Parsing is the largest single cost of a page after HTTP, and it is plain CPU work on
bytes already fetched, so another core can do it while the crawl's own thread goes on fetching.
Threads cannot: the parsers hold the GIL, and handing work to a trio thread costs more than the
parse. `ParsePool` runs ``[concurrency] parse_processes`` children (`parse_worker`), sends
each page's response down a pipe and waits for its record, which costs the crawl's thread a
small part of the parse. Measured on the benchmark's 2-core VM, where the server left most of
the second core idle: see ``benchmarks/results/latest.md`` and ``code_figures.md`` beside it.

What it guarantees, so that it can be on by default:

- **Same answers.** A record, or the very exception, the site's parser gave; a `StageError`
  keeps its kind. A record or error that pickle cannot carry is parsed again in the crawl.
- **Nothing waits on a process.** Pages parse in the crawl until a worker says it is ready
  (a site imports neither trio nor the engine, so one starts quickly), and for good once
  no worker is left: a worker that dies (killed, crashed) hands its pages in flight back to
  be parsed in the crawl, with a warning, and a new worker starts in its place (at most
  `MAX_RESTARTS` times a session; a worker that never got ready is not replaced). A site
  pickle cannot carry, or that does not load in the child (defined in ``__main__``, say), is
  parsed in the crawl from the start, and so is every page when no process can be started.
- **No page can hold the crawl.** Parse time grows with the square of a page's nesting, so a
  page nested deeper than ``[crawl] max_page_nesting`` fails as ``parse_error: page too
  complex`` before any parser sees it (`complexity`). A page a worker has spent ``[crawl]
  parse_timeout_secs`` on fails the same way, and that worker is killed and replaced as if it
  had died. The page a worker died on is never parsed in the crawl's thread, where no cancel
  could stop it: a new worker tries it, and if that one dies too, it fails. Nor, while a worker
  is starting, is a page nested deeper than `INLINE_NESTING`: it waits for the worker. (With
  no worker at all, only ``max_page_nesting`` bounds what the crawl's thread parses.) A page
  that failed as too complex fails at once if it comes again (a retry), so it cannot kill
  worker after worker.
- **Structured lifetime.** The workers are children of the pool's block and killed when it
  ends, however it ends (a pipe that breaks as a worker is killed mid-write is expected, not
  an error); a worker whose crawl dies, even by SIGKILL, sees its input hang up and exits, also
  in the middle of a page. A cancelled parse just stops waiting (its answer is dropped when it
  comes).
- With one core, or ``parse_processes = 0``, there are no workers at all, nor in a frozen
  program (`default_processes`), nor under a trio `MockClock` (a test's clock): its autojump
  would count a worker's real time as idle time and fire the crawl's timeouts while a page is
  being parsed.
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

from ..engine.results import ErrorKind, StageError
from ..sites.protocol import Site
from ..sites.records import ListPage
from ..sites.response import Response
from .complexity import nesting_over
from .parse_process import Waiting, Worker, stop
from .parse_worker import frame

log = logging.getLogger(__name__)

STUCK_AFTER_SECS = 10.0
"""How long a worker may spend on one page before it is judged too complex (a Matter page
takes well under a millisecond); ``[crawl] parse_timeout_secs``."""

MAX_NESTING = 2000
"""The deepest element nesting a page may have to be parsed at all; ``[crawl]
max_page_nesting``."""

INLINE_NESTING = 256
"""The deepest nesting a page may have to be parsed in the crawl's thread while a worker is
on its way (starting, or replacing one): a deeper page waits for the worker, where a deadline
can stop it. Ordinary pages nest a few dozen deep."""

MAX_RESTARTS = 3
"""Workers started in place of stuck or dead ones, per pool; after that pages parse inline."""

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
"""The folder trio_crawl is imported from, so that the child imports this very trio_crawl."""


def default_processes(configured: int) -> int:
    """How many parse processes to run: as configured; none on a single core, under a mock
    clock, or in a frozen program (PyInstaller and the like: its `sys.executable` is the
    program itself, which ``-m trio_crawl.crawling.parse_worker`` would start again)."""
    if (os.cpu_count() or 1) < 2 or getattr(sys, "frozen", False) or _on_mock_clock():
        return 0
    return configured


def _on_mock_clock() -> bool:
    # Importing trio.testing to ask would import pytest, in the crawl's thread, at every session
    # start; a MockClock comes from trio.testing, so none exists without it.
    testing = sys.modules.get("trio.testing")
    return testing is not None and isinstance(trio.lowlevel.current_clock(), testing.MockClock)


class ParsePool:
    """Parses pages of `site`: `parse_list` and `parse_detail` as the site's own methods,
    awaited. Open it with `ParsePool.open`."""

    def __init__(
        self,
        site: Site[Any],
        stuck_after: float = STUCK_AFTER_SECS,
        max_nesting: int = MAX_NESTING,
    ) -> None:
        self.site = site
        self.workers: list[Worker] = []
        self.closing = False
        self.in_workers = 0
        """Pages a worker parsed (the rest were parsed in the crawl)."""
        self.in_crawl = 0
        self.restarts = 0
        """Workers started in place of stuck or dead ones."""
        self.stuck_after = stuck_after
        self.max_nesting = max_nesting
        self._refused: dict[str, str] = {}
        """Pages that failed as too complex, and why: they fail at once if they come again."""
        self._took_down: set[str] = set()
        """Pages a worker died on: never parsed in the crawl's thread, only by a worker."""
        self._ids = itertools.count(1)
        self._pickled_site = b""
        self._nursery: trio.Nursery | None = None
        self._starting = 0  # workers being started (their process not open yet)
        self._started = trio.lowlevel.ParkingLot()

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        site: Site[Any],
        processes: int,
        *,
        stuck_after: float = STUCK_AFTER_SECS,
        max_nesting: int = MAX_NESTING,
    ) -> AsyncIterator[ParsePool]:
        pool = cls(site, stuck_after, max_nesting)
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
        pool._pickled_site = pickled_site
        async with trio.open_nursery() as nursery:
            pool._nursery = nursery
            try:
                for number in range(1, processes + 1):
                    pool._starting += 1
                    await pool._start(number)
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
                        await stop(worker.process)
                nursery.cancel_scope.cancel()
        if raised is not None:
            raise raised

    async def _start(self, number: int) -> None:
        """Start worker `number`; the caller counted it in `_starting`."""
        try:
            if self.closing:
                return
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p
            )
            try:
                process = await trio.lowlevel.open_process(
                    [sys.executable, "-m", "trio_crawl.crawling.parse_worker"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    env=env,
                    # Out of the terminal's process group: a Ctrl-C is the crawl's to handle,
                    # and must not reach a worker still importing (before it ignores SIGINT).
                    start_new_session=True,
                )
            except OSError as exc:  # its interpreter cannot be run (permissions, a full table)
                log.warning(
                    "parse process %d cannot start (%s): pages are parsed in the crawl",
                    number,
                    exc,
                )
                return
            if self.closing:  # the pool ended while this one started (a restart)
                with trio.CancelScope(shield=True):
                    await stop(process)
                return
            worker = Worker(process, number)
            worker.send(frame((list(sys.path), self._pickled_site)))
            self.workers.append(worker)
            assert self._nursery is not None
            self._nursery.start_soon(self._run, worker)
        finally:
            self._starting -= 1
            self._started.unpark_all()

    async def _run(self, worker: Worker) -> None:
        reason = "its output ended"
        ended = False  # by itself: not cancelled from outside (the pool's block ending)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(worker.write_loop)
                nursery.start_soon(self._watch, worker, nursery.cancel_scope)
                await worker.read_loop()
                nursery.cancel_scope.cancel()
            ended = True
        # Groups: the worker's nursery wraps what its tasks raise (a pipe that breaks when the
        # pool kills the worker mid-write, as it does at every stop, arrives as a group).
        except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as group:
            reason = f"its pipe broke ({group.exceptions[0]!r})"
            ended = True
        except* Exception as group:  # a garbled frame, or the site did not load there
            reason = repr(group.exceptions[0])
            ended = True
        finally:
            unexpected = ended and not self.closing  # (judged now: closing may come next)
            if ended:
                self._retire(worker, died=unexpected)
            else:
                worker.lost()
            with trio.CancelScope(shield=True):
                await stop(worker.process)
        if not unexpected:
            return
        if worker.stuck:
            reason = f"stuck: one page took more than {self.stuck_after:g} s"
        log.warning(
            "parse process %d stopped (%s, exit code %s): its pages are parsed in the crawl%s",
            worker.number,
            reason,
            worker.process.returncode,
            ", and a new one starts" if worker.restart else "",
        )
        if worker.restart:
            await self._start(worker.number)  # (it gives up the reservation if closing by now)

    def _retire(self, worker: Worker, *, died: bool = False) -> None:
        """Take `worker` out of service at once (no await: nothing is sent to it after this);
        its pages go back to the crawl, and a restart is counted (so `started` waits for it).
        When it `died`, the page it was on is marked as having taken it down."""
        if worker.retired:
            return
        worker.retired = True
        if not self.closing:  # (while closing, `open` is going through the list)
            self.workers.remove(worker)
            worker.restart = worker.was_ready and self.restarts < MAX_RESTARTS
            if worker.restart:
                self.restarts += 1
                self._starting += 1
        worker.lost(died=died)

    async def _watch(self, worker: Worker, scope: trio.CancelScope) -> None:
        """Fail the page `worker` is on (the oldest sent: a worker answers in order) once it
        has had `stuck_after` seconds of the worker's time, and stop the worker."""
        pending = worker.pending
        while True:
            if not pending:
                await worker.wake_watch.park()
                continue
            ident, waiting = next(iter(pending.items()))
            since = max(worker.answered, waiting.sent)
            await trio.sleep_until(since + self.stuck_after)
            if pending and next(iter(pending)) == ident and worker.answered <= since:
                break
        del pending[ident]
        worker.stuck = True
        self._retire(worker)  # before the page's error is out: nothing more goes to it
        waiting.ok = False
        waiting.value = self._refuse(
            waiting.url,
            f"parsing it took more than {self.stuck_after:g} s in a parse process, which was"
            " stopped ([crawl] parse_timeout_secs)",
        )
        waiting.done.set()
        scope.cancel()  # _run then kills the process

    async def started(self) -> int:
        """Wait until every worker, restarted ones included, is ready or gone; how many are
        ready (tests use it: until then, pages are parsed in the crawl)."""
        while True:
            while self._starting:
                await self._started.park()
            for worker in list(self.workers):
                await worker.settled.wait()
            if not self._starting:
                return sum(worker.ready for worker in self.workers)

    async def parse_list(self, response: Response) -> ListPage:
        record: ListPage = await self._parse("list", response)
        return record

    async def parse_detail(self, response: Response) -> Any:
        return await self._parse("detail", response)

    async def _parse(self, kind: str, response: Response) -> Any:
        url = response.url
        refused = self._refused.get(url)
        if refused is not None:
            raise _too_complex(url, refused)
        deep = nesting_over(response.body, self.max_nesting)
        if deep is not None:
            raise self._refuse(
                url,
                f"its elements nest {deep} deep, more than {self.max_nesting}"
                " ([crawl] max_page_nesting)",
            )
        while True:
            worker = self._choose()
            if worker is None and url in self._took_down:
                worker = await self._ready_worker()
                if worker is None:
                    raise self._refuse(url, "its parse process died on it, and none is left")
            if (
                worker is None
                and self._coming()
                and nesting_over(response.body, INLINE_NESTING) is not None
            ):
                worker = await self._ready_worker()
            if worker is None:
                break
            ident = next(self._ids)
            waiting = worker.pending[ident] = Waiting(url, trio.current_time())
            worker.send(frame((ident, kind, url, response.status, response.body, response.headers)))
            try:
                await waiting.done.wait()
            finally:
                worker.pending.pop(ident, None)
            if waiting.ok is not None:
                self.in_workers += 1
                if waiting.ok:
                    return waiting.value
                raise waiting.value
            if not waiting.took_down:
                break  # handed back (its worker is gone, or its answer did not pickle)
            # Never parsed in the crawl's thread, where no cancel could stop it: another
            # worker tries it, and if it dies too the page fails.
            if url in self._took_down:
                raise self._refuse(url, "two parse processes died on it")
            self._took_down.add(url)
        self.in_crawl += 1
        site = self.site
        return site.parse_list(response) if kind == "list" else site.parse_detail(response)

    def _refuse(self, url: str, why: str) -> StageError:
        """The error of a page too complex to parse; it fails at once if it comes again."""
        self._refused[url] = why
        return _too_complex(url, why)

    def _coming(self) -> bool:
        """Whether a worker is starting (none may be ready yet)."""
        return bool(self._starting) or any(not w.settled.is_set() for w in self.workers)

    async def _ready_worker(self) -> Worker | None:
        """A ready worker once the ones starting have settled; None when none is left."""
        await self.started()
        return self._choose()

    def _choose(self) -> Worker | None:
        """The ready worker with the fewest pages waiting, if any."""
        best = None
        for worker in self.workers:
            if worker.ready and (best is None or len(worker.pending) < len(best.pending)):
                best = worker
        return best


def _too_complex(url: str, why: str) -> StageError:
    return StageError(ErrorKind.parse_error, f"{url}: page too complex: {why}")
