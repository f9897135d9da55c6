"""trio_crawl's `Fetcher` in the raw loop: raw_httpx's workers, but every page is fetched through
`trio_crawl.crawling.http.Fetcher` with the settings and politeness `crawl()` would use.

A diagnostic variant (``run.py --variants``): set against raw_httpx it shows what the Fetcher adds
(sharded clients, politeness, error mapping, streaming with a size limit); set against trio_crawl
it shows what the engine, the stages and the store add. Run with the project's .venv python.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Tally, arguments, list_url, report
from crawl_trio_crawl import config

from trio_crawl.api import fetch_settings
from trio_crawl.crawling.http import Fetcher
from trio_crawl.crawling.politeness import Politeness
from trio_crawl.engine import StageError
from trio_crawl.sites import MatterCatalogue

Job = tuple[str, int, str]  # ("list", page, url) or ("detail", 0, url)


async def crawl(base_url: str, workers: int, tally: Tally) -> None:
    site = MatterCatalogue(base_url)
    settings = config(workers)
    politeness = Politeness(
        settings.rate_limit.requests_per_second, settings.rate_limit.per_host_concurrency
    )
    send, receive = trio.open_memory_channel[Job](math.inf)
    outstanding = 0

    def put(job: Job) -> None:
        nonlocal outstanding
        outstanding += 1
        send.send_nowait(job)

    async def handle(fetcher: Fetcher, job: Job) -> None:
        kind, page, url = job
        tally.requests += 1
        fetched = await fetcher.get(url)
        if kind == "list":
            listing = site.parse_list(fetched.body, fetched.url)
            if listing.current != page or not listing.entries:
                tally.errors += 1
                return
            tally.list_pages += 1
            if page == 1:
                for number in range(2, (listing.highest or 1) + 1):
                    put(("list", number, list_url(base_url, number)))
            for entry in listing.entries:
                put(("detail", 0, entry.url))
        else:
            detail = site.parse_detail(fetched.body, fetched.url)
            model, company = detail.model or "", detail.manufacturer or ""
            tally.product(model, company, detail.certificate_id or "")

    async with Fetcher.open(fetch_settings(settings), politeness) as fetcher:

        async def worker() -> None:
            nonlocal outstanding
            async for job in receive:
                try:
                    await handle(fetcher, job)
                except StageError:
                    tally.errors += 1
                outstanding -= 1
                if outstanding == 0:
                    send.close()

        put(("list", 1, list_url(base_url, 1)))
        async with trio.open_nursery() as nursery:
            for _ in range(workers):
                nursery.start_soon(worker)


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    tally = Tally(notes={"concurrency": args.concurrency})
    tally.start()
    trio.run(crawl, args.base_url, args.concurrency, tally)
    report("fetcher_loop", tally)


if __name__ == "__main__":
    main()
