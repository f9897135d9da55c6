"""The bookshop site's parser, on pages written by hand from the shop's description (not by the
demo's renderer), in ISO-8859-1 with the charset only in the Content-Type header."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from trio_crawl.engine import ErrorKind, StageError
from trio_crawl.sites import Card, Found, Ordering, Record, Response
from trio_crawl.sites.bookshop import Book, Bookshop, isbn13_valid

FIXTURES = Path(__file__).parent / "fixtures"
LATIN_1 = (("content-type", "text/html; charset=iso-8859-1"),)
SHOP = Bookshop("http://shop.test")


def response(name: str, url: str, headers: tuple[tuple[str, str], ...] = LATIN_1) -> Response:
    return Response(url, 200, (FIXTURES / name).read_bytes(), headers)


def test_the_shop_is_listed_oldest_first_ten_a_page_at_page_n() -> None:
    assert (SHOP.ordering, SHOP.per_page, SHOP.name) == (Ordering.oldest_first, 10, "books")
    assert SHOP.list_url(1) == "http://shop.test/books/?page=1"
    assert (
        Bookshop("http://shop.test/", path="/shop").list_url(3) == "http://shop.test/shop/?page=3"
    )
    with pytest.raises(ValueError):
        SHOP.list_url(0)


def test_a_list_page_gives_ten_cards_in_order_and_its_pager() -> None:
    listing = SHOP.parse_list(response("bookshop_list.html", "http://shop.test/books/?page=2"))
    assert (listing.current, listing.highest) == (2, 5)
    assert len(listing.entries) == 10
    first, second = listing.entries[:2]
    assert first == Card(
        "http://shop.test/books/item/cafe-de-flore-11/",
        {"title": "Café de Flore", "author": "Renée Müller", "price": "£12.34", "in_stock": True},
    )
    assert isinstance(second, Card)
    assert second.url == "http://shop.test/books/item/el-nino-12/"
    assert dict(second.fields) == {
        "title": "El Niño & the Sea",
        "author": "José Ñúñez",
        "price": "£7.05",
        "in_stock": False,
    }
    assert [card.url.rsplit("/", 2)[-2] for card in listing.entries[2:]] == [
        f"book-{n}" for n in range(13, 21)
    ]


def test_the_charset_in_the_header_decides_not_utf_8() -> None:
    # The same bytes read as UTF-8 (no header) lose every accented letter.
    wrong = SHOP.parse_list(response("bookshop_list.html", "http://shop.test/books/", headers=()))
    assert wrong.entries[0].fields["title"] != "Café de Flore"  # type: ignore[attr-defined]
    right = SHOP.parse_list(response("bookshop_list.html", "http://shop.test/books/"))
    assert right.entries[0].fields["title"] == "Café de Flore"  # type: ignore[attr-defined]


def test_a_detail_page_gives_every_fact_of_the_book() -> None:
    url = "http://shop.test/books/item/cafe-de-flore-11/"
    assert SHOP.parse_detail(response("bookshop_detail.html", url)) == Book(
        title="Café de Flore",
        author="Renée Müller",
        isbn="9780306406157",
        price_pence=1234,
        currency="GBP",
        available=True,
        copies=7,
        pages=320,
        published=datetime.date(2019, 5, 1),
        description="Ein Roman über Straße, Fjørd und Café.",
    )


def test_a_page_without_cards_is_a_parse_error_naming_the_url() -> None:
    closed = b"<html><body><p>Closed</p></body></html>"
    page = Response("http://shop.test/books/?page=2", 200, closed)
    with pytest.raises(StageError) as caught:
        SHOP.parse_list(page)
    assert caught.value.kind is ErrorKind.parse_error
    assert "layout not recognised: http://shop.test/books/?page=2" in caught.value.message


def test_a_pager_with_only_a_next_link_says_there_is_one_more_page() -> None:
    html = (FIXTURES / "bookshop_list.html").read_bytes().replace(b"Page 2 of 5", b"Page 2")
    listing = SHOP.parse_list(Response("http://shop.test/books/?page=2", 200, html, LATIN_1))
    assert (listing.current, listing.highest) == (2, 3)


@pytest.mark.parametrize(
    ("isbn", "valid"),
    [("9780306406157", True), ("9790000000001", True), ("9780306406158", False),
     ("1234567890123", False), ("978030640615", False), ("97803064061x7", False)],
)  # fmt: skip
def test_isbn13_check_digit(isbn: str, valid: bool) -> None:
    assert isbn13_valid(isbn) is valid


def test_the_shop_refuses_books_without_title_valid_isbn_or_price() -> None:
    found = Found("http://shop.test/books/item/x/", {}, 0, 0, "p0000i00")
    good = Book(title="T", isbn="9780306406157", price_pence=100)
    assert SHOP.problems(Record(found, good)) == []
    bad = Book(title=None, isbn="9780306406158", price_pence=0)
    assert SHOP.problems(Record(found, bad)) == [
        "title missing",
        "ISBN '9780306406158' is not a valid ISBN-13",
        "price 0 is not positive",
    ]
