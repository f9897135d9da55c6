"""Requests each run makes when the catalogue changes, measured at the demo server.

    .venv/bin/python benchmarks/catalogue_changes.py

For each ordering and each change of tests/e2e/test_catalogue_changes.py (delisted at both ends
and in the middle; inserted in the middle; both, the total unchanged): a first crawl of 240
products, the crawl after the change, and one more over the unchanged catalogue. Then the
changes made during a `full` crawl (at the 40th detail request, or while the list pages are
read), and the run after. Writes results/catalogue_changes.md.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import trio
import trio.testing

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import crawl_config, demo_server  # noqa: E402
from tests.e2e.test_catalogue_changes import CHANGES, DURING, ListedAs, after_requests  # noqa: E402
from trio_crawl import crawl  # noqa: E402
from trio_crawl.demo import DemoCatalogue, DemoServer  # noqa: E402
from trio_crawl.stores import SqliteStore  # noqa: E402


async def one(server: DemoServer, site: Any, store: SqliteStore, **options: Any) -> str:
    lists, details = server.stats.list_pages, server.stats.details
    settings = {"strategy": "continue_from_db", "page_range_limit": 1000, **options}
    summary = await crawl(crawl_config(crawl=settings), site=site, store=store)
    return (
        f"{summary.status} {server.stats.list_pages - lists} list"
        f" + {server.stats.details - details} detail"
    )


async def main() -> list[str]:
    rows = ["| scenario | first run | after the change | unchanged |", "|---|---|---|---|"]
    for ordering in ("newest_first", "oldest_first", "unordered"):
        for name, change in CHANGES.items():
            catalogue = DemoCatalogue(products=240, seed=11, listing=ordering)
            with tempfile.TemporaryDirectory() as folder:
                async with (
                    demo_server(catalogue) as server,
                    SqliteStore.open(Path(folder) / "c.db") as store,
                ):
                    site = ListedAs(server.base_url, ordering)
                    runs = [await one(server, site, store)]
                    change(catalogue)
                    runs += [await one(server, site, store), await one(server, site, store)]
            rows.append(f"| {ordering}: {name} | {' | '.join(runs)} |")
    rows += ["", "| during a `full` crawl of 300 | that run | the next |", "|---|---|---|"]
    for name, change in DURING.items():
        for when in ("detail", "list"):
            catalogue = DemoCatalogue(products=300, seed=9)
            with tempfile.TemporaryDirectory() as folder:
                async with (
                    demo_server(catalogue) as server,
                    SqliteStore.open(Path(folder) / "c.db") as store,
                ):
                    site = ListedAs(server.base_url, "newest_first")
                    count = 40 if when == "detail" else 8

                    def act(change: Any = change, catalogue: DemoCatalogue = catalogue) -> None:
                        change(catalogue)

                    after_requests(server, when, count, act)
                    first = await one(server, site, store, strategy="full")
                    server.on_request = None
                    rows.append(f"| {name} (at {when} request {count}) | {first}"
                                f" | {await one(server, site, store)} |")  # fmt: skip
    return rows


if __name__ == "__main__":
    table = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0.02))
    out = ROOT / "benchmarks" / "results" / "catalogue_changes.md"
    out.write_text("# Requests per run when the catalogue changes\n\n" + "\n".join(table) + "\n")
    print("\n".join(table))
