"""Stopping is one policy: one stop, one grace deadline; drain keeps everything it can; the
handle is ready at once; `wait()` always answers; exceptions behave as trio means them.

These run on the engine alone (`EngineSettings`, no config file), under the mock clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing

from trio_crawl.engine import (
    EngineSettings,
    RetryPolicy,
    SessionSummary,
    Stage,
    StageSettings,
    open_session,
)
from trio_crawl.engine.events import Event, SessionCancelled, SessionEnded, StopRequested

NO_RETRY = RetryPolicy(max_attempts=1, base_delay_ms=0, max_delay_ms=0, jitter_ms=0)


def settings(limits: dict[str, int] | None = None, **knobs: Any) -> EngineSettings:
    stages = {name: StageSettings(NO_RETRY, limit) for name, limit in (limits or {}).items()}
    return EngineSettings(**knobs, stages=stages)


class Pipeline:
    """fetch (non-drain) → validate (drain) → save (drain, batched), recording what happened."""

    def __init__(self, fetch_secs: float = 0.0, validate_secs: float = 0.0) -> None:
        self.fetch_secs = fetch_secs
        self.validate_secs = validate_secs
        self.fetched: list[int] = []
        self.validated: list[int] = []
        self.saved: list[int] = []

    async def fetch(self, item: int) -> int:
        await trio.sleep(self.fetch_secs)
        self.fetched.append(item)
        return item

    async def validate(self, item: int) -> int:
        await trio.sleep(self.validate_secs)
        self.validated.append(item)
        return item

    async def save(self, items: list[int]) -> list[int]:
        await trio.lowlevel.checkpoint()
        self.saved.extend(items)
        return items

    def stages(self) -> list[Stage]:
        return [
            Stage("fetch", self.fetch, count_failed="failed"),
            Stage("validate", self.validate, drain=True, count_failed="failed"),
            Stage("save", self.save, batched=True, drain=True, count_ok="saved"),
        ]


def accounted(summary: SessionSummary, saved: Sequence[int], items: Sequence[int]) -> None:
    """Every item ended saved or in failed_items, exactly once."""
    failed = [f.item for f in summary.failed_items]
    assert sorted([*saved, *failed]) == sorted(items)


# -- a stop never reaches into a drain stage ---------------------------------------------


@pytest.mark.parametrize("stop", ["cancel", "session timeout"])
async def test_a_stop_arriving_while_a_drain_stage_runs_lets_it_finish(
    stop: str, autojump_clock: trio.testing.MockClock
) -> None:
    pipeline = Pipeline(validate_secs=1)
    timeout = 2.5 if stop == "session timeout" else 3600
    config = settings({"validate": 1}, grace_secs=30, session_timeout_secs=timeout)
    async with open_session(config, stages=pipeline.stages(), items=range(10)) as s:
        if stop == "cancel":
            await trio.sleep(2.5)
            s.cancel("user")
        summary = await s.wait()
    assert summary.status == ("cancelled" if stop == "cancel" else "timed_out")
    assert sorted(pipeline.saved) == list(range(10))
    assert summary.failed_items == ()


async def test_when_the_grace_runs_out_mid_drain_what_was_drained_is_still_saved(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # 10 fetched at once; validating takes 1 s each, one at a time; cancel at t=0.5 with a
    # 6 s grace: validation may use half of what is left (3 s), saving the rest.
    pipeline = Pipeline(validate_secs=1)
    config = settings({"validate": 1}, grace_secs=6)
    async with open_session(config, stages=pipeline.stages(), items=range(10)) as s:
        await trio.sleep(0.5)
        s.cancel("user")
        summary = await s.wait()
    assert summary.status == "cancelled"
    assert len(pipeline.validated) == 3
    assert sorted(pipeline.saved) == sorted(pipeline.validated)
    assert summary.products_saved == 0 and summary.counts["saved"] == 3
    accounted(summary, pipeline.saved, range(10))
    lost = [f for f in summary.failed_items]
    assert {f.stage for f in lost} == {"validate"}
    assert all("no time left in the stop's grace" in f.last_error for f in lost)


async def test_later_stops_never_move_the_grace_deadline_nor_cut_a_drain(
    autojump_clock: trio.testing.MockClock,
) -> None:
    pipeline = Pipeline(validate_secs=1)
    # cancel at t=1 (deadline t=31); the session timeout at t=5 and a second cancel at t=8
    # change nothing: the reason stays the first, validation (10 s of it) finishes by t=10.
    config = settings({"validate": 1}, grace_secs=30, session_timeout_secs=5)
    async with open_session(config, stages=pipeline.stages(), items=range(10)) as s:
        await trio.sleep(1)
        s.cancel("first")
        await trio.sleep(7)
        s.cancel("second")
        await trio.sleep(1)
        assert s.stop_deadline == 31
        summary = await s.wait()
    assert (summary.status, summary.reason) == ("cancelled", "first")
    assert sorted(pipeline.saved) == list(range(10))


async def test_a_hard_stop_after_a_graceful_one_cancels_the_work_still_in_flight(
    autojump_clock: trio.testing.MockClock,
) -> None:
    pipeline = Pipeline(fetch_secs=10)
    config = settings({"fetch": 2})
    async with open_session(config, stages=pipeline.stages(), items=range(4)) as s:
        await trio.sleep(1)
        s.shutdown(graceful=True)
        await trio.sleep(1)
        s.shutdown(graceful=False)
        summary = await s.wait()
    assert trio.current_time() == 2
    assert (summary.status, summary.reason) == ("cancelled", "graceful shutdown")
    assert pipeline.saved == []
    accounted(summary, pipeline.saved, range(4))


# -- the handle is ready at yield ----------------------------------------------------------


async def test_a_cancel_sent_on_the_first_line_of_the_block_is_obeyed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    pipeline = Pipeline(fetch_secs=1)
    async with open_session(settings(), stages=pipeline.stages(), items=range(5)) as s:
        s.cancel("at once")
        summary = await s.wait()
    assert (summary.status, summary.reason) == ("cancelled", "at once")
    assert pipeline.fetched == []
    assert summary.batches_planned == 0  # the stop came before the plan


async def test_a_pause_sent_on_the_first_line_of_the_block_starts_nothing_until_resume(
    autojump_clock: trio.testing.MockClock,
) -> None:
    started: list[float] = []

    async def fetch(item: int) -> int:
        started.append(trio.current_time())
        return item

    async with open_session(settings(), stages=[Stage("fetch", fetch)], items=range(5)) as s:
        s.pause()
        await trio.sleep(50)
        assert started == []
        s.resume()
        summary = await s.wait()
    assert summary.status == "completed"
    assert started == [50] * 5


async def test_pausing_longer_than_the_stage_timeout_does_not_time_the_stage_out(
    autojump_clock: trio.testing.MockClock,
) -> None:
    pipeline = Pipeline(fetch_secs=1)
    config = settings({"fetch": 1}, stage_timeout_secs=10)
    async with open_session(config, stages=pipeline.stages(), items=range(4)) as s:
        await trio.sleep(1.5)
        s.pause()
        await trio.sleep(60)
        s.resume()
        summary = await s.wait()
    assert summary.status == "completed"
    assert sorted(pipeline.saved) == list(range(4))


# -- wait() always answers, within grace + the outcome hook's bound ------------------------


async def test_a_stop_takes_at_most_the_grace_plus_the_outcome_hooks_bound(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The block raises while a fetch never ends, the drain never ends, and the outcome hook
    never returns: the caller still gets its exception back after exactly grace + hook bound,
    and `wait()` answers with the summary."""

    async def fetch(item: int) -> int:
        if item == 2:
            await trio.sleep_forever()
        return item

    async def save(items: list[int]) -> list[int]:
        await trio.sleep_forever()
        raise AssertionError

    hook_calls: list[str] = []

    async def hook(summary: SessionSummary) -> None:
        hook_calls.append(summary.status)
        await trio.sleep_forever()

    stages = [Stage("fetch", fetch), Stage("save", save, batched=True, drain=True)]
    config = settings(grace_secs=7, outcome_timeout_secs=3)
    with pytest.raises(KeyError):
        async with open_session(config, stages=stages, items=[1, 2], on_finish=hook) as s:
            await trio.sleep(1)
            raise KeyError("boom")
    assert trio.current_time() == 1 + 7 + 3
    summary = await s.wait()
    assert hook_calls == ["cancelled"]
    assert summary.status == "cancelled"
    assert "KeyError('boom')" in summary.reason
    assert "recording the session's outcome timed out" in summary.reason


async def test_wait_answers_even_when_the_caller_is_cancelled_while_waiting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    pipeline = Pipeline(fetch_secs=100)
    with trio.move_on_after(5):
        async with open_session(settings(), stages=pipeline.stages(), items=range(3)) as s:
            pass  # leaving the block waits for the session; the caller's deadline cuts in
    summary = await s.wait()
    assert summary.status == "cancelled" and summary.reason == "cancelled by the caller"
    accounted(summary, pipeline.saved, range(3))


# -- exceptions as trio means them ---------------------------------------------------------


async def test_a_handler_that_raises_while_being_cancelled_does_not_crash_the_session(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Its BaseExceptionGroup[Cancelled, ValueError] must not escape the actor guard."""

    async def broken_cleanup() -> None:
        try:
            await trio.sleep_forever()
        finally:
            raise ValueError("cleanup broke")

    async def fetch(item: int) -> int:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.sleep_forever)
            nursery.start_soon(broken_cleanup)
        return item

    async with open_session(settings(), stages=[Stage("fetch", fetch)], items=[1, 2]) as s:
        await trio.sleep(1)
        s.cancel("stop")
        summary = await s.wait()
    assert summary.status == "cancelled"
    assert "cleanup broke" in summary.reason  # raised after the stage reported: kept
    accounted(summary, [], [1, 2])


async def test_keyboard_interrupt_in_a_handler_drains_records_and_reraises_it_plainly(
    autojump_clock: trio.testing.MockClock,
) -> None:
    pipeline = Pipeline()

    async def fetch(item: int) -> int:
        if item == 3:
            await trio.sleep(1)
            raise KeyboardInterrupt
        return await pipeline.fetch(item)

    recorded: list[SessionSummary] = []

    async def hook(summary: SessionSummary) -> None:
        recorded.append(summary)

    stages = [Stage("fetch", fetch), *pipeline.stages()[1:]]
    events: list[Event] = []
    with pytest.raises(KeyboardInterrupt) as caught:
        async with (
            open_session(settings(), stages=stages, items=range(5), on_finish=hook) as s,
            s.events() as stream,
        ):
            async for event in stream:
                events.append(event)
    assert type(caught.value) is KeyboardInterrupt  # not an exception group
    [summary] = recorded
    assert (summary.status, summary.reason) == ("cancelled", "KeyboardInterrupt")
    assert sorted(pipeline.saved) == [0, 1, 2, 4]  # what was fetched got drained and saved
    assert [f.item for f in summary.failed_items] == [3]
    assert isinstance(events[-1], SessionCancelled)
    assert any(isinstance(e, StopRequested) for e in events)


async def test_keyboard_interrupt_in_the_block_is_reraised_plainly_after_the_drain(
    autojump_clock: trio.testing.MockClock,
) -> None:
    pipeline = Pipeline(fetch_secs=1)
    config = settings({"fetch": 1})
    with pytest.raises(KeyboardInterrupt) as caught:
        async with open_session(config, stages=pipeline.stages(), items=range(3)) as s:
            await trio.sleep(1.5)
            raise KeyboardInterrupt
    assert type(caught.value) is KeyboardInterrupt
    summary = await s.wait()
    assert (summary.status, summary.reason) == ("cancelled", "KeyboardInterrupt")
    assert pipeline.saved == pipeline.fetched == [0]
    accounted(summary, pipeline.saved, range(3))


# -- live concurrency, both ways -----------------------------------------------------------


async def test_raising_a_limit_reaches_the_running_stage_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    running = peak = 0
    done = 0

    async def fetch(item: int) -> int:
        nonlocal running, peak, done
        running += 1
        peak = max(peak, running)
        await trio.sleep(1)
        running -= 1
        done += 1
        return item

    config = settings({"fetch": 2}, batch_size=40)
    async with open_session(config, stages=[Stage("fetch", fetch)], items=range(40)) as s:
        await trio.sleep(1.5)
        assert (done, peak) == (2, 2)
        s.reconfigure(settings({"fetch": 8}, batch_size=40))
        await trio.sleep(1)
        assert peak == 8
        s.reconfigure(settings({"fetch": 3}, batch_size=40))
        await trio.sleep(1.01)  # in flight finish; from now on three at a time
        running_after_lowering = running
        summary = await s.wait()
    assert summary.status == "completed" and done == 40
    assert running_after_lowering <= 3


def _final(events: list[Event]) -> SessionEnded:
    [final] = [e for e in events if isinstance(e, SessionEnded)]
    return final
