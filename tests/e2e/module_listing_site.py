"""A Matter catalogue that writes down, each time its parse process parses a detail page,
which modules that process holds: what a parse process imports, seen from inside it. Kept in
a module of its own that imports nothing else, since the parse process imports it to load the
site."""

from __future__ import annotations

import sys
from typing import Any

from trio_crawl.sites import MatterCatalogue


class ModuleListingSite(MatterCatalogue):
    __slots__ = ("listing",)

    def __init__(self, base_url: str, listing: str) -> None:
        super().__init__(base_url)
        self.listing = listing

    def parse_detail(self, response: Any, url: str = "") -> Any:
        detail = super().parse_detail(response, url)
        if sys.argv[0].endswith("parse_worker.py"):  # in the parse process, not the crawl
            with open(self.listing, "w", encoding="utf-8") as out:
                out.write("\n".join(sorted(sys.modules)))
        return detail
