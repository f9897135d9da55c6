"""The demo catalogue: its products (`products`) served newest first, and how it changes.

Only the size and the seed are stored; products are generated on demand, and the page renderer
caches what it renders. Positions follow docs/architecture.md §6: counted from the oldest,
`page_id = serial // 12` and `index_in_page = serial % 12`, so `publish()` never moves an
existing product.
"""

from __future__ import annotations

import argparse
import random
import re
from collections.abc import Iterable, Iterator
from typing import Final

from .products import PER_PAGE, DemoProduct, make_product

_SLUG_SERIAL = re.compile(r"-(\d+)\Z")


LISTINGS: Final = ("newest_first", "oldest_first", "unordered")
"""How a demo catalogue may list its products (`sites.Ordering`'s names)."""


class DemoCatalogue:
    """A deterministic catalogue of `products` Matter products, newest first.

    Page 1 holds the newest 12, the last page the oldest (usually partial). Only the size and
    the seed are stored; products are generated on demand.

    It changes as a real catalogue does: `publish` adds products at the newest end, `insert`
    anywhere, `delist` removes any (its detail page then answers 404). A product keeps its
    serial (and slug) whatever happens; what moves is where the listing shows it. Once changed,
    the catalogue holds the list of its serials in order (oldest first). `listing` lists it
    ``oldest_first`` or ``unordered`` (an order of its own, another after every change) instead.
    """

    per_page: Final = PER_PAGE

    def __init__(self, products: int = 4000, seed: int = 7, listing: str = "newest_first") -> None:
        if products < 0:
            raise ValueError(f"products must not be negative, got {products!r}")
        if listing not in LISTINGS:
            raise ValueError(f"listing must be one of {', '.join(LISTINGS)}, got {listing!r}")
        self._total = products
        self._seed = seed
        self._version = 0
        self._next_serial = products
        self._order: list[int] | None = None
        """The listed serials, oldest first, once the catalogue changed (else range(total))."""
        self._where: dict[int, int] | None = None
        self._shown: list[int] | None = None
        self.listing = listing
        self.dead: set[int] = set()
        """Serials listed whose detail pages answer 404: dead links (`break_links`)."""

    def __repr__(self) -> str:
        return f"DemoCatalogue(products={self._total}, seed={self._seed})"

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def total(self) -> int:
        """How many products the catalogue holds now."""
        return self._total

    @property
    def version(self) -> int:
        """Bumped by every change, so that caches of rendered pages know to drop them."""
        return self._version

    @property
    def last_page(self) -> int:
        """The number of list pages (at least 1: an empty catalogue shows an empty page 1)."""
        return max(1, -(-self._total // PER_PAGE))

    @property
    def on_last(self) -> int:
        """Products on the last page."""
        return self._total - (self.last_page - 1) * PER_PAGE

    def __len__(self) -> int:
        return self._total

    def serials(self) -> list[int]:
        """Every listed serial, oldest first."""
        return list(range(self._total)) if self._order is None else list(self._order)

    def _listed_serials(self) -> list[int]:
        """Every listed serial in the order the list pages show them."""
        if self._shown is None:
            order = self.serials()
            if self.listing == "newest_first":
                order.reverse()
            elif self.listing == "unordered":
                random.Random(f"{self._seed}:order:{self._version}").shuffle(order)
            self._shown = order
        return self._shown

    def __iter__(self) -> Iterator[DemoProduct]:
        """Every product, in the order of the list pages."""
        for serial in self._listed_serials():
            yield make_product(self._seed, serial)

    def is_listed(self, serial: int) -> bool:
        if self._order is None:
            return 0 <= serial < self._total
        return serial in self._positions()

    def _positions(self) -> dict[int, int]:
        if self._where is None:
            self._where = {serial: index for index, serial in enumerate(self.serials())}
        return self._where

    def by_serial(self, serial: int) -> DemoProduct:
        """Product number `serial` (its identity: counted from the oldest at first), if listed."""
        if not self.is_listed(serial):
            raise IndexError(f"serial {serial} is not listed")
        return make_product(self._seed, serial)

    def page(self, n: int) -> list[DemoProduct]:
        """The products list page `n` (1 = the first the listing shows) shows, in page order."""
        if not 1 <= n <= self.last_page:
            raise IndexError(f"page {n} outside 1..{self.last_page}")
        if self._order is None and self.listing == "newest_first":
            newest = self._total - 1 - (n - 1) * PER_PAGE
            oldest = max(-1, newest - PER_PAGE)
            return [make_product(self._seed, serial) for serial in range(newest, oldest, -1)]
        shown = self._listed_serials()[(n - 1) * PER_PAGE : n * PER_PAGE]
        return [make_product(self._seed, serial) for serial in shown]

    def find(self, slug: str) -> DemoProduct | None:
        """The listed product with this slug, or None."""
        match = _SLUG_SERIAL.search(slug)
        if match is None:
            return None
        serial = int(match.group(1))
        if not self.is_listed(serial) or match.group(1) != str(serial) or serial in self.dead:
            return None
        product = make_product(self._seed, serial)
        return product if product.slug == slug else None

    def product(self, slug: str) -> DemoProduct:
        """The product with this slug; `KeyError` if there is none."""
        product = self.find(slug)
        if product is None:
            raise KeyError(slug)
        return product

    def _changed(self, order: list[int]) -> None:
        self._order = order
        self._total = len(order)
        self._version += 1
        self._where = None
        self._shown = None

    def publish(self, k: int = 1) -> list[DemoProduct]:
        """Add `k` products newer than all others (they go to the front of page 1).

        Existing products keep their slugs and their positions counted from the oldest; list
        pages shift. Returns the new products, newest first.
        """
        if k < 0:
            raise ValueError(f"k must not be negative, got {k!r}")
        if self._order is None and self._next_serial == self._total:
            first = self._total
            self._total += k
            self._next_serial += k
            self._version += 1
            self._shown = None
            return [make_product(self._seed, s) for s in range(first + k - 1, first - 1, -1)]
        return self.insert(self._total, k)

    def insert(self, at: int, k: int = 1) -> list[DemoProduct]:
        """Add `k` new products after the `at` oldest (0: older than all; `total`: newer than
        all), each newer than the one before. Every product newer than them moves up `k`
        positions counted from the oldest. Returns the new products, newest first."""
        if k < 0 or not 0 <= at <= self._total:
            raise ValueError(f"cannot insert {k} products after the {at} oldest of {self._total}")
        new = list(range(self._next_serial, self._next_serial + k))
        self._next_serial += k
        order = self.serials()
        order[at:at] = new
        self._changed(order)
        return [make_product(self._seed, serial) for serial in reversed(new)]

    def delist(self, serials: Iterable[int]) -> list[DemoProduct]:
        """Remove the products with these serials from the listing (their detail pages answer
        404 from now on). Every product newer than one moves down a position counted from the
        oldest. Returns the removed products; `ValueError` for a serial not listed."""
        gone = set(serials)
        missing = sorted(serial for serial in gone if not self.is_listed(serial))
        if missing:
            raise ValueError(f"serials not listed: {missing[:5]}")
        self._changed([serial for serial in self.serials() if serial not in gone])
        return [make_product(self._seed, serial) for serial in sorted(gone)]

    def break_links(self, serials: Iterable[int], broken: bool = True) -> None:
        """Make the detail pages of these listed products answer 404 (or, with `broken`
        False, answer again), as a catalogue's dead links do."""
        if broken:
            self.dead.update(serials)
        else:
            self.dead.difference_update(serials)
        self._version += 1

    def serial_at(self, oldest_index: int) -> int:
        """The serial of the product `oldest_index` places from the oldest."""
        if self._order is None:
            return oldest_index
        return self._order[oldest_index]

    def expected_position(self, slug: str) -> tuple[int, int]:
        """(page_id, index_in_page) as docs/architecture.md §6 computes it: counted from the
        oldest, or in listing order for a catalogue not listed newest first."""
        serial = self.product(slug).serial
        if self.listing == "unordered":
            index = self._listed_serials().index(serial)
        else:
            index = serial if self._order is None else self._positions()[serial]
        return index // PER_PAGE, index % PER_PAGE

    def expected_id(self, slug: str) -> str:
        """The record id docs/architecture.md §6 gives this product: ``p%04di%02d``."""
        page_id, index = self.expected_position(slug)
        return f"p{page_id:04d}i{index:02d}"


CHANGE_FORMAT: Final = re.compile(
    r"(delist|dead):\d+(-\d+)?(,\d+(-\d+)?)*|insert:\d+(:\d+)?|publish:\d+"
)
"""What `apply_changes` reads (one change)."""


def apply_changes(catalogue: DemoCatalogue, changes: Iterable[str]) -> DemoCatalogue:
    """Change `catalogue` as `changes` say, in order: ``delist:S`` (serials S: ``5``,
    ``5,9``, ``10-20``), ``insert:AT:K`` (K new products after the AT oldest), ``publish:K``,
    ``dead:S`` (listed, but their detail pages answer 404).
    The same seed and changes give the same catalogue, so a demo server started again with
    them serves what a changed live catalogue would. `ValueError` names a change it cannot
    read."""
    for change in changes:
        kind, _, rest = change.partition(":")
        try:
            if kind == "delist":
                catalogue.delist(_serials(rest))
            elif kind == "insert":
                at, _, k = rest.partition(":")
                catalogue.insert(int(at), int(k or 1))
            elif kind == "publish":
                catalogue.publish(int(rest or 1))
            elif kind == "dead":
                catalogue.break_links(_serials(rest))
            else:
                raise ValueError(f"unknown change {kind!r}")
        except ValueError as exc:
            raise ValueError(
                f"cannot apply {change!r} (delist:S, insert:AT:K, publish:K or dead:S): {exc}"
            ) from None
    return catalogue


def _serials(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        low, dash, high = part.partition("-")
        out.extend(range(int(low), int(high) + 1) if dash else [int(low)])
    return out


def add_change_option(parser: argparse.ArgumentParser) -> None:
    """``--change`` (repeatable): how the catalogue changed since it was first served."""

    def change(text: str) -> str:
        if not CHANGE_FORMAT.fullmatch(text):
            raise argparse.ArgumentTypeError(
                f"{text!r}: expected delist:SERIALS (5,9,20-30), insert:AT:K, publish:K"
                " or dead:SERIALS"
            )
        return text

    parser.add_argument(
        "--change",
        action="append",
        default=[],
        type=change,
        metavar="CHANGE",
        help="change the catalogue before serving it, in order (repeatable): delist:5,9,20-30"
        " (products by serial, 0 = the oldest at first), insert:AT:K (K new products after the"
        " AT oldest), publish:K (K new products at the newest end), dead:5,9 (listed, but their"
        " detail pages answer 404)",
    )
