"""The settle check of a distributed crawl: the catalogue read again once the queue is finished,
compared with the reading its plan was made from.

A single-process crawl keeps its first reading (`planner.Sweep`) in memory until its batches
are done and then reads every list page again (`CataloguePlanner.settle`). Here the reading and
the check happen in different processes, maybe on different machines: the plan writes what the
check needs into Redis (`record_listing`: the shape, and per page what it showed, its
fingerprint and its product urls), and the one party that concludes the crawl
(`ending.conclude`) rebuilds a `Sweep` from it (`recorded_sweep`) and runs the planner's own
settle over it in a session of its own. A page that comes back byte for byte as it was is not
parsed again; one that does not is compared by its product urls (a product's identity is its
url), where the single-process check compares whole cards.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs

from ..crawling.last_page import CatalogueShape
from ..crawling.list_reads import Fingerprints
from ..crawling.planner import CataloguePlanner, Sweep
from ..engine.planning import Plan, PlanContext, Planner
from ..engine.results import ErrorKind, StageError
from ..sites.records import ListPage
from .queue import WorkQueue

_SLICE = 500


@attrs.frozen(eq=False)
class RecordedEntry:
    """A card as the plan's reading showed it, by its url: equal to any entry with that url."""

    url: str

    def __eq__(self, other: object) -> bool:
        return getattr(other, "url", None) == self.url

    def __hash__(self) -> int:
        return hash(self.url)


def _key(queue: WorkQueue) -> str:
    return f"{queue.prefix}:listing"


async def record_listing(queue: WorkQueue, sweep: Sweep) -> None:
    """What the settle check needs of the plan's reading `sweep`, into Redis."""
    head = {
        "last_page": sweep.shape.last_page,
        "on_last": sweep.shape.on_last,
        "failed": sorted(sweep.failed),
        "problem": sweep.problem,
        "urls": {str(page): url for page, url in sweep.urls.items()},
    }
    fields: dict[str, str] = {"shape": json.dumps(head)}
    for page in range(1, sweep.shape.last_page + 1):
        if page not in sweep.pages:
            continue
        listing = sweep.pages[page]
        urls = [entry.url for entry in listing.entries]
        fields[str(page)] = json.dumps(
            [listing.current, listing.highest, sweep.fingerprints.get(page), urls,
             listing.next_url]
        )  # fmt: skip
        if len(fields) >= _SLICE:
            await queue.client.hset(_key(queue), fields)
            fields = {}
    if fields:
        await queue.client.hset(_key(queue), fields)


async def recorded_sweep(queue: WorkQueue) -> Sweep | None:
    """The plan's reading as `record_listing` kept it; None when the plan kept none."""
    found: dict[str, Any] = await queue.client.hgetall(_key(queue))
    if "shape" not in found:
        return None
    head = json.loads(found.pop("shape"))
    prints = Fingerprints()
    pages: dict[int, ListPage] = {}
    for page_text, text in found.items():
        page = int(page_text)
        current, highest, fingerprint, urls, next_url = json.loads(text)
        pages[page] = ListPage(
            current, highest, tuple(RecordedEntry(url) for url in urls), next_url
        )
        if fingerprint is not None:
            prints[page] = int(fingerprint)
    unread = StageError(ErrorKind.parse_error, "not read when the crawl was planned")
    return Sweep(
        CatalogueShape(int(head["last_page"]), int(head["on_last"])),
        pages,
        {int(page): unread for page in head["failed"]},
        str(head["problem"]),
        urls={int(page): str(url) for page, url in head["urls"].items()},
        fingerprints=prints,
    )


def settle_route(before: Sweep, stored_some: bool) -> Callable[[Planner], Planner]:
    """A session's `route_plan` whose plan has no batches, only the settle check over
    `before`: the session ends `partial`, with what moved as its reason, when the catalogue
    is no longer what the crawl stored."""

    def route(planner: Planner) -> Planner:
        if not isinstance(planner, CataloguePlanner):
            raise TypeError(f"the settle check needs the catalogue planner, not {planner!r}")

        async def settle_only(context: PlanContext) -> Plan:
            return Plan((), settle=lambda: planner.settle(context, before, stored_some))

        return settle_only

    return route
