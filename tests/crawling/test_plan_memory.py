"""A crawl's plan does not grow with the catalogue: the real `CataloguePlanner` over a real
SQLite ledger plans a 1,200- and a 24,000-product catalogue, and tracemalloc weighs what the
plan holds, what making its batches one at a time costs at most, and what the settle check
(every list page read again) costs at most. Every run reads every list page before any detail
page, so a plan that kept what it read would hold the whole catalogue until the run ends."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import attrs
import pytest

from trio_crawl import CrawlConfig
from trio_crawl.crawling.listing_spool import CACHE_KIB, ListingSpool
from trio_crawl.crawling.planner import CataloguePlanner
from trio_crawl.sites import MatterCatalogue
from trio_crawl.sites.records import ListEntry, ListPage
from trio_crawl.stores import SqliteStore

from .test_ledger_planning import BASE, Catalogue, Immediate

SMALL, LARGE = 1_200, 24_000
PER_PRODUCT = 40
"""Bytes a product may add to what the plan holds: a tenth of what its card costs in memory
(bounded caches, such as the interpreter's free lists, fill up on the way)."""


@attrs.frozen
class Weights:
    held: int  # bytes the plan holds once made
    batches: int  # the most that making the batches in turn held at once
    settle: int  # the most the settle check held at once
    products: int  # the products the batches hold


async def weigh(tmp_path: Path, total: int) -> Weights:
    catalogue = Catalogue(total)
    config = CrawlConfig.from_dict({"crawl": {"strategy": "full"}})
    async with SqliteStore.open(tmp_path / f"{total}.db") as store:
        planner = CataloguePlanner(
            MatterCatalogue(BASE), store, catalogue.fetch, config.crawl, store, "memory"
        )
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            plan = await planner(Immediate())  # type: ignore[arg-type]
            held = tracemalloc.get_traced_memory()[0] - before
            tracemalloc.reset_peak()
            products = 0
            for batch in plan.batches:  # as the session runs them: one, then the next
                products += sum(len(job.refs) for job in batch)
                del batch
            batches = tracemalloc.get_traced_memory()[1] - before - held
            tracemalloc.reset_peak()
            assert plan.settle is not None
            assert await plan.settle() == ""
            settle = tracemalloc.get_traced_memory()[1] - before - held
        finally:
            tracemalloc.stop()
    return Weights(held, batches, settle, products)


@pytest.mark.slow  # two catalogues planned under tracemalloc: seconds
async def test_what_a_plan_holds_does_not_grow_with_the_catalogue(tmp_path: Path) -> None:
    small = await weigh(tmp_path, SMALL)
    large = await weigh(tmp_path, LARGE)
    assert (small.products, large.products) == (SMALL, LARGE)
    more = LARGE - SMALL
    print(f"{small=}\n{large=}")
    assert large.held - small.held < more * PER_PRODUCT, (small, large)
    assert large.batches - small.batches < more * PER_PRODUCT, (small, large)
    assert large.settle - small.settle < more * PER_PRODUCT, (small, large)


def test_the_spool_gives_back_each_page_and_finds_a_product_shown_twice() -> None:
    spool = ListingSpool()
    pages = {
        page: ListPage(
            page, 3, tuple(ListEntry(f"{BASE}/{page}/{i}", "m", "n", "c") for i in range(2))
        )
        for page in (3, 1, 2)
    }
    for page, listing in pages.items():
        spool[page] = listing
    assert list(spool) == [1, 2, 3]
    assert len(spool) == 3 and 2 in spool and 4 not in spool
    assert spool[2] == pages[2]
    with pytest.raises(KeyError):
        spool[4]
    assert spool.claim(1, [f"{BASE}/a", f"{BASE}/b"]) is None
    assert spool.claim(2, [f"{BASE}/c", f"{BASE}/b"]) == (f"{BASE}/b", 1)
    assert spool.claim(3, [f"{BASE}/d", f"{BASE}/d"]) == (f"{BASE}/d", 3)
    spool.close()
    with pytest.raises(ValueError):
        spool[1]


def bytes_written() -> int:
    """What this process has handed to write calls so far (files, pipes, sockets)."""
    with open("/proc/self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("wchar:"))


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="needs Linux's /proc")
def test_the_spool_writes_to_disk_only_what_its_page_cache_cannot_hold() -> None:
    """A benchmark crawl's listing (334 pages of 12 cards), written, claimed, read back and
    kept in a second spool. Committed a statement at a time, the spool wrote every page it
    changed to its file (a system call a page: most of the spool, again and again); now it
    writes only what its page cache lets go of."""
    written = bytes_written()
    spool, other = ListingSpool(), ListingSpool()
    for page in range(1, 335):
        entries = tuple(
            ListEntry(f"{BASE}/csa_product/maker-{page}-{i}-smart-plug/", "Maker", "Model", "CSA")
            for i in range(12)
        )
        spool[page] = ListPage(page, 334, entries)
        assert spool.claim(page, [entry.url for entry in entries]) is None
    for page in range(1, 335):
        assert len(spool[page].entries) == 12
        other.keep(spool, page)
    written = bytes_written() - written
    size = sum(
        one._open.execute(
            "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size"
        ).fetchone()[0]
        for one in (spool, other)
    )
    assert size > CACHE_KIB * 1024  # a spool's worth of pages, or nothing would show
    assert written < size / 3, (written, size)
    spool.close()
    other.close()
