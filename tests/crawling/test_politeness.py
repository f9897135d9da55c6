"""Rate limit and per-host concurrency, on trio's mock clock (`autojump_clock`): fast and exact."""

from __future__ import annotations

import math

import pytest
import trio
import trio.testing

from trio_crawl.crawling.politeness import HostLimiter, Politeness, TokenBucket


class Peak:
    """Counts tasks inside a region and remembers the most seen at once."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    def enter(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        self.now -= 1


@pytest.mark.parametrize(("rate", "burst", "n"), [(10.0, None, 21), (10.0, 5.0, 21), (4.0, 1, 9)])
async def test_n_acquires_take_n_minus_burst_over_rate(
    autojump_clock: trio.testing.MockClock, rate: float, burst: float | None, n: int
) -> None:
    bucket = TokenBucket(rate, burst)
    start = trio.current_time()
    for _ in range(n):
        await bucket.acquire()
    assert trio.current_time() - start == pytest.approx((n - bucket.burst) / rate)


async def test_concurrent_waiters_are_served_one_token_apart_in_arrival_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    bucket = TokenBucket(10.0)
    served: list[tuple[int, float]] = []

    async def worker(i: int) -> None:
        await bucket.acquire()
        served.append((i, trio.current_time()))

    async with trio.open_nursery() as nursery:
        for i in range(20):
            nursery.start_soon(worker, i)
            await trio.testing.wait_all_tasks_blocked()
    assert [i for i, _ in served] == list(range(20))
    assert [t for _, t in served] == pytest.approx([i / 10 for i in range(20)])


async def test_token_is_refilled_after_a_quiet_spell_up_to_burst_only(
    autojump_clock: trio.testing.MockClock,
) -> None:
    bucket = TokenBucket(10.0, burst=3)
    for _ in range(3):
        await bucket.acquire()
    await trio.sleep(100)  # far longer than needed to refill: still capped at 3
    start = trio.current_time()
    for _ in range(5):
        await bucket.acquire()
    assert trio.current_time() - start == pytest.approx(0.2)


async def test_set_rate_applies_live_even_to_a_caller_already_waiting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    bucket = TokenBucket(0.01)  # one token per 100 s
    await bucket.acquire()
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(bucket.acquire)
        await trio.sleep(1)
        bucket.set_rate(10.0)  # the waiter has 0.01 tokens; the rest now arrives in 0.099 s
    assert trio.current_time() - start == pytest.approx(1.099)
    start = trio.current_time()
    for _ in range(10):
        await bucket.acquire()
    assert trio.current_time() - start == pytest.approx(1.0)


async def test_unlimited_rate_never_sleeps(autojump_clock: trio.testing.MockClock) -> None:
    bucket = TokenBucket(0)
    start = trio.current_time()
    for _ in range(1000):
        await bucket.acquire()
    assert trio.current_time() == start


async def test_switching_to_unlimited_releases_waiters_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    bucket = TokenBucket(0.001)
    await bucket.acquire()
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(bucket.acquire)
        await trio.sleep(2)
        bucket.set_rate(-1)
    assert trio.current_time() - start == pytest.approx(2)


async def test_cancelled_waiter_consumes_no_token(autojump_clock: trio.testing.MockClock) -> None:
    bucket = TokenBucket(1.0)
    await bucket.acquire()
    with trio.move_on_after(0.5):
        await bucket.acquire()
    start = trio.current_time()
    await bucket.acquire()  # the token due at t=1 is still there
    assert trio.current_time() - start == pytest.approx(0.5)


def test_burst_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(1.0, burst=0.5)


async def hold(limiter: HostLimiter, host: str, peak: Peak, seconds: float = 1.0) -> None:
    async with limiter.slot(host):
        peak.enter()
        await trio.sleep(seconds)
        peak.leave()


async def test_per_host_peak_concurrency_equals_the_limit(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limiter = HostLimiter(3)
    peak = Peak()
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(hold, limiter, "a.example", peak)
    assert peak.peak == 3
    assert trio.current_time() - start == pytest.approx(4)  # ceil(10 / 3) rounds of 1 s


async def test_hosts_are_limited_independently(autojump_clock: trio.testing.MockClock) -> None:
    limiter = HostLimiter(2)
    per_host = {"a": Peak(), "b": Peak()}
    both = Peak()

    async def hold_both(host: str) -> None:
        async with limiter.slot(host):
            per_host[host].enter()
            both.enter()
            await trio.sleep(1)
            both.leave()
            per_host[host].leave()

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for host in ("a", "b") * 4:
            nursery.start_soon(hold_both, host)
    assert per_host["a"].peak == per_host["b"].peak == 2
    assert both.peak == 4
    assert trio.current_time() - start == pytest.approx(2)


async def test_set_limit_resizes_every_host_live(autojump_clock: trio.testing.MockClock) -> None:
    limiter = HostLimiter(1)
    peaks = {"a": Peak(), "b": Peak()}
    async with trio.open_nursery() as nursery:
        for host in ("a", "b") * 6:
            nursery.start_soon(hold, limiter, host, peaks[host], 10.0)
        await trio.sleep(1)
        assert peaks["a"].peak == peaks["b"].peak == 1
        limiter.set_limit(4)
        await trio.testing.wait_all_tasks_blocked()
        assert peaks["a"].now == peaks["b"].now == 4
    assert peaks["a"].peak == peaks["b"].peak == 4


async def test_zero_per_host_limit_means_unlimited(autojump_clock: trio.testing.MockClock) -> None:
    limiter = HostLimiter(0)
    peak = Peak()
    async with trio.open_nursery() as nursery:
        for _ in range(50):
            nursery.start_soon(hold, limiter, "a", peak)
    assert peak.peak == 50
    assert limiter.limit == math.inf


async def test_politeness_waits_for_a_host_slot_before_taking_a_token(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Host "slow" is busy for 10 s; a request queued behind it must not take the token that
    # a request to host "fast" can use right away.
    politeness = Politeness(requests_per_second=1.0, per_host_concurrency=1)
    admitted: dict[str, float] = {}

    async def request(host: str, name: str, seconds: float) -> None:
        async with politeness.request(host):
            admitted[name] = trio.current_time()
            await trio.sleep(seconds)

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(request, "slow", "first", 10.0)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(request, "slow", "queued", 0.0)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(request, "fast", "other", 0.0)
    assert admitted["first"] - start == 0
    assert admitted["other"] - start == pytest.approx(1.0)
    assert admitted["queued"] - start == pytest.approx(10.0)


async def test_politeness_update_applies_both_limits_live(
    autojump_clock: trio.testing.MockClock,
) -> None:
    politeness = Politeness(requests_per_second=1.0, per_host_concurrency=1)
    politeness.update(requests_per_second=0, per_host_concurrency=5)
    peak = Peak()

    async def request() -> None:
        async with politeness.request("a"):
            peak.enter()
            await trio.sleep(1)
            peak.leave()

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(request)
    assert peak.peak == 5
    assert trio.current_time() - start == pytest.approx(2)
    assert politeness.bucket.rate == 0
    assert politeness.hosts.limit == 5


async def test_a_request_cancelled_while_waiting_holds_no_host_slot_after(
    autojump_clock: trio.testing.MockClock,
) -> None:
    politeness = Politeness(requests_per_second=0, per_host_concurrency=1)
    politeness.pacer.set_delay("h", 100.0)
    slot = politeness.hosts.slot("h")
    entered: list[str] = []

    async def one(name: str, patience: float) -> None:
        with trio.move_on_after(patience):
            async with politeness.request("h"):
                entered.append(name)
                await trio.sleep(10)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(one, "first", 1000)  # the first request on a host does not wait
        await trio.sleep(1)
        nursery.start_soon(one, "no slot", 5)  # waits for the slot, cancelled meanwhile
        await trio.sleep(6)
        assert slot.borrowed_tokens == 1
    assert slot.borrowed_tokens == 0
    await one("paced", 5)  # gets the slot, then waits out the pace: cancelled
    assert slot.borrowed_tokens == 0  # its slot went back when its wait was cancelled
    await one("later", 1000)
    assert entered == ["first", "later"]
    assert slot.borrowed_tokens == 0
