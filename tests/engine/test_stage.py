"""Per-item retries, partial failure, concurrency and crashes, all under the mock clock."""

from __future__ import annotations

import random
from typing import Any

import pytest
import trio
import trio.testing

from trio_crawl import CrawlConfig, open_session
from trio_crawl.engine import (
    ErrorKind,
    RetryCalculator,
    Stage,
    StageError,
)

from .conftest import Recorder, quick_config


async def test_failing_item_is_retried_with_the_calculators_delays_and_others_run_once(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    config = quick_config(retry={"product_details": {"jitter_ms": 150}})

    async def fetch(item: int, call: int) -> int:
        if item == 3 and call <= 2:
            raise StageError(ErrorKind.server_error, "503 from upstream", status=503)
        return item * 10

    stage = Stage("product_details", recorder.handler(fetch))
    start = trio.current_time()
    async with open_session(config, stages=[stage], items=[1, 2, 3, 4], rng=random.Random(9)) as s:
        summary = await s.wait()
    elapsed = trio.current_time() - start

    policy = config.retry.for_stage("product_details")
    assert policy is not None
    expected = RetryCalculator(policy, random.Random(9))
    assert elapsed == expected.delay(1) + expected.delay(2)
    assert recorder.calls == {1: 1, 2: 1, 3: 3, 4: 1}
    assert summary.status == "completed"
    assert summary.retries == 2
    assert summary.stages["product_details"].items_ok == 4


async def test_non_retryable_kind_is_not_retried(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    async def fetch(item: int, call: int) -> int:
        if item == 2:
            raise StageError(ErrorKind.client_error, "404", status=404)
        return item

    stage = Stage("product_details", recorder.handler(fetch), count_failed="products_failed")
    async with open_session(quick_config(), stages=[stage], items=[1, 2]) as s:
        summary = await s.wait()
    assert recorder.calls[2] == 1
    assert summary.status == "partial"
    [failed] = summary.failed_items
    assert (failed.item, failed.kind, failed.attempts, failed.stage) == (
        2,
        ErrorKind.client_error,
        1,
        "product_details",
    )
    assert summary.products_failed == 1


async def test_exhausted_items_are_listed_and_the_session_goes_on_to_the_next_batch(
    autojump_clock: trio.testing.MockClock, recorder: Recorder
) -> None:
    config = quick_config(crawl={"batch_size": 2}, retry={"list_pages": {"max_attempts": 4}})

    async def fetch(item: int, call: int) -> list[int]:
        if item == 1:
            raise StageError(ErrorKind.network_error, "connection reset")
        return [item]

    saved: list[int] = []

    async def save(batch: list[int]) -> list[int]:
        saved.extend(batch)
        return batch

    stages = [
        Stage(
            "list_pages",
            recorder.handler(fetch),
            fan_out=True,
            count_ok="pages_ok",
            count_failed="pages_failed",
        ),
        Stage("saving", save, batched=True, count_ok="products_saved"),
    ]
    async with open_session(config, stages=stages, items=[1, 2, 3, 4]) as s:
        summary = await s.wait()
    assert recorder.calls[1] == 4
    assert sorted(saved) == [2, 3, 4]
    assert summary.status == "partial"
    assert summary.batches_run == 2
    assert (summary.pages_ok, summary.pages_failed, summary.products_saved) == (3, 1, 3)
    assert [(f.item, f.attempts, f.kind) for f in summary.failed_items] == [
        (1, 4, ErrorKind.network_error)
    ]


async def test_configured_concurrency_is_the_observed_peak(
    autojump_clock: trio.testing.MockClock,
) -> None:
    config = quick_config(concurrency={"product_details": 7})
    running = 0
    peak = 0

    async def fetch(item: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await trio.sleep(1)
        running -= 1
        return item

    async with open_session(config, stages=[Stage("product_details", fetch)], items=range(40)) as s:
        await s.wait()
    assert peak == 7


async def test_crashing_handler_yields_internal_and_the_session_continues(
    autojump_clock: trio.testing.MockClock,
) -> None:
    config = quick_config(crawl={"batch_size": 1})
    done: list[int] = []

    async def handle(item: int) -> int:
        if item == 0:
            raise ZeroDivisionError("bad item")
        done.append(item)
        return item

    async with open_session(config, stages=[Stage("validation", handle)], items=[0, 1, 2]) as s:
        summary = await s.wait()
    assert done == [1, 2]
    [failed] = summary.failed_items
    assert failed.kind is ErrorKind.internal
    assert "ZeroDivisionError" in failed.last_error
    assert summary.status == "partial"


async def test_crashing_stage_actor_is_a_fatal_batch_and_the_next_batch_runs(
    autojump_clock: trio.testing.MockClock,
) -> None:
    config = quick_config(crawl={"batch_size": 1})

    async def fan(item: int) -> Any:
        # A fan-out stage must return an iterable; returning an int crashes the actor itself
        # when it collects outputs — a bug outside any item, which must not hang or crash us.
        return item if item == 0 else [item]

    saved: list[int] = []

    async def save(items: list[int]) -> list[int]:
        saved.extend(items)
        return items

    stages = [Stage("list_pages", fan, fan_out=True), Stage("saving", save, batched=True)]
    async with open_session(config, stages=stages, items=[0, 1]) as s:
        summary = await s.wait()
    assert saved == [1]
    assert summary.batches_failed == 1
    assert summary.status == "partial"
    [failed] = summary.failed_items
    assert (failed.item, failed.kind) == (0, ErrorKind.internal)


async def test_stage_timeout_fails_unfinished_items_with_stage_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    config = quick_config(system={"stage_timeout_secs": 10})

    async def handle(item: int) -> int:
        await trio.sleep(5 if item < 2 else 100)
        return item

    async with open_session(config, stages=[Stage("product_details", handle)], items=range(4)) as s:
        summary = await s.wait()
    assert summary.status == "partial"
    assert sorted(f.item for f in summary.failed_items) == [2, 3]
    assert {f.kind for f in summary.failed_items} == {ErrorKind.stage_timeout}
    assert summary.stages["product_details"].items_ok == 2


async def test_abort_on_database_error_fails_the_session(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def save(items: list[int]) -> list[int]:
        raise StageError(ErrorKind.database_error, "disk I/O error")

    for abort, status, batches in ((True, "failed", 1), (False, "partial", 2)):
        config = quick_config(
            system={"abort_on_database_error": abort},
            crawl={"batch_size": 1, "parallel_batches": 1},
        )
        stage = Stage("saving", save, batched=True)
        async with open_session(config, stages=[stage], items=[1, 2]) as s:
            summary = await s.wait()
        assert summary.status == status
        assert summary.batches_run == batches


async def test_any_stage_name_works_with_the_engines_defaults(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def double(item: int) -> int:
        return item * 2

    async with open_session(quick_config(), stages=[Stage("double", double)], items=[1, 2]) as s:
        summary = await s.wait()
    assert summary.status == "completed"
    assert summary.stages["double"].items_ok == 2


@pytest.mark.parametrize("section", ["concurrency", "retry"])
async def test_config_naming_a_stage_the_session_lacks_is_a_config_error(section: str) -> None:
    from trio_crawl import ConfigError

    async def handle(item: int) -> int:
        return item

    value: object = 3 if section == "concurrency" else {"max_attempts": 2}
    config = CrawlConfig.from_dict({section: {"product_detail": value}})
    with pytest.raises(ConfigError, match="did you mean 'product_details'") as caught:
        async with open_session(config, stages=[Stage("product_details", handle)], items=[1]):
            pass
    assert caught.value.path == f"{section}.product_detail"


async def test_a_handler_that_never_awaits_still_lets_a_cancel_in(
    autojump_clock: trio.testing.MockClock,
) -> None:
    done: list[int] = []

    def spin() -> None:
        # CPU work with no await at all
        sum(range(2000))

    hundred = trio.Event()

    async def busy(item: int) -> int:
        spin()
        done.append(item)
        if len(done) == 100:
            hundred.set()
        return item

    config = quick_config(crawl={"batch_size": 100_000})
    async with open_session(config, stages=[Stage("validation", busy)], items=range(50_000)) as s:
        await hundred.wait()  # wakes only if the busy workers yield
        s.cancel("stop")
        summary = await s.wait()
    assert summary.status == "cancelled"
    assert len(done) < 50_000
    assert len(done) + len(summary.failed_items) == 50_000
