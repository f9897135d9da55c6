"""The crawl's stage bodies, plugged into the engine: list pages → product refs → products →
validated products → saved. Each body does one item's work and raises `StageError`; retries,
timeouts, partial failure and events come from the engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from ..engine.results import ErrorKind, FailedItem, StageError
from ..engine.stage import Stage
from ..sites.protocol import Site
from ..sites.records import ListPage, Product, ProductRef
from ..stores.ledger import Ledger, LedgerFailure, LedgerPage
from ..stores.protocol import Store
from .http import Fetcher
from .planner import PageJob, not_found
from .positions import oldest_index_of, position, total_products
from .validation import validate


class CatalogueCrawl:
    """Binds a site, a store, a fetcher and (if the store keeps one) the crawl ledger of
    session `session_id` into the four crawl stages."""

    def __init__(
        self,
        site: Site,
        store: Store,
        fetcher: Fetcher,
        ledger: Ledger | None = None,
        session_id: str = "",
    ) -> None:
        self.site = site
        self.store = store
        self.fetcher = fetcher
        self.ledger = ledger
        self.session_id = session_id

    async def fetch_list(self, page: int) -> ListPage:
        fetched = await self.fetcher.get(self.site.list_url(page))
        return self.site.parse_list(fetched.body, fetched.url)

    async def list_page(self, job: PageJob) -> list[ProductRef]:
        listing = await self.fetch_list(job.page)
        if listing.current != job.page:
            raise not_found(job.page, listing)
        shape = job.shape
        expected = shape.on_last if job.page == shape.last_page else self.site.per_page
        if len(listing.entries) != expected:
            raise StageError(
                ErrorKind.parse_error,
                f"list page {job.page} shows {len(listing.entries)} products, expected {expected}"
                " (a damaged page, or the catalogue changed during the crawl)",
            )
        refs = []
        for index, entry in enumerate(listing.entries):
            page_id, index_in_page, product_id = position(
                job.page,
                index,
                last_page=shape.last_page,
                on_last=shape.on_last,
                per_page=self.site.per_page,
            )
            refs.append(
                ProductRef(
                    entry.url,
                    entry.manufacturer,
                    entry.model,
                    entry.certificate_id,
                    page_id,
                    index_in_page,
                    product_id,
                )
            )
        if job.done:
            per_page = self.site.per_page
            refs = [
                ref
                for ref in refs
                if (oldest_index_of(ref.page_id, ref.index_in_page, per_page), ref.url)
                not in job.done
            ]
        if self.ledger is not None:
            total = total_products(shape.last_page, shape.on_last, self.site.per_page)
            await self.ledger.page_listed(
                LedgerPage(job.page, job.url), refs, total, self.session_id
            )
        return refs

    async def product_details(self, ref: ProductRef) -> Product:
        fetched = await self.fetcher.get(ref.url)
        return Product(ref, self.site.parse_detail(fetched.body, fetched.url))

    async def validation(self, product: Product) -> Product:
        return validate(product)

    async def saving(self, products: Sequence[Product]) -> Sequence[Product]:
        if self.ledger is not None:
            await self.ledger.save_done(products, self.session_id)
        else:
            await self.store.save_products(products)
        return products

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
    ref = item.ref if isinstance(item, Product) else item
    if isinstance(ref, ProductRef):
        return LedgerFailure(
            url=ref.url,
            item="product",
            page_id=ref.page_id,
            index_in_page=ref.index_in_page,
            **common,
        )
    return None
