"""Session deadline, pause/resume, cancel and shutdown: stopping keeps what was done."""

from __future__ import annotations

import trio
import trio.testing

from trio_crawl import open_session
from trio_crawl.engine import ErrorKind, Stage

from .conftest import quick_config


def _fetch_and_save(
    saved: list[int], durations: dict[int, float], started: list[int] | None = None
) -> list[Stage]:
    async def fetch(item: int) -> int:
        if started is not None:
            started.append(item)
        await trio.sleep(durations.get(item, 1))
        return item

    async def save(items: list[int]) -> list[int]:
        saved.extend(items)
        return items

    return [
        Stage("product_details", fetch, count_failed="products_failed"),
        Stage("saving", save, batched=True, drain=True, count_ok="products_saved"),
    ]


async def test_session_times_out_exactly_at_its_deadline_keeping_earlier_results(
    autojump_clock: trio.testing.MockClock,
) -> None:
    config = quick_config(
        system={"session_timeout_secs": 30}, crawl={"batch_size": 2, "parallel_batches": 1}
    )
    saved: list[int] = []
    live = 0
    cleaned = 0

    async def fetch(item: int) -> int:
        nonlocal live, cleaned
        live += 1
        try:
            if item == 3:
                await trio.sleep_forever()
            await trio.sleep(1)
            return item
        finally:
            cleaned += 1

    async def save(items: list[int]) -> list[int]:
        saved.extend(items)
        return items

    stages = [
        Stage("product_details", fetch),
        Stage("saving", save, batched=True, drain=True, count_ok="products_saved"),
    ]
    start = trio.current_time()
    async with open_session(config, stages=stages, items=[1, 2, 3, 4, 5, 6]) as s:
        summary = await s.wait()
    assert trio.current_time() - start == 30
    assert summary.status == "timed_out"
    assert "session timeout" in summary.reason
    # batch 1 saved normally; in batch 2 item 4 finished and is drained into saving
    assert sorted(saved) == [1, 2, 4]
    assert summary.products_saved == 3
    # item 3 was in flight; batch 3 (items 5 and 6) never started: all accounted as cancelled
    failed = {f.item: f for f in summary.failed_items}
    assert sorted(failed) == [3, 5, 6]
    assert {f.kind for f in failed.values()} == {ErrorKind.cancelled}
    assert "not started" in failed[5].last_error and "in flight" in failed[3].last_error
    assert summary.batches_planned == 3 and summary.batches_run == 2
    # every item task that started has finished: no task outlived the session
    assert live == cleaned


async def test_draining_after_timeout_is_bounded_by_the_cancellation_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    config = quick_config(system={"session_timeout_secs": 10, "cancellation_timeout_secs": 5})

    async def fetch(item: int) -> int:
        if item == 2:
            await trio.sleep_forever()
        return item

    async def slow_save(items: list[int]) -> list[int]:
        await trio.sleep(1000)
        return items

    stages = [
        Stage("product_details", fetch),
        Stage("saving", slow_save, batched=True, drain=True),
    ]
    start = trio.current_time()
    async with open_session(config, stages=stages, items=[1, 2]) as s:
        summary = await s.wait()
    assert summary.status == "timed_out"
    assert trio.current_time() - start == 15
    failed = {f.item: f for f in summary.failed_items}
    assert failed[2].kind is ErrorKind.cancelled and failed[2].stage == "product_details"
    assert failed[1].stage == "saving"
    assert "no time left in the stop's grace" in failed[1].last_error


async def test_pause_stops_new_items_until_resume(autojump_clock: trio.testing.MockClock) -> None:
    config = quick_config(concurrency={"product_details": 2})
    starts: dict[int, float] = {}

    async def fetch(item: int) -> int:
        starts[item] = trio.current_time()
        await trio.sleep(1)
        return item

    async with open_session(config, stages=[Stage("product_details", fetch)], items=range(6)) as s:
        await trio.sleep(0.5)  # items 0 and 1 are in flight
        s.pause()
        await trio.sleep(10)
        assert sorted(starts) == [0, 1]  # in-flight ones finished, none started
        s.resume()
        summary = await s.wait()
    assert summary.status == "completed"
    assert all(starts[i] >= 10.5 for i in range(2, 6))


async def test_cancel_reports_cancelled_and_saves_completed_work(
    autojump_clock: trio.testing.MockClock,
) -> None:
    saved: list[int] = []
    stages = _fetch_and_save(saved, {0: 1, 1: 1, 2: 50, 3: 50})
    async with open_session(quick_config(), stages=stages, items=range(4)) as s:
        await trio.sleep(5)
        s.cancel("user pressed Ctrl-C")
        summary = await s.wait()
    assert summary.status == "cancelled"
    assert summary.reason == "user pressed Ctrl-C"
    assert sorted(saved) == [0, 1]
    assert sorted(f.item for f in summary.failed_items) == [2, 3]
    assert {f.kind for f in summary.failed_items} == {ErrorKind.cancelled}


async def test_fail_ends_the_session_failed_with_the_error_and_keeps_completed_work(
    autojump_clock: trio.testing.MockClock,
) -> None:
    from trio_crawl.engine import StageError

    saved: list[int] = []
    stages = _fetch_and_save(saved, {0: 1, 1: 1, 2: 50, 3: 50})
    error = StageError(ErrorKind.database_unusable, "crawl.db was deleted")
    async with open_session(quick_config(), stages=stages, items=range(4)) as s:
        await trio.sleep(5)
        s.fail(error)
        s.fail(StageError(ErrorKind.internal, "a second one"))  # the first stop holds
        summary = await s.wait()
    assert summary.status == "failed"
    assert summary.reason == "crawl.db was deleted"
    assert summary.error is not None and summary.error.kind is ErrorKind.database_unusable
    assert sorted(saved) == [0, 1]
    s.fail(error)  # after the end: nothing happens


async def test_graceful_shutdown_drains_in_flight_items_hard_shutdown_does_not(
    autojump_clock: trio.testing.MockClock,
) -> None:
    config = quick_config(concurrency={"product_details": 2})
    outcomes = {}
    for graceful in (True, False):
        saved: list[int] = []
        stages = _fetch_and_save(saved, {0: 10, 1: 10, 2: 10, 3: 10})
        async with open_session(config, stages=stages, items=range(4)) as s:
            await trio.sleep(5)
            s.shutdown(graceful=graceful)
            summary = await s.wait()
        outcomes[graceful] = (
            sorted(saved),
            sorted(f.item for f in summary.failed_items),
            summary.status,
        )
    assert outcomes[True] == ([0, 1], [2, 3], "cancelled")
    assert outcomes[False] == ([], [0, 1, 2, 3], "cancelled")


async def test_cancel_during_retry_backoff_stops_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    from trio_crawl.engine import StageError

    async def fetch(item: int) -> int:
        raise StageError(ErrorKind.server_error, "500")

    config = quick_config(retry={"product_details": {"base_delay_ms": 60_000}})
    start = trio.current_time()
    async with open_session(config, stages=[Stage("product_details", fetch)], items=[1]) as s:
        await trio.sleep(1)
        s.cancel()
        summary = await s.wait()
    assert trio.current_time() - start == 1
    [failed] = summary.failed_items
    assert failed.kind is ErrorKind.cancelled and "waiting to retry after 500" in failed.last_error


async def test_exception_in_the_session_block_cancels_the_session(
    autojump_clock: trio.testing.MockClock,
) -> None:
    import pytest

    saved: list[int] = []
    stages = _fetch_and_save(saved, {0: 1, 1: 100})
    with pytest.raises(KeyError):
        async with open_session(quick_config(), stages=stages, items=[0, 1]) as s:
            await trio.sleep(2)
            raise KeyError("boom")
    summary = await s.wait()
    assert summary.status == "cancelled"
    assert saved == [0]


async def test_a_failing_outcome_hook_is_noted_in_the_summary_not_raised(
    autojump_clock: trio.testing.MockClock,
) -> None:
    from trio_crawl.engine import SessionSummary

    async def fetch(item: int) -> int:
        return item

    async def broken_hook(summary: SessionSummary) -> None:
        raise OSError("disk full")

    async with open_session(
        quick_config(),
        stages=[Stage("product_details", fetch)],
        items=[1, 2],
        on_finish=broken_hook,
    ) as s:
        summary = await s.wait()
    assert summary.status == "completed"
    assert "recording the session's outcome failed" in summary.reason
    assert "disk full" in summary.reason


async def test_a_pause_holds_the_planners_reads_too_at_the_start_and_in_the_settle_check(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The planner reads (the catalogue's list pages) through `PlanContext.retry`, before the
    batches and again after them (the settle check): a pause must hold those reads as it holds
    the batches' items, or a paused crawl goes on fetching."""
    from trio_crawl.engine import Plan, PlanContext

    reads: list[float] = []

    async def read() -> int:
        reads.append(trio.current_time())
        await trio.sleep(1)
        return 0

    async def fetch(item: int) -> int:
        await trio.sleep(1)
        return item

    async def planner(context: PlanContext) -> Plan:
        for _ in range(5):
            await context.retry(read, policy="list_pages")

        async def settle() -> str:
            for _ in range(5):
                await context.retry(read, policy="list_pages")
            return ""

        return Plan([[0, 1]], settle=settle)

    stages = [Stage("product_details", fetch)]
    async with open_session(quick_config(), stages=stages, planner=planner) as s:
        await trio.sleep(1.5)  # the planner's second read is in flight
        s.pause()
        await trio.sleep(100)
        assert len(reads) == 2, reads  # the read in flight finished; no other started
        s.resume()
        await trio.sleep(4.5)  # the planning reads are done, the batch is running (1 s)
        s.pause()
        await trio.sleep(100)
        held = len(reads)
        assert held <= 6, reads  # the settle check has not read past its first page
        s.resume()
        summary = await s.wait()
    assert summary.status == "completed"
    assert len(reads) == 10
    assert all(at >= 101.5 for at in reads[2:])
    assert all(at >= 206 for at in reads[held:])
