"""Where a product sits in the catalogue, and which list pages to crawl
(docs/architecture.md §6). Pure maths, below both the crawl, which computes positions, and the
store's status read model, which turns them back into site pages; so neither imports the other.

The site lists products newest first, so a product's site page and index move every time a new
product is certified. Its *position* is counted from the other end instead — the oldest product
is page_id 0, index_in_page 0 — and so never changes::

    site page:       1 (newest)  2  …  last_page - 1   last_page (oldest, `on_last` products)
    oldest index:    total - 1   …                      0
    position:        page_id = oldest index // per_page, index_in_page = oldest index % per_page

Positions fill up in runs of `per_page`, like the site's pages, but aligned to the oldest end:
one position page usually straddles two site pages.

A site listed oldest first (``oldest_first``) needs no such turn: its listing order is already
counted from the oldest, so page_id and index_in_page are the site's own page (minus one) and
index. An ``unordered`` site is counted the same way, in the order of the crawl's own reading.
Every function takes the site's `ordering` (default ``newest_first``, the Matter catalogue).
"""

from __future__ import annotations

from collections.abc import Container

__all__ = [
    "STRATEGIES",
    "oldest_index_of",
    "oldest_indexes_on",
    "oldest_pages_first",
    "pages_with_work",
    "plan_pages",
    "position",
    "site_page_of",
    "total_products",
]

STRATEGIES = ("continue_from_db", "newest_first", "full")
"""The crawl strategies `plan_pages` understands."""


def total_products(last_page: int, on_last: int, per_page: int = 12) -> int:
    """How many products a catalogue of `last_page` pages with `on_last` on the last one holds."""
    _check_shape(last_page, on_last, per_page)
    return (last_page - 1) * per_page + on_last


NEWEST_FIRST = "newest_first"


def position(
    page: int,
    index_on_page: int,
    *,
    last_page: int,
    on_last: int,
    per_page: int = 12,
    ordering: str = NEWEST_FIRST,
) -> tuple[int, int, str]:
    """The stable (page_id, index_in_page, id) of the product shown at `index_on_page` (from 0)
    of site page `page` (from 1).

    Raises ValueError if the catalogue has no product there.
    """
    total = total_products(last_page, on_last, per_page)
    on_page = on_last if page == last_page else per_page
    if not 1 <= page <= last_page or not 0 <= index_on_page < on_page:
        raise ValueError(
            f"no product at page {page}, index {index_on_page}: the catalogue has "
            f"{last_page} pages of {per_page}, {on_last} on the last"
        )
    listed = (page - 1) * per_page + index_on_page
    oldest = total - 1 - listed if ordering == NEWEST_FIRST else listed
    page_id, index_in_page = divmod(oldest, per_page)
    return page_id, index_in_page, f"p{page_id:04d}i{index_in_page:02d}"


def oldest_index_of(page_id: int, index_in_page: int, per_page: int = 12) -> int:
    """The product's index counted from the oldest (0), given its stable position."""
    if per_page < 1:
        raise ValueError(f"per_page must be at least 1, not {per_page}")
    if page_id < 0 or not 0 <= index_in_page < per_page:
        raise ValueError(f"({page_id}, {index_in_page}) is not a position with {per_page} a page")
    return page_id * per_page + index_in_page


def site_page_of(
    oldest_index: int,
    *,
    last_page: int,
    on_last: int,
    per_page: int = 12,
    ordering: str = NEWEST_FIRST,
) -> tuple[int, int]:
    """Where the site currently shows the product with this oldest index: (page, index_on_page).

    The inverse of `position`. Raises ValueError if the catalogue has no such product.
    """
    total = total_products(last_page, on_last, per_page)
    if not 0 <= oldest_index < total:
        raise ValueError(f"no product with oldest index {oldest_index}: the catalogue has {total}")
    listed = total - 1 - oldest_index if ordering == NEWEST_FIRST else oldest_index
    page, index_on_page = divmod(listed, per_page)
    return page + 1, index_on_page


def oldest_indexes_on(
    page: int,
    *,
    last_page: int,
    on_last: int,
    per_page: int = 12,
    ordering: str = NEWEST_FIRST,
) -> range:
    """The oldest indexes of the products site page `page` shows, in the page's order."""
    total = total_products(last_page, on_last, per_page)
    if not 1 <= page <= last_page:
        raise ValueError(f"no page {page}: the catalogue has {last_page} pages")
    if ordering != NEWEST_FIRST:
        return range((page - 1) * per_page, min(total, page * per_page))
    newest = total - 1 - (page - 1) * per_page
    return range(newest, max(newest - per_page, -1), -1)


def oldest_pages_first(last_page: int, ordering: str = NEWEST_FIRST) -> range:
    """Site pages from the one showing the oldest products to the one showing the newest."""
    if ordering == NEWEST_FIRST:
        return range(last_page, 0, -1)
    return range(1, last_page + 1)


def pages_with_work(
    *,
    last_page: int,
    on_last: int,
    per_page: int = 12,
    done: Container[int],
    ordering: str = NEWEST_FIRST,
) -> list[int]:
    """Every site page showing a product whose oldest index is not in `done`, oldest page
    first: the pages with holes below the newest done product come first, then the pages
    toward the newest. An ``unordered`` site's positions say nothing about what a page shows
    now: every page has work."""
    pages = oldest_pages_first(last_page, ordering)
    if ordering == "unordered":
        return list(pages)
    return [
        page
        for page in pages
        if any(
            index not in done
            for index in oldest_indexes_on(
                page, last_page=last_page, on_last=on_last, per_page=per_page, ordering=ordering
            )
        )
    ]


def plan_pages(
    strategy: str,
    *,
    last_page: int,
    on_last: int,
    per_page: int = 12,
    limit: int,
    newest_stored: int | None = None,
    done: Container[int] | None = None,
    ordering: str = NEWEST_FIRST,
) -> list[int]:
    """The site pages to crawl, in crawl order.

    - ``continue_from_db``: up to `limit` pages holding a product not done yet, oldest first
      (`pages_with_work`). What is done is `done` (oldest indexes, from the crawl ledger); without
      it, every product up to `newest_stored` (an oldest index) counts as done, as when a store
      has no ledger. Nothing done: the oldest `limit` pages. Everything done → ``[]``.
    - ``newest_first``: the `limit` pages showing the newest products, newest first (pages
      1 .. min(limit, last_page) of a site listed newest first).
    - ``full``: every page, oldest first; `limit` is ignored.

    Raises ValueError for an unknown strategy or an impossible catalogue shape.
    """
    total_products(last_page, on_last, per_page)
    if limit < 0:
        raise ValueError(f"limit must not be negative, not {limit}")
    oldest_first = oldest_pages_first(last_page, ordering)
    if strategy == "full":
        return list(oldest_first)
    if strategy == "newest_first":
        return list(reversed(oldest_first))[:limit]
    if strategy != "continue_from_db":
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
    if done is None:
        if newest_stored is not None and newest_stored < 0:
            raise ValueError(f"newest_stored must be an oldest index (>= 0), not {newest_stored}")
        done = range(0 if newest_stored is None else newest_stored + 1)
    pages = pages_with_work(
        last_page=last_page, on_last=on_last, per_page=per_page, done=done, ordering=ordering
    )
    return pages[:limit]


def _check_shape(last_page: int, on_last: int, per_page: int) -> None:
    if per_page < 1:
        raise ValueError(f"per_page must be at least 1, not {per_page}")
    if last_page < 1:
        raise ValueError(f"last_page must be at least 1, not {last_page}")
    # Only a one-page catalogue may be empty; any other last page holds at least one product.
    lowest = 0 if last_page == 1 else 1
    if not lowest <= on_last <= per_page:
        raise ValueError(
            f"on_last must be between {lowest} and {per_page} with {last_page} pages, not {on_last}"
        )
