"""A worker's loop: take a batch from the queue, run it, acknowledge it once it is settled,
until the crawl is finished.

What "settled" means is the caller's: for the catalogue crawl, the ledger says every item of
the batch is done or failed for good. A batch that is not settled (its session was stopped,
say) is not acknowledged: it stays pending and goes to whichever worker asks after the lease.
While a batch runs its lease is renewed every third of it, so only a worker that went silent
(killed, partitioned, hung without yielding) loses its batch. A batch taken again after a
reclaim is run again from the start: the ledger, not the queue, knows which of its items are
already done, so none is fetched twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import attrs
import trio

from .control import Steering
from .queue import Taken, WorkQueue
from .release import release

logger = logging.getLogger(__name__)

RunBatch = Callable[[Taken], Awaitable[bool]]
"""Runs one taken batch; True when it is settled (acknowledge it), False to leave it pending."""


@attrs.define
class WorkerTally:
    """What one worker did: batches taken (of them, reclaimed from a silent worker), and
    acknowledged; batches left pending for another worker."""

    consumer: str
    taken: int = 0
    reclaimed: int = 0
    acknowledged: int = 0
    left_pending: int = 0
    stopped: str = ""
    """Why the worker stopped before the crawl was finished ("" if it did not)."""


async def run_worker(
    queue: WorkQueue,
    consumer: str,
    run_batch: RunBatch,
    *,
    lease_ms: int,
    block_ms: int = 1000,
    steering: Steering | None = None,
) -> WorkerTally:
    """Take and run batches as `consumer` until the crawl is finished (planning done, every
    entry delivered, nothing pending in any consumer); a worker that starts before planning
    waits for it, one that starts after the end returns at once. With `steering`, no batch is
    taken while the crawl is paused, and a stop ends the loop, its unsettled batch released
    at once (`release`) for whichever worker asks next."""
    tally = WorkerTally(consumer)
    steering = steering or Steering()
    while not (await queue.progress()).finished:
        if not await steering.may_take():
            tally.stopped = steering.stop_reason
            break
        for taken in await queue.take(consumer, count=1, lease_ms=lease_ms, block_ms=block_ms):
            if steering.stop_reason:  # stopped while it waited for this one
                await release(queue, consumer, [taken.id])
                continue
            tally.taken += 1
            tally.reclaimed += taken.reclaimed
            if taken.reclaimed:
                logger.info("%s reclaimed batch %s from a silent worker", consumer, taken.id)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_renew, queue, consumer, taken.id, lease_ms / 3000)
                settled = await run_batch(taken)
                nursery.cancel_scope.cancel()
            if settled:
                tally.acknowledged += await queue.ack([taken.id])
            else:
                tally.left_pending += 1
                if steering.stop_reason:
                    await release(queue, consumer, [taken.id])
    return tally


async def _renew(queue: WorkQueue, consumer: str, entry: str, every_secs: float) -> None:
    while True:
        await trio.sleep(every_secs)
        if not await queue.renew(consumer, [entry]):
            # Silent past the lease (a long pause, a partition): another worker has the batch
            # now. Both may run it; the ledger keeps either from storing an item twice.
            logger.warning("%s lost its lease on batch %s to another worker", consumer, entry)
            return
