"""Stopping the `trio-crawl` command at bad moments, as an operator would: a real process in
its own process group, sent SIGINT the way a terminal's Ctrl-C sends it (to the whole group,
its parse process included). Whatever the moment, it ends with exit status 130 and either one
line (nothing had started) or the cancelled session's summary, and never a traceback."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import trio

ENTRY = [sys.executable, "-m", "trio_crawl"]
GUARD_SECS = 60  # against a hang, not a wait for work
CANCELLED = re.compile(r"│ status +│ cancelled │")

HIGH_CONCURRENCY = """\
[crawl]
strategy = "full"
batch_size = 2
[rate_limit]
requests_per_second = 0
[concurrency]
list_pages = 50
product_details = 500
"""


class Run:
    """A `trio-crawl` process and what it has written so far."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.out = b""
        self.err = b""

    def ctrl_c(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)

    async def wait_for(self, marker: bytes) -> None:
        """Read its standard error until `marker` (a regular expression) appears in it."""
        stderr = self.process.stderr
        assert stderr is not None
        while not re.search(marker, self.err):
            chunk = await stderr.receive_some(65536)
            assert chunk, f"it ended before {marker!r}: {self.err.decode()[-2000:]}"
            self.err += chunk

    async def end(self) -> tuple[int, str, str]:
        """Its exit status, standard output and standard error, once it has exited."""
        assert self.process.stdout is not None and self.process.stderr is not None

        async def drain(stream: trio.abc.ReceiveStream, into: str) -> None:
            while chunk := await stream.receive_some(65536):
                setattr(self, into, getattr(self, into) + chunk)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(drain, self.process.stdout, "out")
            nursery.start_soon(drain, self.process.stderr, "err")
        status = await self.process.wait()
        return status, self.out.decode(), self.err.decode()


async def start(*args: str, cwd: Path, python: tuple[str, ...] = ()) -> Run:
    process = await trio.lowlevel.open_process(
        [*ENTRY[:1], *python, *ENTRY[1:], *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        start_new_session=True,  # its own group, as a terminal gives a command
    )
    return Run(process)


def check_clean_stop(status: int, out: str, err: str) -> None:
    assert status == 130, (status, out, err)
    assert "Traceback" not in err and "Error" not in err, err
    if CANCELLED.search(out):
        return  # a session ran: its summary says how it ended
    assert err.strip().splitlines()[-1] == "trio-crawl: interrupted", err


# Moments of start-up, named by the import `-X importtime` reports just before (the heavy
# imports: trio, the command line's modules, the crawl's, the site's), then by time after them.
START_UP = [
    (rb"\| +trio\n", 0.0),
    (rb"\| +rich\.console\n", 0.0),
    (rb"\| +trio_crawl\.api\n", 0.0),
    (rb"\| trio_crawl\.cli\n", 0.0),
    (rb"\| +trio_crawl\.sites\n", 0.0),
    (rb"\| +trio_crawl\.sites\n", 0.1),
]


@pytest.mark.parametrize(("landmark", "after"), START_UP)
async def test_ctrl_c_at_any_moment_of_start_up_exits_130_without_a_traceback(
    tmp_path: Path, landmark: bytes, after: float
) -> None:
    db = tmp_path / "demo.db"
    demo = ("demo", "--products", "600", "--db", str(db), "--no-dashboard")
    run = await start(*demo, cwd=tmp_path, python=("-X", "importtime"))
    try:
        with trio.fail_after(GUARD_SECS):
            await run.wait_for(landmark)
            await trio.sleep(after)  # a moment after the landmark, on the real clock
            run.ctrl_c()
            check_clean_stop(*await run.end())
    finally:
        run.process.kill()


async def test_ctrl_c_twice_0_15_s_apart_exits_130_with_the_summary(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    # (Every list page is read before the first save: a bigger catalogue only waits longer.
    # The batches in flight at the signal still save theirs, and this one has more left.)
    run = await start("-v", "demo", "--products", "2400", "--db", str(db), "--no-dashboard",
                      cwd=tmp_path)  # fmt: skip
    try:
        with trio.fail_after(GUARD_SECS):
            await run.wait_for(b"saved so far")
            run.ctrl_c()
            await trio.sleep(0.15)
            run.ctrl_c()
            status, out, err = await run.end()
    finally:
        run.process.kill()
    assert status == 130, (out, err)
    assert "Traceback" not in err
    assert CANCELLED.search(out), out
    assert "left: " in out.splitlines()[-1]


async def test_ctrl_c_at_high_concurrency_ends_cleanly_every_time(tmp_path: Path) -> None:
    """Hundreds of pages in flight and the parse process busy: the stop kills the worker while
    pages are being written to it, which once escaped as an exception group (exit 1). Two
    crawls at a time, ten in all."""
    config = tmp_path / "crawl.toml"
    config.write_text(HIGH_CONCURRENCY)

    async def stopped(attempt: int) -> None:
        db = tmp_path / f"crawl-{attempt}.db"
        run = await start("-v", "demo", "--products", "1200", "--db", str(db), "--config",
                          str(config), "--no-dashboard", cwd=tmp_path)  # fmt: skip
        try:
            with trio.fail_after(GUARD_SECS):
                await run.wait_for(rb"saved so far")
                run.ctrl_c()
                status, out, err = await run.end()
        finally:
            run.process.kill()
        assert status == 130, (attempt, out, err)
        assert "Traceback" not in err, (attempt, err)
        assert CANCELLED.search(out), (attempt, out)

    for pair in range(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(stopped, 2 * pair)
            nursery.start_soon(stopped, 2 * pair + 1)


@pytest.mark.slow
async def test_session_timeout_with_the_parse_process_busy_exits_3_without_a_traceback(
    tmp_path: Path,
) -> None:
    """The session timeout ends the pool while hundreds of pages are on their way to the parse
    process (list pages from the start, detail pages soon after), which once escaped as an
    exception group (exit 1 instead of 3). Two crawls at a time, timed out at different
    moments."""

    async def timed_out(secs: float) -> None:
        config = tmp_path / f"crawl-{secs}.toml"
        config.write_text(
            f"[system]\nsession_timeout_secs = {secs}\n"
            + HIGH_CONCURRENCY.replace("[concurrency]", "[concurrency]\nparse_processes = 1")
        )
        db = tmp_path / f"crawl-{secs}.db"
        run = await start("demo", "--products", "3000", "--db", str(db), "--config",
                          str(config), "--no-dashboard", cwd=tmp_path)  # fmt: skip
        try:
            with trio.fail_after(GUARD_SECS):
                status, out, err = await run.end()
        finally:
            run.process.kill()
        assert status == 3, (secs, out, err)
        assert "Traceback" not in err, (secs, err)
        assert re.search(r"│ status +│ timed_out │", out), (secs, out)
        assert "crawl timed_out: session timeout" in out, out
        with sqlite3.connect(db) as conn:
            runs = conn.execute("SELECT status FROM crawl_runs").fetchall()
        assert runs == [("timed_out",)], runs

    async with trio.open_nursery() as nursery:
        for secs in (2.5, 4.0):
            nursery.start_soon(timed_out, secs)
