"""trio_crawl's `Fetcher` in the raw loop: raw_httpx's workers, but every page is fetched through
`trio_crawl.crawling.http.Fetcher` with the settings and politeness `crawl()` would use.

A diagnostic variant (``run.py --variants``): set against raw_httpx it shows what the Fetcher adds
(its one sender, politeness, error mapping, streaming with a size limit); set against trio_crawl
it shows what the engine, the stages and the store add. Run with the project's .venv python.
"""

from __future__ import annotations

import sys
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Tally, arguments, report
from _trio_loop import crawl_catalogue
from crawl_trio_crawl import config

from trio_crawl.api import fetch_settings
from trio_crawl.crawling.http import Fetcher
from trio_crawl.crawling.politeness import Politeness
from trio_crawl.engine import StageError


async def crawl(base_url: str, workers: int, tally: Tally) -> None:
    settings = config(workers)
    politeness = Politeness(
        settings.rate_limit.requests_per_second, settings.rate_limit.per_host_concurrency
    )
    async with Fetcher.open(fetch_settings(settings), politeness) as fetcher:

        async def fetch(number: int, url: str) -> tuple[bytes, str]:
            page = await fetcher.get(url)
            return page.body, page.url

        await crawl_catalogue(base_url, workers, tally, fetch, (StageError,))


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    tally = Tally(notes={"concurrency": args.concurrency})
    tally.start()
    trio.run(crawl, args.base_url, args.concurrency, tally)
    report("fetcher_loop", tally)


if __name__ == "__main__":
    main()
