"""The status check under a transient unreadable page: it finds the exact shape, or the session
fails naming the page; never a wrong shape, never `completed` with fewer products.

The property drives `CataloguePlanner` through a real engine session whose settings come from
`CrawlConfig.engine_settings` with the planner's ``status_check`` key, as the catalogue crawl
builds them, so the retry policy is the config's own. Whole crawls of the demo catalogue under
the same fault are in tests/e2e/test_status_check.py.
"""

from __future__ import annotations

from typing import Any

import trio
import trio.lowlevel
import trio.testing
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from trio_crawl import CrawlConfig
from trio_crawl.crawling.last_page import CatalogueShape
from trio_crawl.crawling.planner import CataloguePlanner, PageJob
from trio_crawl.demo.markup import render_list_page
from trio_crawl.engine import ErrorKind, Plan, PlanContext, Stage
from trio_crawl.engine import open_session as open_engine_session
from trio_crawl.engine.planning import as_plan
from trio_crawl.sites import MatterCatalogue
from trio_crawl.sites.records import ListEntry, ListPage

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
        self.planned_after: int | None = None
        """How many fetches planning took (the status check and every list page); the
        status check run again after the batches makes the others."""

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
        fake.planned_after = len(fake.fetched)
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
    planning = fake.planned_after is None or fake.fault_at < fake.planned_after
    if summary.status == "failed":
        assert fake.faulted is not None, summary.reason
        assert "layout not recognised" in summary.reason
        assert fake.site.list_url(fake.faulted) in summary.reason
        assert summary.products_saved == 0
    elif summary.status == "partial":
        # The damaged page was a list page read after the status check (its products are
        # unknown until the list stage reads it) or one read by the check after the batches:
        # the run cannot say `completed`, though the shape was right and all was stored.
        assert fake.faulted is not None and max_attempts == 1, summary.reason
        assert planner.shape == CatalogueShape(pages, on_last)
        assert summary.products_saved == fake.total
        assert ("could not be read" if planning else "could not be checked") in summary.reason
    else:
        assert summary.status == "completed", (summary.status, summary.reason)
        assert planner.shape == CatalogueShape(pages, on_last)
        assert plan is not None and plan.expected["products_saved"] == fake.total
        assert plan.expected["pages_ok"] == pages
        assert summary.products_saved == fake.total
    # And which of the two it is follows from the budget: one retry reads the page again.
    retries = (max_attempts or 3) - 1
    # (Without retries, a fault in a status check fails it; on any other list page it gets one
    # more round, as the list stage would give it, and is read through.)
    if fake.faulted is None or retries >= 1:
        assert summary.status == "completed", summary.reason


# -- whole crawls of the demo catalogue --------------------------------------------------------
