"""ParsePool: pages parsed in worker processes give the answers the crawl's own parse gives, and
no worker can lose a page, hang the crawl or outlive it.

These run on trio's real clock: a worker is a real process (under a MockClock the pool runs
none, see `test_a_mock_clock_runs_no_workers`). Sites used here are module-level, so that the
worker can import them; `in_worker()` lets a site misbehave only there.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import pickle
import select
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from trio_crawl.crawling.complexity import nesting_over
from trio_crawl.crawling.parse_worker import HEADER, frame
from trio_crawl.crawling.parsing import MAX_RESTARTS, ParsePool, default_processes
from trio_crawl.engine.results import ErrorKind, StageError
from trio_crawl.sites import MatterCatalogue
from trio_crawl.sites.response import Response

FIXTURES = Path(__file__).parents[1] / "sites" / "fixtures"
BASE = "https://csa-iot.org"
HEADERS = (("content-type", "text/html; charset=utf-8"),)
LISTS = ["list_nested.html", "list_flat.html", "list_block.html", "list_page_1.html"]
LISTS += ["list_page_last.html", "list_page_single.html"]
DETAILS = ["detail_full.html", "detail_sparse.html", "detail_table.html"]
FAILING = ["list_no_cards.html", "list_page_empty.html", "detail_truncated.html"]


def in_worker() -> bool:
    return sys.argv[0].endswith("parse_worker.py")


def page(name: str, url: str = f"{BASE}/csa_product/x/") -> Response:
    return Response(url, 200, (FIXTURES / name).read_bytes(), HEADERS)


def list_or_detail(name: str) -> str:
    return "list" if name.startswith("list") else "detail"


def parse_inline(site: Any, name: str) -> Any:
    response = page(name)
    return (site.parse_list if list_or_detail(name) == "list" else site.parse_detail)(response)


async def parse_pooled(pool: ParsePool, name: str) -> Any:
    response = page(name)
    if list_or_detail(name) == "list":
        return await pool.parse_list(response)
    return await pool.parse_detail(response)


class SlowSite(MatterCatalogue):
    """Takes 0.3 s a detail page, in the worker only."""

    def parse_detail(self, response: Any, url: str = "") -> Any:
        if in_worker():
            time.sleep(0.3)
        return super().parse_detail(response, url)


class CrashingSite(MatterCatalogue):
    """Its worker dies (exit code 3) on a page whose URL says crash (in the crawl such a page
    would take the crawl down: the pool must never parse it there)."""

    def parse_detail(self, response: Any, url: str = "") -> Any:
        if "crash" in response.url:
            if not in_worker():
                raise AssertionError(f"{response.url} parsed in the crawl's thread")
            os._exit(3)
        return super().parse_detail(response, url)


class HangingSite(MatterCatalogue):
    """Never finishes a page whose URL says hang, in the worker only (in the crawl it would
    hang the test: the pool must never parse such a page there)."""

    def parse_detail(self, response: Any, url: str = "") -> Any:
        if "hang" in response.url:
            if not in_worker():
                raise AssertionError(f"{response.url} parsed in the crawl's thread")
            while True:
                time.sleep(1)
        return super().parse_detail(response, url)


class PrintingSite(MatterCatalogue):
    def parse_detail(self, response: Any, url: str = "") -> Any:
        print("a parser that prints", flush=True)
        sys.stdout.write("\x00\x00\x00\x05junk")
        sys.stdout.flush()
        return super().parse_detail(response, url)


class OddRecordSite(MatterCatalogue):
    """Its records carry a function, which pickle cannot send back."""

    def parse_detail(self, response: Any, url: str = "") -> Any:
        return (super().parse_detail(response, url), lambda: None)


class OddErrorSite(MatterCatalogue):
    def parse_detail(self, response: Any, url: str = "") -> Any:
        raise _Unpicklable(f"{response.url}: odd")


class _Unpicklable(Exception):
    def __reduce__(self) -> Any:
        raise TypeError("not this one")


def _rebuild_unloadable() -> MatterCatalogue:
    if in_worker():
        raise ImportError("no such module here")
    return UnloadableSite(BASE)


class UnloadableSite(MatterCatalogue):
    """Pickles, but does not load in a worker (as a site defined in ``__main__`` would not)."""

    def __reduce__(self) -> Any:
        return (_rebuild_unloadable, ())


async def test_pages_parsed_in_a_worker_equal_the_crawls_own() -> None:
    site = MatterCatalogue(BASE)
    async with ParsePool.open(site, 1) as pool:
        assert await pool.started() == 1
        for name in LISTS + DETAILS:
            assert await parse_pooled(pool, name) == parse_inline(site, name), name
        assert pool.in_workers == len(LISTS + DETAILS)
        assert pool.in_crawl == 0


@pytest.mark.parametrize("name", FAILING)
async def test_a_page_the_parser_refuses_fails_alike_from_a_worker(name: str) -> None:
    site = MatterCatalogue(BASE)
    with pytest.raises(StageError) as inline:
        parse_inline(site, name)
    async with ParsePool.open(site, 1) as pool:
        assert await pool.started() == 1
        with pytest.raises(StageError) as pooled:
            await parse_pooled(pool, name)
        assert pool.in_workers == 1
    assert pooled.value.kind is inline.value.kind is ErrorKind.parse_error
    assert pooled.value.message == inline.value.message


async def test_many_pages_at_once_over_two_workers_each_get_their_own_answer() -> None:
    site = MatterCatalogue(BASE)
    names = (LISTS + DETAILS) * 20
    results: dict[int, Any] = {}
    async with ParsePool.open(site, 2) as pool:
        assert await pool.started() == 2

        async def one(index: int) -> None:
            results[index] = await parse_pooled(pool, names[index])

        async with trio.open_nursery() as nursery:
            for index in range(len(names)):
                nursery.start_soon(one, index)
        assert pool.in_workers == len(names)
    assert [results[i] for i in range(len(names))] == [parse_inline(site, n) for n in names]


async def test_what_a_parser_prints_does_not_garble_the_answers() -> None:
    site = PrintingSite(BASE)
    async with ParsePool.open(site, 1) as pool:
        assert await pool.started() == 1
        for _ in range(3):
            assert await parse_pooled(pool, "detail_full.html") == parse_inline(
                MatterCatalogue(BASE), "detail_full.html"
            )
        assert pool.in_workers == 3


async def test_a_record_or_error_pickle_cannot_carry_is_parsed_in_the_crawl() -> None:
    async with ParsePool.open(OddRecordSite(BASE), 1) as pool:
        assert await pool.started() == 1
        record, extra = await parse_pooled(pool, "detail_full.html")
        assert callable(extra)
        assert record == parse_inline(MatterCatalogue(BASE), "detail_full.html")
        assert (pool.in_workers, pool.in_crawl) == (0, 1)
    async with ParsePool.open(OddErrorSite(BASE), 1) as pool:
        assert await pool.started() == 1
        with pytest.raises(_Unpicklable, match="odd"):
            await parse_pooled(pool, "detail_full.html")
        assert (pool.in_workers, pool.in_crawl) == (0, 1)


async def test_a_worker_that_dies_is_replaced_and_the_page_it_died_on_never_reaches_the_crawl(
    caplog: pytest.LogCaptureFixture,
) -> None:
    site = CrashingSite(BASE)
    expected = parse_inline(site, "detail_full.html")
    async with ParsePool.open(site, 1) as pool:
        assert await pool.started() == 1
        first = pool.workers[0]
        assert await parse_pooled(pool, "detail_full.html") == expected
        crash = page("detail_full.html", f"{BASE}/csa_product/crash/")
        with trio.fail_after(10):
            # The new worker tries it too, dies too, and the page fails (never parsed inline).
            with pytest.raises(StageError, match="page too complex: two parse processes died"):
                await pool.parse_detail(crash)
            assert await first.process.wait() == 3
            assert pool.restarts == 2
            # Again: it fails at once, no worker is tried.
            with pytest.raises(StageError, match="page too complex") as error:
                await pool.parse_detail(crash)
            assert error.value.kind is ErrorKind.parse_error
            assert pool.restarts == 2
            # A new worker takes their place, and parses the next pages.
            assert await pool.started() == 1
            assert pool.workers[0] is not first
            assert await parse_pooled(pool, "detail_full.html") == expected
        assert (pool.in_workers, pool.in_crawl) == (2, 0)
    assert "parse process 1 stopped" in caplog.text
    assert "exit code 3" in caplog.text
    assert "a new one starts" in caplog.text


async def test_pages_in_flight_when_a_worker_is_killed_are_parsed_in_the_crawl() -> None:
    site = SlowSite(BASE)
    expected = parse_inline(site, "detail_full.html")
    results: list[Any] = []
    async with ParsePool.open(site, 1) as pool:
        assert await pool.started() == 1
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                for _ in range(5):
                    nursery.start_soon(lambda: _append(results, parse_pooled(pool, DETAILS[0])))
                await trio.testing.wait_all_tasks_blocked()  # all five sent, none answered
                worker = pool.workers[0]
                assert len(worker.pending) == 5
                worker.process.kill()
        assert results == [expected] * 5
        # The page it was on goes to the new worker (it may be what killed it); the others
        # are parsed in the crawl.
        assert (pool.in_crawl, pool.in_workers) == (4, 1)
        assert await worker.process.wait() == -signal.SIGKILL


async def _append(results: list[Any], parse: Any) -> None:
    results.append(await parse)


async def test_a_cancelled_parse_leaves_nothing_waiting() -> None:
    site = SlowSite(BASE)
    async with ParsePool.open(site, 1) as pool:
        assert await pool.started() == 1
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(parse_pooled, pool, "detail_full.html")
                await trio.testing.wait_all_tasks_blocked()  # sent; the worker takes 0.3 s
                scope.cancel()
        assert scope.cancelled_caught
        assert pool.workers[0].pending == {}
        # the worker's late answer to the cancelled page is dropped; the next page gets its own
        assert await parse_pooled(pool, "detail_sparse.html") == parse_inline(
            site, "detail_sparse.html"
        )


async def test_a_site_that_cannot_go_to_a_worker_is_parsed_in_the_crawl(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class LocalSite(MatterCatalogue):  # a class pickle cannot name
        pass

    unpicklable = LocalSite(BASE)
    async with ParsePool.open(unpicklable, 1) as pool:
        assert pool.workers == []
        assert await parse_pooled(pool, "detail_full.html") == parse_inline(
            unpicklable, "detail_full.html"
        )
    async with ParsePool.open(UnloadableSite(BASE), 1) as pool:
        with trio.fail_after(10):
            assert await pool.started() == 0
        assert await parse_pooled(pool, "list_nested.html") == parse_inline(
            MatterCatalogue(BASE), "list_nested.html"
        )
        assert (pool.in_workers, pool.in_crawl) == (0, 1)
        assert pool.restarts == 0  # it would not load the next time either
    assert "cannot load the site" in caplog.text
    assert "a new one starts" not in caplog.text


async def test_the_workers_end_with_the_block_however_it_ends() -> None:
    async with ParsePool.open(MatterCatalogue(BASE), 2) as pool:
        assert await pool.started() == 2
    assert all(worker.process.returncode is not None for worker in pool.workers)

    with trio.fail_after(5):
        with trio.CancelScope() as scope:
            async with ParsePool.open(SlowSite(BASE), 1) as pool:
                assert await pool.started() == 1
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(parse_pooled, pool, "detail_full.html")
                    await trio.testing.wait_all_tasks_blocked()
                    scope.cancel()
    assert pool.workers[0].process.returncode is not None


def _is_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # exited; whoever adopted it has not reaped it yet


CRAWL_THAT_IS_KILLED = textwrap.dedent(
    """
    import trio
    from trio_crawl.crawling.parsing import ParsePool
    from trio_crawl.sites import MatterCatalogue

    async def main():
        async with ParsePool.open(MatterCatalogue("https://csa-iot.org"), 1) as pool:
            await pool.started()
            print(pool.workers[0].process.pid, flush=True)
            await trio.sleep_forever()

    trio.run(main)
    """
)


def test_a_worker_exits_when_its_crawl_is_killed() -> None:
    crawl = subprocess.Popen(
        [sys.executable, "-c", CRAWL_THAT_IS_KILLED], stdout=subprocess.PIPE, text=True
    )
    try:
        assert crawl.stdout is not None
        worker = int(crawl.stdout.readline())
        assert not _is_gone(worker)
        exited = os.pidfd_open(worker)  # readable once the worker has exited
        try:
            crawl.send_signal(signal.SIGKILL)
            crawl.wait(5)
            select.select([exited], [], [], 5)
        finally:
            os.close(exited)
        assert _is_gone(worker)
    finally:
        crawl.kill()
        crawl.wait()


def _answer(stdout: Any) -> Any:
    """One frame read off a worker's output (blocking)."""
    (length,) = HEADER.unpack(stdout.read(HEADER.size))
    return pickle.loads(stdout.read(length))


def test_ctrl_c_in_the_terminal_does_not_stop_a_worker() -> None:
    """SIGINT reaches the whole process group; the crawl, not the worker, decides what stops."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "trio_crawl.crawling.parse_worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert worker.stdin is not None and worker.stdout is not None
        site = pickle.dumps(MatterCatalogue(BASE))
        worker.stdin.write(frame((list(sys.path), site)))
        worker.stdin.flush()
        assert _answer(worker.stdout) == (0, True, None)  # ready: its SIGINT is ignored by now
        worker.send_signal(signal.SIGINT)
        # A page sent after the signal is answered: the signal did not stop it.
        response = page("detail_full.html")
        message = (7, "detail", response.url, 200, response.body, response.headers)
        worker.stdin.write(frame(message))
        worker.stdin.flush()
        assert _answer(worker.stdout)[:2] == (7, True)
        worker.communicate(b"", timeout=5)  # its input ends: it exits
        assert worker.returncode == 0
    finally:
        worker.kill()
        worker.wait()


def test_a_frozen_program_runs_no_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    # Its sys.executable is the program itself: "-m trio_crawl.crawling.parse_worker" would
    # start a second copy of it, not a parser.
    async def configured() -> int:
        return default_processes(2)

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert trio.run(configured) == 0


def test_a_mock_clock_runs_no_workers() -> None:
    async def configured() -> int:
        return default_processes(2)

    assert trio.run(configured, clock=trio.testing.MockClock()) == 0
    expected = 2 if (os.cpu_count() or 1) > 1 else 0
    assert trio.run(configured) == expected


def test_asking_about_the_clock_does_not_import_the_test_tools() -> None:
    """trio.testing imports pytest: ~90 ms in the crawl's thread, which a crawl must not pay."""
    program = textwrap.dedent(
        """
        import sys, trio
        from trio_crawl.crawling.parsing import default_processes

        async def configured():
            return default_processes(1)

        trio.run(configured)
        print(sorted(m for m in ("trio.testing", "pytest") if m in sys.modules))
        """
    )
    ran = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "[]"


@contextlib.contextmanager
def _hang_guard(secs: float = 60) -> Iterator[None]:
    """End the test run with a traceback if the block takes `secs` of real time: the tests
    below run on a mock clock that only moves when told, so no trio timeout would fire."""
    faulthandler.dump_traceback_later(secs, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


async def test_a_page_that_never_parses_fails_and_its_worker_is_replaced(
    caplog: pytest.LogCaptureFixture, mock_clock: trio.testing.MockClock
) -> None:
    # On a mock clock the watchdog's 0.5 s pass when the test says so, not on a busy machine.
    site = HangingSite(BASE)
    expected = parse_inline(site, "detail_full.html")
    hang = page("detail_full.html", f"{BASE}/csa_product/hang-1/")
    results: list[Any] = []
    errors: list[StageError] = []
    with _hang_guard():
        async with ParsePool.open(site, 1, stuck_after=0.5) as pool:
            assert await pool.started() == 1
            first = pool.workers[0]
            async with trio.open_nursery() as nursery:

                async def stuck() -> None:
                    with pytest.raises(StageError) as error:
                        await pool.parse_detail(hang)
                    errors.append(error.value)

                nursery.start_soon(stuck)
                await trio.testing.wait_all_tasks_blocked()  # the hanging page is out first
                for _ in range(3):  # queued behind the stuck page: handed back, not lost
                    nursery.start_soon(lambda: _append(results, parse_pooled(pool, DETAILS[0])))
                await trio.testing.wait_all_tasks_blocked()
                assert (len(first.pending), errors, results) == (4, [], [])
                mock_clock.jump(0.5)
            [error] = errors
            assert error.kind is ErrorKind.parse_error
            assert hang.url in error.message and "page too complex" in error.message
            assert "0.5 s" in error.message
            assert results == [expected] * 3
            assert await first.process.wait() == -signal.SIGKILL
            assert await pool.started() == 1 and pool.restarts == 1
            # The same URL again (a retry) fails at once: no worker is stuck on it twice.
            with pytest.raises(StageError, match="page too complex"):
                await pool.parse_detail(hang)
            assert pool.restarts == 1
            assert await parse_pooled(pool, DETAILS[0]) == expected
            assert pool.in_workers >= 2  # the stuck page, and one on the new worker at least
    assert "stuck: one page took more than 0.5 s" in caplog.text


async def test_after_its_restarts_the_pool_parses_in_the_crawl(
    mock_clock: trio.testing.MockClock,
) -> None:
    site = HangingSite(BASE)
    expected = parse_inline(site, "detail_full.html")
    with _hang_guard():
        async with ParsePool.open(site, 1, stuck_after=0.2) as pool:
            for n in range(MAX_RESTARTS + 1):
                assert await pool.started() == 1
                async with trio.open_nursery() as nursery:

                    async def stuck(n: int = n) -> None:
                        with pytest.raises(StageError, match="took more than"):
                            await pool.parse_detail(page("detail_full.html", f"{BASE}/hang-{n}/"))

                    nursery.start_soon(stuck)
                    await trio.testing.wait_all_tasks_blocked()
                    mock_clock.jump(0.2)
            assert await pool.started() == 0
            assert pool.workers == [] and pool.restarts == MAX_RESTARTS
            in_crawl = pool.in_crawl
            assert await parse_pooled(pool, DETAILS[0]) == expected
            assert pool.in_crawl == in_crawl + 1


def deep_page(levels: int, url: str = f"{BASE}/csa_product/deep/") -> Response:
    body = (FIXTURES / "detail_full.html").read_bytes()
    nested = b"<div>" * levels + b"deep" + b"</div>" * levels
    return Response(url, 200, body.replace(b"</body>", nested + b"</body>"), HEADERS)


def test_nesting_is_judged_from_the_bytes_and_only_beyond_the_bound() -> None:
    for fixture in FIXTURES.glob("*.html"):
        assert nesting_over(fixture.read_bytes(), 16) is None, fixture.name
    assert nesting_over(deep_page(3000).body, 2000) == 3000 + 2  # html, body
    assert nesting_over(deep_page(1000).body, 2000) is None
    # Void and self-closing elements open nothing.
    assert nesting_over(b"<p>" + b"<br><img src=x><input/>" * 5000 + b"</p>", 100) is None
    assert nesting_over(b"<span/>" * 5000, 100) is None
    assert nesting_over(b"<li>" * 150, 100) == 150  # never closed: over-counted, on purpose


async def test_a_page_nested_beyond_the_bound_fails_before_any_parser_sees_it() -> None:
    site = HangingSite(BASE)  # a page whose URL says hang must never be parsed in the crawl
    deep = deep_page(5000, f"{BASE}/csa_product/hang-deep/")
    for processes in (0, 1):
        async with ParsePool.open(site, processes, max_nesting=1000) as pool:
            with trio.fail_after(10):
                await pool.started()
                with pytest.raises(StageError) as error:
                    await pool.parse_detail(deep)
                assert error.value.kind is ErrorKind.parse_error
                assert "page too complex: its elements nest 5002 deep, more than 1000" in str(
                    error.value
                )
                assert (pool.in_workers, pool.in_crawl) == (0, 0)
                # A page within the bound is parsed as ever.
                ordinary = deep_page(500)
                assert await pool.parse_detail(ordinary) == site.parse_detail(ordinary)


async def test_ending_the_pool_while_a_page_is_being_written_to_a_worker_raises_nothing() -> None:
    """The pool kills its workers when its block ends; a writer cut off mid-page breaks its pipe
    inside the worker's nursery (a group, which a plain `except` does not catch). The block's
    own exception (a config error, say) comes out as itself."""
    big = page("detail_full.html")
    big = Response(big.url, 200, big.body + b"<!--" + b"x" * (4 << 20) + b"-->", HEADERS)

    async def end_mid_write(raising: Exception | None) -> None:
        with trio.fail_after(20):
            async with ParsePool.open(SlowSite(BASE), 1) as pool:
                assert await pool.started() == 1
                async with trio.open_nursery() as nursery:
                    for _ in range(4):  # 16 MB queued: the pipe is full, a write waits
                        nursery.start_soon(pool.parse_detail, big)
                    await trio.testing.wait_all_tasks_blocked()
                    assert pool.workers[0].outbox == []  # taken by the writer, mid-send
                    nursery.cancel_scope.cancel()  # the parses stop waiting; the write goes on
                if raising is not None:
                    raise raising
        assert pool.workers[0].process.returncode is not None

    for _ in range(3):
        await end_mid_write(None)
        with pytest.raises(ValueError, match="a stage key"):  # itself, not in a group
            await end_mid_write(ValueError("a stage key"))


CRAWL_KILLED_MID_PAGE = textwrap.dedent(
    """
    import trio
    from trio_crawl.crawling.parsing import ParsePool
    from tests.crawling.test_parsing import BASE, HangingSite, page

    async def main():
        async with ParsePool.open(HangingSite(BASE), 1, stuck_after=3600) as pool:
            await pool.started()
            print(pool.workers[0].process.pid, flush=True)
            await pool.parse_detail(page("detail_full.html", BASE + "/csa_product/hang/"))

    trio.run(main)
    """
)


def test_a_worker_busy_on_a_page_exits_when_its_crawl_is_killed() -> None:
    """SIGKILL gives the crawl no say: the worker, deep in a page that never ends, notices its
    input hang up by itself."""
    crawl = subprocess.Popen(
        [sys.executable, "-c", CRAWL_KILLED_MID_PAGE],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert crawl.stdout is not None
        worker = int(crawl.stdout.readline())
        exited = os.pidfd_open(worker)  # readable once the worker has exited
        try:
            assert select.select([exited], [], [], 1.0)[0] == []  # busy on the page, alive
            crawl.send_signal(signal.SIGKILL)
            crawl.wait(5)
            select.select([exited], [], [], 10)
        finally:
            os.close(exited)
        assert _is_gone(worker)
    finally:
        crawl.kill()
        crawl.wait()


async def test_a_parse_process_that_cannot_start_leaves_the_parsing_to_the_crawl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    not_runnable = tmp_path / "python"
    not_runnable.write_text("#!/bin/sh\n")
    not_runnable.chmod(0o644)  # not executable: starting it fails with EACCES
    monkeypatch.setattr(sys, "executable", str(not_runnable))
    site = MatterCatalogue(BASE)
    async with ParsePool.open(site, 2) as pool:
        assert await pool.started() == 0
        assert await parse_pooled(pool, "detail_full.html") == parse_inline(
            site, "detail_full.html"
        )
        assert (pool.in_workers, pool.in_crawl) == (0, 1)
    assert "parse process 1 cannot start" in caplog.text
    assert "pages are parsed in the crawl" in caplog.text
