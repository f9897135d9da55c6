"""The crawl's politeness kept in Redis (`trio_crawl.distributed.politeness`), against a real
redis-server: the GCRA script's arithmetic, the host slots' semaphore and their lapse, and the
two together as several workers' `SharedPoliteness` see them.

Redis's clock is real (the scripts read ``TIME``), so these tests wait on real time, each for
at most about a second."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import coredis
import pytest
import trio

from trio_crawl.distributed.client import connect
from trio_crawl.distributed.host_slots import HostSlots
from trio_crawl.distributed.politeness import SharedPoliteness, open_shared_politeness
from trio_crawl.distributed.rate import SharedRate

HOST = "127.0.0.1"

Redis = tuple[coredis.Redis[str], str]
"""A client of the session's server, and this test's key prefix."""


async def held_soon(slots: HostSlots, key: str, count: int, within: float = 2.0) -> int:
    """How many slots of `key` are held once `count` are, or after `within` seconds (a
    released slot goes back after a moment, on Redis's real clock)."""
    with trio.move_on_after(within):
        while True:
            if await slots.held(key) == count:
                break
            await trio.sleep(0.01)
    return await slots.held(key)


@pytest.fixture
async def redis(redis_target: tuple[str, str]) -> AsyncIterator[Redis]:
    url, prefix = redis_target
    client = connect(url)
    async with client:
        yield client, prefix


async def test_gcra_lets_a_burst_go_then_asks_to_wait_one_interval(redis: Redis) -> None:
    client, prefix = redis
    rate = SharedRate(client)
    key = f"{prefix}:rate"
    # 2 a second: one interval is 0.5 s (long beside a loaded machine's round trips); a burst
    # of 3 goes back to back.
    started = trio.current_time()
    assert [await rate.wait_for(key, 2, 3) for _ in range(3)] == [0, 0, 0]
    booked = await client.get(key)
    wait = await rate.wait_for(key, 2, 3)
    elapsed = trio.current_time() - started
    # The fourth is due one interval after the first three, less the time gone since.
    assert 0.5 - elapsed - 0.01 <= wait <= 0.5
    assert await client.get(key) == booked  # a refusal books nothing
    await trio.sleep(wait)
    # Then one goes at least (more if the sleep ran late: never more than the burst), and the
    # next is asked to wait again.
    admitted = 0
    while await rate.wait_for(key, 2, 3) == 0:
        admitted += 1
        assert admitted <= 3, "more than the burst went back to back"
    assert admitted >= 1


async def test_gcra_key_lapses_once_its_time_has_passed(redis: Redis) -> None:
    client, prefix = redis
    key = f"{prefix}:rate"
    assert await SharedRate(client).wait_for(key, 20, 1) == 0
    # Booked one interval (0.05 s) ahead: the key lives about that long, then leaves nothing.
    assert 0 < await client.pttl(key) <= 52
    await trio.sleep(0.1)
    assert await client.exists([key]) == 0


async def test_gcra_holds_the_rate_summed_over_many_clients(
    redis: Redis, redis_target: tuple[str, str]
) -> None:
    _, prefix = redis
    key = f"{prefix}:rate"
    admitted: list[float] = []
    ready = trio.Semaphore(0)
    go = trio.Event()

    async def one_worker() -> None:
        async with connect(redis_target[0]) as client:
            rate = SharedRate(client)
            await rate.wait_for(f"{key}:warm-up", 1000)  # connected, the script loaded
            ready.release()
            await go.wait()
            with trio.move_on_after(1.0):
                while True:
                    await rate.acquire(key, 20, 2)
                    admitted.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(one_worker)
        for _ in range(4):
            await ready.acquire()
        start = trio.current_time()
        go.set()
    # 4 workers asking as fast as they can get 20 a second between them (plus the burst),
    # not 20 each; at least half of that even on a loaded machine.
    assert 10 <= len(admitted) <= 20 + 2 + 1, len(admitted)
    assert all(at - start <= 1.05 for at in admitted)


async def test_host_slots_admit_up_to_the_limit_and_take_back_releases(redis: Redis) -> None:
    client, prefix = redis
    slots = HostSlots(client, hold_secs=10)
    key = f"{prefix}:slots:{HOST}"
    assert await slots.try_acquire(key, "a", 2)
    assert await slots.try_acquire(key, "b", 2)
    assert not await slots.try_acquire(key, "c", 2)
    assert await slots.held(key) == 2
    await slots.release(key, ["a"])
    assert await slots.try_acquire(key, "c", 2)
    assert not await slots.try_acquire(key, "d", 2)
    assert await slots.held(key) == 2


async def test_a_hold_not_renewed_lapses_and_its_slot_comes_back(redis: Redis) -> None:
    client, prefix = redis
    slots = HostSlots(client, hold_secs=0.6)
    key = f"{prefix}:slots:{HOST}"
    assert await slots.try_acquire(key, "killed", 2)
    assert await slots.try_acquire(key, "alive", 2)
    await trio.sleep(0.3)
    assert await slots.renew(key, ["alive"]) == 1  # "killed" renews nothing
    await trio.sleep(0.4)
    # 0.7 s in: the killed holder's hold has lapsed, the renewed one has not.
    assert await slots.held(key) == 1
    assert await slots.try_acquire(key, "next", 2)
    assert not await slots.try_acquire(key, "one-too-many", 2)
    # A lapsed hold is not brought back by a late renewal: its slot is someone else's now.
    assert await slots.renew(key, ["killed", "alive"]) == 1
    assert await slots.held(key) == 2


async def test_workers_share_one_per_host_limit(
    redis: Redis, redis_target: tuple[str, str]
) -> None:
    _, prefix = redis
    in_flight = peak = done = 0

    async def one_request(politeness: SharedPoliteness) -> None:
        nonlocal in_flight, peak, done
        async with politeness.request(HOST):
            in_flight += 1
            peak = max(peak, in_flight)
            await trio.sleep(0.05)
            in_flight -= 1
            done += 1

    async def one_worker() -> None:
        async with (
            connect(redis_target[0]) as client,
            open_shared_politeness(client, prefix, 0, 2) as politeness,
            trio.open_nursery() as nursery,
        ):
            for _ in range(8):
                nursery.start_soon(one_request, politeness)

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(one_worker)
    # 24 requests of 0.05 s, 2 at a time over all three workers: at least 0.6 s.
    assert (done, peak) == (24, 2)
    assert trio.current_time() - start >= 0.55

    async with connect(redis_target[0]) as client:
        slots = HostSlots(client, hold_secs=1)
        assert await slots.held(f"{prefix}:slots:{HOST}") == 0  # every slot given back


async def test_a_busy_worker_hands_its_slots_on_and_gives_them_back(redis: Redis) -> None:
    client, prefix = redis
    slots = HostSlots(client, hold_secs=10)
    key = f"{prefix}:slots:{HOST}"
    async with open_shared_politeness(client, prefix, 0, 2) as politeness:
        for _ in range(40):
            async with politeness.request(HOST):
                await trio.lowlevel.checkpoint()
        # A slot passed from request to request, not one trip to Redis each.
        assert politeness.slots_from_redis <= 10
        assert await held_soon(slots, key, 0) == 0  # idle: given back to the other workers
        # A slot passed on for longer than REUSE_SECS (1 s) goes back to Redis, so that
        # another worker may have its turn: one request after another for 1.3 s.
        before = politeness.slots_from_redis
        with trio.move_on_after(1.3):
            while True:
                async with politeness.request(HOST):
                    await trio.sleep(0.02)
        assert 2 <= politeness.slots_from_redis - before <= 10


async def test_a_request_cancelled_while_waiting_holds_no_slot(redis: Redis) -> None:
    client, prefix = redis
    slots = HostSlots(client, hold_secs=10)
    key = f"{prefix}:slots:{HOST}"
    async with (
        open_shared_politeness(client, prefix, 0, 1) as first,
        open_shared_politeness(client, prefix, 0, 1) as second,
    ):
        async with first.request(HOST):
            # The second worker's request waits for the slot in Redis, and is cancelled there.
            with trio.move_on_after(0.1) as waited:
                async with second.request(HOST):
                    raise AssertionError("a second slot on a limit of one")
            assert waited.cancelled_caught
            assert await slots.held(key) == 1
            assert not any(second._held.values())
        # The first worker's slot lingers a moment for its next request, then goes back.
        assert await held_soon(slots, key, 0) == 0
        async with second.request(HOST):
            assert await slots.held(key) == 1


async def test_a_reloaded_rate_applies_to_the_next_request(redis: Redis) -> None:
    client, prefix = redis
    async with open_shared_politeness(client, prefix, 2, 5) as politeness:
        async with politeness.request(HOST):
            pass
        politeness.update(1000, 5)  # from one every 0.5 s to one every millisecond
        async with politeness.request(HOST):
            pass  # may still wait for the booking made at the old rate
        start = trio.current_time()
        for _ in range(5):
            async with politeness.request(HOST):
                pass
        # At the old rate these five would take 2.5 s.
        assert trio.current_time() - start < 1.0


async def test_a_crawl_delay_spaces_the_hosts_requests_across_workers(
    redis: Redis, redis_target: tuple[str, str]
) -> None:
    _, prefix = redis
    starts: list[float] = []

    async def one_worker() -> None:
        async with (
            connect(redis_target[0]) as client,
            open_shared_politeness(client, prefix, 0, 10) as politeness,
        ):
            politeness.pacer.set_delay(HOST, 0.2)  # each worker read the same robots.txt
            for _ in range(2):
                async with politeness.request(HOST):
                    starts.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        for _ in range(2):
            nursery.start_soon(one_worker)
    starts.sort()
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert len(starts) == 4
    assert min(gaps) >= 0.18, gaps
