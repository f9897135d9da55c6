"""`SiteBase`: the half of a `Site` every catalogue shares, so that yours says only what is its own.

Subclass it with your record type (a frozen attrs class) and give the catalogue's `name` (the
table its records go to), `per_page`, `ordering`, `list_url`, `parse_list` and `parse_detail`;
add `problems` if some records must not be stored. The crawl builds the rest: a card found at a
position becomes a `Found`, and with its record a `Record`, which the SQLite store keeps in a
table of its own with a typed column per field of your record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from .protocol import Ordering
from .records import Found, Record

R = TypeVar("R")


class SiteBase(Generic[R]):
    """A catalogue at `base_url` whose detail pages give records of type `record_type`.

    `options` are the site's own settings (the config file's ``[site]`` table, or keywords of
    your own): a subclass takes the ones it knows as keyword arguments of its ``__init__``.
    """

    name: str = ""
    """The catalogue's name: the SQLite table its records are kept in (a-z, 0-9 and _)."""
    record_type: type[R]
    per_page: int = 12
    ordering: Ordering = Ordering.unordered
    """Unless a site says otherwise, it promises no order (see `Ordering`)."""

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url.rstrip("/")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r})"

    @property
    def base_url(self) -> str:
        return self._base_url

    def ref(self, entry: Any, page_id: int, index_in_page: int, id: str) -> Found:
        fields = getattr(entry, "fields", None)
        return Found(entry.url, dict(fields or {}), page_id, index_in_page, id)

    def item(self, ref: Found, record: R) -> Record[R]:
        return Record(ref, record)

    def problems(self, item: Record[R]) -> Sequence[str]:
        """No rules: every parsed record is stored."""
        return ()
