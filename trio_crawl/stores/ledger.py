"""What the crawl remembers between runs: the `Ledger` protocol and the records it holds.

"Continue after the newest stored product" assumed that what is stored is a prefix of the
catalogue. Work runs in parallel, so it never is: a stop or a kill leaves holes. The ledger
knows, per list page of the catalogue shape being crawled and per product URL, whether it is
``pending``, ``done``, ``failed`` (with kind, attempts and last error) or ``cancelled``, and which
session touched it last; the planner crawls whatever is not done.

A product is ``done`` exactly when it is stored: `save_done` stores it and marks it in one step
(the SQLite store does both in one transaction, so no kill can come between them). A ledger
shared by many workers (say, on Redis) implements the same eight calls; the stages do not change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import attrs

ItemKind = Literal["page", "product"]
EndState = Literal["failed", "cancelled"]


@attrs.frozen
class LedgerShape:
    """The catalogue a session crawls against: `last_page` pages of `per_page`, `on_last` on the
    last one, at `base_url`, listed in `ordering`."""

    base_url: str
    last_page: int
    on_last: int
    per_page: int
    ordering: str = "newest_first"
    """How the site lists its items (`sites.Ordering`): which site page shows a position."""

    @property
    def total(self) -> int:
        return (self.last_page - 1) * self.per_page + self.on_last


@attrs.frozen
class LedgerPage:
    """A list page of the shape being crawled; `done` when every product on it is done."""

    page: int
    url: str
    done: bool = False


@attrs.frozen
class LedgerFailure:
    """An item a run gave up on: a list page (`page`) or a product (`page_id`, `index_in_page`)."""

    url: str
    item: ItemKind
    state: EndState
    stage: str
    kind: str
    attempts: int
    last_error: str
    page: int | None = None
    page_id: int | None = None
    index_in_page: int | None = None


@attrs.frozen
class LedgerView:
    """What the planner needs: the shape last crawled against (None before the first run),
    every done product still listed, by its position `(page_id, index_in_page)`, and the urls
    of every product stored (listed or delisted: a product listed again is not fetched again)."""

    shape: LedgerShape | None
    done: Mapping[tuple[int, int], str]
    stored: frozenset[str] = frozenset()


@attrs.frozen
class Listed:
    """A product the listing shows, at the position it shows it."""

    url: str
    page_id: int
    index_in_page: int
    id: str


@attrs.frozen
class Relisting:
    """What `Ledger.relist` changed: stored products given another position, delisted products
    listed again, and products newly delisted."""

    moved: int = 0
    relisted: int = 0
    delisted: int = 0


@runtime_checkable
class Ledger(Protocol):
    async def view(self) -> LedgerView:
        """The shape last seen and every done product."""
        ...

    async def stored_among(self, urls: Iterable[str]) -> frozenset[str]:
        """Which of `urls` are stored (listed or delisted): what a batch of a distributed crawl
        must not fetch again, asked about its own urls rather than the whole catalogue."""
        ...

    async def failed_among(self, urls: Iterable[str]) -> list[LedgerFailure]:
        """The items of `urls` given up on for good, with their reasons: the failed items of a
        distributed crawl's summary, asked about the urls it planned."""
        ...

    async def open_shape(
        self, shape: LedgerShape, pages: Iterable[LedgerPage], session_id: str
    ) -> None:
        """Record `shape` as the one `session_id` crawls against, with a row for each of its
        `pages` (rows of another shape's pages are dropped: their page numbers meant other
        products; product rows stay, their positions do not move). `pages` is read once, as
        it is written: a large catalogue's pages need not all be in memory at once."""
        ...

    async def page_listed(
        self, page: LedgerPage, refs: Sequence[Any], total: int, session_id: str
    ) -> None:
        """List page `page` was read: it is done, and `refs` (its products still to fetch) are
        pending."""
        ...

    async def save_done(self, products: Sequence[Any], session_id: str) -> int:
        """Store `products` (the site's items: Matter `Product`s, or `Record`s) and mark them
        done, as one step; returns how many were written."""
        ...

    async def record_failures(self, failures: Sequence[LedgerFailure], session_id: str) -> None:
        """Mark the items a run gave up on; a done item stays done."""
        ...

    async def relist(self, listing: Iterable[Listed], complete: bool, session_id: str) -> Relisting:
        """The catalogue as the list pages show it now (`complete` when every page was read):
        stored products take the positions it shows them at, the ones it no longer shows are
        kept and marked delisted, and work left on items no longer listed is dropped.
        `listing` is read once, in slices, as it is written (it may be read from disk)."""
        ...
