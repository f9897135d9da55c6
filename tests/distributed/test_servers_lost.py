"""A `trio-crawl worker` process that loses Redis or PostgreSQL mid-crawl, with real servers of
the test's own killed as a crash kills them (redis-server SIGKILLed, ``pg_ctl stop -m
immediate``). Away longer than the retry policy waits, the worker stops with one line naming
the server it lost and exits 1, keeping what it stored, and the batch it held goes to another
worker through the lease; back within the policy's window, the worker carries on and the crawl
completes."""

from __future__ import annotations

import functools
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from trio_crawl.demo import DemoCatalogue, FaultConfig, serve_demo
from trio_crawl.distributed.client import connect
from trio_crawl.distributed.queue import WorkQueue

from .. import redis_server
from ..e2e.test_interrupted_runs import _select, child_env, saved_now
from ..postgres_server import PostgresServer, own_server

pytestmark = pytest.mark.slow

PRODUCTS = 120  # 10 list pages, 10 batches
# Every page slow the first time it is asked for, so that each batch takes a while (the crawl
# is still going when a server is killed, and a worker holds its batch most of the time).
FAULTS = FaultConfig(rate_slow=1.0, slow_secs=0.2, seed=4, max_faults_per_url=1)
GUARD_SECS = 120  # against a hang, not a wait for work

SHORT_WINDOW = {"max_attempts": 4, "base_delay_ms": 100, "max_delay_ms": 400, "jitter_ms": 0}
"""Gives up after 0.1 + 0.2 + 0.4 s of retries."""
LONG_WINDOW = {"max_attempts": 12, "base_delay_ms": 200, "max_delay_ms": 2000, "jitter_ms": 0}
"""Waits about 18 s for a server: a restart comes back well within it."""


def config_text(window: dict[str, int]) -> str:
    saving = ", ".join(f"{key} = {value}" for key, value in window.items())
    return (
        '[crawl]\nstrategy = "full"\nbatch_size = 1\n\n[rate_limit]\nrequests_per_second = 0\n\n'
        "[concurrency]\nparse_processes = 0\n\n"
        f"[retry.saving]\n{saving.replace(', ', chr(10))}\n"
    )


@pytest.fixture
def own_redis() -> Iterator[redis_server.RedisServer]:
    """A Redis server of this test's own, persisting every write: it is killed."""
    yield from redis_server.own_server(persist=True)


@pytest.fixture
def own_pg() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own: it is killed."""
    yield from own_server()


class Crawl:
    def __init__(
        self, base_url: str, db: str, redis_url: str, queue: str, config: Path, logs: Path
    ) -> None:
        self.base_url, self.db, self.redis_url, self.queue = base_url, db, redis_url, queue
        self.config, self.logs = config, logs

    def command(self, name: str, *extra: str) -> list[str]:
        return [
            sys.executable, "-m", "trio_crawl", name, "--base-url", self.base_url, "--db",
            self.db, "--redis", self.redis_url, "--queue", self.queue, "--config", str(self.config),
            *extra,
        ]  # fmt: skip

    async def plan(self) -> None:
        done = await trio.run_process(
            self.command("plan"), capture_stdout=True, stderr=subprocess.STDOUT, check=False,
            env=child_env(),
        )  # fmt: skip
        assert done.returncode == 0, done.stdout.decode()

    async def start_worker(self, name: str, lease_secs: float = 60) -> trio.Process:
        out = (self.logs / f"{name}.out").open("wb")
        err = (self.logs / f"{name}.err").open("wb")
        return await trio.lowlevel.open_process(
            self.command("worker", "--name", name, "--lease-secs", str(lease_secs)),
            stdout=out, stderr=err, env=child_env(),
        )  # fmt: skip

    def output(self, name: str) -> tuple[str, str]:
        return (
            (self.logs / f"{name}.out").read_text(errors="replace"),
            (self.logs / f"{name}.err").read_text(errors="replace"),
        )

    async def wait_saved(self, at_least: int, worker: trio.Process) -> None:
        """Poll the store (a bounded wait on a subprocess) until it holds `at_least`."""
        while await trio.to_thread.run_sync(saved_now, self.db) < at_least:
            assert worker.poll() is None, "the worker ended before the server could be killed"
            await trio.sleep(0.01)

    async def stop_holding(self, queue: Any, name: str, worker: trio.Process) -> None:
        """Once `name` has stored some: freeze it (SIGSTOP) at a moment it holds a batch, so
        that the batch is still in its hands when the test kills Redis. Continue it with
        SIGCONT."""
        await self.wait_saved(24, worker)
        while True:
            assert worker.poll() is None, self.output(name)
            worker.send_signal(signal.SIGSTOP)
            await trio.sleep(0.05)  # what it sent before it stopped reaches Redis
            if name in (await queue.holders()).values():
                return
            worker.send_signal(signal.SIGCONT)  # between two batches: try again
            await trio.sleep(0.01)

    async def wait_for_line(self, name: str, pattern: str, worker: trio.Process) -> None:
        """Until the worker's stderr says `pattern` (it noticed the server away)."""
        while not re.search(pattern, self.output(name)[1]):
            assert worker.poll() is None, self.output(name)
            await trio.sleep(0.01)


@asynccontextmanager
async def a_crawl(
    tmp_path: Path, db: str, redis_url: str, window: dict[str, int], queue: str = "lost"
) -> AsyncIterator[Crawl]:
    config = tmp_path / "crawl.toml"
    config.write_text(config_text(window))
    with trio.fail_after(GUARD_SECS):
        async with trio.open_nursery() as nursery:
            catalogue = DemoCatalogue(products=PRODUCTS, seed=12)
            server: Any = await nursery.start(
                functools.partial(serve_demo, catalogue, faults=FAULTS)
            )
            crawl = Crawl(server.base_url, db, redis_url, queue, config, tmp_path)
            await crawl.plan()
            yield crawl
            nursery.cancel_scope.cancel()


def stored(db: str) -> tuple[int, int]:
    """Products stored, and ledger rows done whose product is not stored (must be 0)."""
    _, rows = _select(
        db,
        "SELECT (SELECT COUNT(*) FROM matter), (SELECT COUNT(*) FROM crawl_ledger AS l"
        " WHERE l.item = 'product' AND l.state = 'done'"
        " AND NOT EXISTS (SELECT 1 FROM matter AS m WHERE m.url = l.url))",
    )
    return int(rows[0][0]), int(rows[0][1])


async def test_a_worker_that_loses_redis_for_good_stops_clearly_and_its_batch_goes_back(
    tmp_path: Path, own_redis: redis_server.RedisServer, pg_url: str
) -> None:
    async with a_crawl(tmp_path, pg_url, own_redis.url(), SHORT_WINDOW) as crawl:
        worker = await crawl.start_worker("w1")
        async with connect(own_redis.url()) as client:
            await crawl.stop_holding(WorkQueue(client, "lost"), "w1", worker)
        own_redis.kill()
        worker.send_signal(signal.SIGCONT)
        with trio.fail_after(60):
            await worker.wait()
        kept, done_not_stored = await trio.to_thread.run_sync(stored, pg_url)
        own_redis.start()  # back, with its stream: the held batch is pending under w1
        async with connect(own_redis.url()) as client:
            still_held = await WorkQueue(client, "lost").holders()
        survivor = await crawl.start_worker("w2", lease_secs=1)
        with trio.fail_after(90):
            await survivor.wait()
    out, err = crawl.output("w1")
    assert worker.returncode == 1, (out, err)
    lines = [line for line in err.splitlines() if "stopped" in line]
    assert len(lines) == 1, err
    assert re.fullmatch(
        rf"worker w1 stopped: lost Redis at {re.escape(own_redis.url())}: .+ \(gave up after 4"
        r" attempts\)",
        lines[0],
    ), lines
    assert "Traceback" not in err, err
    assert 24 <= kept < PRODUCTS and done_not_stored == 0  # what it stored, it kept
    # The batch it held when Redis died, still pending under it: the lease gives it back.
    assert list(still_held.values()) == ["w1"]
    out, err = crawl.output("w2")
    assert survivor.returncode == 0, (out, err)
    assert re.search(r"worker finished: consumer w2, taken \d+, reclaimed 1,", out), out
    assert re.search(rf"\) completed: {PRODUCTS} of {PRODUCTS} planned products stored", out)
    assert await trio.to_thread.run_sync(stored, pg_url) == (PRODUCTS, 0)


async def test_a_worker_carries_on_when_redis_comes_back_within_the_retry_window(
    tmp_path: Path, own_redis: redis_server.RedisServer, pg_url: str
) -> None:
    async with a_crawl(tmp_path, pg_url, own_redis.url(), LONG_WINDOW) as crawl:
        worker = await crawl.start_worker("w1")
        await crawl.wait_saved(24, worker)
        own_redis.kill()
        await crawl.wait_for_line("w1", r"Redis at \S+ is away", worker)
        own_redis.start()
        with trio.fail_after(90):
            await worker.wait()
    out, err = crawl.output("w1")
    assert worker.returncode == 0, (out, err)
    assert re.search(rf"\) completed: {PRODUCTS} of {PRODUCTS} planned products stored", out)
    assert await trio.to_thread.run_sync(stored, pg_url) == (PRODUCTS, 0)


async def test_a_worker_that_loses_postgresql_for_good_stops_clearly_keeping_what_it_stored(
    tmp_path: Path, own_pg: PostgresServer, redis_target: tuple[str, str]
) -> None:
    db = own_pg.new_database()
    redis_url, prefix = redis_target
    async with a_crawl(tmp_path, db, redis_url, SHORT_WINDOW, prefix) as crawl:
        worker = await crawl.start_worker("w1")
        await crawl.wait_saved(24, worker)
        own_pg.kill()
        with trio.fail_after(60):
            await worker.wait()
        own_pg.start()
        kept, done_not_stored = await trio.to_thread.run_sync(stored, db)
    out, err = crawl.output("w1")
    assert worker.returncode == 1, (out, err)
    lines = [line for line in err.splitlines() if "stopped" in line]
    assert len(lines) == 1, err
    assert re.fullmatch(
        r"worker w1 stopped: lost the store at postgresql://\S+: .+ \(gave up after 4 attempts\)",
        lines[0],
    ), lines
    assert "Traceback" not in err, err
    assert "password" not in lines[0]
    assert 24 <= kept < PRODUCTS and done_not_stored == 0


async def test_a_worker_carries_on_when_postgresql_comes_back_within_the_retry_window(
    tmp_path: Path, own_pg: PostgresServer, redis_target: tuple[str, str]
) -> None:
    db = own_pg.new_database()
    redis_url, prefix = redis_target
    async with a_crawl(tmp_path, db, redis_url, LONG_WINDOW, prefix) as crawl:
        worker = await crawl.start_worker("w1")
        await crawl.wait_saved(24, worker)
        own_pg.kill()
        await crawl.wait_for_line("w1", r"the store at \S+ is away", worker)
        own_pg.start()
        with trio.fail_after(90):
            await worker.wait()
    out, err = crawl.output("w1")
    assert worker.returncode == 0, (out, err)
    assert re.search(rf"\) completed: {PRODUCTS} of {PRODUCTS} planned products stored", out)
    assert await trio.to_thread.run_sync(stored, db) == (PRODUCTS, 0)
