"""A batch's write keeps no statement journal: SQLite copies no page of the database aside (to a
temporary file, once a statement's copies outgrow memory) before changing it."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest

from trio_crawl.stores import SqliteStore
from trio_crawl.stores.ledger import LedgerPage, LedgerShape

from .test_sqlite import product

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the open files in /proc/self/fd"
)

PER_PAGE = 12
PAGES = 100


def temporary_files_open() -> list[str]:
    """SQLite's temporary files this process holds open (each is deleted once opened)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if "etilqs_" in target:
            found.append(target)
    return found


async def test_a_batch_and_the_pages_it_came_from_are_written_without_statement_journals(
    tmp_path: Path,
) -> None:
    # Random urls, as a catalogue's are: each batch's rows land on many pages of the url
    # indexes, more than a statement journal holds in memory.
    rng = random.Random(29)
    urls = [f"https://example.test/p/{rng.getrandbits(48):012x}/" for _ in range(PAGES * PER_PAGE)]
    products = [product(n // PER_PAGE, n % PER_PAGE, url=url, vid=n) for n, url in enumerate(urls)]
    shape = LedgerShape("https://example.test", last_page=PAGES, on_last=12, per_page=PER_PAGE)
    seen_at_commit: list[list[str]] = []

    def trace(statement: str) -> None:
        # Called as each statement starts: at COMMIT the transaction's journals are still open.
        if statement == "COMMIT":
            seen_at_commit.append(temporary_files_open())

    async with SqliteStore.open(tmp_path / "crawl.db") as store:
        await store.open_shape(
            shape,
            [LedgerPage(p, f"https://example.test/list/{p}") for p in range(1, PAGES + 1)],
            "s1",
        )
        store._connection.set_trace_callback(trace)  # the store's one sqlite3 connection
        for first in range(0, PAGES, 10):  # a batch: 10 list pages and their products
            batch = products[first * PER_PAGE : (first + 10) * PER_PAGE]
            for page in range(first, first + 10):
                listed = products[page * PER_PAGE : (page + 1) * PER_PAGE]
                await store.page_listed(
                    LedgerPage(page + 1, f"https://example.test/list/{page + 1}"),
                    [p.ref for p in listed],
                    len(products),
                    "s1",
                )
            assert await store.save_done(batch, "s1") == len(batch)
        store._connection.set_trace_callback(None)
        assert await store.count_products() == len(products)
    assert len(seen_at_commit) == PAGES // 10
    assert seen_at_commit == [[]] * (PAGES // 10)
