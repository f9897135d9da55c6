"""The control stream and the release of a batch, on a real redis-server: a worker that joins
late learns the crawl's state, a new plan lifts a cancel but not a pause, and a stopped
worker's batch goes to the next worker at once, whatever that worker's lease."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from trio_crawl.distributed.client import connect
from trio_crawl.distributed.control import ControlChannel, CrawlState, Steering
from trio_crawl.distributed.queue import Taken, WorkQueue
from trio_crawl.distributed.release import release
from trio_crawl.distributed.worker import run_worker

HOUR_MS = 3_600_000  # a lease no test outlives: only a release frees a batch


@pytest.fixture
async def client(redis_target: tuple[str, str]) -> AsyncIterator[object]:
    async with connect(redis_target[0]) as connected:
        yield connected


async def test_a_late_follower_learns_the_state_and_a_new_plan_lifts_only_the_cancel(
    client: object, redis_target: tuple[str, str]
) -> None:
    channel = ControlChannel(client, redis_target[1])  # type: ignore[arg-type]
    assert await channel.state() == (CrawlState(), "0-0")
    await channel.send("pause")
    assert await channel.send("cancel", "enough") == CrawlState(paused=True, cancelled="enough")
    late = Steering()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(channel.follow, late.apply)
            assert late.state == CrawlState(paused=True, cancelled="enough")
            assert late.stop_reason == "enough"
            assert await late.may_take() is False
            assert await channel.send("plan") == CrawlState(paused=True)
            # Still paused: the follower waits until the resume reaches it.
            with trio.move_on_after(0.3):
                await late.may_take()
                raise AssertionError("took a batch while the crawl is paused")
            await channel.send("resume")
            assert await late.may_take() is True
            nursery.cancel_scope.cancel()
    assert late.state == CrawlState()


async def test_a_released_batch_goes_at_once_to_a_worker_with_a_long_lease(
    client: object, redis_target: tuple[str, str]
) -> None:
    queue = WorkQueue(client, redis_target[1])  # type: ignore[arg-type]
    await queue.enqueue([["a"]])
    [taken] = await queue.take("w1", lease_ms=HOUR_MS, block_ms=100)
    assert await queue.take("w2", lease_ms=HOUR_MS, block_ms=100) == []
    assert await release(queue, "w2", [taken.id]) == 0  # not its to give back
    assert await release(queue, "w1", [taken.id]) == 1
    [again] = await queue.take("w2", lease_ms=HOUR_MS, block_ms=100)
    assert (again.id, again.reclaimed) == (taken.id, True)


async def test_a_worker_stopped_mid_batch_gives_it_back_and_takes_no_other(
    client: object, redis_target: tuple[str, str]
) -> None:
    queue = WorkQueue(client, redis_target[1])  # type: ignore[arg-type]
    await queue.enqueue([["a"], ["b"]])
    await queue.mark_planned()
    steering = Steering()
    ran: list[str] = []

    async def stopped_midway(taken: Taken) -> bool:
        ran.append(taken.items[0])
        steering.stop("interrupted by signal")  # as Ctrl-C does, while the batch runs
        return False  # its session ended cancelled: not settled

    async def settles(taken: Taken) -> bool:
        ran.append(taken.items[0])
        return True

    with trio.fail_after(20):
        first = await run_worker(
            queue, "w1", stopped_midway, lease_ms=HOUR_MS, block_ms=100, steering=steering
        )
        second = await run_worker(queue, "w2", settles, lease_ms=HOUR_MS, block_ms=100)
    assert first.stopped == "interrupted by signal"
    assert (first.taken, first.acknowledged, first.left_pending) == (1, 0, 1)
    assert ran == ["a", "a", "b"]
    assert (second.taken, second.reclaimed, second.acknowledged) == (2, 1, 2)
    assert (await queue.progress()).finished


@pytest.mark.parametrize("action", ["pause", "resume", "cancel"])
def test_a_redis_that_cannot_be_reached_is_one_line_and_exit_2(
    action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from trio_crawl.cli import main

    assert main([action, "--redis", "redis://127.0.0.1:1/0", "--queue", "q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("trio-crawl: redis error: cannot reach Redis at redis://127.0.0.1:1/0")
    assert len(err.splitlines()) == 1 and "Traceback" not in err
