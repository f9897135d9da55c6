"""Engine overhead: actor round trips per second, per-item cost of the stage machinery, and
how fast a stop takes effect.

    python benchmarks/engine_overhead.py [--items 100000] [--round-trips 20000]

Prints figures; asserts nothing (speed targets live here, never in tests). Goals: ≥ 20,000
actor spawn + one-shot round trips/s; ≤ 20 µs/item over a bare nursery loop for a no-op stage
at concurrency 100; on the real clock, ≤ 50 ms from `cancel()` until every in-flight handler
has been cancelled, and `wait()` answering right after when there is nothing to drain.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import trio

from trio_crawl.engine import EngineSettings, Stage, StageSettings, open_session
from trio_crawl.engine.actor import Child, spawn
from trio_crawl.engine.commands import Command
from trio_crawl.engine.oneshot import OneshotSender


class Echo:
    """The smallest real actor: take one command, report it back."""

    name = "echo"

    async def run(
        self, control: trio.MemoryReceiveChannel[Command], report: OneshotSender[Any]
    ) -> None:
        report.send(await control.receive())


async def round_trips(n: int) -> float:
    from trio_crawl.engine import Resume

    command = Resume()
    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for _ in range(n):
            child: Child[Command] = spawn(nursery, Echo(), command)
            await child.result()
    return n / (time.perf_counter() - start)


async def bare_loop(n: int, concurrency: int, *, lean: bool) -> float:
    """Hand-written loops over a no-op: naive (a task per item, each taking a slot of a
    CapacityLimiter) or lean (the loop takes the slot, so tasks exist only while they run)."""
    limiter = trio.CapacityLimiter(concurrency)
    results: list[int] = [0] * n

    async def naive(i: int) -> None:
        async with limiter:
            results[i] = i

    async def lean_work(i: int) -> None:
        results[i] = i
        limiter.release_on_behalf_of(i)

    start = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for i in range(n):
            if lean:
                await limiter.acquire_on_behalf_of(i)
                nursery.start_soon(lean_work, i)
            else:
                nursery.start_soon(naive, i)
    return time.perf_counter() - start


async def engine_stage(n: int, concurrency: int, subscribe: bool) -> float:
    settings = EngineSettings(batch_size=n, stages={"noop": StageSettings(limit=concurrency)})

    async def noop(item: int) -> int:
        return item

    start = time.perf_counter()
    async with open_session(settings, stages=[Stage("noop", noop)], items=range(n)) as s:
        if subscribe:
            async with s.events() as events:
                async for _ in events:
                    pass
        summary = await s.wait()
    assert summary.status == "completed", summary.status
    return time.perf_counter() - start


async def stop_latency(in_flight: int) -> tuple[float, float]:
    """Real clock: (seconds from `cancel()` until the last of `in_flight` blocked handlers saw
    its cancellation, seconds until `wait()` returned). Nothing is left to drain."""
    settings = EngineSettings(batch_size=in_flight, stages={"wait": StageSettings(limit=in_flight)})
    all_in = trio.Event()
    started = 0
    cancelled_at: list[float] = []

    async def blocked(item: int) -> int:
        nonlocal started
        started += 1
        if started == in_flight:
            all_in.set()
        try:
            await trio.sleep_forever()
        finally:
            cancelled_at.append(time.perf_counter())
        raise AssertionError("unreachable")

    stages = [Stage("wait", blocked)]
    async with open_session(settings, stages=stages, items=range(in_flight)) as s:
        await all_in.wait()
        begin = time.perf_counter()
        s.cancel("benchmark")
        summary = await s.wait()
        answered = time.perf_counter()
    assert summary.status == "cancelled" and len(cancelled_at) == in_flight
    return max(cancelled_at) - begin, answered - begin


async def main(items: int, trips: int) -> None:
    rate = await round_trips(trips)
    print(f"actor spawn + one-shot round trips: {rate:,.0f}/s  (goal >= 20,000/s)")
    naive = min([await bare_loop(items, 100, lean=False) for _ in range(3)])
    lean = min([await bare_loop(items, 100, lean=True) for _ in range(3)])
    quiet = min([await engine_stage(items, 100, False) for _ in range(3)])
    watched = min([await engine_stage(items, 100, True) for _ in range(3)])
    per = 1e6 / items
    print(f"bare nursery loop (naive), concurrency 100: {naive * per:.2f} µs/item")
    print(f"bare nursery loop (lean),  concurrency 100: {lean * per:.2f} µs/item")
    print(
        f"engine no-op stage, concurrency 100:        {quiet * per:.2f} µs/item "
        f"(overhead over lean {(quiet - lean) * per:.2f} µs/item, goal <= 20)"
    )
    print(
        f"  same with an event subscriber:            {watched * per:.2f} µs/item "
        f"(overhead over lean {(watched - lean) * per:.2f} µs/item)"
    )
    for in_flight in (100, 1000):
        runs = [await stop_latency(in_flight) for _ in range(5)]
        cancelled = sorted(r[0] for r in runs)[len(runs) // 2]
        answered = sorted(r[1] for r in runs)[len(runs) // 2]
        print(
            f"stop latency, {in_flight} handlers in flight (median of 5): every handler "
            f"cancelled {cancelled * 1e3:.2f} ms after cancel() (goal <= 50), "
            f"wait() answered after {answered * 1e3:.2f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--round-trips", type=int, default=20_000)
    args = parser.parse_args()
    trio.run(main, args.items, args.round_trips)
