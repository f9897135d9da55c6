"""The crawl's stage bodies, plugged into the engine: list pages → product refs → products →
validated products → saved. Each body does one item's work and raises `StageError`; retries,
timeouts, partial failure and events come from the engine."""

from __future__ import annotations

from collections.abc import Sequence

from ..engine.results import ErrorKind, StageError
from ..engine.stage import Stage
from ..sites.protocol import Site
from ..sites.records import ListPage, Product, ProductRef
from ..stores.protocol import Store
from .http import Fetcher
from .planner import PageJob, not_found
from .positions import position
from .validation import validate


class CatalogueCrawl:
    """Binds a site, a store and a fetcher into the four crawl stages."""

    def __init__(self, site: Site, store: Store, fetcher: Fetcher) -> None:
        self.site = site
        self.store = store
        self.fetcher = fetcher

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
        return refs

    async def product_details(self, ref: ProductRef) -> Product:
        fetched = await self.fetcher.get(ref.url)
        return Product(ref, self.site.parse_detail(fetched.body, fetched.url))

    async def validation(self, product: Product) -> Product:
        return validate(product)

    async def saving(self, products: Sequence[Product]) -> Sequence[Product]:
        await self.store.save_products(products)
        return products

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
