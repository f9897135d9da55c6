"""Crawls stopped mid-way (Ctrl-C, SIGKILL) and crawls sharing a database leave nothing a rerun
cannot fill, and no crawl_runs row says `running` for a process that is gone.

Every crawl is a real ``trio-crawl crawl`` subprocess against a demo catalogue served in-process
on 127.0.0.1, into an SQLite file or a PostgreSQL database of the tests' own server (the
`store` parameter). A stop lands at a seeded random moment, found by watching the database fill
up through a separate connection (SQLite's WAL lets it read while the crawl writes). The
reference is one uninterrupted crawl of the same catalogue into SQLite; rows are compared
without their timestamps, and with the server's address cut off the URLs (each server has its
own port).
"""

from __future__ import annotations

import functools
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import IO, Any

import attrs
import pytest
import trio

from trio_crawl.demo import DemoCatalogue, FaultConfig, serve_demo

from ..postgres_server import shared_server
from .conftest import demo_server

# Each test starts crawl processes and kills them: seconds of real time.
pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "trio_crawl.cli"]
WORKTREE = Path(__file__).resolve().parents[2]

PRODUCTS = 240
SEED = 11
# The whole catalogue in one run; one list page per batch, so saves land 12 products at a time
# (a batch of 10 pages would save 120 at once and leave few moments to stop at); 150 requests
# a second stretch the crawl to about 3 s, so every stop lands mid-crawl. A crawl that is not
# stopped (the reference, a rerun) need not be slow: it runs without the limit.
CONFIG_TOML = """\
[crawl]
page_range_limit = 1000
batch_size = 1

[rate_limit]
requests_per_second = {rate}
"""
STOPPED_RATE = 110

# Latency, not failure: one catalogue response in twenty comes 1 s late (far inside the 30 s
# request timeout, so nothing fails and nothing is retried; the rows are the clean crawl's).
# Without it the batches finish strictly in order, so a SIGKILL always leaves a prefix of the
# catalogue, which "continue after the newest stored product" refills; late responses let later
# batches finish first, as they do against a real site, and a kill then leaves holes.
LATE_RESPONSES = FaultConfig(rate_slow=0.05, slow_secs=1.0)

SCENARIOS_PER_SIGNAL = 10
PG_SCENARIOS_PER_SIGNAL = 4  # (the same code paths; fewer, to keep the suite's time)
GUARD_SECS = 90  # against a hang, not a wait for work

Row = tuple[Any, ...]
Position = tuple[int, int]


@attrs.frozen
class Snapshot:
    """A database's products (the `matter` table's rows), without created_at/updated_at, with
    URLs relative to the server, sorted."""

    products: list[Row]

    @property
    def rows(self) -> int:
        return len(self.products)


@attrs.frozen
class Run:
    session_id: str
    status: str
    products_saved: int


@attrs.frozen
class KillReport:
    """What one stop-and-rerun scenario saw."""

    signal: str
    seed: int
    target: int
    saved_at_signal: int
    saved_after_exit: int
    exit_status: int
    rerun_status: int
    statuses: tuple[str, ...]
    rows_compared: str
    problems: tuple[str, ...]

    def line(self) -> str:
        verdict = "ok" if not self.problems else "; ".join(self.problems)
        return (
            f"{self.signal} seed={self.seed}: target {self.target}, saved {self.saved_at_signal}"
            f" at the signal ({self.saved_after_exit} after exit, exit {self.exit_status}),"
            f" rerun exit {self.rerun_status}, runs {'/'.join(self.statuses)},"
            f" rows {self.rows_compared}: {verdict}"
        )


# -- the database, read from outside -----------------------------------------------------------

STORES = ["sqlite", "postgres"]


def new_db(store: str, directory: Path, name: str) -> str:
    """A new database's ``--db``: a file in `directory`, or a database on the tests' server."""
    if store == "postgres":
        return shared_server().new_database()
    return str(directory / f"{name}.db")


def _select(db: str | Path, query: str) -> tuple[list[str], list[Row]]:
    """Column names and rows of `query`, through a connection of its own (read-only for a
    file)."""
    db = os.fspath(db)
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db, autocommit=True) as server:
            cursor = server.execute(query)
            return [c.name for c in cursor.description or ()], cursor.fetchall()
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2)) as conn:
        found = conn.execute(query)
        return [c[0] for c in found.description], found.fetchall()


def saved_now(db: str | Path) -> int:
    """How many products `db` holds right now; 0 while the database or its tables do not exist
    yet or the crawl holds a lock."""
    import psycopg

    try:
        return int(_select(db, "SELECT COUNT(*) FROM matter")[1][0][0])
    except (sqlite3.OperationalError, psycopg.Error):  # no file or table yet, locked
        return 0


def _without_timestamps(db: str, table: str, base_url: str) -> list[Row]:
    names, found = _select(db, f"SELECT * FROM {table}")
    # The position first, so that `_positions` finds it in either table.
    columns = ["page_id", "index_in_page"] + [
        name
        for name in names
        if name not in ("page_id", "index_in_page", "created_at", "updated_at", "listed_at")
    ]
    at = [names.index(name) for name in columns]
    return sorted(
        tuple(v.removeprefix(base_url) if isinstance(v, str) else v for v in (row[i] for i in at))
        for row in found
    )


def snapshot(db: str, base_url: str) -> Snapshot:
    return Snapshot(products=_without_timestamps(db, "matter", base_url))


def runs(db: str) -> list[Run]:
    query = "SELECT session_id, status, products_saved FROM crawl_runs ORDER BY started_at"
    return [Run(*row) for row in _select(db, query)[1]]


def _positions(rows: Sequence[Row]) -> dict[Position, Row]:
    return {(row[0], row[1]): row for row in rows}


def differences(expected: Snapshot, got: Snapshot) -> list[str]:
    """What `got` lacks, has in excess or holds differently from `expected`, per table."""
    problems: list[str] = []
    for table, want, have in (("matter", expected.products, got.products),):
        if want == have:
            continue
        want_at, have_at = _positions(want), _positions(have)
        missing = sorted(set(want_at) - set(have_at))
        extra = sorted(set(have_at) - set(want_at))
        changed = sorted(p for p in set(want_at) & set(have_at) if want_at[p] != have_at[p])
        for what, positions in (("missing", missing), ("extra", extra), ("different", changed)):
            if positions:
                shown = ", ".join(f"{page}/{index}" for page, index in positions[:8])
                more = " …" if len(positions) > 8 else ""
                problems.append(f"{table}: {what} {len(positions)} rows (page/index {shown}{more})")
    return problems


# -- the crawl, as a subprocess ----------------------------------------------------------------


def crawl_command(base_url: str, db: str, config: Path) -> list[str]:
    return [
        *CLI, "crawl", "--base-url", base_url, "--db", db, "--no-dashboard",
        "--config", str(config),
    ]  # fmt: skip


def child_env() -> dict[str, str]:
    """This process's environment with the worktree first on PYTHONPATH, so the crawl imports
    the code under test."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(WORKTREE), path]))}


def config_path(directory: Path, rate: int = STOPPED_RATE) -> Path:
    return directory / f"crawl-{rate}.toml"


def write_config(directory: Path, rate: int = STOPPED_RATE) -> Path:
    config = config_path(directory, rate)
    config.write_text(CONFIG_TOML.format(rate=rate))
    return config


def log_file(path: Path) -> IO[bytes]:
    return path.open("wb")


def log_tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


async def start_crawl(base_url: str, db: str, config: Path, log: Path) -> trio.Process:
    """Start a crawl whose stdout and stderr go to `log`."""
    with log_file(log) as output:
        return await trio.lowlevel.open_process(
            crawl_command(base_url, db, config),
            stdout=output,
            stderr=subprocess.STDOUT,
            env=child_env(),
            cwd=log.parent,
        )


async def run_crawl(base_url: str, db: str, config: Path, log: Path) -> int:
    """Run a crawl to its end; its exit status."""
    with trio.fail_after(GUARD_SECS):
        process = await start_crawl(base_url, db, config, log)
        try:
            return await process.wait()
        finally:
            await stop(process)


async def stop(process: trio.Process) -> None:
    """Kill `process` if it still runs, and reap it."""
    if process.returncode is None:
        process.kill()
    with trio.CancelScope(shield=True):
        await process.wait()


async def wait_until_saved(db: str, at_least: int, process: trio.Process, log: Path) -> int:
    """Poll `db` until it holds `at_least` products; how many it holds then. Fails if the crawl
    ends first (then it was too quick to stop)."""
    while (saved := await trio.to_thread.run_sync(saved_now, db)) < at_least:
        assert process.returncode is None and process.poll() is None, (
            f"the crawl ended (exit {process.returncode}) with {saved} products saved, before"
            f" it could be stopped at {at_least}:\n{log_tail(log)}"
        )
        await trio.sleep(0.01)
    return saved


# -- the reference ------------------------------------------------------------------------------


def catalogue() -> DemoCatalogue:
    return DemoCatalogue(products=PRODUCTS, seed=SEED)


async def _clean_crawl(directory: Path) -> Snapshot:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            functools.partial(serve_demo, catalogue(), faults=FaultConfig())
        )
        db, log = str(directory / "clean.db"), directory / "clean.log"
        status = await run_crawl(server.base_url, db, write_config(directory, rate=0), log)
        assert status == 0, log_tail(log)
        nursery.cancel_scope.cancel()
    return snapshot(db, server.base_url)


@pytest.fixture(scope="session")  # (the suite runs long tests first, apart)
def clean(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """One uninterrupted crawl of the catalogue (its own trio run and server)."""
    reference = trio.run(_clean_crawl, tmp_path_factory.mktemp("clean"))
    assert len(reference.products) == PRODUCTS
    return reference


# -- stop, then rerun ---------------------------------------------------------------------------

EXPECTED_EXIT = {signal.SIGINT: 130, signal.SIGKILL: -signal.SIGKILL}
EXPECTED_STATUS = {signal.SIGINT: "cancelled", signal.SIGKILL: "interrupted"}


async def kill_scenario(
    base_url: str, db: str, directory: Path, sig: signal.Signals, seed: int, clean: Snapshot
) -> KillReport:
    rng = random.Random(seed)
    target = rng.randint(PRODUCTS // 10, PRODUCTS * 8 // 10)
    extra = rng.uniform(0, 0.3)
    log = directory / f"{sig.name}-{seed}.log"
    config = config_path(directory)  # (written once: scenarios run at once, reading it)
    with trio.fail_after(GUARD_SECS):
        process = await start_crawl(base_url, db, config, log)
        try:
            await wait_until_saved(db, target, process, log)
            await trio.sleep(extra)
            saved_at_signal = await trio.to_thread.run_sync(saved_now, db)
            process.send_signal(sig)
            exit_status = await process.wait()
        finally:
            await stop(process)
    saved_after_exit = saved_now(db)
    rerun_log = directory / f"{sig.name}-{seed}.rerun.log"
    rerun_status = await run_crawl(base_url, db, config_path(directory, rate=0), rerun_log)
    got = snapshot(db, base_url)
    statuses = tuple(run.status for run in runs(db))
    problems = differences(clean, got)
    if exit_status != EXPECTED_EXIT[sig]:
        problems.append(f"the stopped crawl exited {exit_status}, not {EXPECTED_EXIT[sig]}")
    if rerun_status != 0:
        problems.append(f"the rerun exited {rerun_status}: {log_tail(rerun_log)}")
    if "running" in statuses:
        problems.append("crawl_runs has a running row")
    elif statuses != (EXPECTED_STATUS[sig], "completed"):
        problems.append(f"crawl_runs statuses {statuses}, not ({EXPECTED_STATUS[sig]}, completed)")
    return KillReport(
        signal=sig.name,
        seed=seed,
        target=target,
        saved_at_signal=saved_at_signal,
        saved_after_exit=saved_after_exit,
        exit_status=exit_status,
        rerun_status=rerun_status,
        statuses=statuses,
        rows_compared=f"{got.rows}/{clean.rows}",
        problems=tuple(problems),
    )


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
async def test_a_rerun_after_a_stop_at_a_random_moment_stores_exactly_the_clean_crawls_rows(
    tmp_path: Path, sig: signal.Signals, store: str, clean: Snapshot
) -> None:
    count = SCENARIOS_PER_SIGNAL if store == "sqlite" else PG_SCENARIOS_PER_SIGNAL
    seeds = [1000 * sig.value + n for n in range(count)]
    dbs = {seed: new_db(store, tmp_path, f"{sig.name}-{seed}") for seed in seeds}
    reports: list[KillReport] = []
    started = time.monotonic()
    write_config(tmp_path)
    write_config(tmp_path, rate=0)

    async def scenario(seed: int) -> None:
        report = await kill_scenario(server.base_url, dbs[seed], tmp_path, sig, seed, clean)
        reports.append(report)

    async with demo_server(catalogue(), LATE_RESPONSES) as server, trio.open_nursery() as nursery:
        for seed in seeds:
            nursery.start_soon(scenario, seed)
    reports.sort(key=lambda report: report.seed)
    summary = "\n".join(report.line() for report in reports)
    print(f"{len(reports)} {sig.name} scenarios in {time.monotonic() - started:.1f}s\n{summary}")
    failed = [report for report in reports if report.problems]
    assert not failed, f"{len(failed)} of {len(reports)} scenarios failed:\n{summary}"


# -- two crawls, one database -------------------------------------------------------------------


@pytest.mark.parametrize("store", STORES)
async def test_two_crawls_of_one_database_at_once_both_complete_and_store_the_clean_rows(
    tmp_path: Path, store: str, clean: Snapshot
) -> None:
    db = new_db(store, tmp_path, "shared")
    config = write_config(tmp_path)
    statuses: dict[str, int] = {}

    async def crawl(name: str) -> None:
        with trio.fail_after(GUARD_SECS):
            process = await start_crawl(server.base_url, db, config, tmp_path / f"{name}.log")
            try:
                statuses[name] = await process.wait()
            finally:
                await stop(process)

    async with demo_server(catalogue()) as server:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(crawl, "first")
            nursery.start_soon(crawl, "second")
        got = snapshot(db, server.base_url)
    logs = "\n".join(f"{name}: {log_tail(tmp_path / f'{name}.log')}" for name in statuses)
    assert statuses == {"first": 0, "second": 0}, logs
    run_statuses = [run.status for run in runs(db)]
    assert run_statuses == ["completed", "completed"], f"crawl_runs: {run_statuses}\n{logs}"
    problems = differences(clean, got)
    assert not problems, "; ".join(problems)


# -- a row left `running` by a process that is gone ---------------------------------------------


@pytest.mark.parametrize("store", STORES)
async def test_a_run_whose_process_was_killed_is_marked_interrupted_with_what_it_saved(
    tmp_path: Path, store: str
) -> None:
    db = new_db(store, tmp_path, "stale")
    config = write_config(tmp_path)
    log = tmp_path / "stale.log"
    async with demo_server(catalogue()) as server:
        with trio.fail_after(GUARD_SECS):
            process = await start_crawl(server.base_url, db, config, log)
            try:
                await wait_until_saved(db, PRODUCTS // 3, process, log)
                process.kill()
                assert await process.wait() == -signal.SIGKILL
            finally:
                await stop(process)
        saved = saved_now(db)
        (stale,) = runs(db)
        assert stale.status == "running"  # what a SIGKILL leaves behind
        unlimited = write_config(tmp_path, rate=0)
        assert await run_crawl(server.base_url, db, unlimited, tmp_path / "rerun.log") == 0
    after = {run.session_id: run for run in runs(db)}[stale.session_id]
    assert after.status != "running", f"crawl_runs still says {stale.session_id} is running"
    assert after.status == "interrupted"
    assert 0 < after.products_saved <= saved, (
        f"the killed run saved {saved} products; its row says {after.products_saved}"
    )
