"""A hostile server cannot make a crawl's memory grow past its size limit: a real subprocess
fetches gzip bombs through the `Fetcher` with the settings `crawl()` uses, and reports its own
resident memory from /proc."""

from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path

import pytest
import trio

from .http_server import HTML, Reply, serve_routes

MiB = 1024 * 1024
LIMIT = MiB
REQUESTS = 12

# The crawl side, in its own process so that its memory is its own. It fetches one small gzip
# page to load every code path, resets the peak (`clear_refs` 5), fetches REQUESTS bombs at
# once and keeps their errors, as a summary keeps failed items.
CHILD = """
import json, sys
import trio
from trio_crawl.api import fetch_settings
from trio_crawl.config.model import CrawlConfig
from trio_crawl.crawling.http import Fetcher
from trio_crawl.engine.results import StageError

def memory(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise LookupError(field)

async def main(base, limit, requests):
    config = CrawlConfig.from_dict({
        "crawl": {"max_response_bytes": limit},
        "concurrency": {"max_connections": requests, "product_details": requests},
    })
    errors = []
    async with Fetcher.open(fetch_settings(config)) as fetcher:
        await fetcher.get(base + "/small")
        try:
            with open("/proc/self/clear_refs", "w") as clear:
                clear.write("5")
        except OSError:
            pass  # the peak then also covers start-up, which only overstates the growth
        baseline = memory("VmRSS")

        async def fetch():
            try:
                await fetcher.get(base + "/bomb")
            except StageError as error:
                errors.append(error)

        async with trio.open_nursery() as nursery:
            for _ in range(requests):
                nursery.start_soon(fetch)
        peak = memory("VmHWM")
    print(json.dumps({"baseline": baseline, "peak": peak, "errors": [e.message for e in errors]}))

trio.run(main, sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
"""


def gzip_bomb(inflated: int) -> bytes:
    """One gzip member of `inflated` zero bytes: about a thousand times smaller."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MiB)
    parts = [compressor.compress(block) for _ in range(inflated // MiB)]
    return b"".join([*parts, compressor.flush()])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads memory from /proc")
async def test_twelve_concurrent_gzip_bombs_grow_the_crawl_by_at_most_twelve_limits(
    nursery: trio.Nursery,
) -> None:
    bomb = gzip_bomb(128 * MiB)  # ~130 KB on the wire, under the limit: only decoding can tell
    assert len(bomb) < LIMIT
    gzip_html = (*HTML, ("content-encoding", "gzip"))
    small = zlib.compress(b"<html><body>warm-up</body></html>")
    base = await nursery.start(
        serve_routes,
        {
            "/small": Reply(headers=(*HTML, ("content-encoding", "deflate")), body=small),
            "/bomb": Reply(headers=gzip_html, body=bomb),
        },
    )
    with trio.fail_after(60):
        child = await trio.run_process(
            [sys.executable, "-c", CHILD, base, str(LIMIT), str(REQUESTS)],
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    assert child.returncode == 0, child.stderr.decode()
    report = json.loads(child.stdout)
    assert report["errors"] == [f"response too large: > {LIMIT} bytes"] * REQUESTS
    growth = report["peak"] - report["baseline"]
    print(f"RSS growth with {REQUESTS} bombs in flight: {growth / MiB:.1f} MiB")
    assert growth < REQUESTS * LIMIT + 20 * MiB, f"grew {growth / MiB:.1f} MiB"
