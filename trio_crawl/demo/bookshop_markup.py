"""The bookshop's HTML, encoded in ISO-8859-1 without a ``<meta charset>``.

The point of this site is its charset: only the ``Content-Type`` header says ISO-8859-1, so a
crawler that guesses UTF-8 (or trusts a library default) misreads every accented title, and
the ``£`` of every price (byte 0xA3). Pure functions render a page to `str`;
`BookshopRenderer` encodes it. The markup follows the site's specification to the character,
including its indentation, though a parser must not depend on whitespace.

Choices the specification leaves open:

- The en dash (U+2013) in the page titles is not in Latin-1, so it is sent as the character
  reference ``&#8211;``; every other character is sent as its Latin-1 byte (``£``, ``é``,
  ``«``, …), never as a reference. Any character outside Latin-1 would be sent
  the same way as the dash, but the data has none.
- Text and attributes are escaped with `html.escape` (``&`` → ``&amp;``, ``'`` → ``&#x27;``,
  ``"`` → ``&quot;``).
- ``/books/about/`` (linked from the header and footer) is a short page; the 404 page is
  ``<h1>Not found</h1>`` in the same bare frame, served with the same charset.
- A "malformed" fault cuts a list page before its ``<ol class="books">`` (no cards, no pager)
  and a detail page before its ``<article``, as the Matter pages are cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final

from .bookshop import DemoBook, DemoBookshop
from .bookshop_urls import ABOUT_PATH, BOOKS_PATH, book_url

ENCODING: Final = "iso-8859-1"
CONTENT_TYPE: Final = f"text/html; charset={ENCODING}"
#: The separator in page titles, as the specification spells them (not a Latin-1 character).
DASH: Final = "\N{EN DASH}"

_LIST_OPEN: Final = '  <ol class="books">\n'
_DETAIL_OPEN: Final = '<article class="book-page">\n'


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        f"<html><head><title>{escape(title)}</title></head>\n"
        f"<body>\n{body}</body></html>\n"
    )


def _card(book: DemoBook) -> str:
    title = escape(book.title)
    href = escape(book_url("", book.slug))
    if book.in_stock:
        availability = '<p class="availability in-stock">In stock</p>'
    else:
        availability = '<p class="availability out-of-stock">Out of stock</p>'
    return (
        '    <li class="book">\n'
        '      <article class="book-card">\n'
        f'        <h3><a href="{href}" title="{title}">{title}</a></h3>\n'
        f'        <p class="author">by {escape(book.author)}</p>\n'
        f'        <p class="price">{escape(book.price_text)}</p>\n'
        f"        {availability}\n"
        "      </article>\n"
        "    </li>\n"
    )


def render_pager(current: int, last: int) -> str:
    """The ``ul.pager``: previous (unless on page 1), ``Page N of M``, next (unless last)."""
    lines = ['  <ul class="pager">\n']
    if current > 1:
        lines.append(f'    <li class="previous"><a href="?page={current - 1}">previous</a></li>\n')
    lines.append(f'    <li class="current">Page {current} of {last}</li>\n')
    if current < last:
        lines.append(f'    <li class="next"><a href="?page={current + 1}">next</a></li>\n')
    lines.append("  </ul>\n")
    return "".join(lines)


def render_list_page(books: Sequence[DemoBook], current: int, last: int) -> str:
    """List page `current` of `last`, showing `books` in catalogue order (oldest first)."""
    about = escape(ABOUT_PATH)
    return _page(
        f"Bookshop {DASH} page {current} of {last}",
        f'<header><a href="{escape(BOOKS_PATH)}">Bookshop</a> <a href="{about}">About</a>'
        "</header>\n"
        '<section class="catalogue">\n'
        + _LIST_OPEN
        + "".join(_card(book) for book in books)
        + "  </ol>\n"
        + render_pager(current, last)
        + "</section>\n"
        f'<footer><a href="{about}">About us</a></footer>\n',
    )


def render_detail_page(book: DemoBook) -> str:
    """A book's detail page: title, author, the facts table and the description."""
    facts = (
        ("ISBN", book.isbn),
        ("Price", book.price_text),
        ("Availability", book.availability_text),
        ("Pages", str(book.pages)),
        ("Published", book.published.isoformat()),
    )
    rows = "".join(
        f"    <tr><th>{escape(label)}</th><td>{escape(value)}</td></tr>\n" for label, value in facts
    )
    return _page(
        f"{book.title} {DASH} Bookshop",
        _DETAIL_OPEN + f"  <h1>{escape(book.title)}</h1>\n"
        f'  <p class="author">by {escape(book.author)}</p>\n'
        '  <table class="book-facts">\n'
        f"{rows}"
        "  </table>\n"
        f'  <p class="description">{escape(book.description)}</p>\n'
        "</article>\n",
    )


def render_not_found() -> str:
    """The bookshop's 404 page."""
    return _page(f"Not found {DASH} Bookshop", "<h1>Not found</h1>\n")


def render_about(shop: DemoBookshop) -> str:
    """The page the header's "About" links to."""
    return _page(
        f"About {DASH} Bookshop",
        "<h1>About the Bookshop</h1>\n"
        f"<p>{shop.total} books on {shop.last_page} pages, oldest first. "
        "Livres, Bücher, libros: we read them all.</p>\n"
        f'<p><a href="{escape(BOOKS_PATH)}">Browse the books</a></p>\n',
    )


def encode(page: str) -> bytes:
    """A rendered page as sent: ISO-8859-1, anything outside it as a character reference."""
    return page.encode(ENCODING, "xmlcharrefreplace")


class BookshopRenderer:
    """Renders one bookshop's pages as ISO-8859-1 bytes.

    Nothing is cached: a page holds ten cards, and rendering it costs less than the request.
    Links are root-relative, so the pages do not depend on the server's address.
    """

    def __init__(self, shop: DemoBookshop) -> None:
        self.shop = shop
        self._not_found = encode(render_not_found())

    def list_page(self, page: int) -> bytes | None:
        """List page `page`, or None if there is no such page (a 404)."""
        shop = self.shop
        if not 1 <= page <= shop.last_page:
            return None
        return encode(render_list_page(shop.page(page), page, shop.last_page))

    def detail_page(self, slug: str) -> bytes | None:
        """A book's detail page, or None for an unknown slug."""
        book = self.shop.find(slug)
        return None if book is None else encode(render_detail_page(book))

    def about(self) -> bytes:
        return encode(render_about(self.shop))

    def not_found(self) -> bytes:
        return self._not_found

    def malformed_list_page(self, page: int) -> bytes:
        """List page `page` cut off before its list of books: no cards, no pager."""
        body = self.list_page(page) or b""
        return body.partition(_LIST_OPEN.encode())[0]

    def malformed_detail_page(self, slug: str) -> bytes:
        """A detail page cut off before its article: no title, no facts."""
        body = self.detail_page(slug) or b""
        return body.partition(_DETAIL_OPEN.encode())[0]
