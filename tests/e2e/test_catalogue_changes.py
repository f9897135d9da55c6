"""A catalogue that changes anywhere (docs/architecture.md §6, README "When the catalogue
changes"): items
delisted at either end and in the middle, inserted in the middle, both with the total unchanged,
for every ordering, between runs and during one. The demo catalogue changes itself
(`DemoCatalogue.delist` / `insert`, and the server's `on_request` hook while a crawl runs);
what the database should hold is computed here from the catalogue, product by product."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from trio_crawl import SessionSummary, crawl
from trio_crawl.demo import DemoCatalogue, DemoServer
from trio_crawl.sites import MatterCatalogue
from trio_crawl.sites.protocol import Ordering
from trio_crawl.stores import SqliteStore, read_status

from .conftest import crawl_config, db_path, demo_server

CONTINUE = {"strategy": "continue_from_db", "page_range_limit": 1000}


class ListedAs(MatterCatalogue):
    """The Matter catalogue's pages, listed in another order."""

    def __init__(self, base_url: str, ordering: str) -> None:
        super().__init__(base_url)
        self._ordering = Ordering(ordering)

    @property
    def ordering(self) -> Ordering:
        return self._ordering


def products(path: str) -> list[dict[str, Any]]:
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        rows = [dict(row) for row in db.execute("SELECT * FROM matter")]
    db.close()
    return rows


def check_store(path: str, server: DemoServer, delisted: set[str]) -> None:
    """The database holds every listed product once, at the position the listing shows it
    (its details too), and every product in `delisted` (by slug) marked delisted."""
    catalogue = server.catalogue
    rows = products(path)
    assert len(rows) == len({row["url"] for row in rows})
    listed = {row["url"]: row for row in rows if row["delisted_at"] is None}
    gone = {row["url"]: row for row in rows if row["delisted_at"] is not None}
    want = {server.detail_url(product.slug): product for product in catalogue}
    assert set(listed) == set(want)
    for url, product in want.items():
        row = listed[url]
        page_id, index = catalogue.expected_position(product.slug)
        assert (row["page_id"], row["index_in_page"], row["id"]) == (
            page_id,
            index,
            catalogue.expected_id(product.slug),
        ), url
        assert row["model"] == product.model and row["record_url"] is not None
        assert row["certificate_id"] == product.certificate_id
    assert set(gone) == {server.detail_url(slug) for slug in delisted}
    for row in gone.values():
        assert row["listed_at"] is not None and row["listed_at"] <= row["delisted_at"]


async def run(
    server: DemoServer, site: MatterCatalogue, store: SqliteStore, **crawl_options: Any
) -> tuple[SessionSummary, int, int]:
    """One crawl, and the list and detail requests the server saw for it."""
    lists, details = server.stats.list_pages, server.stats.details
    summary = await crawl(crawl_config(crawl={**CONTINUE, **crawl_options}), site=site, store=store)
    return summary, server.stats.list_pages - lists, server.stats.details - details


def delist_ends_and_middle(catalogue: DemoCatalogue) -> tuple[list[str], int]:
    """Three at the oldest end, two at the newest, four in the middle."""
    serials = catalogue.serials()
    gone = [*serials[:3], *serials[-2:], *serials[100:104]]
    return [p.slug for p in catalogue.delist(gone)], 0


def insert_in_the_middle(catalogue: DemoCatalogue) -> tuple[list[str], int]:
    catalogue.insert(77, 5)
    catalogue.insert(150, 2)
    return [], 7


def both_with_the_total_unchanged(catalogue: DemoCatalogue) -> tuple[list[str], int]:
    serials = catalogue.serials()
    gone = [p.slug for p in catalogue.delist([serials[40], serials[41], serials[200]])]
    catalogue.insert(120, 3)
    return gone, 3


CHANGES: dict[str, Callable[[DemoCatalogue], tuple[list[str], int]]] = {
    "delisted at both ends and in the middle": delist_ends_and_middle,
    "inserted in the middle": insert_in_the_middle,
    "both, the total unchanged": both_with_the_total_unchanged,
}


@pytest.mark.parametrize("change", list(CHANGES))
@pytest.mark.parametrize("ordering", [o.value for o in Ordering])
async def test_a_changed_catalogue_is_stored_exactly_by_the_next_run(
    tmp_path: Path, lazy_clock: trio.testing.MockClock, ordering: str, change: str
) -> None:
    catalogue = DemoCatalogue(products=240, seed=11, listing=ordering)  # 20 pages
    path = db_path(tmp_path)
    async with demo_server(catalogue) as server, SqliteStore.open(path) as store:
        site = ListedAs(server.base_url, ordering)
        first, _, details = await run(server, site, store)
        assert (first.status, details) == ("completed", 240)
        delisted, added = CHANGES[change](catalogue)
        second, lists, details = await run(server, site, store)
        assert second.status == "completed", second.reason
        check_store(path, server, set(delisted))
        # README "When the catalogue changes": only the added products are fetched; every
        # list page is read once before and (the run stored something) once after.
        assert details == added
        pages = catalogue.last_page
        assert lists == (2 * (pages + 1) if added else pages + 1 + 3)
        assert f"{added} new to the store, {len(delisted)} delisted" in second.note
        third, lists, details = await run(server, site, store)
    assert third.status == "completed" and third.products_saved == 0
    assert (details, lists) == (0, catalogue.last_page + 1 + 3)  # unchanged: no detail page
    check_store(path, server, set(delisted))
    status = read_status(path)
    assert status.products_delisted == len(delisted)
    assert status.products_left == 0 and status.products_done == catalogue.total


async def test_a_delisted_product_listed_again_is_not_fetched_again(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    catalogue = DemoCatalogue(products=60, seed=2)
    path = db_path(tmp_path)
    async with demo_server(catalogue) as server, SqliteStore.open(path) as store:
        site = MatterCatalogue(server.base_url)
        await run(server, site, store)
        order = catalogue.serials()
        catalogue.delist([order[30]])
        second, _, _ = await run(server, site, store)
        assert "1 delisted" in second.note
        check_store(path, server, {catalogue_slug(server, order[30])})
        catalogue._changed(order)  # listed again, where it was
        third, _, details = await run(server, site, store)
    assert third.status == "completed" and details == 0
    assert "1 listed again" in third.note
    check_store(path, server, set())


def catalogue_slug(server: DemoServer, serial: int) -> str:
    from trio_crawl.demo.products import make_product

    return make_product(server.catalogue.seed, serial).slug


# -- changes while a crawl runs ------------------------------------------------------------


def after_requests(server: DemoServer, kind: str, count: int, change: Callable[[], Any]) -> None:
    """Change the catalogue when the server sees the `count`-th request of `kind` ("list" or
    "detail") from now."""
    seen = 0

    def hook(path: str) -> None:
        nonlocal seen
        if ("/csa_product/" in path) == (kind == "detail") and "/books/" not in path:
            seen += 1
            if seen == count:
                change()

    server.on_request = hook


DURING: dict[str, Callable[[DemoCatalogue], Any]] = {
    "12 published at the top": lambda c: c.publish(12),
    "one delisted in the middle": lambda c: c.delist([c.serials()[150]]),
    "one delisted and one inserted in the middle": lambda c: (
        c.delist([c.serials()[150]]),
        c.insert(60, 1),
    ),
}


@pytest.mark.parametrize("change", list(DURING))
@pytest.mark.parametrize("when", ["detail", "list"])
async def test_a_change_during_a_crawl_is_never_called_completed_wrongly(
    tmp_path: Path, lazy_clock: trio.testing.MockClock, change: str, when: str
) -> None:
    catalogue = DemoCatalogue(products=300, seed=9)  # 25 pages
    path = db_path(tmp_path)
    delisted_before = set(catalogue.serials())
    async with demo_server(catalogue) as server, SqliteStore.open(path) as store:
        site = MatterCatalogue(server.base_url)
        # At the 40th detail request, or while the planner reads the list pages.
        after_requests(
            server, when, 40 if when == "detail" else 8, lambda: DURING[change](catalogue)
        )
        first, _, _ = await run(server, site, store, strategy="full")
        server.on_request = None
        if first.status == "completed":
            check_store(path, server, set())  # the run saw the change in time: all is right
        else:
            assert first.status == "partial", first.reason
            assert "changed" in first.reason or first.failed_items, first.reason
        second, _, _ = await run(server, site, store)
    assert second.status == "completed", second.reason
    gone = delisted_before - set(catalogue.serials())
    stored = {row["url"] for row in products(path)}
    # A product delisted before its detail page was read was never stored: nothing to mark.
    delisted = {
        catalogue_slug(server, s)
        for s in gone
        if server.detail_url(catalogue_slug(server, s)) in stored
    }
    check_store(path, server, delisted)
