"""Raw aiohttp + asyncio: N workers sharing one `aiohttp.ClientSession`, trio_crawl's parser.

The fastest pure-Python-stack client here, and so trio_crawl's long-term limit. The work queue
holds list pages and detail pages; page 1 says how many list pages there are, each list page
adds its detail pages. Runs in ``benchmarks/.venvs/aiohttp``, where trio_crawl is installed
(editable) only so that its parser, `trio_crawl.sites.MatterCatalogue`, can be imported.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Tally, arguments, list_url, report

from trio_crawl.sites import MatterCatalogue

Job = tuple[str, int, str]  # ("list", page, url) or ("detail", 0, url)


async def crawl(base_url: str, workers: int, tally: Tally) -> None:
    site = MatterCatalogue(base_url)
    queue: asyncio.Queue[Job] = asyncio.Queue()

    async def handle(session: aiohttp.ClientSession, job: Job) -> None:
        kind, page, url = job
        tally.requests += 1
        async with session.get(url) as response:
            body = await response.read()
            if response.status != 200:
                tally.errors += 1
                return
        if kind == "list":
            listing = site.parse_list(body, url)
            if listing.current != page or not listing.entries:
                tally.errors += 1
                return
            tally.list_pages += 1
            if page == 1:
                for number in range(2, (listing.highest or 1) + 1):
                    queue.put_nowait(("list", number, list_url(base_url, number)))
            for entry in listing.entries:
                queue.put_nowait(("detail", 0, entry.url))
        else:
            detail = site.parse_detail(body, url)
            model, company = detail.model or "", detail.manufacturer or ""
            tally.product(model, company, detail.certificate_id or "")

    async def worker(session: aiohttp.ClientSession) -> None:
        while True:
            job = await queue.get()
            try:
                await handle(session, job)
            except (aiohttp.ClientError, ValueError):
                tally.errors += 1
            finally:
                queue.task_done()

    connector = aiohttp.TCPConnector(limit=workers, limit_per_host=workers)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        queue.put_nowait(("list", 1, list_url(base_url, 1)))
        tasks = [asyncio.create_task(worker(session)) for _ in range(workers)]
        await queue.join()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    tally = Tally(notes={"concurrency": args.concurrency, "aiohttp": aiohttp.__version__})
    tally.start()
    asyncio.run(crawl(args.base_url, args.concurrency, tally))
    report("aiohttp", tally)


if __name__ == "__main__":
    main()
