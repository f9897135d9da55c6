"""Every rerun finishes the job: holes left by a stop are refilled by one `continue_from_db`
crawl, failed and cancelled items are kept in the ledger and the run's error_json, and a
crawl cut short by `page_range_limit` says what it left."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path
from typing import Any

import trio
import trio.testing

from trio_crawl import crawl, open_session
from trio_crawl.demo import DemoCatalogue, FaultConfig
from trio_crawl.engine.events import BatchCompleted
from trio_crawl.sites import MatterCatalogue
from trio_crawl.stores import SqliteStore

from .conftest import crawl_config, db_path, demo_server

CONTINUE = {"strategy": "continue_from_db", "page_range_limit": 1000}


def stored_rows(path: str) -> list[tuple[Any, ...]]:
    """Every product with its details, timestamps aside, in position order."""
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(matter)")]
        kept = ", ".join(c for c in columns if c not in ("created_at", "updated_at", "listed_at"))
        rows = db.execute(f"SELECT {kept} FROM matter ORDER BY page_id, index_in_page").fetchall()
    db.close()
    return rows


def ledger(path: str, where: str) -> list[sqlite3.Row]:
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        found = db.execute(f"SELECT * FROM crawl_ledger WHERE {where}").fetchall()
    db.close()
    return found


def punch_holes(path: str, count: int, seed: int) -> list[str]:
    """What a kill mid-crawl leaves: products that were listed but never stored (their ledger
    rows pending), scattered over the catalogue."""
    with sqlite3.connect(path, isolation_level=None) as db:
        urls = [url for (url,) in db.execute("SELECT url FROM matter ORDER BY url")]
        holes = random.Random(seed).sample(urls, count)
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
        for url in holes:
            db.execute("DELETE FROM matter WHERE url = ?", (url,))
            if "crawl_ledger" in tables:
                db.execute("UPDATE crawl_ledger SET state = 'pending' WHERE url = ?", (url,))
    db.close()
    return holes


async def test_one_rerun_fills_every_hole_and_fetches_only_what_is_missing(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    catalogue = DemoCatalogue(products=600, seed=8)
    path = db_path(tmp_path)
    config = crawl_config(crawl=CONTINUE)
    async with demo_server(catalogue) as server, SqliteStore.open(path) as store:
        site = MatterCatalogue(server.base_url)
        first = await crawl(config, site=site, store=store)
        assert first.status == "completed" and first.products_saved == 600
        clean = stored_rows(path)
        holes = punch_holes(path, 45, seed=3)
        slugs = {url.rstrip("/").rsplit("/", 1)[-1] for url in holes}
        pages_with_holes = {
            n
            for n in range(1, catalogue.last_page + 1)
            if slugs & {p.slug for p in catalogue.page(n)}
        }
        lists, details = server.stats.list_pages, server.stats.details
        second = await crawl(config, site=site, store=store)
        detail_requests = server.stats.details - details
        list_requests = server.stats.list_pages - lists
    assert second.status == "completed"
    assert (second.pages_ok, second.products_saved) == (len(pages_with_holes), 45)
    assert detail_requests == 45  # the done products on those pages are not fetched again
    # Every list page and the page after the last, before and (the run stored something) after
    # the batches: README "When the catalogue changes".
    assert list_requests == 2 * (catalogue.last_page + 1)
    assert stored_rows(path) == clean
    assert {row["state"] for row in ledger(path, "item = 'product'")} == {"done"}


async def test_a_cancelled_run_keeps_its_cancelled_items_and_one_rerun_completes(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    catalogue = DemoCatalogue(products=240, seed=5)
    path = db_path(tmp_path)
    config = crawl_config(crawl={**CONTINUE, "batch_size": 2, "parallel_batches": 2})
    async with demo_server(catalogue) as server, SqliteStore.open(path) as store:
        site = MatterCatalogue(server.base_url)
        async with (
            open_session(config, site=site, store=store) as session,
            session.events() as events,
        ):
            async for event in events:
                if isinstance(event, BatchCompleted):
                    session.cancel("enough")
            stopped = await session.wait()
        assert stopped.status == "cancelled"
        assert 0 < stopped.products_saved < 240
        cancelled = ledger(path, "state = 'cancelled'")
        assert cancelled and {row["error_kind"] for row in cancelled} == {"cancelled"}
        assert len(cancelled) == len(stopped.failed_items)
        with sqlite3.connect(path) as db:
            (error_json,) = db.execute("SELECT error_json FROM crawl_runs").fetchone()
        db.close()
        error = json.loads(error_json)
        assert error["reason"] == "enough"
        group = error["failed_items"]["by_kind"]["cancelled"]
        assert error["failed_items"]["total"] == group["count"] == len(stopped.failed_items)
        assert len(group["first_urls"]) == 3
        assert set(group["first_urls"]) <= {row["url"] for row in cancelled}
        rerun = await crawl(config, site=site, store=store)
    assert rerun.status == "completed"
    assert rerun.products_saved == 240 - stopped.products_saved
    assert len(stored_rows(path)) == 240
    assert ledger(path, "state <> 'done'") == []


async def test_a_crawl_cut_short_by_the_page_range_limit_says_what_is_left(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    catalogue = DemoCatalogue(products=240, seed=6)  # 20 pages
    path = db_path(tmp_path)
    config = crawl_config(crawl={"strategy": "continue_from_db", "page_range_limit": 8})
    async with demo_server(catalogue) as server, SqliteStore.open(path) as store:
        site = MatterCatalogue(server.base_url)
        first = await crawl(config, site=site, store=store)
        second = await crawl(config, site=site, store=store)
        third = await crawl(config, site=site, store=store)
    assert [s.status for s in (first, second, third)] == ["completed"] * 3
    assert [s.products_saved for s in (first, second, third)] == [96, 96, 48]
    assert first.note == (
        "page_range_limit 8 reached: 12 more pages hold 144 products not stored yet"
    )
    assert "page_range_limit 8 reached: 4 more pages hold 48 products" in second.note
    assert third.note == (
        "catalogue: 240 listed, 48 new to the store, 0 delisted, 0 listed again, 0 moved"
    )
    with sqlite3.connect(path) as db:
        notes = [json.loads(e or "{}").get("note") for (e,) in db.execute(
            "SELECT error_json FROM crawl_runs ORDER BY started_at")]  # fmt: skip
    db.close()
    assert notes[0] == first.note and notes[2] == third.note


async def test_failed_items_are_kept_in_the_ledger_with_kind_attempts_and_error(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    catalogue = DemoCatalogue(products=120, seed=9)
    faults = FaultConfig(rate_500=0.15, seed=4)  # some products fail every attempt
    path = db_path(tmp_path)
    config = crawl_config(crawl=CONTINUE, retry={"product_details": {"max_attempts": 1}})
    async with demo_server(catalogue, faults) as server, SqliteStore.open(path) as store:
        summary = await crawl(config, site=MatterCatalogue(server.base_url), store=store)
    assert summary.status == "partial"
    failed = ledger(path, "state = 'failed'")
    assert {row["url"] for row in failed} == {f.url for f in summary.failed_items}
    for row in failed:
        assert row["error_kind"] == "server_error"
        assert row["attempts"] == 1
        assert "500" in row["last_error"]
