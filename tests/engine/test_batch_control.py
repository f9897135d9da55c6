"""One batch steered on its own: pause, resume and cancel travel as messages from the session
to that batch and on to the stage it runs; the other batches and the session go on."""

from __future__ import annotations

import trio
import trio.testing

from trio_crawl import CrawlConfig, open_session
from trio_crawl.engine import ErrorKind, Stage

from .conftest import quick_config


class Pipeline:
    """Fetch (1 s an item unless told otherwise), then save (a drain stage), timing both."""

    def __init__(self, durations: dict[int, float] | None = None) -> None:
        self.durations = durations or {}
        self.started: dict[int, float] = {}
        self.saved: dict[int, float] = {}

    def stages(self) -> list[Stage]:
        async def fetch(item: int) -> int:
            self.started[item] = trio.current_time()
            await trio.sleep(self.durations.get(item, 1))
            return item

        async def save(items: list[int]) -> list[int]:
            for item in items:
                self.saved[item] = trio.current_time()
            return items

        return [
            Stage("product_details", fetch, count_failed="products_failed"),
            Stage("saving", save, batched=True, drain=True, count_ok="products_saved"),
        ]


def _config(parallel_batches: int) -> CrawlConfig:
    return quick_config(
        crawl={"batch_size": 2, "parallel_batches": parallel_batches},
        concurrency={"product_details": 10},
    )


async def test_a_batch_paused_before_it_starts_starts_nothing_until_resumed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    pipeline = Pipeline()
    config = _config(parallel_batches=2)
    async with open_session(config, stages=pipeline.stages(), items=range(4)) as s:
        s.pause_batch(2)
        await trio.sleep(5)
        assert pipeline.started == {0: 0, 1: 0}
        s.resume_batch(2)
        summary = await s.wait()
    assert summary.status == "completed"
    assert pipeline.started == {0: 0, 1: 0, 2: 5, 3: 5}
    assert pipeline.saved == {0: 1, 1: 1, 2: 6, 3: 6}


async def test_pausing_a_batch_mid_stage_reaches_the_stage_it_runs_and_the_next_one(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Batch 2 is paused while its items are being fetched: they finish (in flight), its
    # saving stage starts paused and saves nothing until the batch is resumed; batch 1 and
    # batch 3 go on meanwhile.
    pipeline = Pipeline()
    config = _config(parallel_batches=3)
    async with open_session(config, stages=pipeline.stages(), items=range(6)) as s:
        await trio.sleep(0.5)
        s.pause_batch(2)
        await trio.sleep(9.5)
        assert set(pipeline.saved) == {0, 1, 4, 5}
        s.resume_batch(2)
        summary = await s.wait()
    assert summary.status == "completed"
    assert pipeline.saved == {0: 1, 1: 1, 2: 10, 3: 10, 4: 1, 5: 1}


async def test_cancelling_one_batch_cancels_its_fetching_keeps_what_it_fetched_and_the_rest_goes_on(
    autojump_clock: trio.testing.MockClock,
) -> None:
    pipeline = Pipeline(durations={3: 10})
    config = _config(parallel_batches=3)
    async with open_session(config, stages=pipeline.stages(), items=range(6)) as s:
        await trio.sleep(2)
        s.cancel_batch(2, "operator dropped batch 2")
        summary = await s.wait()
    assert summary.status == "partial"
    assert trio.current_time() == 2
    assert sorted(pipeline.saved) == [0, 1, 2, 4, 5]
    (lost,) = summary.failed_items
    assert lost.item == 3 and lost.stage == "product_details"
    assert lost.kind is ErrorKind.cancelled
    assert "operator dropped batch 2" in lost.last_error


async def test_a_batch_cancelled_before_it_starts_fetches_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    pipeline = Pipeline()
    config = _config(parallel_batches=1)
    async with open_session(config, stages=pipeline.stages(), items=range(6)) as s:
        s.cancel_batch(2, "not this one")
        summary = await s.wait()
    assert sorted(pipeline.started) == [0, 1, 4, 5]
    assert sorted(pipeline.saved) == [0, 1, 4, 5]
    assert {f.item for f in summary.failed_items} == {2, 3}
    assert all(
        f.kind is ErrorKind.cancelled and "not this one" in f.last_error
        for f in summary.failed_items
    )


async def test_a_session_pause_reaches_batches_that_start_later(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # One batch at a time: the pause at t=0.5 reaches batch 1's stage as a message, and batch 2,
    # started after it, is told at its start; both wait for the resume at t=10.
    pipeline = Pipeline()
    config = quick_config(
        crawl={"batch_size": 2, "parallel_batches": 1},
        concurrency={"product_details": 1},
    )
    async with open_session(config, stages=pipeline.stages(), items=range(4)) as s:
        await trio.sleep(0.5)
        s.pause()
        await trio.sleep(9.5)
        assert pipeline.started == {0: 0}
        s.resume()
        summary = await s.wait()
    assert summary.status == "completed"
    assert pipeline.started == {0: 0, 1: 10, 2: 11, 3: 12}
