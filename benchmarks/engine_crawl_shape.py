"""The engine's own CPU a page, in the shape of the benchmark crawl but with no I/O at all.

    python benchmarks/engine_crawl_shape.py [ROUNDS]

334 list items in batches of 10, four batches overlapping, each list item fanning out to 12
products; product details under a limit of 24 shared by the batches (so items wait for slots,
as in a crawl), validation, batched saving. The handlers only checkpoint, standing in for the
fetches and the store. Prints the crawl thread's CPU a page (list + detail items), median and
least of the rounds. On a shared machine count instructions instead, load-independent: run it
under ``valgrind --tool=callgrind`` with 1 and with 3 rounds; the difference over 2 and over
the pages is the count a page of one round.
"""

from __future__ import annotations

import statistics
import sys
import time

import trio

from trio_crawl.engine import EngineSettings, Stage, StageSettings, open_session

PAGES = 334
PER_PAGE = 12


async def one_round() -> float:
    async def list_pages(page: int) -> list[tuple[int, int]]:
        await trio.lowlevel.checkpoint()
        return [(page, index) for index in range(PER_PAGE)]

    async def details(ref: tuple[int, int]) -> tuple[int, int]:
        await trio.lowlevel.checkpoint()
        await trio.lowlevel.checkpoint()
        return ref

    async def validation(item: tuple[int, int]) -> tuple[int, int]:
        return item

    async def saving(items: list[tuple[int, int]]) -> list[tuple[int, int]]:
        await trio.lowlevel.checkpoint()
        return items

    settings = EngineSettings(
        batch_size=10,
        parallel_batches=4,
        stages={
            "list_pages": StageSettings(limit=8),
            "product_details": StageSettings(limit=24),
            "validation": StageSettings(limit=10),
            "saving": StageSettings(limit=3),
        },
    )
    stages = [
        Stage("list_pages", list_pages, fan_out=True),
        Stage("product_details", details),
        Stage("validation", validation, drain=True),
        Stage("saving", saving, batched=True, drain=True),
    ]
    start = time.thread_time()
    async with open_session(settings, stages=stages, items=range(PAGES)) as session:
        summary = await session.wait()
    spent = time.thread_time() - start
    assert summary.status == "completed", summary.status
    return spent


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    spent = [trio.run(one_round) for _ in range(rounds)]
    pages = PAGES * (1 + PER_PAGE)
    print(
        f"engine, crawl-shaped, no I/O: {1e6 * statistics.median(spent) / pages:.1f} µs a page"
        f" (median of {rounds}; least {1e6 * min(spent) / pages:.1f}), {pages:,} pages a round"
    )


if __name__ == "__main__":
    main()
