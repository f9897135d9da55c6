"""The session's planner for a catalogue crawl: status check, then the smart page range.

Last-page discovery (DESIGN §6): follow the highest number in the pagination until it stops
growing, and believe a page only if it has products and says it is the page asked for (past
the end the site quietly shows another page). If a jump lands on a page that is not real, a
binary search between the last real page and that one finds the end.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import attrs

from ..config.model import CrawlSettings
from ..engine.planning import PlanContext, batches_of
from ..engine.results import ErrorKind, StageError
from ..sites.protocol import Site
from ..sites.records import ListPage
from ..stores.protocol import Store
from .positions import plan_pages

FetchList = Callable[[int], Awaitable[ListPage]]


@attrs.frozen
class CatalogueShape:
    """What the status check found: the last page and how many products it shows."""

    last_page: int
    on_last: int


@attrs.frozen
class PageJob:
    """A list page to crawl, with the catalogue shape its positions are computed against."""

    page: int
    url: str
    shape: CatalogueShape


def is_real(listing: ListPage, page: int) -> bool:
    return bool(listing.entries) and listing.current == page


async def find_last_page(fetch_list: FetchList) -> CatalogueShape:
    """Discover the last page with as few requests as the pagination allows."""
    first = await fetch_list(1)
    if not is_real(first, 1):
        return CatalogueShape(0, 0)
    real_page, real_listing = 1, first
    highest = first.highest or 1
    while highest > real_page:
        listing = await fetch_list(highest)
        if not is_real(listing, highest):
            return await _search(fetch_list, real_page, real_listing, highest)
        real_page, real_listing = highest, listing
        highest = max(listing.highest or highest, highest)
    return CatalogueShape(real_page, len(real_listing.entries))


async def _search(
    fetch_list: FetchList, low: int, low_listing: ListPage, high: int
) -> CatalogueShape:
    """Binary search for the last real page in (low, high), `low` real and `high` not."""
    while high - low > 1:
        middle = (low + high) // 2
        listing = await fetch_list(middle)
        if is_real(listing, middle):
            low, low_listing = middle, listing
        else:
            high = middle
    return CatalogueShape(low, len(low_listing.entries))


class CataloguePlanner:
    """Plans one session: status check (retried under the `status_check` policy), then pages."""

    def __init__(
        self, site: Site, store: Store, fetch_list: FetchList, settings: CrawlSettings
    ) -> None:
        self.site = site
        self.store = store
        self.fetch_list = fetch_list
        self.settings = settings
        self.shape: CatalogueShape | None = None

    async def __call__(self, context: PlanContext) -> Sequence[Sequence[Any]]:
        async def fetch(page: int) -> ListPage:
            return await context.retry(lambda: self.fetch_list(page), policy="status_check")

        shape = await find_last_page(fetch)
        self.shape = shape
        if shape.last_page == 0:
            return []
        crawl = self.settings
        pages = plan_pages(
            crawl.strategy.value,
            last_page=shape.last_page,
            on_last=shape.on_last,
            per_page=self.site.per_page,
            limit=crawl.page_range_limit,
            newest_stored=await self.store.newest_position(),
        )
        jobs = [PageJob(page, self.site.list_url(page), shape) for page in pages]
        return batches_of(jobs, crawl.batch_size)


def not_found(page: int, listing: ListPage) -> StageError:
    return StageError(
        ErrorKind.parse_error,
        f"list page {page} shows page {listing.current} with {len(listing.entries)} products",
    )
