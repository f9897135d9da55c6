"""The bookshop's URL grammar: which request targets it answers, and how it spells its links.

Pure functions, no I/O, so that the server's routing is tested without a socket. The site:

- ``/books/?page=N`` (N ≥ 1) is list page N and ``/books/`` is page 1; other query parameters
  are ignored;
- ``/books/item/SLUG/`` is a detail page; ``/books/about/`` is the page the header links to.

Choices the specification leaves open:

- ``/books``, ``/books/item/SLUG`` and ``/books/about`` (no trailing slash) are the same as
  with the slash, as the Matter routes are; any query string is ignored except on list pages.
- Only the first ``page`` parameter counts. Its value (percent-decoded) must be an optional
  ``-`` and ASCII digits; leading zeros are allowed (``?page=02`` is page 2). Anything else
  (``?page=``, ``?page``, ``?page=+2``, ``?page=2.0``) is "not a number", a 404. So are more
  than 9 digits (far past any last page), which also keeps ``int()`` cheap.
- Any other path under ``/books/`` is a 404.
"""

from __future__ import annotations

import re
from typing import Final, Literal
from urllib.parse import parse_qs

import attrs

BOOKS_PATH: Final = "/books/"
ITEM_PATH: Final = "/books/item/"
ABOUT_PATH: Final = "/books/about/"

_PAGE_VALUE: Final = re.compile(r"-?[0-9]{1,9}")


@attrs.frozen
class BookRequest:
    """What a request target under ``/books`` asks for.

    `kind` is ``list`` (then `page` is the page number asked for, None if not a number),
    ``detail`` (then `slug` is set), ``about``, or ``missing`` (nothing lives there: a 404).
    """

    kind: Literal["list", "detail", "about", "missing"]
    page: int | None = None
    slug: str | None = None


def book_list_url(base_url: str, page: int) -> str:
    """The URL of list page `page` (1 = oldest books)."""
    return f"{base_url}{BOOKS_PATH}?page={page}"


def book_url(base_url: str, slug: str) -> str:
    """The URL of a book's detail page; with ``base_url=""`` the root-relative link."""
    return f"{base_url}{ITEM_PATH}{slug}/"


def requested_page(query: str) -> int | None:
    """The page a list URL's query string asks for: 1 without ``page``, None if not a number."""
    values = parse_qs(query, keep_blank_values=True).get("page")
    if not values:
        return 1
    value = values[0]
    if _PAGE_VALUE.fullmatch(value) is None:
        return None
    return int(value)


def route_books(path: str, query: str = "") -> BookRequest | None:
    """What `path` (and its `query`) asks the bookshop for; None if not a bookshop path."""
    if path in (BOOKS_PATH, BOOKS_PATH[:-1]):
        return BookRequest("list", page=requested_page(query))
    if not path.startswith(BOOKS_PATH):
        return None
    if path in (ABOUT_PATH, ABOUT_PATH[:-1]):
        return BookRequest("about")
    if path.startswith(ITEM_PATH):
        slug = path[len(ITEM_PATH) :].removesuffix("/")
        if slug and "/" not in slug and slug.isascii():
            return BookRequest("detail", slug=slug)
    return BookRequest("missing")
