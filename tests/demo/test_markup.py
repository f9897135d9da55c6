"""The demo pages' markup, read with lxml the way docs/architecture.md §6 describes it."""

from __future__ import annotations

import itertools

import attrs
import lxml.html
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_crawl.demo import DemoCatalogue, Markup, Renderer, detail_url, list_url
from trio_crawl.demo.markup import (
    pagination_items,
    render_detail_page,
    render_list_page,
    render_pagination,
)

BASE = "http://127.0.0.1:9"
QUERY = (
    "?p_keywords=&p_type%5B0%5D=14&p_program_type%5B0%5D=1049&p_certificate=&p_family="
    "&p_firmware_ver="
)


def test_urls_use_the_live_scheme() -> None:
    assert list_url(BASE, 1) == f"{BASE}/csa-iot_products/{QUERY}"
    assert list_url(BASE, 7) == f"{BASE}/csa-iot_products/page/7/{QUERY}"
    assert detail_url(BASE, "eve-energy-3") == f"{BASE}/csa_product/eve-energy-3/"


@pytest.mark.parametrize(
    ("current", "last", "expected"),
    [
        (1, 1, [1]),
        (1, 9, [1, 2, 3, 0, 9]),
        (5, 9, [1, 0, 3, 4, 5, 6, 7, 0, 9]),
        (4, 9, [1, 2, 3, 4, 5, 6, 0, 9]),
        (9, 9, [1, 0, 7, 8, 9]),
        (3, 5, [1, 2, 3, 4, 5]),
        (240, 482, [1, 0, 238, 239, 240, 241, 242, 0, 482]),
    ],
)
def test_pagination_matches_wordpress_paginate_links(
    current: int, last: int, expected: list[int]
) -> None:
    assert pagination_items(current, last) == expected


@given(st.integers(1, 600).flatmap(lambda last: st.tuples(st.integers(1, last), st.just(last))))
def test_pagination_always_shows_both_ends_and_the_current_page(pages: tuple[int, int]) -> None:
    current, last = pages
    items = pagination_items(current, last)
    numbers = [n for n in items if n]
    assert {1, current, last} <= set(numbers)
    assert numbers == sorted(set(numbers))
    for before, after in itertools.pairwise(items):
        assert not (before == 0 and after == 0)
        if before and after:
            assert after == before + 1
        if before and after == 0:
            assert before + 1 not in numbers


def _wordpress_loop(current: int, last: int, end_size: int, mid_size: int) -> list[int]:
    """paginate_links()' own loop over every page number, as a reference."""
    items: list[int] = []
    dots = False
    for n in range(1, last + 1):
        near = n <= end_size or n > last - end_size or current - mid_size <= n <= current + mid_size
        if n == current or near:
            items.append(n)
            dots = True
        elif dots:
            items.append(0)
            dots = False
    return items


@given(
    pages=st.integers(1, 300).flatmap(lambda last: st.tuples(st.integers(1, last), st.just(last))),
    end_size=st.integers(0, 3),
    mid_size=st.integers(0, 4),
)
def test_pagination_equals_the_wordpress_loop(
    pages: tuple[int, int], end_size: int, mid_size: int
) -> None:
    current, last = pages
    expected = _wordpress_loop(current, last, end_size, mid_size)
    assert pagination_items(current, last, end_size, mid_size) == expected


def _doc(html: str | bytes) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(html)


def test_pagination_markup_has_links_gaps_and_the_current_page() -> None:
    doc = _doc(render_pagination(BASE, 5, 9))
    links = doc.cssselect("a.page-numbers")
    assert [a.text_content() for a in links] == [
        "« Previous", "1", "3", "4", "6", "7", "9", "Next »",
    ]  # fmt: skip
    assert links[1].get("href") == list_url(BASE, 1)
    assert links[-2].get("href") == list_url(BASE, 9)
    assert doc.cssselect("a.next.page-numbers")[0].get("href") == list_url(BASE, 6)
    assert doc.cssselect("a.prev.page-numbers")[0].get("href") == list_url(BASE, 4)
    [current] = doc.cssselect("span.page-numbers.current")
    assert (current.text_content(), current.get("aria-current")) == ("5", "page")
    assert [s.text_content() for s in doc.cssselect("span.page-numbers.dots")] == ["…", "…"]


def test_first_and_last_pages_have_no_previous_or_next() -> None:
    assert not _doc(render_pagination(BASE, 1, 9)).cssselect("a.prev")
    assert not _doc(render_pagination(BASE, 9, 9)).cssselect("a.next")


# Each layout's card and text paths, spelled out as docs/architecture.md §6 describes the site
# (written from the design, not from the renderer, so a renderer that drifts from the site fails
# here).
CARD_PATHS = {
    Markup.nested: (
        "div.post-feed.item-count-3 > div.inner > article.product.type-product",
        "a > div.inner > div.contents > ",
    ),
    Markup.block: (".wp-block-crown-blocks-product-index article.product", "a "),
    Markup.flat: ("div.post-feed > article.product.type-product", "a "),
}


@pytest.mark.parametrize("markup", list(Markup))
def test_list_page_cards_carry_company_model_certificate_and_link(markup: Markup) -> None:
    catalogue = DemoCatalogue(40, seed=4)
    products = catalogue.page(2)
    doc = _doc(render_list_page(BASE, products, 2, catalogue.last_page, markup))
    card_path, text_path = CARD_PATHS[markup]
    articles = doc.cssselect(card_path)
    assert len(articles) == len(products) == 12
    for article, product in zip(articles, products, strict=True):
        [link] = article.cssselect("a[href]")
        assert link.get("href") == detail_url(BASE, product.slug)
        [company] = article.cssselect(f"{text_path}p.entry-company")
        assert company.text_content() == product.manufacturer
        assert article.cssselect(f"{text_path}h3.entry-title")[0].text_content() == product.model
        certificate = article.cssselect(f"{text_path}p.entry-certificate-id")[0].text_content()
        assert certificate == f"Certificate ID: {product.certificate_id}"
    # The footer's news widget has its own h3.entry-title, outside the feed.
    assert len(doc.cssselect("h3.entry-title")) > len(articles)


def test_detail_page_shows_every_field_in_rows_or_table() -> None:
    catalogue = DemoCatalogue(400, seed=7)
    with_table = [p for p in catalogue if p.table_fields]
    assert with_table
    for product in (*with_table[:5], catalogue.by_serial(0)):
        doc = _doc(render_detail_page(BASE, product))
        assert doc.cssselect("h1.entry-title")[0].text_content() == product.model
        assert doc.cssselect("p.entry-company")[0].text_content() == product.manufacturer
        assert doc.cssselect("h6.entry-category")[0].text_content() == product.device_type
        items = {
            label.text_content(): value.text_content()
            for li in doc.cssselect("div.entry-product-details li.item")
            for label, value in [(li.cssselect("span.label")[0], li.cssselect("span.value")[0])]
        }
        table = {
            tr.cssselect("th")[0].text_content(): tr.cssselect("td")[0].text_content()
            for tr in doc.cssselect("table.product-certificates-table tr")
        }
        assert set(table) == set(product.table_fields)
        assert not set(items) & set(table)
        assert items | table == dict(product.rows())


def test_text_is_escaped() -> None:
    product = attrs.evolve(
        DemoCatalogue(1).by_serial(0),
        model='Hue <White> & "Color" A19',
        manufacturer="AT&T <Labs>",
    )
    html = render_detail_page(BASE, product)
    assert "<White>" not in html and "AT&T" not in html
    doc = _doc(html)
    assert doc.cssselect("h1.entry-title")[0].text_content() == product.model
    assert doc.cssselect("p.entry-company")[0].text_content() == product.manufacturer
    page = _doc(render_list_page(BASE, [product], 1, 1))
    assert page.cssselect("div.post-feed h3.entry-title")[0].text_content() == product.model


def test_renderer_shows_page_one_past_the_end_and_refreshes_after_publish() -> None:
    catalogue = DemoCatalogue(30, seed=2)
    renderer = Renderer(catalogue, BASE + "/")
    assert renderer.base_url == BASE
    assert renderer.list_page(4) == renderer.list_page(1) == renderer.list_page(0)
    assert renderer.list_page(3) != renderer.list_page(1)
    newest = catalogue.publish(7)[0]
    assert newest.slug.encode() in renderer.list_page(1)
    assert renderer.list_page(4) != renderer.list_page(1)  # 37 products: a fourth page


def test_renderer_caches_are_bounded() -> None:
    catalogue = DemoCatalogue(500, seed=2)
    renderer = Renderer(catalogue, BASE, max_list_pages=3, max_details=5)
    for page in range(1, 20):
        renderer.list_page(page)
    for product in catalogue:
        assert renderer.detail_page(product.slug) is not None
    assert len(renderer._lists) == 3 and len(renderer._details) == 5
    assert renderer.detail_page("no-such-product-1") is None


def test_malformed_pages_lack_what_a_parser_needs() -> None:
    catalogue = DemoCatalogue(30, seed=2)
    renderer = Renderer(catalogue, BASE)
    broken_list = _doc(renderer.malformed_list_page(2))
    assert not broken_list.cssselect("div.post-feed") and not broken_list.cssselect(".page-numbers")
    slug = catalogue.by_serial(3).slug
    broken = renderer.malformed_detail_page(slug)
    assert broken is not None
    doc = _doc(broken)
    assert not doc.cssselect("h1.entry-title") and not doc.cssselect("li.item")
    assert renderer.malformed_detail_page("missing-1") is None
