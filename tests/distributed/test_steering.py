"""Pause, resume and cancel reach every worker of a distributed crawl, through a real
redis-server, a real PostgreSQL server and real `trio-crawl worker` processes; Ctrl-C and
SIGTERM stop `crawl --workers N` and a single `worker`, keeping what they stored, and the line
they print finishes the crawl.

The workers are rate limited, so that the crawl is still running when it is steered. The
workers that must give their batch back are started with a lease far longer than the test's
guard: a rerun that finishes in time proves the batch was released, not left to its lease."""

from __future__ import annotations

import functools
import re
import signal
from pathlib import Path
from typing import Any

import pytest
import trio

from trio_crawl.demo import DemoCatalogue, serve_demo

from .steering_runs import (
    Crawl,
    Warm,
    continue_command,
    pending_idle,
    run,
    start,
    stored,
    until,
    write_config,
)

pytestmark = pytest.mark.slow

PRODUCTS = 240  # 20 list pages, one a batch
GUARD_SECS = 120  # against a hang, not a wait for work
LONG_LEASE = "600"  # longer than the guard: only a release frees a stopped worker's batch
STARTED = 24  # product pages fetched before the crawl is steered
PAUSED = 120  # the pause test's catalogue: a pause lands long before its end
RELEASED = 10**9  # ms: a released entry's idle time is past any lease (a day is 8.64e7)


async def _all_released(crawl: Crawl) -> dict[str, int]:
    """The crawl's pending entries, each asserted to be given back (idle past any lease). A
    worker stopped between two batches holds none: then there is nothing to give back, and
    the rerun, with a lease longer than the guard, still proves that none was kept."""
    idle = await pending_idle(crawl.redis_url, crawl.prefix)
    assert all(ms > RELEASED for ms in idle.values()), idle
    return idle


class Server:
    """The demo catalogue served in this process, counting the product pages it is asked for."""

    def __init__(self) -> None:
        self.products: list[str] = []
        self.requests = 0

    def seen(self, path: str) -> None:
        self.requests += 1
        if "/csa_product/" in path:
            self.products.append(path)


async def _crawl(
    nursery: trio.Nursery,
    pg_server: Any,
    redis_target: tuple[str, str],
    tmp_path: Path,
    rate: int = 40,
    products: int = PRODUCTS,
) -> tuple[Crawl, Server]:
    redis_url, prefix = redis_target
    counter = Server()
    server = await nursery.start(
        functools.partial(serve_demo, DemoCatalogue(products=products, seed=6))
    )
    server.on_request = counter.seen
    config = write_config(tmp_path, rate=rate)
    return Crawl(server.base_url, pg_server.new_database(), redis_url, prefix, config), counter


def _says(log: Path, text: str) -> bool:
    return text in log.read_text()


def _with_db(command: list[str], db: str) -> list[str]:
    """`command` with `--db` given as the test's URL (the printed one has no password)."""
    at = command.index("--db") + 1
    return [*command[:at], db, *command[at + 1 :]]


async def test_pause_holds_every_worker_and_resume_lets_them_finish(
    pg_server: Any, redis_target: tuple[str, str], tmp_path: Path
) -> None:
    logs = [tmp_path / f"w{n}.log" for n in (1, 2)]
    with trio.fail_after(GUARD_SECS):
        async with trio.open_nursery() as nursery:
            crawl, server = await _crawl(
                nursery, pg_server, redis_target, tmp_path, products=PAUSED
            )
            planned = await run(crawl.command("plan"))
            assert planned.returncode == 0, planned.stdout.decode()
            pause = await Warm.start(crawl.steer("pause"))  # (its start-up is not the moment)
            workers = [
                await start(crawl.command("worker", "--name", f"w{n}"), log)
                for n, log in zip((1, 2), logs, strict=True)
            ]
            await pause.ready()
            # Stored, not only fetched: a pause holds fetched products unsaved until resume.
            await until(lambda: stored(crawl.db) >= STARTED, "the crawl to store some")
            paused = await pause.run()
            assert paused.returncode == 0, paused.stdout.decode()
            assert "the crawl is paused" in paused.stdout.decode()
            for log in logs:
                said = functools.partial(_says, log, "crawl paused")
                await until(said, f"{log.name} to say it is paused")
            # Items in flight finish; then nothing more is asked of the server while paused
            # (a real-time window: the absence of requests is what is measured).
            await trio.sleep(1.0)
            before = len(server.products)
            await trio.sleep(1.5)  # unpaused, 60 requests at the test's rate
            assert len(server.products) == before
            assert STARTED <= stored(crawl.db) < PAUSED
            assert all(worker.returncode is None for worker in workers)
            resumed = await run(crawl.steer("resume"))
            assert "the crawl is running" in resumed.stdout.decode()
            codes = [await worker.wait() for worker in workers]
            nursery.cancel_scope.cancel()
    outputs = [log.read_text() for log in logs]
    assert codes == [0, 0], outputs
    assert all("crawl running" in output for output in outputs), outputs
    assert stored(crawl.db) == PAUSED
    assert sorted(server.products) == sorted(set(server.products))  # none fetched twice


async def test_cancel_stops_every_worker_keeping_what_they_stored_and_a_new_plan_finishes(
    pg_server: Any, redis_target: tuple[str, str], tmp_path: Path
) -> None:
    logs = [tmp_path / f"w{n}.log" for n in (1, 2)]
    with trio.fail_after(GUARD_SECS):
        async with trio.open_nursery() as nursery:
            crawl, server = await _crawl(nursery, pg_server, redis_target, tmp_path)
            assert (await run(crawl.command("plan"))).returncode == 0
            workers = [
                await start(
                    crawl.command("worker", "--name", f"w{n}", "--lease-secs", LONG_LEASE), log
                )
                for n, log in zip((1, 2), logs, strict=True)
            ]
            await until(lambda: len(server.products) >= STARTED, "the crawl to get going")
            cancelled = await run(crawl.steer("cancel", "--reason", "operator says stop"))
            assert "cancelled (operator says stop)" in cancelled.stdout.decode()
            codes = [await worker.wait() for worker in workers]
            kept = stored(crawl.db)
            await _all_released(crawl)
            # A worker that joins after the cancel learns of it and takes nothing.
            late = await run(crawl.command("worker", "--name", "late"))
            write_config(tmp_path, rate=0)  # the rerun need not be slow
            # A new plan lifts the cancel; one worker, whose lease would outlast the guard,
            # finishes: the stopped workers' batches were given back at once.
            assert (await run(crawl.command("plan"))).returncode == 0
            rerun = await run(
                crawl.command("worker", "--name", "rerun", "--lease-secs", LONG_LEASE)
            )
            nursery.cancel_scope.cancel()
    outputs = [log.read_text() for log in logs]
    assert codes == [130, 130], outputs
    for output in outputs:
        assert "worker cancelled (operator says stop)" in output, output
        assert "Traceback" not in output, output
        assert re.search(r"continue with: trio-crawl plan .*, then trio-crawl worker ", output)
    assert 0 < kept < PRODUCTS
    late_output = late.stdout.decode()
    assert late.returncode == 130, late_output
    assert "worker cancelled (operator says stop): consumer late, taken 0" in late_output
    assert rerun.returncode == 0, rerun.stdout.decode()[-3000:]
    assert stored(crawl.db) == PRODUCTS


async def test_sigterm_on_crawl_with_workers_stops_every_worker_and_its_line_finishes(
    pg_server: Any, redis_target: tuple[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "crawl.log"
    with trio.fail_after(GUARD_SECS):
        async with trio.open_nursery() as nursery:
            crawl, server = await _crawl(nursery, pg_server, redis_target, tmp_path)
            parent = await start(crawl.command("crawl", "--workers", "2"), log)
            await until(lambda: len(server.products) >= STARTED, "the crawl to get going")
            parent.send_signal(signal.SIGTERM)  # to the command alone, as `kill` sends it
            with trio.fail_after(60):
                code = await parent.wait()
            output = log.read_text()
            kept = stored(crawl.db)
            await _all_released(crawl)
            write_config(tmp_path, rate=0)  # the rerun need not be slow
            rerun = await run(_with_db(continue_command(output), crawl.db))
            nursery.cancel_scope.cancel()
    assert code == 130, output
    assert "Traceback" not in output, output
    assert re.findall(r"^w\d: exit 130; worker cancelled \(interrupted by signal\)", output, re.M)
    assert len(re.findall(r"^w\d: exit", output, re.M)) == 2, output
    assert "crawl cancelled: interrupted by signal" in output
    assert re.search(r"continue with: trio-crawl crawl .* --workers 2 --redis ", output), output
    assert output.count("continue with: ") == 1, output  # the crawl's, not a single crawl's
    assert 0 < kept < PRODUCTS
    assert rerun.returncode == 0, rerun.stdout.decode()[-3000:]
    assert stored(crawl.db) == PRODUCTS


async def test_ctrl_c_on_a_single_worker_stops_it_and_gives_its_batch_back(
    pg_server: Any, redis_target: tuple[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    with trio.fail_after(GUARD_SECS):
        async with trio.open_nursery() as nursery:
            crawl, server = await _crawl(nursery, pg_server, redis_target, tmp_path)
            assert (await run(crawl.command("plan"))).returncode == 0
            worker = await start(
                crawl.command("worker", "--name", "w1", "--lease-secs", LONG_LEASE), log
            )
            await until(lambda: len(server.products) >= STARTED, "the crawl to get going")
            worker.send_signal(signal.SIGINT)
            with trio.fail_after(60):
                code = await worker.wait()
            output = log.read_text()
            kept = stored(crawl.db)
            await _all_released(crawl)
            write_config(tmp_path, rate=0)  # the rerun need not be slow
            rerun = await run(
                [*_with_db(continue_command(output), crawl.db), "--lease-secs", LONG_LEASE]
            )
            nursery.cancel_scope.cancel()
    assert code == 130, output
    assert "Traceback" not in output, output
    assert "worker cancelled (interrupted by signal): consumer w1" in output
    assert re.search(r"continue with: trio-crawl worker ", output), output
    assert output.count("continue with: ") == 1, output  # the worker's, not a single crawl's
    assert 0 < kept < PRODUCTS
    assert rerun.returncode == 0, rerun.stdout.decode()[-3000:]
    assert stored(crawl.db) == PRODUCTS


async def test_sigterm_while_crawl_with_workers_plans_stops_it_and_its_line_finishes(
    pg_server: Any, redis_target: tuple[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "crawl.log"
    with trio.fail_after(GUARD_SECS):
        async with trio.open_nursery() as nursery:
            # Slow enough that the planning's reads are still going when the signal comes.
            crawl, server = await _crawl(nursery, pg_server, redis_target, tmp_path, rate=4)
            parent = await start(crawl.command("crawl", "--workers", "2"), log)
            await until(lambda: server.requests >= 2, "the planning to start")
            parent.send_signal(signal.SIGTERM)
            with trio.fail_after(60):
                code = await parent.wait()
            output = log.read_text()
            write_config(tmp_path, rate=0)  # the rerun need not be slow
            rerun = await run(_with_db(continue_command(output), crawl.db))
            nursery.cancel_scope.cancel()
    assert code == 130, output
    assert "Traceback" not in output, output
    assert "crawl cancelled: interrupted by signal while planning" in output
    assert not re.search(r"^w\d: ", output, re.M), output  # no worker was started
    assert re.search(r"continue with: trio-crawl crawl .* --workers 2 --redis ", output), output
    assert rerun.returncode == 0, rerun.stdout.decode()[-3000:]
    assert stored(crawl.db) == PRODUCTS
