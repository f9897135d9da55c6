"""What the crawl needs from a site: URLs, pure parsing, its order and its rules. No I/O here.

A site is generic over its record type `R` (what `parse_detail` returns). It turns a card found
at a position into a ref (`ref`), a ref and its record into the item the store keeps (`item`),
and says what makes an item unfit to store (`problems`). `SiteBase` gives every site the
generic choices (`Found`, `Record`, no rules); the Matter catalogue makes its own, which read as
the generic ones (a ref's `card`, an item's `data`), so the store keeps both the same way.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from .records import ListPage
from .response import Response

R = TypeVar("R")


class Ordering(enum.StrEnum):
    """How a catalogue lists its items, which decides how positions are counted.

    - ``newest_first``: page 1 shows the newest; a new item pushes every other one along, so a
      position is counted from the oldest end (the last page) to stay put.
    - ``oldest_first``: page 1 shows the oldest; new items are appended after the last one, and
      the position in listing order never changes.
    - ``unordered``: the order may change between crawls; positions are the listing order at
      the crawl's time and mean nothing later. ``continue_from_db`` then reads every page (up to
      ``page_range_limit``) and only skips fetching the items already stored.
    """

    newest_first = "newest_first"
    oldest_first = "oldest_first"
    unordered = "unordered"


class Site(Protocol[R]):
    """A paginated catalogue: numbered list pages, each linking to detail pages."""

    @property
    def base_url(self) -> str: ...

    @property
    def per_page(self) -> int:
        """Items on every full list page (the last page may hold fewer)."""
        ...

    @property
    def ordering(self) -> Ordering: ...

    def list_url(self, page: int) -> str:
        """The URL of list page `page` (from 1)."""
        ...

    def parse_list(self, response: Response) -> ListPage:
        """The cards (each with a `url`) and the pagination of a list page. `current` is the
        page the site says it shows, `highest` the largest page number it links to (a "next"
        link to page n+1 counts). Raises `StageError(parse_error)` for a page it cannot read."""
        ...

    def parse_detail(self, response: Response) -> R: ...

    def ref(self, entry: Any, page_id: int, index_in_page: int, id: str) -> Any:
        """The ref of a card found at a position: what the detail stage gets."""
        ...

    def item(self, ref: Any, record: R) -> Any:
        """What the store keeps of a ref and its record (it has a `url` and a `ref`)."""
        ...

    def problems(self, item: Any) -> Sequence[str]:
        """Every reason `item` is unfit to store; empty when it is fine."""
        ...
