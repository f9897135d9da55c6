"""A stage's shared limit (`Slots`): first come first served, resized live, no slot lost to a
cancel, and no exception raised for an item that waits (under the mock clock)."""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

import trio
import trio.testing

from trio_crawl import open_session
from trio_crawl.engine import Stage
from trio_crawl.engine.slots import Slots

from .conftest import quick_config


async def test_waiters_get_the_slots_given_back_in_the_order_they_came() -> None:
    slots = Slots(1)
    assert slots.take_nowait()
    order: list[int] = []

    async def wait(number: int) -> None:
        await slots.take()
        order.append(number)

    async with trio.open_nursery() as nursery:
        for number in range(4):
            nursery.start_soon(wait, number)
            await trio.testing.wait_all_tasks_blocked()
        assert slots.waiting == 4
        assert not slots.take_nowait()  # a free slot would jump the line; none is free
        for _ in range(4):
            slots.give()
            await trio.testing.wait_all_tasks_blocked()
    assert order == [0, 1, 2, 3]
    assert slots.used == 1
    slots.give()
    assert slots.used == 0


async def test_a_raised_limit_lets_waiters_in_at_once_and_a_lowered_one_lets_nobody_in() -> None:
    slots = Slots(2)
    assert slots.take_nowait() and slots.take_nowait()
    came: list[int] = []

    async def wait(number: int) -> None:
        await slots.take()
        came.append(number)

    async with trio.open_nursery() as nursery:
        for number in range(3):
            nursery.start_soon(wait, number)
            await trio.testing.wait_all_tasks_blocked()
        slots.total = 4
        await trio.testing.wait_all_tasks_blocked()
        assert sorted(came) == [0, 1]  # the first two in line (woken together, run in any order)
        assert (slots.used, slots.waiting) == (4, 1)
        slots.total = 1
        for _ in range(3):
            slots.give()  # holders beyond the lowered limit leave; nobody comes in
        await trio.testing.wait_all_tasks_blocked()
        assert len(came) == 2
        assert (slots.used, slots.waiting) == (1, 1)
        slots.give()  # under the limit now: the slot passes to the one waiting
        await trio.testing.wait_all_tasks_blocked()
        assert came[2] == 2
    assert slots.used == 1


async def test_a_waiter_cancelled_takes_no_slot_with_it() -> None:
    slots = Slots(1)
    assert slots.take_nowait()
    with trio.move_on_after(1) as scope:
        await slots.take()
    assert scope.cancelled_caught
    assert (slots.used, slots.waiting) == (1, 0)
    slots.give()
    assert slots.used == 0
    assert slots.take_nowait()


async def test_items_waiting_for_a_slot_shared_by_batches_raise_no_exception() -> None:
    """Three batches overlap on one limit of two, so most items wait for a slot; a wait must
    not raise (and catch) `trio.WouldBlock`, as `trio.CapacityLimiter` does for each one:
    an exception, its tracebacks and frames per item."""
    in_flight = 0
    most = 0

    async def fetch(item: int) -> int:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await trio.sleep(0.01)
        in_flight -= 1
        return item

    raised: list[str] = []

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        # (A control channel's `receive_nowait` raises WouldBlock too, once a stage: not a wait.)
        if event == "exception" and issubclass(arg[0], trio.WouldBlock):
            where = frame.f_code.co_name
            if "acquire" in where or "take" in where:
                raised.append(where)
        return trace

    config = quick_config(
        crawl={"batch_size": 10, "parallel_batches": 3}, concurrency={"product_details": 2}
    )
    before = sys.gettrace()
    sys.settrace(trace)
    try:
        async with open_session(
            config, stages=[Stage("product_details", fetch)], items=list(range(30))
        ) as session:
            summary = await session.wait()
    finally:
        sys.settrace(before)
    assert summary.status == "completed"
    assert summary.stages["product_details"].items_ok == 30
    assert most == 2  # the limit held across the batches, so items did wait
    assert raised == []
