"""The whole distributed crawl, against a real redis-server, a real PostgreSQL server and the
demo catalogue over HTTP: one summary (every planned product stored or failed for good, with
its reason), one run row, the settle check run by exactly one worker, a late worker handed the
summary at once, and `plan` run twice."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from trio_crawl.demo import DemoCatalogue, serve_demo
from trio_crawl.distributed.client import connect
from trio_crawl.distributed.crawl import Planned, Worked, plan_crawl, work
from trio_crawl.distributed.queue import WorkQueue
from trio_crawl.distributed.rounds import planning
from trio_crawl.sites import MatterCatalogue
from trio_crawl.stores import open_store

from .crawl_config import distributed_config

PRODUCTS = 48  # 4 list pages, 4 batches
GUARD_SECS = 90  # against a hang, not a wait for work


@attrs.define
class Crawl:
    """A demo server, the database and the queue of one test's crawl."""

    server: Any
    catalogue: DemoCatalogue
    db: str
    queue: WorkQueue

    @property
    def site(self) -> MatterCatalogue:
        return MatterCatalogue(base_url=self.server.base_url)

    async def plan(self, **config: Any) -> Planned:
        async with open_store(self.db, per_page=12) as store:
            return await plan_crawl(
                distributed_config(**config), site=self.site, store=store, queue=self.queue
            )

    async def work(self, consumer: str, **config: Any) -> Worked:
        async with open_store(self.db, per_page=12) as store:
            return await work(
                distributed_config(**config),
                site=self.site,
                store=store,
                queue=self.queue,
                consumer=consumer,
                lease_ms=60_000,
                block_ms=100,
            )

    async def workers(self, *names: str) -> list[Worked]:
        done: list[Worked] = []

        async def one(name: str) -> None:
            done.append(await self.work(name))

        async with trio.open_nursery() as nursery:
            for name in names:
                nursery.start_soon(one, name)
        return done

    async def runs(self) -> list[dict[str, Any]]:
        async with open_store(self.db, per_page=12) as store:
            return await store.runs()


@asynccontextmanager
async def a_crawl(
    pg_url: str, redis_target: tuple[str, str], catalogue: DemoCatalogue
) -> AsyncIterator[Crawl]:
    redis_url, prefix = redis_target
    with trio.fail_after(GUARD_SECS):
        async with trio.open_nursery() as nursery, connect(redis_url) as client:
            server = await nursery.start(functools.partial(serve_demo, catalogue))
            yield Crawl(server, catalogue, pg_url, WorkQueue(client, prefix))
            nursery.cancel_scope.cancel()


async def test_one_summary_accounts_for_every_planned_product_and_one_run_row_holds_it(
    pg_url: str, redis_target: tuple[str, str]
) -> None:
    catalogue = DemoCatalogue(products=PRODUCTS, seed=6)
    dead = catalogue.by_serial(catalogue.serial_at(7))
    catalogue.break_links([dead.serial])  # listed, its detail page a 404: failed for good
    async with a_crawl(pg_url, redis_target, catalogue) as crawl:
        planned = await crawl.plan()
        read_to_plan = crawl.server.stats.list_pages
        done = await crawl.workers("w1", "w2", "w3")
        read_at_the_end = crawl.server.stats.list_pages - read_to_plan
        runs = await crawl.runs()
    assert planned.round is not None
    summaries = {worked.summary for worked in done}
    assert len(summaries) == 1  # every worker hands back the one summary
    (summary,) = summaries
    assert summary is not None
    assert summary.crawl_id == planned.round.id
    assert (summary.planned_products, summary.products_stored) == (PRODUCTS, PRODUCTS - 1)
    assert (summary.products_failed, summary.unaccounted) == (1, 0)
    assert summary.products_stored + summary.products_failed == summary.planned_products
    (failed,) = summary.failed
    assert dead.slug in failed.url
    assert (failed.kind, failed.stage) == ("client_error", "product_details")
    assert "404" in failed.reason
    assert summary.status == "partial"
    assert summary.settle == ""
    # Every worker's counts: all batches, every stored product reported once.
    assert sum(w.batches for w in summary.workers) == PRODUCTS // 12
    assert sum(w.products_saved for w in summary.workers) == PRODUCTS - 1
    assert sum(w.products_failed for w in summary.workers) == 1
    # The settle check ran once: the batches' own readings (one page each) and one more
    # reading of the catalogue, as many list requests as planning's.
    assert read_at_the_end == PRODUCTS // 12 + read_to_plan
    # One crawl, one run row: the round's, recording how the whole crawl ended.
    assert len(runs) == 1
    (run,) = runs
    assert run["session_id"] == planned.round.id
    assert (run["status"], run["products_saved"], run["products_failed"]) == (
        "partial",
        PRODUCTS - 1,
        1,
    )


async def test_a_worker_started_after_the_end_returns_at_once_with_the_summary(
    pg_url: str, redis_target: tuple[str, str]
) -> None:
    async with a_crawl(pg_url, redis_target, DemoCatalogue(products=24, seed=2)) as crawl:
        await crawl.plan()
        (first,) = await crawl.workers("w1")
        requests = crawl.server.stats.requests
        with trio.fail_after(5):
            late = await crawl.work("late")
        assert crawl.server.stats.requests == requests  # nothing fetched, nothing settled
    assert first.summary is not None and late.summary is not None
    assert first.summary.status == "completed"
    assert (late.tally.taken, late.summary) == (0, first.summary)
    assert late.summary.settled_by == "w1"


async def test_an_item_inserted_during_the_crawl_keeps_it_from_completed(
    pg_url: str, redis_target: tuple[str, str]
) -> None:
    catalogue = DemoCatalogue(products=PRODUCTS, seed=8)
    async with a_crawl(pg_url, redis_target, catalogue) as crawl:
        await crawl.plan()
        catalogue.insert(20)  # in the middle, after planning read the list pages
        (worked,) = await crawl.workers("w1")
        runs = await crawl.runs()
    summary = worked.summary
    assert summary is not None
    assert summary.status == "partial", summary
    assert "the catalogue changed during the crawl" in summary.settle
    assert [run["status"] for run in runs] == ["partial"]


async def test_a_crawl_planned_and_not_finished_is_not_planned_again(
    pg_url: str, redis_target: tuple[str, str]
) -> None:
    async with a_crawl(pg_url, redis_target, DemoCatalogue(products=PRODUCTS, seed=3)) as crawl:
        async with planning(crawl.queue):  # a plan planning now, elsewhere
            meanwhile = await crawl.plan()
        assert (await crawl.queue.progress()).entries == 0
        first = await crawl.plan()
        entries = (await crawl.queue.progress()).entries
        second = await crawl.plan()
        assert (await crawl.queue.progress()).entries == entries == PRODUCTS // 12
    assert "another plan is planning" in meanwhile.refused
    assert first.refused == "" and first.batches == PRODUCTS // 12
    assert "planned and not finished" in second.refused
    assert second.summary is None and second.batches == 0


async def test_plan_after_the_end_is_a_new_round_over_what_is_left(
    pg_url: str, redis_target: tuple[str, str]
) -> None:
    catalogue = DemoCatalogue(products=PRODUCTS, seed=5)
    dead = catalogue.by_serial(catalogue.serial_at(30))
    catalogue.break_links([dead.serial])
    async with a_crawl(pg_url, redis_target, catalogue) as crawl:
        first = await crawl.plan()
        (one,) = await crawl.workers("w1")
        catalogue.break_links([dead.serial], broken=False)  # the site fixed its link
        again = await crawl.plan(strategy="continue_from_db")
        (two,) = await crawl.workers("w2")
        runs = await crawl.runs()
    assert first.round is not None and again.round is not None
    assert (first.round.round, again.round.round) == (1, 2)
    assert again.round.id != first.round.id
    assert one.summary is not None and two.summary is not None
    assert one.summary.products_failed == 1
    # The second round planned only what the store did not hold: the one failed product.
    assert (again.batches, two.summary.planned_products) == (1, 1)
    assert (two.summary.status, two.summary.products_stored) == ("completed", 1)
    assert two.summary.crawl_id == again.round.id
    assert [run["status"] for run in runs] == ["partial", "completed"]
