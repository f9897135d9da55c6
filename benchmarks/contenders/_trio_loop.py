"""The raw trio worker loop shared by `crawl_raw_httpx` and `crawl_fetcher_loop`: N workers on one
work channel; page 1 says how many list pages there are, each list page adds its detail pages,
every page is parsed with trio_crawl's parser. Only how a page is fetched differs."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

import trio
from _common import Tally, list_url

from trio_crawl.sites import MatterCatalogue

Job = tuple[str, int, str]  # ("list", page, url) or ("detail", 0, url)
Fetch = Callable[[int, str], Awaitable[tuple[bytes, str] | None]]
"""(worker number, url) -> (body, final url), or None for a response that is not a page."""


async def crawl_catalogue(
    base_url: str,
    workers: int,
    tally: Tally,
    fetch: Fetch,
    failures: tuple[type[Exception], ...],
) -> None:
    site = MatterCatalogue(base_url)
    send, receive = trio.open_memory_channel[Job](math.inf)
    outstanding = 0

    def put(job: Job) -> None:
        nonlocal outstanding
        outstanding += 1
        send.send_nowait(job)

    async def handle(number: int, job: Job) -> None:
        kind, page, url = job
        tally.requests += 1
        fetched = await fetch(number, url)
        if fetched is None:
            tally.errors += 1
            return
        body, final_url = fetched
        if kind == "list":
            listing = site.parse_list(body, final_url)
            if listing.current != page or not listing.entries:
                tally.errors += 1
                return
            tally.list_pages += 1
            if page == 1:
                for other in range(2, (listing.highest or 1) + 1):
                    put(("list", other, list_url(base_url, other)))
            for entry in listing.entries:
                put(("detail", 0, entry.url))
        else:
            detail = site.parse_detail(body, final_url)
            model, company = detail.model or "", detail.manufacturer or ""
            tally.product(model, company, detail.certificate_id or "")

    async def worker(number: int) -> None:
        nonlocal outstanding
        async for job in receive:
            try:
                await handle(number, job)
            except failures:
                tally.errors += 1
            outstanding -= 1
            if outstanding == 0:
                send.close()

    put(("list", 1, list_url(base_url, 1)))
    async with trio.open_nursery() as nursery:
        for number in range(workers):
            nursery.start_soon(worker, number)
