"""Which crawl a queue holds, and whether `plan` may plan it now.

A queue (``--queue``, the prefix of its Redis keys) holds one crawl at a time, in rounds; the
round's record (`{prefix}:crawl`) names its crawl id, the id every batch session of the round
writes the ledger under and the id of its one `crawl_runs` row. `plan` decides by what the
queue says:

- nothing planned yet (or a plan that failed): plan this round;
- planned and not finished: refuse, enqueue nothing (a second `plan` would put every batch in
  the queue twice, and every worker would run it twice);
- planned and finished: a new round, as a rerun is: the finished round's keys are dropped and
  the planner plans what the store does not hold yet;
- another `plan` planning now: refuse. The planning mark is a lease (renewed while planning),
  so a plan killed mid-way does not block the next one for longer than the lease.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import coredis
import trio

from .outage import redis_down
from .queue import WorkQueue

logger = logging.getLogger(__name__)

PLANNING_LEASE_MS = 60_000
RELEASE_SECS = 5.0


@attrs.frozen
class CrawlRound:
    """The crawl a queue holds: its id, its round, and what its plan put in the queue."""

    id: str
    round: int
    planned_at: str = ""
    batches: int = 0
    pages: int = 0
    products: int = 0


class PlanRefused(Exception):
    """`plan` may not plan now; the message says why and what to do."""


def round_keys(queue: WorkQueue) -> list[str]:
    """The keys one round owns, dropped when a new round begins."""
    prefix = queue.prefix
    return [
        queue.stream,
        queue.planned_key,
        f"{prefix}:crawl",
        f"{prefix}:listing",
        f"{prefix}:tally",
        f"{prefix}:workers",
        f"{prefix}:end",
        f"{prefix}:summary",
    ]


async def current_round(queue: WorkQueue) -> CrawlRound | None:
    """The round the queue holds, None before the first plan."""
    found = await queue.client.hgetall(f"{queue.prefix}:crawl")
    if not found or "id" not in found:
        return None
    return CrawlRound(
        id=str(found["id"]),
        round=int(found.get("round", 1)),
        planned_at=str(found.get("planned_at", "")),
        batches=int(found.get("batches", 0)),
        pages=int(found.get("pages", 0)),
        products=int(found.get("products", 0)),
    )


@asynccontextmanager
async def planning(queue: WorkQueue) -> AsyncIterator[CrawlRound]:
    """The round to plan, holding the planning mark while the block runs; `PlanRefused` when
    this is no time to plan."""
    client, prefix = queue.client, queue.prefix
    mark = f"{prefix}:planning"
    token = uuid.uuid4().hex
    if not await client.set(mark, token, condition=coredis.PureToken.NX, px=PLANNING_LEASE_MS):
        raise PlanRefused(f"another plan is planning the crawl {prefix!r} now; nothing enqueued")
    try:
        progress = await queue.progress()
        last = await current_round(queue)
        if progress.planned and not progress.finished:
            raise PlanRefused(
                f"the crawl {prefix!r} is planned and not finished ({progress.entries} batches"
                f" enqueued, {progress.pending} in workers' hands); nothing enqueued: start"
                " workers to finish it"
            )
        number = 1 if last is None else last.round
        if progress.planned:  # and finished: a new round over what is left
            await client.delete(round_keys(queue))
            queue.forget_group()
            number += 1
        this = CrawlRound(id=uuid.uuid4().hex, round=number)
        await client.hset(f"{prefix}:crawl", {"id": this.id, "round": str(this.round)})
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_keep, queue, mark, token)
            yield this
            nursery.cancel_scope.cancel()
    finally:
        with trio.move_on_after(RELEASE_SECS, shield=True):
            await _release(queue, mark, token)


async def record_plan(queue: WorkQueue, done: CrawlRound) -> None:
    """What the round's plan enqueued, for the summary."""
    await queue.client.hset(
        f"{queue.prefix}:crawl",
        {
            "planned_at": done.planned_at,
            "batches": str(done.batches),
            "pages": str(done.pages),
            "products": str(done.products),
        },
    )


async def _keep(queue: WorkQueue, mark: str, token: str) -> None:
    while True:
        await trio.sleep(PLANNING_LEASE_MS / 3000)
        await queue.client.eval(_RENEW_IF_OURS, keys=[mark], args=[token, PLANNING_LEASE_MS])


async def _release(queue: WorkQueue, mark: str, token: str) -> None:
    """Give the planning mark back. A command cancelled half way (a Ctrl-C while planning)
    can leave the connection lost: asked once more, on a fresh one; where Redis does not
    answer, the mark lapses with its lease instead."""
    for attempt in (1, 2):
        try:
            await queue.client.eval(_DELETE_IF_OURS, keys=[mark], args=[token])
            return
        except Exception as error:
            if not redis_down(error):
                raise
            if attempt == 2:
                logger.warning("planning mark %s not given back (%s): it lapses", mark, error)


_RENEW_IF_OURS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_DELETE_IF_OURS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
