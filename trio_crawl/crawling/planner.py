"""The session's planner for a catalogue crawl: status check, then every list page, then the
pages with work.

The status check (`last_page`) finds where the catalogue ends.

The catalogue changes anywhere (docs/architecture.md §6): items are inserted and delisted in
the middle, not only at the newest end, and a change in the middle moves every item on one side
of it. Nothing short of reading every list page tells such a change from none (a delisting and
an insertion leave the total as it was), so every run reads every list page once, before any
detail page: that listing gives each stored product its position now and names the products no
longer listed (kept, marked delisted). The list pages are not read again: the pages with work carry
the refs found on them. A listing that contradicts itself (a product on two pages, a page short
of products) was read while the catalogue moved; it is read once more, and if it still does,
the run fails saying so. After the batches the status check runs again: a catalogue that moved
during the crawl keeps the run from being `completed` (the next run settles it). A page read
again that came back as it was is not parsed again (`list_reads`).

The pages read wait on disk (`ListingSpool`), and each batch's jobs are made from them when the
session reaches it (`BatchesOnDemand`): what the planner holds does not grow with the catalogue.
"""

from __future__ import annotations

import functools
from array import array
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import attrs
import trio

from ..config.model import CrawlSettings
from ..engine.planning import BatchesOnDemand, Plan, PlanContext
from ..engine.results import ErrorKind, StageError
from ..positions import oldest_pages_first, position
from ..sites.protocol import Site
from ..sites.records import ListPage
from ..stores.ledger import Ledger, LedgerPage, LedgerShape, Listed, Relisting
from ..stores.protocol import Store
from .last_page import CatalogueShape, FetchList, find_last_page, shows
from .list_reads import Fingerprints, ListReads
from .listing_spool import ListingSpool
from .page_jobs import PageJob as PageJob
from .settling import catalogue_moved, listing_changes

FetchUrl = Callable[[str], Awaitable[ListPage]]


@attrs.frozen
class Sweep:
    """Every list page of one shape, as read at the start of a run. `failed` holds the pages
    that could not be read (their products are unknown); `problem` says how the listing
    contradicts itself ("" when it does not)."""

    shape: CatalogueShape
    pages: Mapping[int, ListPage]
    """A `ListingSpool` in a crawl: read back a page at a time."""
    failed: Mapping[int, StageError]
    problem: str
    urls: Mapping[int, str] = attrs.field(factory=dict)
    """Where each page was read, for a site followed by its links (else `Site.list_url`)."""
    fingerprints: Fingerprints = attrs.field(factory=Fingerprints, eq=False)
    """Of the response each page was parsed from, when read through `ListReads`."""

    @property
    def complete(self) -> bool:
        return not self.failed and not self.problem


class CataloguePlanner:
    """Plans one session: status check (retried under the `status_check` policy), every list
    page (`list_concurrency` at a time), the ledger brought up to date with the listing, then
    the pages with work.

    ``continue_from_db`` fetches the listed products not stored yet (up to `page_range_limit`
    pages holding one, oldest first); ``full`` every listed product; ``newest_first`` every
    product of the `page_range_limit` newest pages.
    """

    def __init__(
        self,
        site: Site[Any],
        store: Store,
        fetch_list: FetchList,
        settings: CrawlSettings,
        ledger: Ledger | None = None,
        session_id: str = "",
        list_concurrency: int = 5,
        fetch_url: FetchUrl | None = None,
        lists: ListReads | None = None,
    ) -> None:
        self.site = site
        self.store = store
        self.fetch_list = fetch_list
        self.settings = settings
        self.ledger = ledger
        self.session_id = session_id
        self.list_concurrency = max(1, list_concurrency)
        self.fetch_url = fetch_url
        self.lists = lists
        self.shape: CatalogueShape | None = None
        self.relisting = Relisting()
        self.swept: Sweep | None = None  # planned from (a distributed plan records it)

    def _fetcher(
        self,
        context: PlanContext,
        seen: dict[int, ListPage],
        prints: Fingerprints,
        before: Sweep | None = None,
    ) -> FetchList:
        async def fetch(page: int) -> ListPage:
            if page in seen:  # read once per reading of the catalogue
                return seen[page]
            try:
                listing = await context.retry(
                    functools.partial(self._read, page, prints, before, None), policy="status_check"
                )
            except StageError as error:
                # Many sites answer a page past the end with 404: that is the end, not a fault.
                if page > 1 and error.kind is ErrorKind.client_error and error.status == 404:
                    return PAST_THE_END
                raise
            assert listing is not None  # a page is kept in a spool only when one is given
            seen[page] = listing
            return listing

        return fetch

    async def _read(
        self, page: int, prints: Fingerprints, before: Sweep | None, into: ListingSpool | None
    ) -> ListPage | None:
        """List page `page`, its fingerprint into `prints`. A page read before (in `before`) that
        came back as it was is not parsed again: that reading, or copied into `into` (None)."""
        lists = self.lists
        if lists is None:
            return await self.fetch_list(page)
        known = before.fingerprints.get(page) if before is not None else None
        if before is not None and known is not None and page in before.pages:
            again, prints[page] = await lists.read_list_again(page, known)
            if again is None and into is not None and isinstance(before.pages, ListingSpool):
                into.keep(before.pages, page)  # neither unpickled nor pickled again
            elif again is None:
                return before.pages[page]
            return again
        listing, prints[page] = await lists.read_list(page)
        return listing

    async def sweep(self, context: PlanContext, before: Sweep | None = None) -> Sweep:
        """The status check, then every list page it did not read already (or, for a site whose
        pages link to the next by URL, each page in turn, following the links). A page that
        comes back as it was in `before` is not parsed again."""
        per_page = self.site.per_page
        seen: dict[int, ListPage] = {}
        prints = Fingerprints()
        fetch = self._fetcher(context, seen, prints, before)
        first = await fetch(1)
        if first.next_url is not None:
            return await self._follow(context, first)
        shape = await find_last_page(fetch, per_page)
        pages = ListingSpool()
        for page in sorted(seen):
            if page <= shape.last_page:
                pages[page] = seen[page]
        seen.clear()
        failed: dict[int, StageError] = {}
        known = set(pages)
        # `list_concurrency` readers take the pages in turn: a task per page would hold as
        # many tasks as the catalogue has pages.
        todo = (page for page in range(1, shape.last_page + 1) if page not in known)

        async def read() -> None:
            for page in todo:
                # The status check's reading, of every page: its policy, and one more round for
                # a page that still fails (as the list stage would give it), so that a page
                # failing now and then does not leave the listing incomplete.
                for _ in range(2):
                    try:
                        listing = await context.retry(
                            functools.partial(self._read, page, prints, before, pages),
                            policy="status_check",
                        )
                        if listing is not None:  # else kept as it was stored
                            pages[page] = listing
                    except StageError as error:
                        failed[page] = error  # its products are unknown
                    else:
                        failed.pop(page, None)
                        break

        async with trio.open_nursery() as nursery:
            for _ in range(self.list_concurrency):
                nursery.start_soon(read)
        # The reading again after the batches is compared page by page (`settle`); whether it
        # contradicts itself is asked of the first reading only, which plans from it.
        problem = self._problem(shape, pages) if before is None else ""
        return Sweep(shape, pages, failed, problem, fingerprints=prints)

    async def _follow(self, context: PlanContext, first: ListPage) -> Sweep:
        """Every page of a site paginated by links (cursor, "next"): one after the other, each
        read once. The end is a page without a next link, or one with no cards."""
        fetch_url = self.fetch_url
        if fetch_url is None:
            raise StageError(
                ErrorKind.configuration, "this crawl cannot follow the site's next links"
            )
        pages, urls = ListingSpool(), {1: self.site.list_url(1)}
        pages[1] = first
        read = set(urls.values())
        url = first.next_url
        while url is not None:
            if url in read:
                raise StageError(
                    ErrorKind.parse_error, f"the next links go round in a circle at {url}"
                )
            listing = await context.retry(functools.partial(fetch_url, url), policy="status_check")
            if not listing.entries:
                break  # an empty page is past the end
            page = len(urls) + 1
            pages[page], urls[page] = listing, url
            read.add(url)
            url = listing.next_url
        last = len(urls)
        shape = CatalogueShape(last, len(pages[last].entries))
        return Sweep(shape, pages, {}, self._problem(shape, pages, linked=True), urls)

    def _problem(self, shape: CatalogueShape, pages: ListingSpool, linked: bool = False) -> str:
        per_page = self.site.per_page
        for page in pages:
            listing = pages[page]
            if not linked and not shows(listing, page):
                return f"list page {page} shows page {listing.current}"
            wanted = shape.on_last if page == shape.last_page else per_page
            if len(listing.entries) != wanted:
                return f"list page {page} shows {len(listing.entries)} products, not {wanted}"
            twice = pages.claim(page, [entry.url for entry in listing.entries])
            if twice is not None:
                url, first = twice
                return f"{url} is on list page {first} and on page {page}"
        return ""

    async def __call__(self, context: PlanContext) -> Plan:
        ledger = self.ledger
        view = None if ledger is None else await ledger.view()
        if view is not None:
            held_by = view.shape.base_url if view.shape is not None else None
            if view.stored and held_by and held_by.rstrip("/") != self.site.base_url.rstrip("/"):
                # Every product of the one would look delisted to the other.
                raise StageError(
                    ErrorKind.configuration,
                    f"the database holds the catalogue at {held_by} ({len(view.stored)}"
                    f" products); crawl {self.site.base_url} into another database file (one"
                    " catalogue per file)",
                )
        sweep = await self.sweep(context)
        if sweep.problem:
            # Read while the catalogue moved: once more, from the status check.
            sweep = await self.sweep(context)
        if sweep.problem:
            raise StageError(
                ErrorKind.parse_error,
                f"the catalogue changed while its list pages were read ({sweep.problem});"
                " run again",
            )
        shape = sweep.shape
        self.shape, self.swept = shape, sweep
        per_page = self.site.per_page
        stored: frozenset[str] = frozenset()
        held: frozenset[int] = frozenset()
        if ledger is not None and view is not None:
            stored = view.stored
            if not sweep.complete:
                held = frozenset(page_id * per_page + index for page_id, index in view.done)
            self.relisting = await context.retry(
                lambda: ledger.relist(self._listed(sweep), sweep.complete, self.session_id),
                policy="saving",
            )
        everything = self.settings.strategy.value != "continue_from_db"
        jobs, products, beyond = self._jobs(sweep, stored, held, everything)
        if ledger is not None:
            with_work = bytearray(shape.last_page + 1)
            for pages in (jobs, beyond):
                for page in pages:
                    with_work[page] = 1
            ledger_shape = LedgerShape(
                self.site.base_url, shape.last_page, shape.on_last, per_page, self.site.ordering
            )
            await context.retry(
                lambda: ledger.open_shape(
                    ledger_shape, self._ledger_pages(sweep, with_work), self.session_id
                ),
                policy="saving",
            )
        # `completed` means every planned page and product was stored (engine.summary).
        expected = {"pages_ok": len(jobs), "products_saved": products}
        notes = [listing_changes(sweep.failed, sweep.pages, self.relisting, stored)]
        if beyond:
            left = sum(beyond.values())
            notes.append(
                f"page_range_limit {self.settings.page_range_limit} reached: {len(beyond)} more"
                f" pages hold {left} products not stored yet"
            )
        note = "; ".join(n for n in notes if n)
        make = functools.partial(self._job, sweep, stored, held, everything)
        return Plan(
            BatchesOnDemand(jobs, self.settings.batch_size, make),
            expected,
            note,
            settle=lambda: self.settle(context, sweep, expected["products_saved"] > 0),
        )

    def _found(self, sweep: Sweep, page: int, read: ListPage) -> Iterator[tuple[Any, Listed]]:
        """The cards of a page read, each with where the listing shows it now."""
        shape, site = sweep.shape, self.site
        for index, entry in enumerate(read.entries):
            page_id, index_in_page, product_id = position(
                page,
                index,
                last_page=shape.last_page,
                on_last=shape.on_last,
                per_page=site.per_page,
                ordering=site.ordering,
            )
            yield entry, Listed(entry.url, page_id, index_in_page, product_id)

    def _listed(self, sweep: Sweep) -> Iterator[Listed]:
        """Every product the pages read show, where it is now (read back from the spool as the
        ledger takes it)."""
        for page in sweep.pages:
            for _, found in self._found(sweep, page, sweep.pages[page]):
                yield found

    def _ledger_pages(self, sweep: Sweep, with_work: bytearray) -> Iterator[LedgerPage]:
        for page in range(1, sweep.shape.last_page + 1):
            url = sweep.urls.get(page) or self.site.list_url(page)
            yield LedgerPage(page, url, not with_work[page])

    def _wanted(
        self,
        sweep: Sweep,
        stored: frozenset[str],
        held: frozenset[int],
        everything: bool,
        page: int,
        read: ListPage,
    ) -> list[tuple[Any, Listed]]:
        """The cards of a page read to fetch, with their positions."""
        per_page = self.site.per_page
        wanted = []
        for entry, found in self._found(sweep, page, read):
            if not everything and entry.url in stored:
                continue
            oldest = found.page_id * per_page + found.index_in_page
            if oldest in held and entry.url not in stored:
                continue  # a listed product the planner could not move sits there
            wanted.append((entry, found))
        return wanted

    def _jobs(
        self, sweep: Sweep, stored: frozenset[str], held: frozenset[int], everything: bool
    ) -> tuple[array[int], int, dict[int, int]]:
        """The pages to crawl, in crawl order, the products they hold to fetch, and the pages
        with work `page_range_limit` left for later (with how many products each holds)."""
        site, shape = self.site, sweep.shape
        strategy = self.settings.strategy.value
        limit = self.settings.page_range_limit
        order = list(oldest_pages_first(shape.last_page, site.ordering))
        if strategy == "newest_first":
            order = list(reversed(order))[:limit]
        jobs: array[int] = array("q")
        products = 0
        beyond: dict[int, int] = {}
        for page in order:
            read = sweep.pages.get(page)
            if read is None:
                jobs.append(page)
                continue
            wanted = len(self._wanted(sweep, stored, held, everything, page, read))
            if not wanted and not everything:
                continue
            if strategy == "continue_from_db" and len(jobs) >= limit:
                beyond[page] = wanted
            else:
                jobs.append(page)
                products += wanted
        return jobs, products, beyond

    def _job(
        self,
        sweep: Sweep,
        stored: frozenset[str],
        held: frozenset[int],
        everything: bool,
        page: int,
    ) -> PageJob:
        """A page's job, made from its reading when its batch starts."""
        site, shape = self.site, sweep.shape
        url = sweep.urls.get(page) or site.list_url(page)
        read = sweep.pages.get(page)
        if read is None:
            return PageJob(page, url, shape, None, stored, held)
        wanted = self._wanted(sweep, stored, held, everything, page, read)
        refs = tuple(site.ref(entry, f.page_id, f.index_in_page, f.id) for entry, f in wanted)
        return PageJob(page, url, shape, refs)

    async def settle(self, context: PlanContext, sweep: Sweep, stored_some: bool) -> str:
        """After the batches: is the catalogue still what the run stored? A run that stored
        products reads every list page again (a delisting and an insertion in the middle leave
        the total and both ends as they were); one that stored nothing runs the status check
        again (what it holds was right when the run began). A catalogue that moved leaves
        products unstored or at old positions, so the run must not say `completed`."""
        if not sweep.complete:
            pages = ", ".join(str(page) for page in sorted(sweep.failed))
            return (
                f"list page(s) {pages} could not be read when the run began, so delistings and"
                " moves were not applied; one more run settles it"
            )
        per_page = self.site.per_page
        unread = ""
        prints = Fingerprints()
        if stored_some or sweep.urls:
            again = await self.sweep(context, before=sweep)
            shape, seen, prints = again.shape, again.pages, again.fingerprints
            if again.failed:
                pages = ", ".join(str(page) for page in sorted(again.failed))
                unread = f"list page(s) {pages} could not be read again"
        else:
            read: dict[int, ListPage] = {}
            shape = await find_last_page(self._fetcher(context, read, prints, sweep), per_page)
            seen = read
        changed = catalogue_moved(
            sweep.shape, sweep.pages, sweep.fingerprints, shape, seen, prints, per_page
        )
        if not changed:
            return f"{unread}: the run cannot tell it stored all it lists" if unread else ""
        return (
            f"the catalogue changed during the crawl ({'; '.join(changed)}); one more run"
            " settles it"
        )


PAST_THE_END = ListPage(current=None, highest=None, entries=())
"""What a page past the end answered with 404 reads as: it shows no page of the catalogue."""


def not_found(page: int, listing: ListPage) -> StageError:
    return StageError(
        ErrorKind.parse_error,
        f"list page {page} shows page {listing.current} with {len(listing.entries)} products",
    )
