"""trio_crawl, the real product: `open_session()` with the SQLite store and an events subscriber.

Everything a user gets is on: the status check (it finds the last page by itself), the four
stages with their retry policies, per-host politeness, events (consumed here as a dashboard
would, but not drawn), SQLite upserts in a temporary file. The global rate limit is off
(``requests_per_second = 0``) so the run is like for like with the peers.

Concurrency (documented in results/latest.md): ``per_host_concurrency`` = ``--concurrency``
(32: at most 32 requests in flight to the site, as for every peer), split between the stages
that fetch: ``list_pages`` 8 and ``product_details`` = the rest (24), ``max_connections`` the
same 32; ``parallel_batches`` 4, ``batch_size`` 10. Stage limits that add up to more than the
per-host limit only make requests queue on it (measured: ~6 % slower with details at 32).

Pages are parsed as a user's crawl parses them: in one worker process beside the crawl
(``[concurrency] parse_processes = 1``, the default), on the machine's other core.

With ``TRIO_CRAWL_BENCH_DB`` set (a ``postgresql://`` URL, say), the crawl stores into that
database instead of a temporary SQLite file (`benchmarks/stores.py` compares the stores).

Three switches, for finding where time goes (run.py's main contender uses none): ``--no-events``
(nobody subscribes), ``--null-store`` (a store that keeps nothing, so no SQLite at all; products
are counted and digested as they are saved) and ``--one-process`` (``parse_processes = 0``:
every page parsed in the crawl's own thread, as the raw loops do).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Tally, arguments, clean, record_digest, report

from trio_crawl import CrawlConfig, SessionSummary, open_session
from trio_crawl.sites import MatterCatalogue, Product
from trio_crawl.stores import Store, open_store

LIST_PAGES = 8


def config(concurrency: int, parse_processes: int = 1) -> CrawlConfig:
    return CrawlConfig.from_dict(
        {
            "crawl": {"strategy": "full", "batch_size": 10, "parallel_batches": 4},
            "concurrency": {
                "list_pages": LIST_PAGES,
                "product_details": concurrency - LIST_PAGES,
                "max_connections": concurrency,
                "parse_processes": parse_processes,
            },
            "rate_limit": {"requests_per_second": 0, "per_host_concurrency": concurrency},
        }
    )


class NullStore:
    """A `Store` that keeps nothing: what trio_crawl costs without SQLite."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    async def newest_position(self) -> int | None:
        return None

    async def save_products(self, products: Sequence[Product]) -> int:
        for product in products:
            detail = product.detail
            self.tally.product(
                clean(detail.model), clean(detail.manufacturer), clean(detail.certificate_id)
            )
        return len(products)

    async def start_run(self, session_id: str, config: Mapping[str, Any]) -> None:
        pass

    async def finish_run(
        self,
        session_id: str,
        status: str,
        counts: Mapping[str, int],
        error: Mapping[str, Any] | None = None,
    ) -> None:
        pass


async def crawl(
    base_url: str,
    concurrency: int,
    db: str | None,
    events: Counter[str] | None,
    tally: Tally,
    parse_processes: int,
) -> SessionSummary:
    site = MatterCatalogue(base_url)
    async with contextlib.AsyncExitStack() as stack:
        store: Store = (
            NullStore(tally) if db is None else await stack.enter_async_context(open_store(db))
        )
        session = await stack.enter_async_context(
            open_session(config(concurrency, parse_processes), site=site, store=store)
        )
        if events is not None:
            async with session.events() as subscription:
                async for event in subscription:
                    events[type(event).__name__] += 1
        return await session.wait()


def stored_rows(db: str) -> Iterator[tuple[Any, ...]]:
    """The stored records' three fields, streamed: read after the crawl, in the same process,
    so a list of every row would add its size to the crawl's peak RSS (which memory.py reports)."""
    query = "SELECT model, manufacturer, certificate_id FROM matter"
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db) as server, server.cursor(name="stored_rows") as cursor:
            cursor.execute(query)
            yield from cursor
        return
    with contextlib.closing(sqlite3.connect(db)) as connection:
        yield from connection.execute(query)


def check_database(db: str, tally: Tally) -> None:
    """Count and digest what the crawl stored (after the clock stopped)."""
    rows = 0
    for model, manufacturer, certificate_id in stored_rows(db):
        rows += 1
        tally.details += 1
        model, manufacturer, certificate_id = (
            clean(model),
            clean(manufacturer),
            clean(certificate_id),
        )
        if model and manufacturer and certificate_id:
            tally.products += 1
            tally.digest = (tally.digest + record_digest(model, manufacturer, certificate_id)) % (
                1 << 64
            )
    tally.notes["products_rows"] = rows


def main() -> None:
    args = arguments(
        __doc__.splitlines()[0],
        switches={
            "--no-events": "nobody subscribes",
            "--null-store": "no SQLite",
            "--one-process": "pages parsed in the crawl's thread (parse_processes = 0)",
        },
    )
    events: Counter[str] | None = None if args.no_events else Counter()
    tally = Tally(counts_requests=False, notes={"concurrency": args.concurrency})
    switched = (
        ("no-events", args.no_events),
        ("null-store", args.null_store),
        ("one-process", args.one_process),
    )
    if any(on for _, on in switched):
        tally.notes["variant"] = " ".join(name for name, on in switched if on)
    with tempfile.TemporaryDirectory(prefix="trio-crawl-bench-") as folder:
        db = None if args.null_store else str(Path(folder) / "bench.db")
        if not args.null_store and os.environ.get("TRIO_CRAWL_BENCH_DB"):
            db = os.environ["TRIO_CRAWL_BENCH_DB"]
            tally.notes["store"] = db.split("://", 1)[0]
        tally.start()
        processes = 0 if args.one_process else 1
        summary = trio.run(crawl, args.base_url, args.concurrency, db, events, tally, processes)
        seconds = time.perf_counter() - tally.started
        if db is not None:
            check_database(db, tally)
    tally.list_pages = summary.pages_ok
    tally.errors = summary.pages_failed + summary.products_failed
    tally.notes.update(
        status=summary.status,
        products_saved=summary.products_saved,
        retries=summary.retries,
        events=sum(events.values()) if events is not None else None,
        events_lost=events.get("EventsLost", 0) if events is not None else None,
    )
    report("trio_crawl", tally, seconds)


if __name__ == "__main__":
    main()
