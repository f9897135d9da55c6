"""The status check: where a paginated catalogue ends, and how many products its last page shows.

Last-page discovery: follow the highest number in the pagination until it stops
growing, and believe a page only if it says it is the page asked for (past the end the site
quietly shows another page, or an empty one; a page without readable cards is a parse error,
retried under the `status_check` policy, never the end). If a jump lands past the end, a binary
search between the last real page and that one finds the end. Whichever way it was found, the
answer is confirmed before any position is computed from it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs

from ..engine.results import ErrorKind, StageError
from ..sites.records import ListPage

FetchList = Callable[[int], Awaitable[ListPage]]


@attrs.frozen
class CatalogueShape:
    """What the status check found: the last page and how many products it shows."""

    last_page: int
    on_last: int


def shows(listing: ListPage, page: int) -> bool:
    """Whether `listing` is page `page` itself. Past the end the site answers with another
    page (its `current` differs) or with a page of no cards (an empty 200 page); that is what
    "past the end" means. A page whose cards cannot be read never gets here: the parser refuses
    it as a parse error."""
    if page > 1 and not listing.entries:
        return False
    if listing.current is None:
        # No pagination at all: a catalogue of one page, which is page 1 and nothing else.
        return page == 1 and listing.highest is None
    return listing.current == page


def shape_error(message: str) -> StageError:
    return StageError(ErrorKind.parse_error, f"catalogue shape not confirmed: {message}")


async def find_last_page(fetch_list: FetchList, per_page: int = 12) -> CatalogueShape:
    """Discover the last page with as few requests as the pagination allows, then confirm it.

    Raises `StageError(parse_error)` when the pages disagree about the shape: a wrong shape
    shifts every position computed from it, so doubt ends the session rather than guessing.
    """
    first = await fetch_list(1)
    if not shows(first, 1):
        raise shape_error(f"list page 1 shows page {first.current}")
    last, last_listing = 1, first
    highest = first.highest or 1
    while highest > last:
        listing = await fetch_list(highest)
        if not shows(listing, highest):
            last, last_listing = await _search(fetch_list, last, last_listing, highest)
            break
        last, last_listing = highest, listing
        highest = max(listing.highest or highest, highest)
    await _confirm(fetch_list, first, last, last_listing, per_page)
    return CatalogueShape(last, len(last_listing.entries))


async def _search(
    fetch_list: FetchList, low: int, low_listing: ListPage, high: int
) -> tuple[int, ListPage]:
    """Binary search for the last real page in (low, high), `low` real and `high` not."""
    while high - low > 1:
        middle = (low + high) // 2
        listing = await fetch_list(middle)
        if shows(listing, middle):
            low, low_listing = middle, listing
        else:
            high = middle
    return low, low_listing


async def _confirm(
    fetch_list: FetchList, first: ListPage, last: int, listing: ListPage, per_page: int
) -> None:
    """The last page holds 1..per_page products, page 1 is full if it is not the last, and the
    page after the last comes back as past the end (the site's word, whatever its pagination
    claimed on the way)."""
    on_last = len(listing.entries)
    if not 1 <= on_last <= per_page:
        raise shape_error(f"last page {last} shows {on_last} products (1..{per_page} expected)")
    if last > 1 and len(first.entries) != per_page:
        raise shape_error(
            f"page 1 shows {len(first.entries)} products, but {last} pages need {per_page} on it"
        )
    after = await fetch_list(last + 1)
    if shows(after, last + 1):
        raise shape_error(
            f"page {last + 1} exists, but page {last} was taken for the last"
            " (a page misread during the search, or the catalogue grew meanwhile)"
        )
    if after.current == last and after.entries != listing.entries:
        raise shape_error(
            f"page {last + 1} shows page {last}, but with other products than page {last} itself"
        )
