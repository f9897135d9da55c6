"""The status check under a transient unreadable page: it finds the exact shape, or the session
fails naming the page; never a wrong shape, never `completed` with fewer products.

The property drives `CataloguePlanner` through a real engine session whose settings come from
`CrawlConfig.engine_settings` with the planner's ``status_check`` key, as the catalogue crawl
builds them, so the retry policy is the config's own. The other tests run whole crawls of the
demo catalogue into a real SQLite file.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from trio_crawl import CrawlConfig, crawl, open_session
from trio_crawl.crawling.planner import CataloguePlanner, CatalogueShape, PageJob
from trio_crawl.demo import DemoCatalogue, DemoServer, FaultConfig, serve_demo
from trio_crawl.demo.markup import render_list_page
from trio_crawl.engine import ErrorKind, Plan, PlanContext, Stage
from trio_crawl.engine import open_session as open_engine_session
from trio_crawl.engine.events import StageRetrying
from trio_crawl.engine.planning import as_plan
from trio_crawl.sites import MatterCatalogue
from trio_crawl.sites.records import ListEntry, ListPage
from trio_crawl.stores import SqliteStore

PER_PAGE = 12
BASE = "https://csa-iot.example"


class FlakyCatalogue:
    """`pages` pages, `on_last` products on the last. Pagination shows current±`window` and,
    if given, `reveal` (clamped to the real last page) or `overclaim` (not clamped: a jump past
    the end). Past the end the site shows page 1 or the last page (`past_end_shows_last`).
    Fetch number `fault_at` (0-based) serves, once, a copy of the page without its cards."""

    def __init__(
        self,
        pages: int,
        on_last: int,
        *,
        window: int,
        reveal: int | None,
        overclaim: int | None,
        past_end_shows_last: bool,
        fault_at: int,
    ) -> None:
        self.pages, self.on_last, self.window = pages, on_last, window
        self.reveal, self.overclaim = reveal, overclaim
        self.past_end_shows_last = past_end_shows_last
        self.fault_at = fault_at
        self.site = MatterCatalogue(BASE)
        self.fetched: list[int] = []
        self.faulted: int | None = None
        """The page whose fetch was made unreadable, once it happened."""

    def count(self, page: int) -> int:
        return self.on_last if page == self.pages else PER_PAGE

    def entries(self, page: int) -> tuple[ListEntry, ...]:
        return tuple(
            ListEntry(f"{BASE}/csa_product/p{page}-{i}/", "m", "x", "c")
            for i in range(self.count(page))
        )

    @property
    def total(self) -> int:
        return (self.pages - 1) * PER_PAGE + self.on_last

    async def fetch(self, page: int) -> ListPage:
        number = len(self.fetched)
        self.fetched.append(page)
        await trio.lowlevel.checkpoint()
        asked = page
        if page < 1 or page > self.pages:
            page = self.pages if self.past_end_shows_last else 1
        if number == self.fault_at:
            # The damaged copy keeps its pagination but loses its cards; it goes through the
            # real parser, which must refuse it rather than hand the planner an empty page.
            self.faulted = asked
            damaged = render_list_page(BASE, [], page, self.pages)
            return self.site.parse_list(damaged, self.site.list_url(asked))
        highest = min(self.pages, page + self.window)
        if self.reveal is not None:
            highest = max(highest, min(self.reveal, self.pages))
        if self.overclaim is not None:
            highest = max(highest, self.overclaim)
        return ListPage(current=page, highest=highest, entries=self.entries(page))


class EmptyStore:
    """The planner's view of a store that holds nothing yet."""

    async def newest_position(self) -> int | None:
        return None


def _config(max_attempts: int | None) -> CrawlConfig:
    data: dict[str, Any] = {"crawl": {"strategy": "full"}}
    if max_attempts is not None:
        data["retry"] = {"status_check": {"max_attempts": max_attempts}}
    return CrawlConfig.from_dict(data)


async def _run_planner(fake: FlakyCatalogue, config: CrawlConfig) -> tuple[Any, Any, Plan | None]:
    """One session: the real planner and the config's `status_check` policy, then stages that
    turn each planned page into the site's real products."""
    planner = CataloguePlanner(fake.site, EmptyStore(), fake.fetch, config.crawl)  # type: ignore[arg-type]
    plans: list[Plan] = []

    async def plan(context: PlanContext) -> Plan:
        answer = as_plan(await planner(context))
        plans.append(answer)
        return answer

    async def list_page(job: PageJob) -> tuple[ListEntry, ...]:
        return fake.entries(job.page)  # the list stage reads the page as it really is

    async def save(entry: ListEntry) -> ListEntry:
        return entry

    stages = [
        Stage("list_pages", list_page, fan_out=True, count_ok="pages_ok"),
        Stage("saving", save, count_ok="products_saved"),
    ]
    settings_ = config.engine_settings(("list_pages", "saving", "status_check"))
    async with open_engine_session(settings_, stages=stages, planner=plan) as session:
        summary = await session.wait()
    return planner, summary, (plans[0] if plans else None)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    pages=st.integers(1, 600),
    on_last=st.integers(1, PER_PAGE),
    window=st.integers(1, 5),
    pagination=st.sampled_from(["window", "reveal_last", "reveal_some", "overclaim"]),
    reveal_fraction=st.floats(0.0, 2.0),
    past_end_shows_last=st.booleans(),
    fault_at=st.integers(0, 15),
    max_attempts=st.sampled_from([1, None, 2, 4]),  # 0 retries, the default (2), 1, 3
)
def test_a_transient_unreadable_page_never_yields_a_wrong_shape(
    pages: int,
    on_last: int,
    window: int,
    pagination: str,
    reveal_fraction: float,
    past_end_shows_last: bool,
    fault_at: int,
    max_attempts: int | None,
) -> None:
    some = max(1, round(pages * reveal_fraction))
    fake = FlakyCatalogue(
        pages,
        on_last,
        window=window,
        reveal=pages
        if pagination == "reveal_last"
        else some
        if pagination == "reveal_some"
        else None,
        overclaim=pages + some if pagination == "overclaim" else None,
        past_end_shows_last=past_end_shows_last,
        fault_at=fault_at,
    )
    config = _config(max_attempts)
    assert config.retry.status_check.max_attempts == (max_attempts or 3)
    assert ErrorKind.parse_error in config.retry.status_check.retry_on  # the default policy
    planner, summary, plan = trio.run(
        _run_planner, fake, config, clock=trio.testing.MockClock(autojump_threshold=0)
    )
    event(f"status {summary.status}, fault {'fired' if fake.faulted else 'not reached'}")
    if summary.status == "failed":
        assert fake.faulted is not None, summary.reason
        assert "layout not recognised" in summary.reason
        assert fake.site.list_url(fake.faulted) in summary.reason
        assert summary.products_saved == 0
    else:
        assert summary.status == "completed", (summary.status, summary.reason)
        assert planner.shape == CatalogueShape(pages, on_last)
        assert plan is not None and plan.expected["products_saved"] == fake.total
        assert plan.expected["pages_ok"] == pages
        assert summary.products_saved == fake.total
    # And which of the two it is follows from the budget: one retry reads the page again.
    retries = (max_attempts or 3) - 1
    if fake.faulted is None or retries >= 1:
        assert summary.status == "completed", summary.reason
    else:
        assert summary.status == "failed"


# -- whole crawls of the demo catalogue --------------------------------------------------------


@pytest.fixture
def lazy_clock() -> trio.testing.MockClock:
    # As in tests/e2e: mock time jumps after 20 ms of real idleness, so loopback I/O and
    # SQLite's threads run normally while backoff passes instantly.
    return trio.testing.MockClock(autojump_threshold=0.02)


@asynccontextmanager
async def _demo(
    catalogue: DemoCatalogue, faults: FaultConfig, port: int = 0
) -> AsyncIterator[DemoServer]:
    async with trio.open_nursery() as nursery:
        server: DemoServer = await nursery.start(
            functools.partial(serve_demo, catalogue, faults=faults, port=port)
        )
        yield server
        nursery.cancel_scope.cancel()


def _crawl_config(**sections: dict[str, Any]) -> CrawlConfig:
    data: dict[str, Any] = {
        "crawl": {"strategy": "full", "request_timeout_secs": 5},
        "rate_limit": {"requests_per_second": 0},
    }
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return CrawlConfig.from_dict(data)


def _positions(path: str) -> dict[str, tuple[int, int, int]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT url, page_id, index_in_page, id FROM products").fetchall()
    return {url: (page_id, index, id_) for url, page_id, index, id_ in rows}


def _runs(path: str) -> list[dict[str, Any]]:
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM crawl_runs")]


async def test_a_status_check_page_malformed_once_leaves_every_position_unchanged(
    tmp_path: Path, lazy_clock: trio.testing.MockClock
) -> None:
    catalogue = DemoCatalogue(products=300, seed=3)  # 25 full pages
    path = str(tmp_path / "crawl.db")
    site_db_config = _crawl_config()
    async with _demo(catalogue, FaultConfig()) as clean, SqliteStore.open(path) as store:
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
    config = _crawl_config(retry={"list_pages": {"retry_on": ["parse_error", "server_error"]}})
    retried: list[StageRetrying] = []
    async with _demo(catalogue, faults, port=port) as server, SqliteStore.open(path) as store:
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
    path = str(tmp_path / "crawl.db")
    config = _crawl_config(retry={"status_check": {"max_attempts": 2, "base_delay_ms": 10}})
    async with (
        _demo(catalogue, FaultConfig(rate_malformed=1.0)) as server,
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
