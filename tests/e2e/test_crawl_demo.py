"""Whole crawls of the demo catalogue: nothing lost, nothing duplicated, every failure listed."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from trio_crawl import ErrorKind, crawl, open_session
from trio_crawl.crawling.planner import PageJob
from trio_crawl.demo import DemoCatalogue, DemoProduct, FaultConfig, Markup
from trio_crawl.engine.events import BatchCompleted, StageRetrying
from trio_crawl.sites import MatterCatalogue
from trio_crawl.sites.records import Product, ProductRef
from trio_crawl.stores import SqliteStore

from .conftest import crawl_config, db_path, demo_server

FIELDS = (
    "device_type",
    "certification_date",
    "software_version",
    "hardware_version",
    "firmware_version",
    "specification_version",
    "vid",
    "pid",
    "family_sku",
    "family_variant_sku",
    "family_id",
    "tis_trp_tested",
    "transport_interface",
    "primary_device_type_id",
)


def _rows(path: str) -> list[dict[str, Any]]:
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM matter")]


def _runs(path: str) -> list[dict[str, Any]]:
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM crawl_runs")]


def _check_saved_row(row: dict[str, Any], product: DemoProduct, catalogue: DemoCatalogue) -> None:
    assert (row["manufacturer"], row["model"], row["certificate_id"]) == (
        product.manufacturer,
        product.model,
        product.certificate_id,
    )
    assert (row["page_id"], row["index_in_page"]) == catalogue.expected_position(product.slug)
    assert row["id"] == catalogue.expected_id(product.slug)
    for name in FIELDS:
        assert row[name] == getattr(product, name), (product.slug, name)
    assert row["program_type"] == "Matter"
    # The list card's own fields, kept beside the detail page's.
    assert json.loads(row["card"]) == {
        "manufacturer": product.manufacturer,
        "model": product.model,
        "certificate_id": product.certificate_id,
    }


def _slug(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def _failed_slugs(summary: Any, catalogue: DemoCatalogue) -> set[str]:
    """Products a summary accounts for as failed: directly, or through their list page."""
    slugs: set[str] = set()
    for failed in summary.failed_items:
        item = failed.item
        if isinstance(item, PageJob):
            slugs.update(p.slug for p in catalogue.page(item.page))
        elif isinstance(item, ProductRef):
            slugs.add(_slug(item.url))
        elif isinstance(item, Product):
            slugs.add(_slug(item.ref.url))
        else:
            raise AssertionError(f"unexpected failed item {item!r}")
    return slugs


@pytest.mark.slow
async def test_faulty_600_product_crawl_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    catalogue = DemoCatalogue(products=600, seed=11)
    faults = FaultConfig(
        rate_500=0.05,
        rate_502=0.03,
        rate_503=0.02,
        rate_429=0.05,
        retry_after_secs=2,
        rate_slow=0.02,
        slow_secs=60,
        rate_reset=0.02,
        rate_truncated=0.01,
        rate_malformed=0.01,
        seed=5,
    )
    config = crawl_config(crawl={"request_timeout_secs": 10})
    site_db = db_path(tmp_path)
    async with demo_server(catalogue, faults) as server, SqliteStore.open(site_db) as store:
        summary = await crawl(config, site=MatterCatalogue(server.base_url), store=store)
        injected = dict(server.stats.faults)
    assert sum(injected.values()) > 50, injected
    rows = _rows(site_db)
    saved = {_slug(row["url"]): row for row in rows}
    assert len(saved) == len(rows)  # no duplicates
    failed = _failed_slugs(summary, catalogue)
    assert all(item.url and item.url.startswith(server.base_url) for item in summary.failed_items)
    every = {catalogue.by_serial(serial).slug for serial in range(600)}
    assert set(saved) | failed == every  # zero silent loss
    assert not set(saved) & failed
    for slug, row in saved.items():
        _check_saved_row(row, catalogue.product(slug), catalogue)
    assert summary.retries > 50
    assert summary.products_saved == len(rows)
    assert summary.status in ("completed", "partial")
    [run] = _runs(site_db)
    assert (run["status"], run["products_saved"]) == (summary.status, len(rows))


async def test_pages_parsed_in_a_worker_process_store_the_same_rows(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """On the real clock (a mock clock runs no parse processes), with faults: the default
    crawl parses in a worker process, and stores what a crawl parsing in its own thread does."""
    caplog.set_level(logging.DEBUG, logger="trio_crawl.crawling.parsing")
    catalogue = DemoCatalogue(products=360, seed=3)
    faults = FaultConfig(rate_500=0.03, rate_malformed=0.01, seed=9)
    rows = {}
    async with demo_server(catalogue, faults) as server:
        for processes in (1, 0):
            path = str(tmp_path / f"parsed-{processes}.db")
            # Retries back off by 1 ms: the real clock (which a parse process needs) must not
            # make the test wait for them.
            quick = {"base_delay_ms": 1, "max_delay_ms": 1, "jitter_ms": 0}
            config = crawl_config(
                concurrency={"parse_processes": processes},
                retry={"list_pages": quick, "product_details": quick, "status_check": quick},
            )
            site = MatterCatalogue(server.base_url)
            async with SqliteStore.open(path) as store:
                with trio.fail_after(60):
                    summary = await crawl(config, site=site, store=store)
            assert summary.status == "completed", (summary, summary.failed_items)
            rows[processes] = sorted(
                ({k: v for k, v in row.items() if not k.endswith("_at")} for row in _rows(path)),
                key=lambda row: row["url"],
            )
    assert len(rows[1]) == 360
    assert rows[1] == rows[0]
    counts = [r.getMessage() for r in caplog.records if "pages parsed" in r.getMessage()]
    assert len(counts) == 1, counts  # the crawl with no processes opens no workers
    in_workers = int(counts[0].split()[2])
    assert in_workers > 100, counts


@pytest.mark.parametrize("markup", list(Markup))
async def test_crawl_without_faults_saves_every_product(
    tmp_path: Path, lazy_clock: trio.testing.MockClock, markup: Markup
) -> None:
    # Nested is the default and the live site's layout; the others are served on request.
    catalogue = DemoCatalogue(products=600, seed=2)
    path = db_path(tmp_path)
    options: dict[str, Any] = {} if markup is Markup.nested else {"markup": markup}
    async with demo_server(catalogue, **options) as server, SqliteStore.open(path) as store:
        summary = await crawl(crawl_config(), site=MatterCatalogue(server.base_url), store=store)
    assert summary.status == "completed"
    assert (summary.pages_ok, summary.products_saved, summary.retries) == (50, 600, 0)
    rows = _rows(path)
    assert len(rows) == 600
    for row in rows:
        _check_saved_row(row, catalogue.product(_slug(row["url"])), catalogue)
    [run] = _runs(path)
    assert (run["status"], run["pages_ok"], run["products_saved"]) == ("completed", 50, 600)


async def test_incremental_crawl_fetches_only_the_pages_it_needs(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    catalogue = DemoCatalogue(products=600, seed=4)
    path = db_path(tmp_path)
    config = crawl_config(crawl={"strategy": "continue_from_db"})
    async with demo_server(catalogue) as server, SqliteStore.open(path) as store:
        site = MatterCatalogue(server.base_url)
        first = await crawl(config, site=site, store=store)
        assert first.products_saved == 600
        catalogue.publish(30)  # 630 products: 53 pages, 6 on the last
        lists, details = server.stats.list_pages, server.stats.details
        second = await crawl(config, site=site, store=store)
        list_requests = server.stats.list_pages - lists
        detail_requests = server.stats.details - details
    assert second.status == "completed"
    assert second.pages_ok == 3  # pages 3, 2, 1: page 3 holds 6 stored and 6 new products
    assert detail_requests == 30  # only the new ones: the ledger says the 6 stored are done
    # Every list page once (the catalogue may have changed anywhere) and the page after the last
    # (the status check confirming it), then, since the run stored something, all of them again
    # to see that the catalogue did not move meanwhile: README "When the catalogue changes".
    assert list_requests == 2 * (catalogue.last_page + 1)
    rows = _rows(path)
    assert len(rows) == 630 == len({row["url"] for row in rows})
    assert len(_runs(path)) == 2


async def test_retry_after_delays_the_retry_by_at_least_its_value(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    catalogue = DemoCatalogue(products=24, seed=1)
    faults = FaultConfig(rate_429=1.0, retry_after_secs=2, max_faults_per_url=1)
    retries: list[StageRetrying] = []
    async with (
        demo_server(catalogue, faults) as server,
        SqliteStore.open(db_path(tmp_path)) as store,
    ):
        start = trio.current_time()
        async with (
            open_session(
                crawl_config(), site=MatterCatalogue(server.base_url), store=store
            ) as session,
            session.events() as events,
        ):
            async for event in events:
                if isinstance(event, StageRetrying):
                    retries.append(event)
            summary = await session.wait()
        elapsed = trio.current_time() - start
    assert summary.status == "completed" and summary.products_saved == 24
    assert retries and all(e.kind == "rate_limited" and e.delay >= 2 for e in retries)
    # each URL is refused once: the status check's pages 1 and 2 (the list stage then finds
    # them served), and the details; each of the three phases waited at least 2 s
    assert elapsed >= 2 * 3


CANCEL_CATALOGUE = DemoCatalogue(products=600, seed=8)


def _nothing_fetched_was_lost(summary: Any, path: str) -> list[dict[str, Any]]:
    """What the grace allowed was drained: everything fetched was saved, and every product of
    the catalogue is either saved or (directly or through its list page) a failed item."""
    rows = _rows(path)
    assert 0 < len(rows) < 600
    fetched = summary.stages["product_details"].items_ok
    assert fetched == summary.products_saved == len(rows)
    saved = {_slug(row["url"]) for row in rows}
    failed = _failed_slugs(summary, CANCEL_CATALOGUE)
    every = {CANCEL_CATALOGUE.by_serial(serial).slug for serial in range(600)}
    assert saved | failed == every
    assert not saved & failed
    return rows


async def _crawl_until_interrupted(tmp_path: Path, stop: str) -> tuple[Any, str]:
    catalogue = CANCEL_CATALOGUE
    faults = FaultConfig(rate_slow=0.05, slow_secs=100, seed=2)
    config = crawl_config(
        crawl={"request_timeout_secs": 50, "parallel_batches": 1},
        system={"session_timeout_secs": 200},
    )
    path = db_path(tmp_path)
    async with (
        demo_server(catalogue, faults) as server,
        SqliteStore.open(path) as store,
        open_session(config, site=MatterCatalogue(server.base_url), store=store) as session,
        session.events() as events,
    ):
        async for event in events:
            if stop == "cancel" and isinstance(event, BatchCompleted):
                session.cancel("enough")
        summary = await session.wait()
    return summary, path


@pytest.mark.slow
async def test_session_timeout_mid_crawl_keeps_saved_rows_and_records_timed_out(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    summary, path = await _crawl_until_interrupted(tmp_path, "timeout")
    assert summary.status == "timed_out"
    rows = _nothing_fetched_was_lost(summary, path)
    [run] = _runs(path)
    assert run["status"] == "timed_out"
    assert run["products_saved"] == len(rows) == summary.products_saved
    assert any(f.kind is ErrorKind.cancelled for f in summary.failed_items)


async def test_cancel_mid_crawl_keeps_saved_rows_and_records_cancelled(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    summary, path = await _crawl_until_interrupted(tmp_path, "cancel")
    assert summary.status == "cancelled" and summary.reason == "enough"
    rows = _nothing_fetched_was_lost(summary, path)
    [run] = _runs(path)
    assert (run["status"], run["products_saved"]) == ("cancelled", len(rows))


async def test_a_live_rate_limit_change_applies_to_the_running_crawl(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    from trio_crawl import CrawlConfig
    from trio_crawl.engine.events import ConfigReloaded

    path = tmp_path / "crawl.toml"
    slow = '[crawl]\nstrategy = "full"\n[rate_limit]\nrequests_per_second = 2\n'
    path.write_text(slow)
    config = CrawlConfig.load(path, env={})
    catalogue = DemoCatalogue(products=120, seed=3)  # 10 list pages + 120 details + status check
    reloaded: list[float] = []
    async with (
        demo_server(catalogue) as server,
        SqliteStore.open(db_path(tmp_path)) as store,
        open_session(config, site=MatterCatalogue(server.base_url), store=store) as session,
        session.events() as events,
    ):
        start = trio.current_time()
        async with trio.open_nursery() as nursery:

            async def speed_up() -> None:
                await trio.sleep(10)
                path.write_text(slow.replace("= 2", "= 0"))

            nursery.start_soon(speed_up)
            async for event in events:
                if isinstance(event, ConfigReloaded):
                    reloaded.append(trio.current_time() - start)
                    assert event.changed == ("rate_limit",)
        summary = await session.wait()
    elapsed = trio.current_time() - start
    assert summary.status == "completed" and summary.products_saved == 120
    assert len(reloaded) == 1 and 10 <= reloaded[0] <= 12
    # at 2 requests/s the 132 requests would take 66 s; after the change the rest is immediate
    assert elapsed < 15
