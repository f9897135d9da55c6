"""Planning from the crawl ledger: the real `CataloguePlanner` over a real SQLite ledger holding
holes, failures and a catalogue that grew, checked against positions computed here by brute
force (one product at a time), not by the planner's page ranges."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trio_crawl import CrawlConfig
from trio_crawl.crawling.planner import CataloguePlanner, PageJob
from trio_crawl.sites import MatterCatalogue
from trio_crawl.sites.records import ListEntry, ListPage, Product, ProductDetail, ProductRef
from trio_crawl.stores import SqliteStore
from trio_crawl.stores.ledger import LedgerFailure

PER_PAGE = 12
BASE = "https://catalogue.test"


class Catalogue:
    """A catalogue of `total` products listed newest first; product k (k-th certified, from 0)
    has url /csa_product/k/. Past the end it shows the last page."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.last_page = max(1, -(-total // PER_PAGE))

    def url(self, oldest: int) -> str:
        return f"{BASE}/csa_product/{oldest}/"

    async def fetch(self, page: int) -> ListPage:
        shown = min(page, self.last_page)
        newest = self.total - 1 - (shown - 1) * PER_PAGE
        entries = tuple(
            ListEntry(self.url(i), "maker", "model", "cert")
            for i in range(newest, max(newest - PER_PAGE, -1), -1)
        )
        return ListPage(current=shown, highest=self.last_page, entries=entries)


def site_page(oldest: int, total: int) -> int:
    return (total - 1 - oldest) // PER_PAGE + 1


def stored(oldest: int, url: str) -> Product:
    page_id, index = divmod(oldest, PER_PAGE)
    ref = ProductRef(url, "maker", "model", "cert", page_id, index, f"p{page_id:04d}i{index:02d}")
    return Product(ref, ProductDetail(url=url))


class Immediate:
    """The planner's context, for a catalogue that never fails: no retries needed."""

    async def retry(self, operation: Callable[[], Awaitable[Any]], *, policy: str) -> Any:
        return await operation()


async def plan_over(
    store: SqliteStore, catalogue: Catalogue, limit: int, strategy: str = "continue_from_db"
) -> tuple[list[PageJob], Any]:
    config = CrawlConfig.from_dict({"crawl": {"strategy": strategy, "page_range_limit": limit}})
    site = MatterCatalogue(BASE)

    async def fetch(page: int) -> ListPage:
        return await catalogue.fetch(page)

    planner = CataloguePlanner(site, store, fetch, config.crawl, store, "planning")
    plan = await planner(Immediate())  # type: ignore[arg-type]
    return [job for batch in plan.batches for job in batch], plan


@st.composite
def ledgers(draw: st.DrawFn) -> dict[str, Any]:
    total = draw(st.integers(1, 400))
    done = draw(st.sets(st.integers(0, total - 1), max_size=total))
    failed = draw(st.sets(st.integers(0, total - 1)).map(lambda s: s - done))
    grown = draw(st.integers(0, 40))
    return {
        "total": total,
        "done": done,
        "failed": failed,
        "grown": total + grown,
        "limit": draw(st.integers(1, 40)),
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=ledgers())
def test_continue_from_db_crawls_exactly_the_pages_with_products_not_done(
    case: dict[str, Any],
) -> None:
    trio.run(_check_plan, case)


async def _check_plan(case: dict[str, Any]) -> None:
    before = Catalogue(case["total"])
    async with SqliteStore.open(":memory:") as store:
        await store.save_done([stored(i, before.url(i)) for i in sorted(case["done"])], "old")
        await store.record_failures(
            [
                LedgerFailure(before.url(i), "product", "failed", "product_details",
                              "server_error", 5, "HTTP 503", page_id=i // PER_PAGE,
                              index_in_page=i % PER_PAGE)
                for i in case["failed"]
            ],
            "old",
        )  # fmt: skip
        # The catalogue grew since: positions count from the oldest, so every stored product
        # keeps its position; only the site pages it is shown on moved.
        now = Catalogue(case["grown"])
        jobs, plan = await plan_over(store, now, case["limit"])
        view = await store.view()

    total, done, limit = now.total, case["done"], case["limit"]
    with_work = sorted({site_page(i, total) for i in range(total) if i not in done}, reverse=True)
    assert [job.page for job in jobs] == with_work[:limit]  # oldest first: holes, then newer
    for job in jobs:
        on_page = [i for i in range(total - 1, -1, -1) if site_page(i, total) == job.page]
        assert job.refs is not None  # read by the planner: the list stage reads it no more
        assert [(ref.url, ref.page_id * PER_PAGE + ref.index_in_page) for ref in job.refs] == [
            (now.url(i), i) for i in on_page if i not in done
        ]
        assert job.url == MatterCatalogue(BASE).list_url(job.page)
    not_done = [i for i in range(total) if i not in done]
    planned = {job.page for job in jobs}
    assert plan.expected == {
        "pages_ok": len(jobs),
        "products_saved": sum(1 for i in not_done if site_page(i, total) in planned),
    }
    if len(with_work) > limit:
        left = sum(1 for i in not_done if site_page(i, total) not in planned)
        assert f"{len(with_work) - limit} more pages hold {left} products" in plan.note
    else:
        assert "page_range_limit" not in plan.note
        assert all(site_page(i, total) in planned for i in not_done)
    assert view.done == {(i // PER_PAGE, i % PER_PAGE): before.url(i) for i in done}


async def test_the_ledger_gets_a_row_per_page_of_the_shape_done_when_all_of_it_is(
    tmp_path: Any,
) -> None:
    path = tmp_path / "c.db"
    catalogue = Catalogue(30)  # pages 1 (12), 2 (12), 3 (6: the oldest 0..5)
    async with SqliteStore.open(path) as store:
        await store.save_done([stored(i, catalogue.url(i)) for i in range(6)], "old")
        jobs, _ = await plan_over(store, catalogue, limit=100)
    assert [job.page for job in jobs] == [2, 1]
    connection = sqlite3.connect(path)
    pages = dict(connection.execute("SELECT page, state FROM crawl_ledger WHERE item = 'page'"))
    shape = connection.execute("SELECT last_page, on_last, total FROM catalogue_shape").fetchone()
    connection.close()
    assert pages == {1: "pending", 2: "pending", 3: "done"}
    assert shape == (3, 6, 30)


async def test_full_crawls_every_page_and_fetches_every_product_again(tmp_path: Any) -> None:
    catalogue = Catalogue(30)
    async with SqliteStore.open(tmp_path / "c.db") as store:
        await store.save_done([stored(i, catalogue.url(i)) for i in range(30)], "old")
        jobs, plan = await plan_over(store, catalogue, limit=1, strategy="full")
    assert [job.page for job in jobs] == [3, 2, 1]
    assert [len(job.refs or ()) for job in jobs] == [6, 12, 12]
    assert plan.expected == {"pages_ok": 3, "products_saved": 30}


async def test_everything_done_plans_nothing(tmp_path: Any) -> None:
    catalogue = Catalogue(30)
    async with SqliteStore.open(tmp_path / "c.db") as store:
        await store.save_done([stored(i, catalogue.url(i)) for i in range(30)], "old")
        jobs, plan = await plan_over(store, catalogue, limit=100)
    assert (jobs, dict(plan.expected)) == ([], {"pages_ok": 0, "products_saved": 0})


# -- a catalogue changed anywhere ------------------------------------------------------------


class Listed(Catalogue):
    """The same site (docs/architecture.md §6: newest first, 12 a page, past the end the last
    page again), listing the products `urls` (oldest first) after any number of changes."""

    def __init__(self, urls: list[str]) -> None:
        super().__init__(len(urls))
        self.urls = urls

    def url(self, oldest: int) -> str:
        return self.urls[oldest]


@st.composite
def changes(draw: st.DrawFn) -> dict[str, Any]:
    total = draw(st.integers(1, 150))
    delisted = draw(st.sets(st.integers(0, total - 1), max_size=total - 1))
    inserts = draw(st.lists(st.tuples(st.integers(0, total), st.integers(1, 15)), max_size=4))
    return {"total": total, "delisted": delisted, "inserts": inserts}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=changes())
def test_after_any_change_stored_products_move_to_the_listing_and_only_new_ones_are_fetched(
    case: dict[str, Any],
) -> None:
    trio.run(_check_change, case)


async def _check_change(case: dict[str, Any]) -> None:
    before = Catalogue(case["total"])
    urls = [before.url(i) for i in range(before.total)]
    gone = {urls[i] for i in case["delisted"]}
    after = [url for url in urls if url not in gone]
    new: list[str] = []
    for n, (at, k) in enumerate(case["inserts"]):
        added = [f"{BASE}/csa_product/new-{n}-{j}/" for j in range(k)]
        at = min(at, len(after))
        after[at:at] = added
        new += added
    now = Listed(after)
    async with SqliteStore.open(":memory:") as store:
        await store.save_done([stored(i, url) for i, url in enumerate(urls)], "old")
        jobs, plan = await plan_over(store, now, limit=1000)
        refs = [ref for job in jobs for ref in job.refs or ()]
        # The new products are fetched, at the positions the listing shows them; nothing else.
        assert sorted(ref.url for ref in refs) == sorted(new)
        for ref in refs:
            assert (ref.page_id, ref.index_in_page) == divmod(after.index(ref.url), PER_PAGE)
        await store.save_done([Product(ref, ProductDetail(url=ref.url)) for ref in refs], "new")
        rows = await store.fetch_products()
    listed = {r["url"]: (r["page_id"], r["index_in_page"]) for r in rows if not r["delisted_at"]}
    assert listed == {url: divmod(i, PER_PAGE) for i, url in enumerate(after)}
    assert {r["url"] for r in rows if r["delisted_at"]} == gone
    assert f"{len(new)} new to the store, {len(gone)} delisted" in plan.note or not (new or gone)


# -- pagination by links -------------------------------------------------------------------


class Cursored:
    """A site paginated by opaque cursors (no page numbers at all), newest first; past the
    last page there is no next link. Counts every fetch by URL."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls  # oldest first
        self.fetched: list[str] = []

    def pages(self) -> list[list[str]]:
        newest_first = list(reversed(self.urls))
        return [newest_first[i : i + PER_PAGE] for i in range(0, len(newest_first), PER_PAGE)]

    def cursor(self, page: int) -> str:
        return f"{BASE}/feed?after=c{page * 7919 % 1000:03d}x{page}"

    async def fetch_url(self, url: str) -> ListPage:
        self.fetched.append(url)
        pages = self.pages()
        first = MatterCatalogue(BASE).list_url(1)
        index = 0 if url == first else [self.cursor(n) for n in range(len(pages))].index(url)
        entries = tuple(ListEntry(u, "maker", "model", "cert") for u in pages[index])
        after = self.cursor(index + 1) if index + 1 < len(pages) else None
        return ListPage(current=None, highest=None, entries=entries, next_url=after)


async def plan_by_links(store: SqliteStore, site_pages: Cursored) -> tuple[list[PageJob], Any]:
    config = CrawlConfig.from_dict({"crawl": {"page_range_limit": 1000}})
    site = MatterCatalogue(BASE)

    async def fetch(page: int) -> ListPage:
        return await site_pages.fetch_url(site.list_url(page))

    planner = CataloguePlanner(site, store, fetch, config.crawl, store, "links",
                               fetch_url=site_pages.fetch_url)  # fmt: skip
    plan = await planner(Immediate())  # type: ignore[arg-type]
    return [job for batch in plan.batches for job in batch], plan


async def test_a_site_paginated_by_cursors_is_read_once_a_run_and_its_changes_are_seen() -> None:
    urls = [f"{BASE}/csa_product/{i}/" for i in range(40)]  # 4 pages: 12, 12, 12, 4
    site_pages = Cursored(urls)
    async with SqliteStore.open(":memory:") as store:
        jobs, plan = await plan_by_links(store, site_pages)
        # Each page once, in link order: no page numbers asked, nothing read twice.
        assert len(site_pages.fetched) == len(set(site_pages.fetched)) == 4
        assert [job.url for job in jobs] == list(reversed(site_pages.fetched))  # oldest first
        refs = [ref for job in jobs for ref in job.refs or ()]
        assert sorted(ref.url for ref in refs) == sorted(urls)
        for ref in refs:
            assert (ref.page_id, ref.index_in_page) == divmod(urls.index(ref.url), PER_PAGE)
        await store.save_done([Product(r, ProductDetail(url=r.url)) for r in refs], "first")
        site_pages.fetched.clear()
        jobs, plan = await plan_by_links(store, site_pages)
        assert jobs == [] and len(site_pages.fetched) == 4
        site_pages.urls = [u for u in urls if u != urls[17]] + [f"{BASE}/csa_product/new/"]
        jobs, plan = await plan_by_links(store, site_pages)
        rows = {row["url"]: row for row in await store.fetch_products()}
    assert [ref.url for job in jobs for ref in job.refs or ()] == [f"{BASE}/csa_product/new/"]
    assert rows[urls[17]]["delisted_at"] is not None
    assert "1 new to the store, 1 delisted" in plan.note
