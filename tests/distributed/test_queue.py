"""The work queue against a real redis-server (tests/redis_server.py): entries taken by a
consumer stay pending until acknowledged, a silent consumer's entries are reclaimed past the
lease, and the crawl is finished only when planning is done, everything was delivered and
nothing is pending."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from trio_crawl.distributed.client import connect
from trio_crawl.distributed.queue import WorkQueue

LONG_LEASE_MS = 600_000
"""A lease no test outlives: entries under it are never reclaimed."""


@pytest.fixture
async def queue(redis_target: tuple[str, str]) -> AsyncIterator[WorkQueue]:
    url, prefix = redis_target
    client = connect(url)
    async with client:
        yield WorkQueue(client, prefix)


async def test_entries_carry_their_batches_in_order(queue: WorkQueue) -> None:
    ids = await queue.enqueue([[1, 2], [3], [{"page": 4, "url": "u"}]])
    taken = await queue.take("a", count=10, lease_ms=LONG_LEASE_MS, block_ms=10)
    assert [t.id for t in taken] == ids
    assert [t.items for t in taken] == [(1, 2), (3,), ({"page": 4, "url": "u"},)]
    assert not any(t.reclaimed for t in taken)
    # Read once: another consumer gets nothing new, and the lease keeps them from it.
    assert await queue.take("b", count=10, lease_ms=LONG_LEASE_MS, block_ms=10) == []


async def test_finished_only_when_planned_delivered_and_acknowledged(queue: WorkQueue) -> None:
    assert not (await queue.progress()).finished  # an empty stream before planning
    await queue.enqueue([[1], [2]])
    await queue.mark_planned()
    progress = await queue.progress()
    assert (progress.planned, progress.undelivered, progress.pending) == (True, True, 0)
    assert not progress.finished  # nothing read yet
    first = await queue.take("a", count=1, lease_ms=LONG_LEASE_MS, block_ms=10)
    second = await queue.take("b", count=1, lease_ms=LONG_LEASE_MS, block_ms=10)
    progress = await queue.progress()
    assert (progress.undelivered, progress.pending, progress.finished) == (False, 2, False)
    assert await queue.ack([first[0].id]) == 1
    assert not (await queue.progress()).finished  # b's entry is still pending
    assert await queue.ack([second[0].id]) == 1
    assert await queue.ack([second[0].id]) == 0  # acknowledged once only
    assert (await queue.progress()).finished


async def test_a_silent_consumers_entries_are_reclaimed_past_the_lease(queue: WorkQueue) -> None:
    await queue.enqueue([[1], [2]])
    await queue.mark_planned()
    held = await queue.take("dead", count=2, lease_ms=LONG_LEASE_MS, block_ms=10)
    assert len(held) == 2
    # Within the lease the entries stay with their consumer.
    assert await queue.take("alive", count=2, lease_ms=LONG_LEASE_MS, block_ms=10) == []
    # Past it (a lease of 0 ms has passed for any entry) the next worker claims them.
    reclaimed = await queue.take("alive", count=2, lease_ms=0, block_ms=10)
    assert [t.id for t in reclaimed] == [t.id for t in held]
    assert all(t.reclaimed for t in reclaimed)
    assert [t.items for t in reclaimed] == [(1,), (2,)]
    # Acknowledged by the claimer, the crawl is finished.
    await queue.ack([t.id for t in reclaimed])
    assert (await queue.progress()).finished


async def test_a_worker_started_before_planning_waits_for_the_work(queue: WorkQueue) -> None:
    got: list[tuple[object, ...]] = []
    asked = trio.Event()  # the worker found nothing to do yet, and kept waiting

    async def worker() -> None:
        while not (await queue.progress()).finished:
            taken = await queue.take("early", count=1, lease_ms=LONG_LEASE_MS, block_ms=200)
            if not taken:
                asked.set()
            for entry in taken:
                got.append(entry.items)
                await queue.ack([entry.id])

    with trio.fail_after(10):  # a worker that does not wait would leave `asked` unset
        async with trio.open_nursery() as nursery:
            nursery.start_soon(worker)
            await asked.wait()
            await queue.enqueue([["x"], ["y"]])
            await queue.mark_planned()
    assert got == [("x",), ("y",)]


async def _silent_for(queue: WorkQueue, consumer: str, ids: list[str], ms: int) -> None:
    """Make `ids` look untouched for `ms` (``XCLAIM … IDLE``), as a consumer killed that long
    ago leaves them, without waiting that long."""
    await queue.client.xclaim(queue.stream, "workers", consumer, 0, ids, idle=ms, justid=True)


async def test_a_long_silence_loses_the_lease_and_renewing_keeps_it(queue: WorkQueue) -> None:
    await queue.enqueue([[1], [2]])
    held = await queue.take("w1", count=2, lease_ms=LONG_LEASE_MS, block_ms=10)
    ids = [t.id for t in held]
    await _silent_for(queue, "w1", ids, LONG_LEASE_MS + 1000)
    # w1 renews the first only: the second, silent past the lease, goes to w2.
    assert await queue.renew("w1", ids[:1]) == 1
    claimed = await queue.take("w2", count=2, lease_ms=LONG_LEASE_MS, block_ms=10)
    assert [(t.id, t.reclaimed) for t in claimed] == [(ids[1], True)]
    assert await queue.holders() == {ids[0]: "w1", ids[1]: "w2"}
    # w1, back from its silence, cannot renew what w2 reclaimed: w2 keeps it.
    assert await queue.renew("w1", ids) == 1
    assert await queue.holders() == {ids[0]: "w1", ids[1]: "w2"}
