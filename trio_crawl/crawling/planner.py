"""The session's planner for a catalogue crawl: status check, then the smart page range.

Last-page discovery (DESIGN §6): follow the highest number in the pagination until it stops
growing, and believe a page only if it says it is the page asked for (past the end the site
quietly shows another page; a page without readable cards is a parse error, retried under the
`status_check` policy, never the end). If a jump lands past the end, a binary search between the
last real page and that one finds the end. Whichever way it was found, the answer is confirmed
before any position is computed from it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs

from ..config.model import CrawlSettings
from ..engine.planning import Plan, PlanContext, batches_of
from ..engine.results import ErrorKind, StageError
from ..sites.protocol import Site
from ..sites.records import ListPage
from ..stores.protocol import Store
from .positions import plan_pages, total_products

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


def shows(listing: ListPage, page: int) -> bool:
    """Whether `listing` is page `page` itself. Past the end the site answers with another
    page (its `current` differs); that is the only meaning of "past the end" (DESIGN §6). A
    page without readable cards never gets here: the parser refuses it as a parse error."""
    if listing.current is None:
        # No pagination at all: a catalogue of one page, which is page 1 and nothing else.
        return page == 1 and listing.highest is None
    return listing.current == page


def shape_error(message: str) -> StageError:
    return StageError(ErrorKind.parse_error, f"catalogue shape not confirmed: {message}")


async def find_last_page(fetch_list: FetchList, per_page: int = 12) -> CatalogueShape:
    """Discover the last page with as few requests as the pagination allows, then confirm it.

    Raises `StageError(parse_error)` when the pages disagree about the shape: a wrong shape
    shifts every position computed from it, so doubt ends the session rather than guessing.
    """
    first = await fetch_list(1)
    if not shows(first, 1):
        raise shape_error(f"list page 1 shows page {first.current}")
    last, last_listing = 1, first
    highest = first.highest or 1
    while highest > last:
        listing = await fetch_list(highest)
        if not shows(listing, highest):
            last, last_listing = await _search(fetch_list, last, last_listing, highest)
            break
        last, last_listing = highest, listing
        highest = max(listing.highest or highest, highest)
    await _confirm(fetch_list, first, last, last_listing, per_page)
    return CatalogueShape(last, len(last_listing.entries))


async def _search(
    fetch_list: FetchList, low: int, low_listing: ListPage, high: int
) -> tuple[int, ListPage]:
    """Binary search for the last real page in (low, high), `low` real and `high` not."""
    while high - low > 1:
        middle = (low + high) // 2
        listing = await fetch_list(middle)
        if shows(listing, middle):
            low, low_listing = middle, listing
        else:
            high = middle
    return low, low_listing


async def _confirm(
    fetch_list: FetchList, first: ListPage, last: int, listing: ListPage, per_page: int
) -> None:
    """The last page holds 1..per_page products, page 1 is full if it is not the last, and the
    page after the last comes back as past the end (the site's word, whatever its pagination
    claimed on the way)."""
    on_last = len(listing.entries)
    if not 1 <= on_last <= per_page:
        raise shape_error(f"last page {last} shows {on_last} products (1..{per_page} expected)")
    if last > 1 and len(first.entries) != per_page:
        raise shape_error(
            f"page 1 shows {len(first.entries)} products, but {last} pages need {per_page} on it"
        )
    after = await fetch_list(last + 1)
    if shows(after, last + 1):
        raise shape_error(
            f"page {last + 1} exists, but page {last} was taken for the last"
            " (a page misread during the search, or the catalogue grew meanwhile)"
        )
    if after.current == last and after.entries != listing.entries:
        raise shape_error(
            f"page {last + 1} shows page {last}, but with other products than page {last} itself"
        )


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

    async def __call__(self, context: PlanContext) -> Plan:
        async def fetch(page: int) -> ListPage:
            return await context.retry(lambda: self.fetch_list(page), policy="status_check")

        per_page = self.site.per_page
        shape = await find_last_page(fetch, per_page)
        self.shape = shape
        total = total_products(shape.last_page, shape.on_last, per_page)
        newest_stored = await self.store.newest_position()
        if newest_stored is not None and newest_stored >= total:
            # The store holds a product at an oldest index the site no longer reaches: either
            # the catalogue shrank or this shape is wrong. Rewriting positions against it could
            # shift every stored product, so stop and say so.
            raise StageError(
                ErrorKind.parse_error,
                f"the store holds a product at position {newest_stored + 1} from the oldest,"
                f" but the site shows {total} products ({shape.last_page} pages,"
                f" {shape.on_last} on the last); positions left unchanged",
            )
        crawl = self.settings
        pages = plan_pages(
            crawl.strategy.value,
            last_page=shape.last_page,
            on_last=shape.on_last,
            per_page=per_page,
            limit=crawl.page_range_limit,
            newest_stored=newest_stored,
        )
        jobs = [PageJob(page, self.site.list_url(page), shape) for page in pages]
        products = sum(shape.on_last if page == shape.last_page else per_page for page in pages)
        # `completed` means every planned page and product was stored (engine.summary).
        expected = {"pages_ok": len(pages), "products_saved": products}
        return Plan(batches_of(jobs, crawl.batch_size), expected)


def not_found(page: int, listing: ListPage) -> StageError:
    return StageError(
        ErrorKind.parse_error,
        f"list page {page} shows page {listing.current} with {len(listing.entries)} products",
    )
