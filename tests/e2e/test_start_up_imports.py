"""What a crawl imports is what it uses: a crawl that caches nothing loads no HTTP cache."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CRAWL = """
import functools, sys
import trio
from trio_crawl import CrawlConfig, crawl
from trio_crawl.demo import DemoCatalogue, FaultConfig, serve_demo
from trio_crawl.sites import MatterCatalogue
from trio_crawl.stores import open_store

CACHE = sys.argv[2] if len(sys.argv) > 2 else None

async def main():
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            functools.partial(serve_demo, DemoCatalogue(products=30), faults=FaultConfig())
        )
        http = {"cache": True, "cache_dir": CACHE} if CACHE else {}
        config = CrawlConfig.from_dict(
            {"crawl": {"strategy": "full"}, "http": http, "rate_limit": {"requests_per_second": 0}}
        )
        async with open_store(sys.argv[1]) as store:
            summary = await crawl(config, site=MatterCatalogue(server.base_url), store=store)
        nursery.cancel_scope.cancel()
    print(summary.status, summary.counts.get("products_saved"))
    print(sorted(m for m in sys.modules if m.split(".")[0] in ("hishel", "anysqlite")))

trio.run(main)
"""


def crawled(*args: str) -> tuple[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", CRAWL, *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    summary, imported = done.stdout.splitlines()
    return summary, imported


def test_a_crawl_without_a_cache_imports_no_http_cache(tmp_path: Path) -> None:
    summary, imported = crawled(str(tmp_path / "crawl.db"))
    assert summary == "completed 30"
    assert imported == "[]"


def test_a_crawl_with_a_cache_loads_it_when_it_opens(tmp_path: Path) -> None:
    summary, imported = crawled(str(tmp_path / "crawl.db"), str(tmp_path / "cache"))
    assert summary == "completed 30"
    assert "hishel" in imported
    assert (tmp_path / "cache" / "http-cache.db").exists()
