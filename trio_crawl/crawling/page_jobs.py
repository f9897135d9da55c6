"""A list page to crawl: the list stage's item, as the planner makes it."""

from __future__ import annotations

from typing import Any

import attrs

from .last_page import CatalogueShape


@attrs.frozen
class PageJob:
    """A list page to crawl, with the catalogue shape its positions are computed against.

    `refs` are the refs to fetch that the planner's reading of the page found: the list stage
    does not read it again. A page the planner could not read has `refs` None: the list stage
    reads it (retried under its policy) and skips the urls in `stored` and the positions in
    `held` (listed products the planner could not move, since the listing was incomplete)."""

    page: int
    url: str
    shape: CatalogueShape
    refs: tuple[Any, ...] | None = None
    stored: frozenset[str] = frozenset()
    held: frozenset[int] = frozenset()
    only: frozenset[str] | None = None
    """When given, the list stage keeps only these urls of the page it reads (a distributed
    worker's job: the refs the planner found, by url, read again where the worker runs)."""
