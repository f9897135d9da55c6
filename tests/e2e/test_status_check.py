"""The status check against the demo catalogue: a transient unreadable page never moves a
stored position, and pages that stay unreadable fail the crawl naming the page."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from trio_crawl import crawl, open_session
from trio_crawl.demo import DemoCatalogue, FaultConfig
from trio_crawl.engine.events import StageRetrying
from trio_crawl.sites import MatterCatalogue
from trio_crawl.stores import SqliteStore

from .conftest import crawl_config, db_path, demo_server


def _positions(path: str) -> dict[str, tuple[int, int, str]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT url, page_id, index_in_page, id FROM matter").fetchall()
    return {url: (page_id, index, id_) for url, page_id, index, id_ in rows}


def _runs(path: str) -> list[dict[str, Any]]:
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM crawl_runs")]


@pytest.mark.slow
async def test_a_status_check_page_malformed_once_leaves_every_position_unchanged(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    catalogue = DemoCatalogue(products=300, seed=3)  # 25 full pages
    path = db_path(tmp_path)
    site_db_config = crawl_config()
    async with demo_server(catalogue) as clean, SqliteStore.open(path) as store:
        port = clean.port
        first = await crawl(site_db_config, site=MatterCatalogue(clean.base_url), store=store)
    assert first.status == "completed" and first.products_saved == 300
    before = _positions(path)
    assert len(before) == 300
    for url, (page_id, index, id_) in before.items():
        slug = url.rstrip("/").rsplit("/", 1)[-1]
        assert (page_id, index) == catalogue.expected_position(slug)
        assert id_ == catalogue.expected_id(slug)

    # The same address (so the same product URLs), now every catalogue URL is served malformed
    # (a list page without its feed) the first time it is asked for: every status-check page
    # is unreadable once. The list stage is told to read a malformed page again too, so the
    # crawl can complete; what matters is that no position moves.
    faults = FaultConfig(rate_malformed=1.0, max_faults_per_url=1)
    # Without jitter the detail pages' retries (every one is malformed once too) wake together:
    # a few jumps of the mock clock instead of one for each product, each after real idleness.
    config = crawl_config(
        retry={
            "list_pages": {"retry_on": ["parse_error", "server_error"]},
            "product_details": {"jitter_ms": 0},
        }
    )
    retried: list[StageRetrying] = []
    async with demo_server(catalogue, faults, port=port) as server, SqliteStore.open(path) as store:
        assert server.base_url == clean.base_url
        site = MatterCatalogue(server.base_url)
        async with open_session(config, site=site, store=store) as session:
            async with session.events() as events:
                async for event in events:
                    if isinstance(event, StageRetrying):
                        retried.append(event)
            summary = await session.wait()
        injected = dict(server.stats.faults)
    status_check = [e for e in retried if e.stage == "status_check"]
    assert injected.get("malformed", 0) >= 3, injected
    assert status_check and all(e.kind == "parse_error" for e in status_check), retried
    assert any("layout not recognised" in e.reason for e in status_check)
    assert summary.status in ("completed", "failed"), (summary.status, summary.reason)
    assert _positions(path) == before
    if summary.status == "completed":
        assert summary.products_saved == 300
    runs = _runs(path)
    assert [run["status"] for run in runs] == ["completed", summary.status]


async def test_list_pages_that_never_show_cards_fail_the_session_naming_page_1(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    catalogue = DemoCatalogue(products=60, seed=1)
    path = db_path(tmp_path)
    config = crawl_config(retry={"status_check": {"max_attempts": 2, "base_delay_ms": 10}})
    async with (
        demo_server(catalogue, FaultConfig(rate_malformed=1.0)) as server,
        SqliteStore.open(path) as store,
    ):
        site = MatterCatalogue(server.base_url)
        summary = await crawl(config, site=site, store=store)
        stored = await store.count_products()
    assert summary.status == "failed"
    assert "layout not recognised" in summary.reason
    assert site.list_url(1) in summary.reason
    assert summary.products_saved == 0 and stored == 0
    assert server.stats.faults["malformed"] == server.stats.list_pages == 2
    [run] = _runs(path)
    assert run["status"] == "failed"
    assert run["products_saved"] == 0
    assert "layout not recognised" in run["error_json"]
    assert site.list_url(1) in run["error_json"]
