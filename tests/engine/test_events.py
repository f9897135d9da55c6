"""Events: ordered, never blocking, lossy only for progress, always ending with the final one."""

from __future__ import annotations

import itertools

import pytest
import trio
import trio.testing

from trio_crawl import open_session
from trio_crawl.engine import Stage
from trio_crawl.engine.events import (
    EventBus,
    EventsLost,
    Heartbeat,
    ItemProgress,
    SessionCompleted,
    SessionStarted,
    StageCompleted,
    StageRetrying,
    StageStarted,
)

from .conftest import quick_config


async def _sleepy(item: int) -> int:
    await trio.sleep(0.1)
    return item


async def test_seq_strictly_increases_and_the_final_event_closes_the_stream(
    autojump_clock: trio.testing.MockClock,
) -> None:
    from trio_crawl.engine import ErrorKind, StageError

    calls = 0

    async def flaky(item: int) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise StageError(ErrorKind.network_timeout, "read timeout")
        return await _sleepy(item)

    events = []
    async with (
        open_session(quick_config(), stages=[Stage("list_pages", flaky)], items=range(30)) as s,
        s.events() as stream,
    ):
        async for event in stream:
            events.append(event)
    seqs = [e.seq for e in events]
    assert seqs == sorted(set(seqs))
    assert isinstance(events[0], SessionStarted)
    assert isinstance(events[-1], SessionCompleted)
    kinds = {type(e) for e in events}
    assert {StageStarted, StageCompleted, StageRetrying, ItemProgress} <= kinds
    retrying = next(e for e in events if isinstance(e, StageRetrying))
    assert (retrying.attempt, retrying.kind, retrying.stage) == (2, "network_timeout", "list_pages")
    # grouped progress: far fewer progress events than items
    assert sum(isinstance(e, ItemProgress) for e in events) < 30


async def test_a_subscriber_that_never_reads_does_not_slow_the_session_and_gets_the_final_event(
    autojump_clock: trio.testing.MockClock,
) -> None:
    config = quick_config(events={"subscriber_buffer": 3, "heartbeat_secs": 0.05})
    durations = []
    for with_sleeper in (False, True):
        start = trio.current_time()
        async with open_session(
            config, stages=[Stage("product_details", _sleepy)], items=range(500)
        ) as s:
            stuck = s.events() if with_sleeper else None
            summary = await s.wait()
        durations.append(trio.current_time() - start)
    assert durations[0] == pytest.approx(durations[1])
    assert summary.status == "completed"
    assert stuck is not None
    received = []
    async for event in stuck:
        received.append(event)
    assert isinstance(received[-1], SessionCompleted)
    lost = [e for e in received if isinstance(e, EventsLost)]
    assert lost and stuck.lost_total == sum(e.count for e in lost) > 0
    assert [e.seq for e in received] == sorted({e.seq for e in received})


async def test_heartbeat_appears_during_a_silent_stage(
    autojump_clock: trio.testing.MockClock,
) -> None:
    config = quick_config(events={"heartbeat_secs": 5})

    async def silent(item: int) -> int:
        await trio.sleep(23)
        return item

    beats = []
    stages = [Stage("validation", silent)]
    async with open_session(config, stages=stages, items=[1]) as s, s.events() as stream:
        async for event in stream:
            if isinstance(event, Heartbeat):
                beats.append(trio.current_time())
    assert len(beats) == 4
    assert [round(b2 - b1, 6) for b1, b2 in itertools.pairwise(beats)] == [5, 5, 5]


def test_bus_without_subscribers_does_not_build_progress_events() -> None:
    async def main() -> None:
        bus = EventBus(10)
        assert bus.emit(ItemProgress, 1, "x", 0, 0, 1, 0) is None
        assert bus.seq == 1
        sub = bus.subscribe()
        event = bus.emit(ItemProgress, 1, "x", 1, 0, 1, 0)
        assert event is not None and event.seq == 2
        assert sub.receive_nowait() is event

    trio.run(main)
