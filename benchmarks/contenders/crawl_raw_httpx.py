"""Raw httpx + trio: N workers, each with its own `httpx.AsyncClient`, trio_crawl's parser.

The ceiling for trio_crawl's HTTP stack: the same client library and parser with nothing
around them. One work channel holds list pages and detail pages; page 1 says how many list
pages there are, each list page adds its detail pages. Run with the project's .venv python.
"""

from __future__ import annotations

import ssl
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Tally, arguments, report
from _trio_loop import crawl_catalogue


async def crawl(base_url: str, workers: int, tally: Tally) -> None:
    # Building a TLS context loads the CA bundle (~4 ms); one shared by every client keeps that
    # start-up cost out of the loop (trio_crawl's Fetcher does the same).
    tls = ssl.create_default_context()
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                    timeout=httpx.Timeout(30.0),
                    verify=tls,
                    trust_env=False,
                )
            )
            for _ in range(workers)
        ]

        async def fetch(number: int, url: str) -> tuple[bytes, str] | None:
            response = await clients[number].get(url)
            return (response.content, url) if response.status_code == 200 else None

        await crawl_catalogue(base_url, workers, tally, fetch, (httpx.HTTPError, ValueError))


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    tally = Tally(notes={"concurrency": args.concurrency})
    tally.start()
    trio.run(crawl, args.base_url, args.concurrency, tally)
    report("raw_httpx", tally)


if __name__ == "__main__":
    main()
