"""A bookshop catalogue: the worked example of a site of your own (see the README).

It differs from the Matter catalogue in every way a site can: books are listed **oldest first**
(new ones are appended after the last), 10 a page, at ``?page=N`` with a pager that says
"Page N of M" and links "previous" and "next"; a page past the end is a 404; pages are
ISO-8859-1 and say so only in the ``Content-Type`` header. Its records are `Book`s, stored by
the SQLite store in a table of their own (``books``), and it has rules of its own: a book
needs a title, a valid ISBN-13 and a price.

List page::

    ol.books > li.book > article.book-card
        h3 > a[href=/books/item/SLUG/][title]   p.author ("by …")   p.price ("£12.34")
        p.availability.in-stock | .out-of-stock
    ul.pager > li.previous > a, li.current ("Page N of M"), li.next > a

Detail page::

    article.book-page > h1, p.author, table.book-facts tr (th label, td value), p.description
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import urljoin

import attrs
from lxml import etree
from lxml.cssselect import CSSSelector

from ..errors import ErrorKind, StageError
from .base import SiteBase
from .html import elements as _elements
from .html import text as _text
from .protocol import Ordering
from .records import Card, ListPage, Record
from .response import Response

__all__ = ["Book", "Bookshop", "isbn13_valid"]

_CARDS: Final = CSSSelector("ol.books li.book article.book-card", translator="html")
_CURRENT: Final = CSSSelector("ul.pager li.current", translator="html")
_NEXT: Final = CSSSelector("ul.pager li.next a", translator="html")
_FACTS: Final = CSSSelector("table.book-facts tr", translator="html")
_PAGE_OF: Final = re.compile(r"page\s+(\d+)(?:\s+of\s+(\d+))?", re.I)
_PRICE: Final = re.compile(r"([£$€])?\s*(\d+)(?:[.,](\d{1,2}))?")
_COPIES: Final = re.compile(r"\((\d+)\s+available\)", re.I)
_CURRENCIES: Final[Mapping[str, str]] = {"£": "GBP", "$": "USD", "€": "EUR"}


@attrs.frozen
class Book:
    """What a book's page says about it. Missing values are None."""

    title: str | None
    author: str | None = None
    isbn: str | None = None
    price_pence: int | None = None
    """The price in the currency's hundredths (pence, cents): exact, unlike a float."""
    currency: str | None = None
    available: bool | None = None
    copies: int | None = None
    pages: int | None = None
    published: datetime.date | None = None
    description: str | None = None


def isbn13_valid(isbn: str) -> bool:
    """Whether `isbn` is 13 digits starting 978 or 979 with a right check digit."""
    if len(isbn) != 13 or not isbn.isdigit() or isbn[:3] not in ("978", "979"):
        return False
    total = sum(int(digit) * (3 if i % 2 else 1) for i, digit in enumerate(isbn[:12]))
    return (10 - total % 10) % 10 == int(isbn[12])


class Bookshop(SiteBase[Book]):
    """The bookshop at `base_url`, its catalogue under `path` (``/books/``)."""

    name = "books"
    record_type = Book
    per_page = 10
    ordering = Ordering.oldest_first

    def __init__(self, base_url: str, path: str = "/books/") -> None:
        super().__init__(base_url)
        if not path.startswith("/"):
            raise ValueError(f"the shop's path must start with '/', not {path!r}")
        self.path = path if path.endswith("/") else path + "/"

    def list_url(self, page: int) -> str:
        if page < 1:
            raise ValueError(f"list pages are numbered from 1, not {page}")
        return f"{self.base_url}{self.path}?page={page}"

    def parse_list(self, response: Response) -> ListPage:
        root = _document(response)
        cards = [_card(article, response.url) for article in _elements(_CARDS(root))]
        current = highest = None
        for element in _elements(_CURRENT(root)):
            match = _PAGE_OF.search(_text(element))
            if match:
                current = int(match.group(1))
                highest = int(match.group(2)) if match.group(2) else current
        if current is not None and _elements(_NEXT(root)):
            highest = max(highest or current, current + 1)
        if not cards:
            raise StageError(
                ErrorKind.parse_error,
                f"layout not recognised: {response.url} (no ol.books li.book article.book-card)",
            )
        return ListPage(current=current, highest=highest, entries=tuple(cards))

    def parse_detail(self, response: Response) -> Book:
        root = _document(response)
        page = root.find(".//article[@class='book-page']")
        if page is None:
            raise StageError(ErrorKind.parse_error, f"{response.url}: no article.book-page")
        facts = {}
        for row in _elements(_FACTS(page)):
            label, value = row.find("th"), row.find("td")
            if label is not None and value is not None:
                facts[_text(label).lower()] = _text(value)
        title = page.find("h1")
        price = _price(facts.get("price"), response.url)
        availability = facts.get("availability", "")
        copies = _COPIES.search(availability)
        return Book(
            title=_text(title) if title is not None else None,
            author=_author(page.find("p[@class='author']")),
            isbn=facts.get("isbn") or None,
            price_pence=price[0] if price else None,
            currency=price[1] if price else None,
            available=availability.lower().startswith("in stock") if availability else None,
            copies=int(copies.group(1)) if copies else (0 if availability else None),
            pages=_number(facts.get("pages"), "pages", response.url),
            published=_date(facts.get("published"), response.url),
            description=_optional_text(page.find("p[@class='description']")),
        )

    def problems(self, item: Record[Book]) -> list[str]:
        book = item.data
        found = []
        if not book.title:
            found.append("title missing")
        if not book.isbn:
            found.append("ISBN missing")
        elif not isbn13_valid(book.isbn):
            found.append(f"ISBN {book.isbn!r} is not a valid ISBN-13")
        if book.price_pence is None:
            found.append("price missing")
        elif book.price_pence <= 0:
            found.append(f"price {book.price_pence} is not positive")
        return found


def _document(response: Response) -> etree._Element:
    # The text is decoded with the header's charset (ISO-8859-1 here): lxml gets characters.
    root = etree.HTML(response.text)
    if root is None:
        raise StageError(ErrorKind.parse_error, f"{response.url}: empty document")
    return root


def _optional_text(element: etree._Element | None) -> str | None:
    return (_text(element) or None) if element is not None else None


def _author(element: etree._Element | None) -> str | None:
    text = _optional_text(element)
    if text and text.lower().startswith("by "):
        text = text[3:].strip()
    return text or None


def _card(article: etree._Element, page_url: str) -> Card:
    link = article.find(".//h3/a[@href]")
    if link is None:
        raise StageError(ErrorKind.parse_error, f"{page_url}: a book card without a link")
    fields = {
        "title": link.get("title") or _text(link),
        "author": _author(article.find("p[@class='author']")),
        "price": _optional_text(article.find("p[@class='price']")),
        "in_stock": _in_stock(article),
    }
    return Card(urljoin(page_url, link.get("href", "")), fields)


def _in_stock(article: etree._Element) -> bool:
    for paragraph in article.iter("p"):
        if "availability" in (paragraph.get("class") or "").split():
            return "in-stock" in (paragraph.get("class") or "").split()
    return False


def _price(text: str | None, url: str) -> tuple[int, str | None] | None:
    if not text:
        return None
    match = _PRICE.search(text)
    if match is None:
        raise StageError(ErrorKind.parse_error, f"{url}: price {text!r} is not a price")
    symbol, units, hundredths = match.groups()
    pence = int(units) * 100 + int((hundredths or "0").ljust(2, "0"))
    return pence, _CURRENCIES.get(symbol) if symbol else None


def _number(text: str | None, field: str, url: str) -> int | None:
    if not text:
        return None
    if not text.strip().isdigit():
        raise StageError(ErrorKind.parse_error, f"{url}: {field} {text!r} is not a number")
    return int(text)


def _date(text: str | None, url: str) -> datetime.date | None:
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text.strip())
    except ValueError:
        raise StageError(
            ErrorKind.parse_error, f"{url}: published {text!r} is not a date"
        ) from None
