"""Crawlee for Python: `ParselCrawler` with in-memory storage and concurrency tuned.

Storage is `MemoryStorageClient` (nothing is written to disk; the script also runs in a
temporary working directory to prove it), concurrency is pinned at ``--concurrency``
(min = desired = max, so the autoscaler cannot shrink it on a busy 2-core machine), its own
logging is quiet. Everything else is Crawlee's default: its HTTP client (impit), the session
pool, request retries, statistics. Detail links are enqueued with ``enqueue_links`` and list
pages with ``add_requests``, and pages are read with parsel CSS selectors, Crawlee's idiomatic
way. Runs in ``benchmarks/.venvs/crawlee``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from crawlee import ConcurrencySettings, Request, service_locator
from crawlee.configuration import Configuration
from crawlee.crawlers import ParselCrawler, ParselCrawlingContext
from crawlee.storage_clients import MemoryStorageClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Tally, arguments, clean, list_url, report


def page_number(text: str | None) -> int | None:
    text = clean(text)
    return int(text) if text.isdigit() else None


async def crawl(base_url: str, concurrency: int, tally: Tally) -> None:
    # Set before the crawler exists, so every component (event manager, storages) uses them.
    service_locator.set_configuration(Configuration(log_level="WARNING"))
    service_locator.set_storage_client(MemoryStorageClient())
    crawler = ParselCrawler(
        concurrency_settings=ConcurrencySettings(
            min_concurrency=concurrency,
            desired_concurrency=concurrency,
            max_concurrency=concurrency,
        ),
        configure_logging=False,
    )

    @crawler.router.handler("LIST")
    async def list_page(context: ParselCrawlingContext) -> None:
        tally.requests += 1
        page = int(context.request.user_data["page"])  # type: ignore[arg-type]
        selector = context.selector
        current = page_number(selector.css("span.page-numbers.current::text").get())
        cards = selector.css("div.post-feed article.product.type-product")
        if current != page or not cards:
            tally.errors += 1
            return
        tally.list_pages += 1
        if page == 1:
            numbers = [page_number(t) for t in selector.css("a.page-numbers::text").getall()]
            highest = max([n for n in numbers if n is not None], default=1)
            await context.add_requests(
                [
                    Request.from_url(list_url(base_url, n), label="LIST", user_data={"page": n})
                    for n in range(2, highest + 1)
                ]
            )
        await context.enqueue_links(
            selector="div.post-feed article.product.type-product > a", label="DETAIL"
        )

    @crawler.router.handler("DETAIL")
    async def detail_page(context: ParselCrawlingContext) -> None:
        tally.requests += 1
        selector = context.selector
        model = clean(selector.css("h1.entry-title::text").get())
        manufacturer = clean(selector.css("p.entry-company::text").get())
        certificate = ""
        for row in selector.css("div.entry-product-details li.item"):
            if clean(row.css("span.label::text").get()) == "Certificate ID":
                certificate = clean(row.css("span.value::text").get())
                break
        tally.product(model, manufacturer, certificate)

    tally.notes["http_client"] = type(getattr(crawler, "_http_client", None)).__name__
    statistics = await crawler.run(
        [Request.from_url(list_url(base_url, 1), label="LIST", user_data={"page": 1})]
    )
    tally.notes["failed_requests"] = statistics.requests_failed


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    logging.basicConfig(level=logging.WARNING)
    tally = Tally(notes={"concurrency": args.concurrency, "crawlee": version("crawlee")})
    with tempfile.TemporaryDirectory(prefix="crawlee-bench-") as folder:
        os.chdir(folder)
        tally.start()
        asyncio.run(crawl(args.base_url, args.concurrency, tally))
        seconds = time.perf_counter() - tally.started
        written = [str(path.relative_to(folder)) for path in Path(folder).rglob("*")]
    tally.notes["files_written"] = len(written)
    report("crawlee", tally, seconds)


if __name__ == "__main__":
    main()
