"""The worker loop against a real redis-server: every batch run and acknowledged once, a
killed worker's batch reclaimed past the lease by another, a worker joining after the end
returning at once. `run_batch` here keeps a ledger of its own (a dict of done items), as the
crawl's batches keep theirs in the store."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import AsyncIterator

import pytest
import trio

from trio_crawl.distributed.client import connect
from trio_crawl.distributed.queue import Taken, WorkQueue
from trio_crawl.distributed.worker import WorkerTally, run_worker

SHORT_LEASE_MS = 300
"""Real milliseconds at the Redis server: its idle clock is not trio's, so the reclaim test
waits this long once."""


@pytest.fixture
async def queue(redis_target: tuple[str, str]) -> AsyncIterator[WorkQueue]:
    url, prefix = redis_target
    async with connect(url) as client:
        yield WorkQueue(client, prefix)


class Ledger:
    """Which items are done, and how often each was worked on."""

    def __init__(self) -> None:
        self.done: set[object] = set()
        self.fetched: Counter[object] = Counter()

    async def run(self, taken: Taken) -> bool:
        for item in taken.items:
            if item in self.done:  # dedup through the ledger
                continue
            self.fetched[item] += 1
            await trio.lowlevel.checkpoint()
            self.done.add(item)
        return True


async def test_three_workers_run_every_batch_once(queue: WorkQueue) -> None:
    ledger = Ledger()
    batches = [[f"p{b}-{i}" for i in range(3)] for b in range(9)]
    await queue.enqueue(batches)
    await queue.mark_planned()
    tallies: list[WorkerTally] = []

    async def worker(name: str) -> None:
        tallies.append(await run_worker(queue, name, ledger.run, lease_ms=60_000, block_ms=50))

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            for name in ("w1", "w2", "w3"):
                nursery.start_soon(worker, name)
    every = {item for batch in batches for item in batch}
    assert ledger.done == every
    assert set(ledger.fetched.values()) == {1}
    assert sum(t.acknowledged for t in tallies) == len(batches)
    assert sum(t.reclaimed for t in tallies) == 0
    assert (await queue.progress()).finished


async def test_a_killed_workers_batch_is_reclaimed_and_not_fetched_twice(
    queue: WorkQueue,
) -> None:
    ledger = Ledger()
    await queue.enqueue([["a1", "a2", "a3"], ["b1"], ["c1"]])
    await queue.mark_planned()
    stuck = trio.Event()

    async def dies_mid_batch(taken: Taken) -> bool:
        ledger.done.add(taken.items[0])  # one item stored, then the worker is killed
        ledger.fetched[taken.items[0]] += 1
        stuck.set()
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            doomed = trio.CancelScope()

            async def doomed_worker() -> None:
                with doomed:
                    await run_worker(queue, "doomed", dies_mid_batch, lease_ms=SHORT_LEASE_MS)

            nursery.start_soon(doomed_worker)
            await stuck.wait()
            doomed.cancel()  # no ack, no more renewals: as a SIGKILL leaves it
            survivor = await run_worker(
                queue, "survivor", ledger.run, lease_ms=SHORT_LEASE_MS, block_ms=50
            )
    assert ledger.done == {"a1", "a2", "a3", "b1", "c1"}
    assert set(ledger.fetched.values()) == {1}  # a1, done before the kill, not fetched again
    assert (survivor.taken, survivor.reclaimed, survivor.acknowledged) == (3, 1, 3)
    assert (await queue.progress()).finished


async def test_a_worker_that_joins_after_the_end_returns_at_once(queue: WorkQueue) -> None:
    ledger = Ledger()
    await queue.enqueue([["x"]])
    await queue.mark_planned()
    await run_worker(queue, "first", ledger.run, lease_ms=60_000, block_ms=50)

    async def must_not_run(taken: Taken) -> bool:
        raise AssertionError(f"the finished crawl handed out {taken}")

    with trio.fail_after(5):
        late = await run_worker(queue, "late", must_not_run, lease_ms=60_000, block_ms=50)
    assert (late.taken, late.acknowledged) == (0, 0)


async def test_an_unsettled_batch_stays_pending_until_run_again(queue: WorkQueue) -> None:
    await queue.enqueue([["y"]])
    await queue.mark_planned()
    runs: list[bool] = []

    async def settles_the_second_time(taken: Taken) -> bool:
        runs.append(taken.reclaimed)
        return len(runs) == 2

    with trio.fail_after(20):
        tally = await run_worker(
            queue, "w", settles_the_second_time, lease_ms=SHORT_LEASE_MS, block_ms=50
        )
    # Not acknowledged the first time, the entry came back after the lease, reclaimed.
    assert runs == [False, True]
    assert (tally.taken, tally.left_pending, tally.acknowledged) == (2, 1, 1)


async def test_a_batch_longer_than_the_lease_keeps_it_while_its_worker_lives(
    queue: WorkQueue,
) -> None:
    await queue.enqueue([["slow"], ["other"]])
    await queue.mark_planned()
    runs: Counter[object] = Counter()

    async def slow(taken: Taken) -> bool:
        runs[taken.items[0]] += 1
        if taken.items[0] == "slow":
            # Three leases long (real time: the lease is the Redis server's clock); renewed
            # every third of one, the batch is never idle long enough to be reclaimed.
            await trio.sleep(3 * SHORT_LEASE_MS / 1000)
        return True

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            for name in ("w1", "w2"):
                nursery.start_soon(
                    functools.partial(
                        run_worker, queue, name, slow, lease_ms=SHORT_LEASE_MS, block_ms=50
                    )
                )
    assert runs == {"slow": 1, "other": 1}
