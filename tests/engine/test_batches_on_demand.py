"""Batches made on demand: a session makes a batch's items when it reaches that batch, so a plan
of a large catalogue holds its keys, never every item of every batch at once."""

from __future__ import annotations

import pytest
import trio

from trio_crawl import open_session
from trio_crawl.engine import BatchesOnDemand, Plan, PlanContext, Stage

from .conftest import quick_config


def test_batches_on_demand_read_as_the_list_of_batches_they_stand_for() -> None:
    made: list[int] = []

    def make(key: int) -> str:
        made.append(key)
        return f"item {key}"

    batches = BatchesOnDemand(range(23), 5, make)
    assert (len(batches), batches.items, made) == (5, 23, [])
    assert batches[1] == [f"item {key}" for key in range(5, 10)]
    assert batches[-1] == ["item 20", "item 21", "item 22"]
    rest = batches[3:]
    assert isinstance(rest, BatchesOnDemand) and rest.items == 8 and len(rest) == 2
    assert made == [5, 6, 7, 8, 9, 20, 21, 22]
    assert [len(batch) for batch in batches] == [5, 5, 5, 5, 3]
    assert Plan(batches).items == 23
    with pytest.raises(IndexError):
        batches[5]


async def test_a_session_makes_each_batch_when_it_reaches_it() -> None:
    size, parallel, total = 5, 2, 100
    config = quick_config(crawl={"batch_size": size, "parallel_batches": parallel})
    made = finished = most_held = 0
    saved: list[int] = []

    def make(key: int) -> int:
        nonlocal made, most_held
        made += 1
        most_held = max(most_held, made - finished)
        return key

    async def fetch(item: int) -> int:
        await trio.sleep(1)
        return item

    async def save(items: list[int]) -> list[int]:
        nonlocal finished
        saved.extend(items)
        finished += len(items)
        return items

    async def planner(context: PlanContext) -> Plan:
        return Plan(BatchesOnDemand(range(total), size, make), {"products_saved": total})

    stages = [
        Stage("product_details", fetch),
        Stage("saving", save, batched=True, drain=True, count_ok="products_saved"),
    ]
    async with open_session(config, stages=stages, planner=planner) as session:
        pass
    summary = await session.wait()
    assert summary.status == "completed" and sorted(saved) == list(range(total))
    # The batches running, and the next one waiting for a slot.
    assert most_held <= (parallel + 1) * size, most_held
