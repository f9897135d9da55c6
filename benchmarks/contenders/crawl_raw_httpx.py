"""Raw httpx + trio: N workers, each with its own `httpx.AsyncClient`, trio_crawl's parser.

The ceiling for trio_crawl's HTTP stack: the same client library and parser with nothing
around them. One work channel holds list pages and detail pages; page 1 says how many list
pages there are, each list page adds its detail pages. Run with the project's .venv python.
"""

from __future__ import annotations

import math
import ssl
import sys
from pathlib import Path

import httpx
import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Tally, arguments, list_url, report

from trio_crawl.sites import MatterCatalogue

Job = tuple[str, int, str]  # ("list", page, url) or ("detail", 0, url)


async def crawl(base_url: str, workers: int, tally: Tally) -> None:
    site = MatterCatalogue(base_url)
    send, receive = trio.open_memory_channel[Job](math.inf)
    outstanding = 0
    pages_enqueued = 1

    def put(job: Job) -> None:
        nonlocal outstanding
        outstanding += 1
        send.send_nowait(job)

    async def handle(client: httpx.AsyncClient, job: Job) -> None:
        nonlocal pages_enqueued
        kind, page, url = job
        tally.requests += 1
        response = await client.get(url)
        if response.status_code != 200:
            tally.errors += 1
            return
        if kind == "list":
            listing = site.parse_list(response.content, url)
            if listing.current != page or not listing.entries:
                tally.errors += 1
                return
            tally.list_pages += 1
            if page == 1:
                for number in range(2, (listing.highest or 1) + 1):
                    put(("list", number, list_url(base_url, number)))
                pages_enqueued = listing.highest or 1
            for entry in listing.entries:
                put(("detail", 0, entry.url))
        else:
            detail = site.parse_detail(response.content, url)
            model, company = detail.model or "", detail.manufacturer or ""
            tally.product(model, company, detail.certificate_id or "")

    # Building a TLS context loads the CA bundle (~4 ms); one shared by every client keeps that
    # start-up cost out of the loop (trio_crawl's Fetcher does the same).
    tls = ssl.create_default_context()

    async def worker() -> None:
        nonlocal outstanding
        async with httpx.AsyncClient(
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            timeout=httpx.Timeout(30.0),
            verify=tls,
            trust_env=False,
        ) as client:
            async for job in receive:
                try:
                    await handle(client, job)
                except (httpx.HTTPError, ValueError):
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
    report("raw_httpx", tally)


if __name__ == "__main__":
    main()
