"""Records that flow between the crawl stages: list entries → refs → items (ref + record).

Any site's cards are `Card`s, found at a position (`Found`), and become `Record`s once their
detail page is read; the Matter catalogue has its own, richer types for the same three steps
(`ListEntry`, `ProductRef`, `Product`), which read as the generic ones do (a ref's `card`, an
item's `data`), so the store keeps them as it keeps any site's records. They are frozen attrs
classes so that cattrs can turn them into rows, JSON and CSV without hand-written mapping code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, Protocol, TypeVar

import attrs

from .pickling import positional_pickle

R = TypeVar("R")


class Entry(Protocol):
    """What the crawl needs of a list page's card: the URL of its detail page."""

    @property
    def url(self) -> str: ...


@positional_pickle
@attrs.frozen
class Card:
    """One item as any site's list page shows it: its detail URL and the card's own fields."""

    url: str
    fields: Mapping[str, Any] = attrs.field(factory=dict, hash=False)


@positional_pickle
@attrs.frozen
class Found:
    """A card with its position (counted from the oldest item, or in listing order for an
    unordered site) and its id."""

    url: str
    card: Mapping[str, Any] = attrs.field(hash=False)
    page_id: int
    index_in_page: int
    id: str


@positional_pickle
@attrs.frozen
class Record(Generic[R]):
    """An item ready to store: where it was found, and the record its detail page gave."""

    ref: Found
    data: R

    @property
    def url(self) -> str:
        return self.ref.url


@positional_pickle
@attrs.frozen
class ListEntry:
    """One product as a list page shows it."""

    url: str
    manufacturer: str
    model: str
    certificate_id: str


@positional_pickle
@attrs.frozen
class ListPage:
    """A parsed list page. `current` is the page the site says it shows (it may differ from the
    page asked for, past the end); `highest` is the largest page number in its pagination.

    A site whose pages link only to the next one by a URL that cannot be built from a page
    number (an opaque cursor, a "next" link) gives that URL as `next_url` (None on the last
    page): the crawl then follows the links from `list_url(1)`, once, rather than asking for
    page numbers."""

    current: int | None
    highest: int | None
    entries: tuple[Entry, ...]
    next_url: str | None = None


@positional_pickle
@attrs.frozen
class ProductRef:
    """A list entry with its stable position, counted from the oldest product."""

    url: str
    manufacturer: str
    model: str
    certificate_id: str
    page_id: int
    index_in_page: int
    id: str

    @property
    def card(self) -> Mapping[str, Any]:
        """The list card's own fields, as a `Found` holds them."""
        return {
            "manufacturer": self.manufacturer,
            "model": self.model,
            "certificate_id": self.certificate_id,
        }


@positional_pickle
@attrs.frozen
class ProductDetail:
    """Everything a detail page says about a product. Missing fields are None."""

    url: str
    model: str | None = None
    manufacturer: str | None = None
    device_type: str | None = None
    certificate_id: str | None = None
    certification_date: str | None = None
    software_version: str | None = None
    hardware_version: str | None = None
    firmware_version: str | None = None
    specification_version: str | None = None
    vid: int | None = None
    pid: int | None = None
    family_sku: str | None = None
    family_variant_sku: str | None = None
    family_id: str | None = None
    tis_trp_tested: str | None = None
    transport_interface: str | None = None
    primary_device_type_id: str | None = None
    program_type: str | None = None


@positional_pickle
@attrs.frozen
class Product:
    """A product ready to store: where it sits in the catalogue and what its page says."""

    ref: ProductRef
    detail: ProductDetail

    @property
    def url(self) -> str:
        return self.ref.url

    @property
    def data(self) -> ProductDetail:
        """The record its detail page gave, as a `Record` holds it."""
        return self.detail
