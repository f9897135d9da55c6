"""A distributed batch asks the ledger about its own urls, not about the whole catalogue:
`ledger.view()` (every stored url) is read by planning only, never once a batch."""

from __future__ import annotations

import functools
from typing import Any

import trio

from trio_crawl.demo import DemoCatalogue, serve_demo
from trio_crawl.distributed.client import connect
from trio_crawl.distributed.crawl import plan_crawl, work
from trio_crawl.distributed.queue import WorkQueue
from trio_crawl.sites import MatterCatalogue
from trio_crawl.stores import open_store

from .crawl_config import distributed_config

PRODUCTS = 48  # 4 list pages, 4 batches


async def test_batches_ask_the_ledger_about_their_urls_not_every_stored_url(
    pg_url: str, redis_target: tuple[str, str]
) -> None:
    redis_url, prefix = redis_target
    config = distributed_config()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                functools.partial(serve_demo, DemoCatalogue(products=PRODUCTS, seed=1))
            )
            site = MatterCatalogue(base_url=server.base_url)
            async with connect(redis_url) as client, open_store(pg_url, per_page=12) as store:
                queue = WorkQueue(client, prefix)
                planned = await plan_crawl(config, site=site, store=store, queue=queue)
                assert planned.batches == PRODUCTS // 12
                views: list[Any] = []
                asked: list[int] = []
                whole_view = store.view
                among = getattr(store, "stored_among", None)  # the old code had none

                async def counted_view() -> Any:
                    views.append(1)
                    return await whole_view()

                async def counted_among(urls: Any) -> frozenset[str]:
                    urls = list(urls)
                    asked.append(len(urls))
                    assert among is not None
                    found: frozenset[str] = await among(urls)
                    return found

                store.view = counted_view  # type: ignore[method-assign]
                if among is not None:
                    store.stored_among = counted_among  # type: ignore[method-assign]
                worked = await work(
                    config, site=site, store=store, queue=queue, consumer="w", lease_ms=60_000
                )
                assert await store.count_products() == PRODUCTS
            nursery.cancel_scope.cancel()
    assert worked.tally.acknowledged == PRODUCTS // 12
    assert views == []
    # Each batch asks about its own page's urls; the end of the crawl (its summary) once
    # about every url of the plan.
    assert asked == [12] * (PRODUCTS // 12) + [PRODUCTS]


async def test_a_worker_connects_once_for_all_its_batches_not_once_a_batch(
    pg_url: str, redis_target: tuple[str, str]
) -> None:
    """Every batch is a session of its own; its fetcher (connections, robots.txt) and parse
    processes are the worker's, opened once: a fetcher a batch connected anew every batch."""
    redis_url, prefix = redis_target
    config = distributed_config()
    batches = 8
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                functools.partial(serve_demo, DemoCatalogue(products=12 * batches, seed=4))
            )
            site = MatterCatalogue(base_url=server.base_url)
            async with connect(redis_url) as client, open_store(pg_url, per_page=12) as store:
                queue = WorkQueue(client, prefix)
                assert (await plan_crawl(config, site=site, store=store, queue=queue)).batches == 8
                before = server.stats.connections
                worked = await work(
                    config, site=site, store=store, queue=queue, consumer="w", lease_ms=60_000
                )
                assert await store.count_products() == 12 * batches
            nursery.cancel_scope.cancel()
    assert worked.tally.acknowledged == batches
    # The fetcher's pool holds at most max_connections; one pool for the worker's whole life
    # (the settle check included) opens no more than that.
    opened = server.stats.connections - before
    assert 1 <= opened <= config.concurrency.max_connections, opened
