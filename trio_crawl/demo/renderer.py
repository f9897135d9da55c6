"""`Renderer`: one demo catalogue's pages as the server sends them (UTF-8 bytes for one base
URL), rendered by `markup` and cached in bounded caches that a change of the catalogue empties.
"""

from __future__ import annotations

from collections import OrderedDict

from .catalogue import DemoCatalogue
from .markup import (
    FEED_OPEN,
    Markup,
    render_detail_page,
    render_home,
    render_list_page,
    render_not_found,
)


class _LRU:
    """A bounded least-recently-used cache of rendered pages."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[object, bytes] = OrderedDict()

    def get(self, key: object) -> bytes | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: object, value: bytes) -> None:
        if self._size <= 0:
            return
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self._size:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class Renderer:
    """Renders one catalogue's pages as UTF-8 bytes for one base URL, caching them.

    Caches are bounded (`max_list_pages`, `max_details` entries), so memory stays flat however
    large the catalogue. Pages are dropped when the catalogue changes.
    """

    def __init__(
        self,
        catalogue: DemoCatalogue,
        base_url: str,
        *,
        max_list_pages: int = 1024,
        max_details: int = 4096,
        markup: Markup = Markup.nested,
    ) -> None:
        self.catalogue = catalogue
        self.markup = Markup(markup)
        self.base_url = base_url.rstrip("/")
        self._lists = _LRU(max_list_pages)
        self._details = _LRU(max_details)
        self._version = catalogue.version
        self._not_found = render_not_found(self.base_url).encode()

    def shown_page(self, requested: int) -> int:
        """The page the site shows for `requested`: itself, or page 1 past either end."""
        return requested if 1 <= requested <= self.catalogue.last_page else 1

    def _follow(self) -> None:
        """Drop what a change of the catalogue made stale: its list pages, and the detail pages
        of products it may have delisted."""
        if self._version != self.catalogue.version:
            self._lists.clear()
            self._details.clear()
            self._version = self.catalogue.version

    def list_page(self, requested: int) -> bytes:
        """List page `requested`; past the end, like the live site, page 1's content."""
        self._follow()
        page = self.shown_page(requested)
        body = self._lists.get(page)
        if body is None:
            catalogue = self.catalogue
            body = render_list_page(
                self.base_url, catalogue.page(page), page, catalogue.last_page, self.markup
            ).encode()
            self._lists.put(page, body)
        return body

    def detail_page(self, slug: str) -> bytes | None:
        """A product's detail page, or None for an unknown (or delisted) slug."""
        self._follow()
        body = self._details.get(slug)
        if body is None:
            product = self.catalogue.find(slug)
            if product is None:
                return None
            body = render_detail_page(self.base_url, product).encode()
            self._details.put(slug, body)
        return body

    def not_found(self) -> bytes:
        return self._not_found

    def home(self) -> bytes:
        return render_home(self.base_url, self.catalogue).encode()

    def malformed_list_page(self, requested: int) -> bytes:
        """List page `requested` cut off before its product feed: pagination gone, no cards."""
        body = self.list_page(requested)
        return body[: body.index(FEED_OPEN[self.markup].encode())]

    def malformed_detail_page(self, slug: str) -> bytes | None:
        """A detail page cut off mid-document, before its title and rows."""
        body = self.detail_page(slug)
        if body is None:
            return None
        return body[: body.index(b"<article ")]
