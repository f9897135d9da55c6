"""One summary for a whole distributed crawl: what every worker did and what the store holds of
the plan.

Two sources, each for what it knows for sure. The workers' counts (`WorkerCounts`) are what
each worker reported into Redis after each batch (`record_batch`): a worker killed between
storing and reporting leaves its last batch out of its own counts, so they describe the
workers, not the crawl. What the crawl achieved is asked of the store (`CrawlSummary` is built
by `ending.account`): every product url the plan enqueued is stored, failed for good (with its
reason), or unaccounted for; the three add up to the plan by construction only when nothing is
unaccounted, which is what a `completed` crawl needs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs
import cattrs

from .queue import WorkQueue

COUNTERS = (
    "batches",
    "reclaimed",
    "pages_ok",
    "pages_failed",
    "products_saved",
    "products_failed",
    "products_skipped",
)
"""What a worker reports after each batch; `products_skipped` are the products of a batch the
store already held when the batch began (a batch reclaimed from a silent worker, say)."""


@attrs.frozen
class WorkerCounts:
    """What one worker reported, summed over its batches."""

    consumer: str
    batches: int = 0
    reclaimed: int = 0
    pages_ok: int = 0
    pages_failed: int = 0
    products_saved: int = 0
    products_failed: int = 0
    products_skipped: int = 0


@attrs.frozen
class FailedItem:
    """An item of the plan given up on for good, and why."""

    url: str
    item: str
    stage: str
    kind: str
    attempts: int
    reason: str


@attrs.frozen
class CrawlSummary:
    """The whole crawl: its plan, what the store holds of it, every worker, the settle check."""

    crawl_id: str
    round: int
    status: str
    """``completed`` when every planned product is stored and the catalogue did not move
    under the crawl; else ``partial`` (the failed items and the settle say why)."""
    planned_batches: int
    planned_pages: int
    planned_products: int
    products_stored: int
    products_failed: int
    unaccounted: int
    pages_failed: int
    failed: tuple[FailedItem, ...]
    workers: tuple[WorkerCounts, ...]
    settle: str
    """What the settle check found ("" when the catalogue is still what the crawl stored)."""
    settled_by: str
    finished_at: str

    def to_json(self) -> str:
        return json.dumps(cattrs.unstructure(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CrawlSummary:
        return cattrs.structure(json.loads(text), cls)

    def lines(self, failures_shown: int = 10) -> list[str]:
        """The summary as `crawl --workers`, a late worker and `status` print it."""
        out = [
            f"crawl {self.crawl_id} (round {self.round}) {self.status}: "
            f"{self.products_stored} of {self.planned_products} planned products stored,"
            f" {self.products_failed} failed for good, {self.unaccounted} unaccounted"
            f" ({self.planned_batches} batches of {self.planned_pages} list pages)",
        ]
        if self.pages_failed:
            out.append(f"  list pages failed: {self.pages_failed}")
        out.append(
            "  settle: "
            + (self.settle or "the catalogue is as the crawl stored it")
            + f" (checked by {self.settled_by})"
        )
        for worker in self.workers:
            counts = ", ".join(
                f"{name.replace('_', ' ')} {getattr(worker, name)}" for name in COUNTERS
            )
            out.append(f"  worker {worker.consumer}: {counts}")
        for failed in self.failed[:failures_shown]:
            out.append(
                f"  failed: {failed.url} ({failed.stage} {failed.kind} after {failed.attempts}"
                f" attempts: {failed.reason})"
            )
        if len(self.failed) > failures_shown:
            out.append(f"  … and {len(self.failed) - failures_shown} more failed items")
        return out


def _tally_key(queue: WorkQueue) -> str:
    return f"{queue.prefix}:tally"


async def record_batch(queue: WorkQueue, consumer: str, counts: Mapping[str, int]) -> None:
    """Add one batch's counts to `consumer`'s, in one transaction (a kill leaves all or none)."""
    async with queue.client.pipeline(transaction=True) as pipe:
        for name, value in counts.items():
            if value:
                pipe.hincrby(_tally_key(queue), f"{consumer}|{name}", value)


async def worker_counts(queue: WorkQueue) -> tuple[WorkerCounts, ...]:
    """Every worker's counts, by name."""
    found: dict[str, dict[str, Any]] = {}
    for field, value in (await queue.client.hgetall(_tally_key(queue))).items():
        consumer, _, name = str(field).rpartition("|")
        if name in COUNTERS:
            found.setdefault(consumer, {})[name] = int(value)
    return tuple(WorkerCounts(consumer, **found[consumer]) for consumer in sorted(found))


async def stored_summary(queue: WorkQueue) -> CrawlSummary | None:
    text = await queue.client.get(f"{queue.prefix}:summary")
    return None if text is None else CrawlSummary.from_json(str(text))
