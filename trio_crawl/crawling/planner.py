"""The session's planner for a catalogue crawl: status check, then the smart page range.

Last-page discovery: follow the highest number in the pagination until it stops
growing, and believe a page only if it says it is the page asked for (past the end the site
quietly shows another page; a page without readable cards is a parse error, retried under the
`status_check` policy, never the end). If a jump lands past the end, a binary search between the
last real page and that one finds the end. Whichever way it was found, the answer is confirmed
before any position is computed from it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from ..config.model import CrawlSettings
from ..engine.planning import Plan, PlanContext, batches_of
from ..engine.results import ErrorKind, StageError
from ..positions import oldest_indexes_on, pages_with_work, plan_pages, total_products
from ..sites.protocol import Site
from ..sites.records import ListPage
from ..stores.ledger import Ledger, LedgerPage, LedgerShape
from ..stores.protocol import Store

FetchList = Callable[[int], Awaitable[ListPage]]


@attrs.frozen
class CatalogueShape:
    """What the status check found: the last page and how many products it shows."""

    last_page: int
    on_last: int


@attrs.frozen
class PageJob:
    """A list page to crawl, with the catalogue shape its positions are computed against and
    the products on it that are done already, as (oldest index, url): those are not fetched
    again (a done position now showing another url is)."""

    page: int
    url: str
    shape: CatalogueShape
    done: frozenset[tuple[int, str]] = frozenset()
    done_urls: frozenset[str] = frozenset()
    """For an unordered site, whose positions move: every url done, wherever it was seen."""


def shows(listing: ListPage, page: int) -> bool:
    """Whether `listing` is page `page` itself. Past the end the site answers with another
    page (its `current` differs); that is the only meaning of "past the end". A
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
    """Plans one session: status check (retried under the `status_check` policy), then pages.

    With a `ledger`, ``continue_from_db`` crawls every page holding a product not done yet,
    oldest first (so the holes an interrupted run left come first), and skips the done
    products on them; the shape is recorded in the ledger with a row per page.
    """

    def __init__(
        self,
        site: Site[Any],
        store: Store,
        fetch_list: FetchList,
        settings: CrawlSettings,
        ledger: Ledger | None = None,
        session_id: str = "",
    ) -> None:
        self.site = site
        self.store = store
        self.fetch_list = fetch_list
        self.settings = settings
        self.ledger = ledger
        self.session_id = session_id
        self.shape: CatalogueShape | None = None

    async def __call__(self, context: PlanContext) -> Plan:
        async def fetch(page: int) -> ListPage:
            try:
                return await context.retry(lambda: self.fetch_list(page), policy="status_check")
            except StageError as error:
                # Many sites answer a page past the end with 404: that is the end, not a fault.
                if page > 1 and error.kind is ErrorKind.client_error and error.status == 404:
                    return PAST_THE_END
                raise

        per_page = self.site.per_page
        shape = await find_last_page(fetch, per_page)
        self.shape = shape
        total = total_products(shape.last_page, shape.on_last, per_page)
        ordered = self.site.ordering != "unordered"
        newest_stored = await self.store.newest_position() if ordered else None
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
        if self.ledger is None:
            return self._plan(shape, newest_stored, None)
        ledger = self.ledger
        view = await ledger.view()
        # Positions are stable (counted from the oldest), so done products of an earlier,
        # smaller shape are done in this one too.
        done = {page_id * per_page + index: url for (page_id, index), url in view.done.items()}
        plan = self._plan(shape, newest_stored, done)
        pages = [
            LedgerPage(
                page, self.site.list_url(page), ordered and self._all_done(shape, page, done)
            )
            for page in range(1, shape.last_page + 1)
        ]
        ledger_shape = LedgerShape(
            self.site.base_url, shape.last_page, shape.on_last, per_page, self.site.ordering
        )
        await context.retry(
            lambda: ledger.open_shape(ledger_shape, pages, self.session_id), policy="saving"
        )
        return plan

    def _indexes(self, shape: CatalogueShape, page: int) -> range:
        return oldest_indexes_on(
            page,
            last_page=shape.last_page,
            on_last=shape.on_last,
            per_page=self.site.per_page,
            ordering=self.site.ordering,
        )

    def _all_done(self, shape: CatalogueShape, page: int, done: dict[int, str]) -> bool:
        return all(index in done for index in self._indexes(shape, page))

    def _plan(
        self, shape: CatalogueShape, newest_stored: int | None, done: dict[int, str] | None
    ) -> Plan:
        crawl = self.settings
        per_page = self.site.per_page
        ordering = self.site.ordering
        limit = crawl.page_range_limit
        skip = crawl.strategy.value == "continue_from_db" and done is not None
        if skip:
            assert done is not None
            with_work = pages_with_work(
                last_page=shape.last_page,
                on_last=shape.on_last,
                per_page=per_page,
                done=done,
                ordering=ordering,
            )
            pages = with_work[:limit]
        else:
            with_work = []
            pages = plan_pages(
                crawl.strategy.value,
                last_page=shape.last_page,
                on_last=shape.on_last,
                per_page=per_page,
                limit=limit,
                newest_stored=newest_stored,
                ordering=ordering,
            )
        unordered = ordering == "unordered"
        done_urls = frozenset(done.values()) if skip and unordered and done else frozenset()
        jobs = []
        products = 0
        for page in pages:
            indexes = self._indexes(shape, page)
            on_page: frozenset[tuple[int, str]] = (
                frozenset((i, done[i]) for i in indexes if i in done)
                if skip and done and not unordered
                else frozenset()
            )
            jobs.append(PageJob(page, self.site.list_url(page), shape, on_page, done_urls))
            # An unordered site's done items are only known once its pages are read.
            products += 0 if done_urls else len(indexes) - len(on_page)
        # `completed` means every planned page and product was stored (engine.summary).
        expected = {"pages_ok": len(pages), "products_saved": products}
        note = ""
        beyond = with_work[limit:]
        if beyond and unordered:
            note = f"page_range_limit {limit} reached: {len(beyond)} more pages not read"
        elif beyond:
            assert done is not None
            left = sum(
                1 for page in beyond for i in self._indexes(shape, page) if i not in done
            )
            note = (
                f"page_range_limit {limit} reached: {len(beyond)} more pages hold {left}"
                " products not stored yet"
            )
        return Plan(batches_of(jobs, crawl.batch_size), expected, note)


PAST_THE_END = ListPage(current=None, highest=None, entries=())
"""What a page past the end answered with 404 reads as: it shows no page of the catalogue."""


def not_found(page: int, listing: ListPage) -> StageError:
    return StageError(
        ErrorKind.parse_error,
        f"list page {page} shows page {listing.current} with {len(listing.entries)} products",
    )
