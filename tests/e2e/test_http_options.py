"""Whole crawls of the demo catalogue with the ``[http]`` options: robots.txt obeyed, a proxy
in between, the on-disk cache on a re-run."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import trio
import trio.testing

from trio_crawl import ErrorKind, crawl
from trio_crawl.demo import DemoCatalogue
from trio_crawl.sites import MatterCatalogue
from trio_crawl.sites.records import ProductRef
from trio_crawl.stores import SqliteStore

from ..crawling.forward_proxy import ForwardProxy, serve_forward_proxy
from .conftest import crawl_config, db_path, demo_server


async def test_details_disallowed_by_robots_txt_end_refused_not_retried_and_listed(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    catalogue = DemoCatalogue(products=60, seed=3)
    banned = [catalogue.by_serial(serial).slug for serial in (5, 17, 42)]
    robots = "User-agent: *\n" + "".join(f"Disallow: /csa_product/{slug}/\n" for slug in banned)
    path = db_path(tmp_path)
    async with (
        demo_server(catalogue, robots_txt=robots.encode()) as server,
        SqliteStore.open(path) as store,
    ):
        summary = await crawl(crawl_config(), site=MatterCatalogue(server.base_url), store=store)
        details_asked = server.stats.details
    assert summary.status == "partial"
    assert (summary.pages_ok, summary.products_saved, summary.products_failed) == (5, 57, 3)
    assert summary.retries == 0
    refused = {(item.url, item.stage, item.kind, item.attempts) for item in summary.failed_items}
    assert refused == {
        (f"{server.base_url}/csa_product/{slug}/", "product_details", ErrorKind.robots_refused, 1)
        for slug in banned
    }
    assert all(isinstance(item.item, ProductRef) for item in summary.failed_items)
    assert details_asked == 57  # the refused pages were never requested
    with sqlite3.connect(path) as db:
        saved = {url for (url,) in db.execute("SELECT url FROM matter")}
        [(failed, config_json)] = db.execute("SELECT products_failed, config_json FROM crawl_runs")
    assert not saved & {item.url for item in summary.failed_items}
    assert failed == 3
    assert json.loads(config_json)["http"]["robots_txt"] is True


async def test_robots_txt_off_crawls_the_disallowed_pages_too(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    catalogue = DemoCatalogue(products=24, seed=3)
    async with (
        demo_server(catalogue, robots_txt=b"User-agent: *\nDisallow: /csa_product/\n") as server,
        SqliteStore.open(db_path(tmp_path)) as store,
    ):
        config = crawl_config(http={"robots_txt": False})
        summary = await crawl(config, site=MatterCatalogue(server.base_url), store=store)
    assert (summary.status, summary.products_saved) == ("completed", 24)


async def test_a_crawl_through_a_proxy_sends_every_request_through_it(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    catalogue = DemoCatalogue(products=24, seed=6)
    async with (
        demo_server(catalogue) as server,
        SqliteStore.open(db_path(tmp_path)) as store,
        trio.open_nursery() as nursery,
    ):
        proxy: ForwardProxy = await nursery.start(serve_forward_proxy)
        config = crawl_config(http={"proxy": proxy.url, "user_agent": "via-proxy/1"})
        summary = await crawl(config, site=MatterCatalogue(server.base_url), store=store)
        seen_by_origin = server.stats.requests
        nursery.cancel_scope.cancel()
    assert (summary.status, summary.products_saved) == ("completed", 24)
    assert len(proxy.relayed) == seen_by_origin
    assert proxy.relayed[0].target == f"{server.base_url}/robots.txt"
    assert {r.header("user-agent") for r in proxy.relayed} == {"via-proxy/1"}
    assert all(r.target.startswith(server.base_url) for r in proxy.relayed)


async def test_a_re_run_with_the_cache_on_is_served_from_disk(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    catalogue = DemoCatalogue(products=36, seed=9)
    config = crawl_config(http={"cache": True, "cache_dir": str(tmp_path / "http-cache")})
    async with demo_server(catalogue) as server:
        async with SqliteStore.open(str(tmp_path / "first.db")) as store:
            first = await crawl(config, site=MatterCatalogue(server.base_url), store=store)
        first_requests = server.stats.requests
        async with SqliteStore.open(str(tmp_path / "second.db")) as store:
            second = await crawl(config, site=MatterCatalogue(server.base_url), store=store)
        second_requests = server.stats.requests - first_requests
    assert (first.status, first.products_saved) == ("completed", 36)
    assert (second.status, second.products_saved) == ("completed", 36)
    assert first_requests > 36
    # Every answer of the first run was a 200 (robots.txt included), so the second asked the
    # server nothing at all.
    assert second_requests == 0
