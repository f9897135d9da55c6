"""Raw httpx + trio over trio_crawl's own transport: N workers sharing one `httpx.AsyncClient`
whose transport is `TrioTransport` (one pool of N connections), trio_crawl's parser.

raw_httpx's loop with httpcore swapped out: what the HTTP stack costs once httpcore's pool and
h11 are replaced by trio_crawl's pool and httptools. Run with the project's .venv python.
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Tally, arguments, report
from _trio_loop import crawl_catalogue

from trio_crawl.transport import TrioTransport


async def crawl(base_url: str, workers: int, tally: Tally) -> None:
    transport = TrioTransport(max_connections=workers)
    async with httpx.AsyncClient(
        transport=transport, timeout=httpx.Timeout(30.0), trust_env=False
    ) as client:

        async def fetch(number: int, url: str) -> tuple[bytes, str] | None:
            response = await client.get(url)
            return (response.content, url) if response.status_code == 200 else None

        await crawl_catalogue(base_url, workers, tally, fetch, (httpx.HTTPError, ValueError))


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    tally = Tally(notes={"concurrency": args.concurrency})
    tally.start()
    trio.run(crawl, args.base_url, args.concurrency, tally)
    report("raw_trio", tally)


if __name__ == "__main__":
    main()
