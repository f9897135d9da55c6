"""The crawl's stage bodies, plugged into the engine: list pages → product refs → products →
validated products → saved. Each body does one item's work and raises `StageError`; retries,
timeouts, partial failure and events come from the engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from ..engine.results import ErrorKind, FailedItem, StageError
from ..engine.stage import Stage
from ..positions import position, total_products
from ..sites.protocol import Site
from ..sites.records import ListPage
from ..sites.response import Response
from ..stores.ledger import Ledger, LedgerFailure, LedgerPage
from ..stores.protocol import Store
from .http import Fetcher
from .list_reads import fingerprint
from .parsing import ParsePool
from .planner import PageJob, not_found

STAGE_NAMES = ("list_pages", "product_details", "validation", "saving")
"""The crawl's stages, in order (`CatalogueCrawl.stages`): a config can be checked against
them before anything is opened."""


class CatalogueCrawl:
    """Binds a site, a store, a fetcher and (if the store keeps one) the crawl ledger of
    session `session_id` into the four crawl stages. What flows through them is the site's own:
    its refs (`Site.ref`), its items (`Site.item`), judged by its rules (`Site.problems`)."""

    def __init__(
        self,
        site: Site[Any],
        store: Store,
        fetcher: Fetcher,
        ledger: Ledger | None = None,
        session_id: str = "",
        parser: ParsePool | None = None,
    ) -> None:
        self.site = site
        self.parser = parser or ParsePool(site)
        self.store = store
        self.fetcher = fetcher
        self.ledger = ledger
        self.session_id = session_id

    async def _fetch(self, url: str) -> Response:
        fetched = await self.fetcher.get(url)
        return Response(fetched.url, fetched.status, fetched.body, fetched.headers)

    async def fetch_list(self, page: int) -> ListPage:
        listing, _ = await self.read_list(page)
        return listing

    async def read_list(self, page: int) -> tuple[ListPage, int]:
        response = await self._fetch(self.site.list_url(page))
        return await self.parser.parse_list(response), fingerprint(response)

    async def read_list_again(self, page: int, known: int) -> tuple[ListPage | None, int]:
        response = await self._fetch(self.site.list_url(page))
        seen = fingerprint(response)
        if seen == known:
            return None, seen
        return await self.parser.parse_list(response), seen

    async def fetch_list_url(self, url: str) -> ListPage:
        return await self.parser.parse_list(await self._fetch(url))

    async def list_page(self, job: PageJob) -> list[Any]:
        refs = list(job.refs) if job.refs is not None else await self._read(job)
        if self.ledger is not None:
            shape = job.shape
            total = total_products(shape.last_page, shape.on_last, self.site.per_page)
            await self.ledger.page_listed(
                LedgerPage(job.page, job.url), refs, total, self.session_id
            )
        return refs

    async def _read(self, job: PageJob) -> list[Any]:
        """A page the planner could not read: its refs not stored yet, at free positions."""
        listing = await self.fetch_list(job.page)
        if listing.current != job.page:
            raise not_found(job.page, listing)
        site, shape = self.site, job.shape
        expected = shape.on_last if job.page == shape.last_page else site.per_page
        if len(listing.entries) != expected:
            raise StageError(
                ErrorKind.parse_error,
                f"list page {job.page} shows {len(listing.entries)} products, expected {expected}"
                " (a damaged page, or the catalogue changed during the crawl)",
            )
        refs = []
        for index, entry in enumerate(listing.entries):
            if entry.url in job.stored or (job.only is not None and entry.url not in job.only):
                continue
            page_id, index_in_page, product_id = position(
                job.page,
                index,
                last_page=shape.last_page,
                on_last=shape.on_last,
                per_page=site.per_page,
                ordering=site.ordering,
            )
            if page_id * site.per_page + index_in_page in job.held:
                continue
            refs.append(site.ref(entry, page_id, index_in_page, product_id))
        return refs

    async def product_details(self, ref: Any) -> Any:
        record = await self.parser.parse_detail(await self._fetch(ref.url))
        return self.site.item(ref, record)

    async def validation(self, item: Any) -> Any:
        found = self.site.problems(item)
        if found:
            raise StageError(ErrorKind.validation_error, f"{item.url}: {'; '.join(found)}")
        return item

    async def saving(self, items: Sequence[Any]) -> Sequence[Any]:
        if self.ledger is not None:
            await self.ledger.save_done(items, self.session_id)
        else:
            await self.store.save_products(items)
        return items

    async def record_failures(self, failed_items: Sequence[FailedItem]) -> None:
        """Keep the items the session gave up on in the ledger (a rerun crawls them again)."""
        if self.ledger is None:
            return
        failures = [f for f in map(ledger_failure, failed_items) if f is not None]
        await self.ledger.record_failures(failures, self.session_id)

    def stages(self) -> list[Stage]:
        return [
            Stage(
                "list_pages",
                self.list_page,
                fan_out=True,
                count_ok="pages_ok",
                count_failed="pages_failed",
            ),
            Stage("product_details", self.product_details, count_failed="products_failed"),
            Stage("validation", self.validation, drain=True, count_failed="products_failed"),
            Stage(
                "saving",
                self.saving,
                batched=True,
                drain=True,
                count_ok="products_saved",
                count_failed="products_failed",
            ),
        ]


def ledger_failure(failed: FailedItem) -> LedgerFailure | None:
    """The ledger's record of a failed list page or product (None for any other item)."""
    state: Literal["failed", "cancelled"] = (
        "cancelled" if failed.kind is ErrorKind.cancelled else "failed"
    )
    common: dict[str, Any] = {
        "state": state,
        "stage": failed.stage,
        "kind": failed.kind.value,
        "attempts": failed.attempts,
        "last_error": failed.last_error,
    }
    item = failed.item
    if isinstance(item, PageJob):
        return LedgerFailure(url=item.url, item="page", page=item.page, **common)
    # A site's item holds its ref; a ref has its url and position (Found, ProductRef, ...).
    ref = getattr(item, "ref", item)
    url, page_id = getattr(ref, "url", None), getattr(ref, "page_id", None)
    index_in_page = getattr(ref, "index_in_page", None)
    if not isinstance(url, str) or not isinstance(page_id, int):
        return None
    return LedgerFailure(
        url=url,
        item="product",
        page_id=page_id,
        index_in_page=index_in_page if isinstance(index_in_page, int) else None,
        **common,
    )
