"""What a crawl imports is what it uses: a crawl that caches nothing loads no HTTP cache, one
whose responses llhttp reads loads no h11, and none loads httpx's command line (click, rich,
pygments: see `trio_crawl.httpx_cli`) or what only a config file, a bad config, an export or
another store needs (tomllib, difflib, csv, the export module, PostgreSQL, Redis). The crawl
runs in a fresh interpreter against the demo catalogue served here (whose own server uses
h11). A parse process imports what it parses with: no trio, no HTTP client, no store, not
even `email` for a plain Content-Type."""

from __future__ import annotations

import sys
from pathlib import Path

import trio

from trio_crawl.crawling.parsing import ParsePool
from trio_crawl.demo import DemoCatalogue
from trio_crawl.sites import Response

from .conftest import demo_server
from .module_listing_site import ModuleListingSite

DETAIL_PAGE = Path(__file__).parents[1] / "sites" / "fixtures" / "detail_full.html"

CRAWL = """
import sys
import trio
from trio_crawl import CrawlConfig, crawl
from trio_crawl.sites import MatterCatalogue
from trio_crawl.stores import open_store

async def main(base_url, db, cache):
    http = {"cache": True, "cache_dir": cache} if cache else {}
    config = CrawlConfig.from_dict(
        {"crawl": {"strategy": "full"}, "http": http, "rate_limit": {"requests_per_second": 0}}
    )
    async with open_store(db) as store:
        summary = await crawl(config, site=MatterCatalogue(base_url), store=store)
    print(summary.status, summary.products_saved)
    loaded = {m.split(".")[0] for m in sys.modules}
    unused = {"hishel", "anysqlite", "h11", "click", "rich", "pygments", "tomllib", "difflib"}
    parts = {"trio_crawl.stores.export", "trio_crawl.stores.postgres", "trio_crawl.cli"}
    print(sorted(loaded & (unused | {"csv", "coredis", "psycopg"}) | set(sys.modules) & parts))

trio.run(main, *sys.argv[1:3], sys.argv[3] if len(sys.argv) > 3 else None)
"""


async def crawled(*args: str) -> tuple[str, str]:
    async with demo_server(DemoCatalogue(products=30)) as server:
        command = [sys.executable, "-c", CRAWL, server.base_url, *args]
        with trio.fail_after(120):
            done = await trio.run_process(command, capture_stdout=True, capture_stderr=True)
    assert done.returncode == 0, done.stderr.decode()
    summary, imported = done.stdout.decode().splitlines()
    return summary, imported


async def test_a_crawl_without_a_cache_imports_no_http_cache_no_h11_and_no_httpx_cli(
    tmp_path: Path,
) -> None:
    summary, imported = await crawled(str(tmp_path / "crawl.db"))
    assert summary == "completed 30"
    assert imported == "[]"


async def test_a_crawl_with_a_cache_loads_it_when_it_opens(tmp_path: Path) -> None:
    summary, imported = await crawled(str(tmp_path / "crawl.db"), str(tmp_path / "cache"))
    assert summary == "completed 30"
    assert "'hishel'" in imported and "'anysqlite'" in imported
    assert (tmp_path / "cache" / "http-cache.db").exists()


async def test_a_parse_process_imports_only_what_it_parses_with(tmp_path: Path) -> None:
    listing = tmp_path / "modules.txt"
    site = ModuleListingSite("https://csa-iot.org", str(listing))
    page = Response(
        "https://csa-iot.org/csa_product/x/",
        200,
        DETAIL_PAGE.read_bytes(),
        (("content-type", "text/html; charset=utf-8"),),
    )
    with trio.fail_after(60):
        async with ParsePool.open(site, 1) as pool:
            await pool.workers[0].settled.wait()
            assert pool.workers[0].ready
            detail = await pool.parse_detail(page)
    assert detail.model and pool.in_workers == 1
    imported = {name.split(".")[0] for name in listing.read_text().split()}
    assert "selectolax" in imported and "trio_crawl" in imported
    unused = {"trio", "httpx", "httpcore", "h11", "httptools", "sqlite3", "cattrs", "email"}
    assert sorted(imported & (unused | {"click", "rich", "pygments", "hishel", "tomllib"})) == []
