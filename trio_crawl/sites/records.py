"""Records that flow between the crawl stages: list entries → product refs → products.

They are frozen attrs classes so that cattrs can turn them into rows, JSON and CSV without
hand-written mapping code.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class ListEntry:
    """One product as a list page shows it."""

    url: str
    manufacturer: str
    model: str
    certificate_id: str


@attrs.frozen
class ListPage:
    """A parsed list page. `current` is the page the site says it shows (it may differ from the
    page asked for, past the end); `highest` is the largest page number in its pagination."""

    current: int | None
    highest: int | None
    entries: tuple[ListEntry, ...]


@attrs.frozen
class ProductRef:
    """A list entry with its stable position, counted from the oldest product (DESIGN §6)."""

    url: str
    manufacturer: str
    model: str
    certificate_id: str
    page_id: int
    index_in_page: int
    id: str


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


@attrs.frozen
class Product:
    """A product ready to store: where it sits in the catalogue and what its page says."""

    ref: ProductRef
    detail: ProductDetail

    @property
    def url(self) -> str:
        return self.ref.url
