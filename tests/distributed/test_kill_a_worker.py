"""Three worker processes share one crawl of a demo catalogue with faults, through a real
redis-server and a real PostgreSQL server; one is SIGKILLed mid-run. The store must equal a
clean single-process crawl's row for row, no product may be fetched after it was stored, every
surviving worker exits 0, and the killed worker's batch is reclaimed by another.

The kill lands at the worst moment: the victim has stored its batch and hangs before it
acknowledges it (`worker_process.py` with ``stall``), so the batch goes to another worker
whole, and only the ledger keeps its products from being fetched again."""

from __future__ import annotations

import functools
import json
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import trio

from trio_crawl import crawl
from trio_crawl.demo import DemoCatalogue, FaultConfig, serve_demo
from trio_crawl.distributed.client import connect
from trio_crawl.distributed.crawl import plan_crawl
from trio_crawl.distributed.ending import account
from trio_crawl.distributed.queue import WorkQueue
from trio_crawl.sites import MatterCatalogue
from trio_crawl.stores import open_store

from ..e2e.test_interrupted_runs import _select, child_env, differences, snapshot
from .crawl_config import distributed_config

pytestmark = pytest.mark.slow

PRODUCTS = 240  # 20 list pages, 20 batches
# Transient faults (each URL fails at most once, then is served) and late responses, so that
# batches finish out of order and the kill lands while the victim holds a batch.
FAULTS = FaultConfig(rate_500=0.04, rate_slow=0.05, slow_secs=0.3, seed=5, max_faults_per_url=1)
LEASE_MS = 1500
GUARD_SECS = 120  # against a hang, not a wait for work
WORKERS = 3


def catalogue() -> DemoCatalogue:
    return DemoCatalogue(products=PRODUCTS, seed=3)


async def _clean_crawl(db: str) -> str:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(functools.partial(serve_demo, catalogue(), faults=FAULTS))
        site = MatterCatalogue(base_url=server.base_url)
        async with open_store(db, per_page=site.per_page) as store:
            summary = await crawl(distributed_config(), site=site, store=store)
        assert summary.status == "completed", summary
        nursery.cancel_scope.cancel()
    return str(server.base_url)


def _stored_at(db: str, base_url: str) -> dict[str, float]:
    _, rows = _select(db, "SELECT url, created_at FROM matter")
    return {url.removeprefix(base_url): datetime.fromisoformat(at).timestamp() for url, at in rows}


async def test_a_worker_killed_mid_run_loses_nothing_and_fetches_nothing_twice(
    pg_server: Any, redis_target: tuple[str, str], tmp_path: Path
) -> None:
    redis_url, prefix = redis_target
    clean_db, db = pg_server.new_database(), pg_server.new_database()
    clean_base = await _clean_crawl(clean_db)

    fetched: list[tuple[float, str]] = []
    with trio.fail_after(GUARD_SECS):
        async with trio.open_nursery() as nursery, connect(redis_url) as client:
            server = await nursery.start(functools.partial(serve_demo, catalogue(), faults=FAULTS))

            def seen(path: str) -> None:
                if "/csa_product/" in path:
                    fetched.append((time.time(), path))

            server.on_request = seen
            site = MatterCatalogue(base_url=server.base_url)
            queue = WorkQueue(client, prefix)
            # Workers first: they wait for the plan.
            logs = [tmp_path / f"w{n}.log" for n in range(WORKERS)]
            processes = [
                await trio.lowlevel.open_process(
                    [
                        sys.executable,
                        "-m",
                        "tests.distributed.worker_process",
                        server.base_url,
                        db,
                        redis_url,
                        prefix,
                        f"w{n}",
                        str(LEASE_MS),
                        "stall" if n == 0 else "",
                    ],
                    stdout=logs[n].open("wb"),
                    stderr=subprocess.STDOUT,
                    env=child_env(),
                    cwd=Path(__file__).parents[2],
                )
                for n in range(WORKERS)
            ]
            try:
                async with open_store(db, per_page=site.per_page) as store:
                    planned = await plan_crawl(
                        distributed_config(), site=site, store=store, queue=queue
                    )
                assert planned.summary is not None and planned.summary.status == "completed"
                assert planned.batches == PRODUCTS // 12
                victim = processes[0]
                while "stalled holding" not in logs[0].read_text():
                    assert victim.poll() is None, logs[0].read_text()[-2000:]
                    await trio.sleep(0.01)  # real time: the worker is another process
                held = [e for e, holder in (await queue.holders()).items() if holder == "w0"]
                assert len(held) == 1
                # Every product of the held batch is stored; it is not acknowledged.
                assert await _stored_of(queue, db, held[0]) == (12, 12)
                victim.send_signal(signal.SIGKILL)
                killed_at = time.time()
                codes = [await process.wait() for process in processes]
            finally:
                for process in processes:
                    if process.returncode is None:
                        process.kill()
                        await process.wait()
            nursery.cancel_scope.cancel()

    assert codes[0] == -signal.SIGKILL
    assert codes[1:] == [0] * (WORKERS - 1), [log.read_text()[-2000:] for log in logs[1:]]
    tallies = [json.loads(log.read_text().splitlines()[-1]) for log in logs[1:]]
    reclaimed = sum(t["reclaimed"] for t in tallies)
    assert reclaimed >= 1, tallies
    assert (await _progress(redis_url, prefix)).finished
    # The whole crawl's account (what its summary says) covers every product of the plan,
    # the killed worker's batch included.
    assert planned.round is not None
    async with connect(redis_url) as client, open_store(db, per_page=12) as store:
        whole = await account(WorkQueue(client, prefix), store, planned.round, "", "test")
    assert (whole.planned_products, whole.products_stored) == (PRODUCTS, PRODUCTS)
    assert (whole.products_failed, whole.unaccounted, whole.status) == (0, 0, "completed")

    # Row for row the clean single-process crawl's rows.
    assert differences(snapshot(clean_db, clean_base), snapshot(db, server.base_url)) == []
    # No product fetched after it was stored.
    stored_at = _stored_at(db, server.base_url)  # by path: the demo serves at its root
    assert len(stored_at) == PRODUCTS
    assert {path for _, path in fetched} == set(stored_at)
    late = [(path, when - stored_at[path]) for when, path in fetched if when > stored_at[path]]
    assert late == []
    print(
        f"kill test: {len(fetched)} product fetches for {PRODUCTS} products, {reclaimed} batch(es)"
        f" reclaimed; last worker exit {time.time() - killed_at:.2f}s after the kill"
        f" (lease {LEASE_MS} ms)"
    )


async def _stored_of(queue: WorkQueue, db: str, entry: str) -> tuple[int, int]:
    """How many products of batch `entry` are stored, of how many it holds."""
    found = await queue.client.xrange(queue.stream, entry, entry)
    urls = {url for job in json.loads(found[0].field_values["batch"]) for url in job["only"]}

    def stored() -> int:
        _, rows = _select(db, "SELECT url FROM matter")
        return len({url for (url,) in rows} & urls)

    return await trio.to_thread.run_sync(stored), len(urls)


async def _progress(redis_url: str, prefix: str) -> Any:
    async with connect(redis_url) as client:
        return await WorkQueue(client, prefix).progress()
