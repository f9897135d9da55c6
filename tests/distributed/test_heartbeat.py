"""Live workers: a worker beats into a real redis-server on trio's clock (a MockClock here,
so seconds of beating take none), `workers_seen` tells a live worker from one silent past its
lease, and a worker that leaves cleanly is neither."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import pytest
import trio
from trio.testing import MockClock

from trio_crawl.distributed.client import connect
from trio_crawl.distributed.heartbeat import (
    WorkerState,
    beat,
    keep_beating,
    leave,
    workers_seen,
)
from trio_crawl.distributed.queue import WorkQueue

LEASE_SECS = 60.0


@pytest.fixture
def clock() -> MockClock:
    """Trio's clock jumps to the next timer once every task has waited this long in real
    time: Redis answers well within it, so only sleeps are skipped."""
    return MockClock(autojump_threshold=0.05)


@pytest.fixture
async def queue(redis_target: tuple[str, str]) -> AsyncIterator[WorkQueue]:
    url, prefix = redis_target
    async with connect(url) as client:
        yield WorkQueue(client, prefix)


async def test_a_worker_beats_every_interval_and_goes_lost_once_silent_past_its_lease(
    clock: MockClock, queue: WorkQueue
) -> None:
    state = WorkerState("w1", LEASE_SECS)
    async with trio.open_nursery() as nursery:
        await nursery.start(
            functools.partial(keep_beating, queue, state, every_secs=5, clock=trio.current_time)
        )
        state.batch, state.counts["products_saved"] = "1-0", 12
        await trio.sleep(12)  # beats at 0, 5 and 10
        (seen,) = await workers_seen(queue, now=trio.current_time())
        assert (seen.beat.beat_at, seen.age, seen.lost) == (10, 2, False)
        assert (seen.beat.batch, seen.beat.counts) == ("1-0", {"products_saved": 12})
        assert "w1" in seen.line() and "live" in seen.line()
        nursery.cancel_scope.cancel()  # killed: it stops beating, its beat stays
    await trio.sleep(LEASE_SECS)
    (seen,) = await workers_seen(queue, now=trio.current_time())
    assert seen.lost and seen.age == LEASE_SECS + 2
    assert "LOST" in seen.line()


async def test_a_worker_that_leaves_is_neither_live_nor_lost(queue: WorkQueue) -> None:
    await beat(queue, WorkerState("gone", LEASE_SECS), now=100.0)
    await beat(queue, WorkerState("stays", LEASE_SECS), now=100.0)
    await leave(queue, "gone")
    assert [seen.beat.name for seen in await workers_seen(queue, now=101.0)] == ["stays"]


async def test_beats_go_on_when_one_cannot_be_written(clock: MockClock, queue: WorkQueue) -> None:
    """A beat that fails (Redis away for a moment) is skipped, not the end of the heartbeat."""
    state = WorkerState("w", LEASE_SECS)
    calls: list[float] = []

    async def flaky_also() -> None:
        calls.append(trio.current_time())
        if len(calls) == 1:
            raise ConnectionError("redis away")

    async with trio.open_nursery() as nursery:
        await nursery.start(
            functools.partial(
                keep_beating, queue, state, every_secs=5, clock=trio.current_time, also=flaky_also
            )
        )
        await trio.sleep(11)
        nursery.cancel_scope.cancel()
    assert calls == [0, 5, 10]
    (seen,) = await workers_seen(queue, now=trio.current_time())
    assert seen.beat.beat_at == 10
