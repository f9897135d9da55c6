"""What the crawl needs from a site: URLs and pure parsing. No I/O here."""

from __future__ import annotations

from typing import Protocol

from .records import ListPage, ProductDetail


class Site(Protocol):
    """A paginated catalogue: list pages newest first, each linking to detail pages."""

    @property
    def base_url(self) -> str: ...

    @property
    def per_page(self) -> int:
        """Products on every full list page (the last page may hold fewer)."""
        ...

    def list_url(self, page: int) -> str: ...

    def parse_list(self, html: bytes | str, url: str) -> ListPage: ...

    def parse_detail(self, html: bytes | str, url: str) -> ProductDetail: ...
