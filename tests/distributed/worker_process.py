"""A distributed-crawl worker in a process of its own, for the tests that kill one:
``python -m tests.distributed.worker_process BASE_URL DB REDIS_URL PREFIX CONSUMER LEASE_MS
[stall]``. Prints its tally as JSON on its last line and exits 0 once the crawl is finished.

With ``stall`` the worker stops making progress once its first batch is stored, before it
acknowledges it (and without renewing its lease): the worst moment for a kill, since the batch
goes to another worker whole though every product of it is stored."""

from __future__ import annotations

import functools
import json
import signal
import sys

import attrs
import trio

from trio_crawl.distributed.client import connect
from trio_crawl.distributed.crawl import batch_runner
from trio_crawl.distributed.queue import Taken, WorkQueue
from trio_crawl.distributed.worker import run_worker
from trio_crawl.sites import MatterCatalogue
from trio_crawl.stores import open_store

from .crawl_config import distributed_config


async def main(
    base_url: str, db: str, redis_url: str, prefix: str, consumer: str, lease: str, stall: str = ""
) -> None:
    site = MatterCatalogue(base_url=base_url)
    async with connect(redis_url) as client, open_store(db, per_page=site.per_page) as store:
        run_batch = batch_runner(distributed_config(), site, store)

        async def stalling(taken: Taken) -> bool:
            settled = await run_batch(taken)
            print(f"stalled holding {taken.id}", flush=True)
            signal.pause()  # the whole process hangs (no renewals either) until it is killed
            return settled

        tally = await run_worker(
            WorkQueue(client, prefix),
            consumer,
            stalling if stall == "stall" else run_batch,
            lease_ms=int(lease),
            block_ms=100,
        )
    print(json.dumps(attrs.asdict(tally)), flush=True)


if __name__ == "__main__":
    trio.run(functools.partial(main, *sys.argv[1:8]))
