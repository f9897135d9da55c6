"""A database that stops taking writes under a crawl (a full disk, a read-only file, the file
deleted or replaced) ends the crawl `failed`, with one line naming the file and the cause, exit
status 1 (2 when it cannot even start), and nothing more fetched than was in flight.

Every crawl is a real `trio-crawl crawl` subprocess against the demo catalogue served
in-process on 127.0.0.1. A full disk and a read-only file are a small tmpfs mounted for the
test (mounting needs root: without it those tests are skipped, saying so).
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import trio

from trio_crawl.demo import DemoCatalogue

from .conftest import demo_server
from .test_interrupted_runs import CLI, GUARD_SECS, child_env, saved_now, stop

FAST = """\
[crawl]
strategy = "full"
page_range_limit = 1000
[rate_limit]
requests_per_second = 0
"""
# One list page a batch at 150 requests a second: about 2 s for 240 products, so the file can
# be taken away mid-crawl.
SLOW = """\
[crawl]
strategy = "full"
page_range_limit = 1000
batch_size = 1
[rate_limit]
requests_per_second = 150
"""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 320 KiB tmpfs: room for the schema and some products, not for the catalogue."""
    mount = tmp_path / "disk"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=320k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill (needs root): {mounted.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def crawl(base_url: str, db: Path, config: str, tmp_path: Path) -> trio.Process:
    toml = tmp_path / "crawl.toml"
    toml.write_text(config)
    return await trio.lowlevel.open_process(
        [*CLI, "crawl", "--base-url", base_url, "--db", str(db), "--no-dashboard",
         "--config", str(toml)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
        cwd=tmp_path,
    )  # fmt: skip


async def finished(process: trio.Process) -> tuple[int, str, str]:
    out = err = b""
    assert process.stdout is not None and process.stderr is not None

    async def drain_errors() -> None:
        nonlocal err
        assert process.stderr is not None
        while chunk := await process.stderr.receive_some(65536):
            err += chunk

    async with trio.open_nursery() as nursery:
        nursery.start_soon(drain_errors)
        while chunk := await process.stdout.receive_some(65536):
            out += chunk
    return await process.wait(), out.decode(), err.decode()


def reason_line(out: str) -> str:
    [line] = [line for line in out.splitlines() if line.startswith("crawl failed: ")]
    return line


def run_rows(db: Path) -> list[tuple[str, int]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT status, products_saved FROM crawl_runs").fetchall()


async def test_a_full_disk_fails_the_crawl_names_the_file_and_stops_fetching(
    tmp_path: Path, small_disk: Path
) -> None:
    catalogue = DemoCatalogue(products=2400, seed=3)
    db = small_disk / "crawl.db"
    async with demo_server(catalogue) as server:
        with trio.fail_after(GUARD_SECS):
            process = await crawl(server.base_url, db, FAST, tmp_path)
            try:
                status, out, err = await finished(process)
            finally:
                await stop(process)
        details = server.stats.details
    assert status == 1, (out, err)
    assert "Traceback" not in err, err
    line = reason_line(out)
    assert f"cannot write to {db}: the disk is full" in line, line
    assert "StageError(" not in line  # words, not a repr
    [(run_status, saved)] = run_rows(db)  # the run row, written where the disk allowed
    assert run_status == "failed"
    assert saved < 1000
    # Fetching stopped with saving: far from every detail page was asked for.
    assert details < catalogue.total // 2, details


async def test_a_read_only_database_is_refused_at_start_with_one_line(
    tmp_path: Path, small_disk: Path
) -> None:
    catalogue = DemoCatalogue(products=24, seed=3)
    db = small_disk / "crawl.db"
    async with demo_server(catalogue) as server:
        with trio.fail_after(GUARD_SECS):
            first = await crawl(server.base_url, db, FAST, tmp_path)
            assert (await finished(first))[0] == 0
            remounted = await trio.run_process(
                ["mount", "-o", "remount,ro", str(small_disk)], capture_stderr=True, check=False
            )
            assert remounted.returncode == 0, remounted.stderr
            process = await crawl(server.base_url, db, FAST, tmp_path)
            try:
                status, out, err = await finished(process)
            finally:
                await stop(process)
    assert status == 2, (out, err)
    [line] = err.strip().splitlines()
    assert line.startswith("trio-crawl: database error: cannot write to"), line
    assert str(db) in line and "read-only" in line, line


@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_a_database_deleted_or_replaced_mid_crawl_fails_it_and_harms_no_file(
    tmp_path: Path, how: str
) -> None:
    catalogue = DemoCatalogue(products=240, seed=3)
    db = tmp_path / "crawl.db"
    async with demo_server(catalogue) as server:
        with trio.fail_after(GUARD_SECS):
            process = await crawl(server.base_url, db, SLOW, tmp_path)
            try:
                while await trio.to_thread.run_sync(saved_now, db) < 24:
                    assert process.poll() is None, "the crawl ended before the file was taken"
                    await trio.sleep(0.01)
                if how == "deleted":
                    db.unlink()
                else:
                    other = tmp_path / "other.db"
                    with closing(sqlite3.connect(other)) as conn:
                        conn.execute("CREATE TABLE mine (x)")
                        conn.execute("INSERT INTO mine VALUES ('kept')")
                        conn.commit()
                    other.rename(db)
                status, out, err = await finished(process)
            finally:
                await stop(process)
    assert status == 1, (out, err)
    assert "Traceback" not in err, err
    line = reason_line(out)
    assert f"{db} was {how} by another file" in line or f"{db} was {how} while" in line, line
    if how == "replaced":
        # The file put in its place is untouched: the crawl's WAL was not left to it.
        with closing(sqlite3.connect(db)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert conn.execute("SELECT x FROM mine").fetchall() == [("kept",)]
    else:
        assert not db.exists()
