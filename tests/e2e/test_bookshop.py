"""A second, different catalogue crawled end to end: the demo bookshop (oldest first, ?page=N with
a pager, 404 past the end, ISO-8859-1 said only in the header), through the library and the CLI,
into a table of its own; every stored book equals the shop's."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from trio_crawl import crawl
from trio_crawl.demo import DemoBookshop, DemoCatalogue, FaultConfig
from trio_crawl.sites.bookshop import Bookshop
from trio_crawl.stores import RecordTable, SqliteStore, read_status

from .conftest import crawl_config, demo_server

CHECKOUT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "trio_crawl.cli"]
CONTINUE = {"strategy": "continue_from_db", "page_range_limit": 1000}


def books(path: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        found = [
            dict(row) for row in db.execute("SELECT * FROM books ORDER BY page_id, index_in_page")
        ]
    db.close()
    return found


def check_stored(rows: list[dict[str, Any]], shop: DemoBookshop) -> None:
    expected = [book for page in range(1, shop.last_page + 1) for book in shop.page(page)]
    assert len(rows) == len(expected) == shop.total
    for row, book in zip(rows, expected, strict=True):
        assert row["url"].endswith(f"/books/item/{book.slug}/")
        assert (row["page_id"], row["index_in_page"]) == shop.expected_position(book.slug)
        assert (row["title"], row["author"], row["isbn"]) == (book.title, book.author, book.isbn)
        assert (row["price_pence"], row["currency"]) == (book.price_pence, "GBP")
        assert (row["available"], row["copies"]) == (int(book.stock > 0), book.stock)
        assert (row["pages"], row["published"]) == (book.pages, book.published.isoformat())
        assert row["description"] == book.description
        assert json.loads(row["card"])["title"] == book.title


async def test_the_bookshop_is_crawled_fully_then_only_its_new_books(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    shop = DemoBookshop(books=47, seed=3)
    path = tmp_path / "books.db"
    config = crawl_config(crawl=CONTINUE)
    async with demo_server(DemoCatalogue(products=12), bookshop=shop) as server:
        site = Bookshop(server.base_url)
        async with SqliteStore.open(path, records=RecordTable.for_site(site), per_page=10) as store:
            first = await crawl(config, site=site, store=store)
            assert (first.status, first.pages_ok, first.products_saved) == ("completed", 5, 47)
            check_stored(books(path), shop)
            shop.publish(5)  # the last page fills up (7 → 10) and a page 6 appears with 2
            details = server.stats.book_details
            second = await crawl(config, site=site, store=store)
            new_details = server.stats.book_details - details
    assert (second.status, second.pages_ok, second.products_saved) == ("completed", 2, 5)
    assert new_details == 5  # the 7 stored books on page 5 are not fetched again
    check_stored(books(path), shop)
    status = read_status(path)
    assert (status.products_done, status.products_expected, status.products_left) == (52, 52, 0)
    assert status.shape is not None and (status.shape.last_page, status.shape.on_last) == (6, 2)


@pytest.mark.slow
async def test_the_bookshop_through_the_command_line_with_export_and_status(
    tmp_path: Path,
) -> None:
    shop = DemoBookshop(books=23, seed=5)
    (tmp_path / "shop.toml").write_text(
        '[site]\npath = "/books/"\n[rate_limit]\nrequests_per_second = 0\n'
    )
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}

    async def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        return await trio.run_process([*CLI, *args], capture_stdout=True, capture_stderr=True,
                                      cwd=tmp_path, env=env, check=False)  # fmt: skip

    async with demo_server(DemoCatalogue(products=12), FaultConfig(), bookshop=shop) as server:
        done = await run("crawl", "--site", "trio_crawl.sites.bookshop:Bookshop", "--base-url",
                         server.base_url, "--db", "books.db", "--config", "shop.toml",
                         "--no-dashboard")  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    assert "completed" in done.stdout.decode()
    check_stored(books(tmp_path / "books.db"), shop)
    exported = await run("export", "--db", "books.db", "--format", "jsonl")
    records = [json.loads(line) for line in exported.stdout.decode().splitlines()]
    assert [r["isbn"] for r in records] == [b["isbn"] for b in books(tmp_path / "books.db")]
    assert records[0]["card"]["title"] == records[0]["title"]
    status = await run("status", "--db", "books.db")
    lines = status.stdout.decode().splitlines()
    assert "23 of 23 stored" in status.stdout.decode()
    assert lines[-1] == "nothing left: every product of the catalogue is stored"


async def test_holes_in_a_shop_listed_oldest_first_sit_on_its_own_pages_and_one_rerun_fills_them(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    shop = DemoBookshop(books=47, seed=4)
    path = tmp_path / "books.db"
    config = crawl_config(crawl=CONTINUE)
    async with demo_server(DemoCatalogue(products=12), bookshop=shop) as server:
        site = Bookshop(server.base_url)
        async with SqliteStore.open(path, records=RecordTable.for_site(site), per_page=10) as store:
            await crawl(config, site=site, store=store)
            with sqlite3.connect(path, isolation_level=None) as db:
                for page_id, index in ((0, 3), (2, 5)):  # oldest indexes 3 and 25
                    (url,) = db.execute(
                        "SELECT url FROM books WHERE page_id = ? AND index_in_page = ?",
                        (page_id, index),
                    ).fetchone()
                    db.execute("DELETE FROM books WHERE url = ?", (url,))
                    db.execute("UPDATE crawl_ledger SET state = 'pending' WHERE url = ?", (url,))
            db.close()
            status = read_status(path)
            assert [(h.first, h.last, h.pages) for h in status.hole_ranges] == [
                (3, 3, (1,)),
                (25, 25, (3,)),
            ]
            assert (status.pages_left, status.products_left) == (2, 2)
            details = server.stats.book_details
            rerun = await crawl(config, site=site, store=store)
            assert (rerun.pages_ok, rerun.products_saved) == (2, 2)
            assert server.stats.book_details - details == 2
    check_stored(books(path), shop)


async def test_booleans_export_as_true_and_false(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    import csv
    import io

    from trio_crawl.stores import export_products

    shop = DemoBookshop(books=12, seed=3)
    path = tmp_path / "books.db"
    async with demo_server(DemoCatalogue(products=12), bookshop=shop) as server:
        site = Bookshop(server.base_url)
        async with SqliteStore.open(path, records=RecordTable.for_site(site), per_page=10) as store:
            assert (await crawl(crawl_config(), site=site, store=store)).status == "completed"
    lines, table = io.StringIO(), io.StringIO()
    export_products(path, "jsonl", lines)
    export_products(path, "csv", table)
    records = [json.loads(line) for line in lines.getvalue().splitlines()]
    rows = list(csv.DictReader(io.StringIO(table.getvalue())))
    want = {book.slug: book.stock > 0 for book in shop}
    assert {type(r["available"]) for r in records} == {bool}
    assert {r["url"].rstrip("/").rsplit("/", 1)[-1]: r["available"] for r in records} == want
    assert {r["available"] for r in rows} == {"true", "false"} & {
        "true" if v else "false" for v in want.values()
    }
