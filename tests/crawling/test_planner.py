"""Last-page discovery and planning, against a fake catalogue that behaves like the live site:
pagination shows a window of numbers, and a page past the end quietly shows page 1."""

from __future__ import annotations

import pytest

from trio_crawl.crawling.last_page import CatalogueShape, find_last_page
from trio_crawl.engine import ErrorKind, StageError
from trio_crawl.sites.matter_rules import problems, validate
from trio_crawl.sites.records import ListEntry, ListPage, Product, ProductDetail, ProductRef


class FakeSite:
    """`pages` pages, `on_last` products on the last; pagination shows current±window and the
    highest number it chooses to reveal (`reveal`), like a WordPress window."""

    def __init__(self, pages: int, on_last: int, reveal: int | None = None, window: int = 2):
        self.pages, self.on_last, self.window = pages, on_last, window
        self.reveal = reveal
        self.fetched: list[int] = []

    async def fetch(self, page: int) -> ListPage:
        self.fetched.append(page)
        if page > self.pages or page < 1:
            page = 1  # past the end: the site shows page 1
        count = self.on_last if page == self.pages else 12
        entries = tuple(ListEntry(f"u{page}-{i}", "m", "x", "c") for i in range(count))
        highest = min(self.pages, page + self.window)
        if self.reveal is not None:
            highest = max(highest, min(self.reveal, self.pages))
        return ListPage(current=page, highest=highest, entries=entries)


async def test_the_last_page_is_found_in_one_jump_when_pagination_shows_it() -> None:
    site = FakeSite(482, 4, reveal=482)
    assert await find_last_page(site.fetch) == CatalogueShape(482, 4)
    assert site.fetched == [1, 482, 483]  # 483 confirms 482 is the last


async def test_a_sliding_window_is_followed_until_it_stops_growing() -> None:
    site = FakeSite(9, 7, window=2)
    assert await find_last_page(site.fetch) == CatalogueShape(9, 7)
    assert site.fetched == [1, 3, 5, 7, 9, 10]


async def test_a_jump_past_the_end_falls_back_to_binary_search() -> None:
    site = FakeSite(37, 5)
    original = site.fetch

    async def overclaiming(page: int) -> ListPage:
        listing = await original(page)
        return ListPage(listing.current, 64, listing.entries)

    assert await find_last_page(overclaiming) == CatalogueShape(37, 5)
    assert len(site.fetched) <= 2 + 7 + 1  # 1, 64, a binary search over 2..63, then 38


async def test_a_first_page_without_products_is_never_an_empty_catalogue() -> None:
    async def empty(page: int) -> ListPage:
        return ListPage(current=1, highest=None, entries=())

    with pytest.raises(StageError) as caught:
        await find_last_page(empty)
    assert caught.value.kind is ErrorKind.parse_error
    assert "last page 1 shows 0 products" in caught.value.message


def _product(**detail: object) -> Product:
    ref = ProductRef(
        "https://x/csa_product/a/", "Eve", "Door", "CSA22059MAT40059-24", 0, 0, "p0000i00"
    )
    fields: dict[str, object] = {
        "model": "Door",
        "manufacturer": "Eve",
        "certificate_id": "CSA22059MAT40059-24",
        "vid": 0x131B,
        "pid": 7,
    }
    fields.update(detail)
    return Product(ref, ProductDetail(url=ref.url, **fields))  # type: ignore[arg-type]


def test_a_complete_product_is_valid() -> None:
    product = _product()
    assert validate(product) is product


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"model": None}, "model missing"),
        ({"certificate_id": "CSA-bogus"}, "not of the form"),
        ({"certificate_id": "CSA22059MAT40060-24"}, "differs from the list page"),
        ({"vid": None}, "vid missing"),
        ({"pid": 0x1FFFF}, "outside"),
    ],
)
def test_invalid_products_fail_with_validation_error(
    change: dict[str, object], reason: str
) -> None:
    product = _product(**change)
    assert any(reason in problem for problem in problems(product))
    with pytest.raises(StageError) as caught:
        validate(product)
    assert caught.value.kind is ErrorKind.validation_error


@pytest.mark.parametrize("next_link_on_the_last", [False, True])
async def test_an_empty_page_past_the_end_is_the_end(next_link_on_the_last: bool) -> None:
    # A common site: past the end, a 200 page that says it is the page asked for, with no
    # cards. With a "next" link on every page (even the last) the walk lands on it too.
    async def fetch(page: int) -> ListPage:
        if page > 3:
            return ListPage(current=page, highest=page, entries=())
        count = 5 if page == 3 else 12
        entries = tuple(ListEntry(f"https://x.test/csa_product/{page}-{i}/", "m", "x", "c")
                        for i in range(count))  # fmt: skip
        highest = page + 1 if page < 3 or next_link_on_the_last else page
        return ListPage(current=page, highest=highest, entries=entries)

    assert await find_last_page(fetch, 12) == CatalogueShape(3, 5)
