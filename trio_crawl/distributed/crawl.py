"""The catalogue crawl through the work queue: a planning session that enqueues its plan, and
workers whose sessions run the batches they take.

Planning is the single-process crawl's own (status check, every list page, the ledger brought
up to date), run once; its batches go to the stream as JSON (`encode_job`) instead of to local
batch actors. A worker runs the same actor tree over each batch it takes, one session a batch.
A job carries its page, the shape the positions are computed against and the urls the planner
found to fetch; the worker reads the page again where it runs and keeps those urls less the
ones the ledger has stored by then, so a batch reclaimed from a killed worker fetches only
what that worker did not store (dedup through the ledger, not the queue).

A batch is settled, and acknowledged, when its session ended `completed` or `partial`: its
items are then done or recorded as failed for good in the ledger. A session stopped, timed
out or failed leaves its batch pending for the lease.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import attrs

from ..api import open_session
from ..config.model import CrawlConfig
from ..crawling.last_page import CatalogueShape
from ..crawling.planner import PageJob
from ..crawling.politeness import Manners
from ..engine.planning import Plan, PlanContext, Planner, as_plan
from ..engine.summary import SessionSummary
from ..sites.protocol import Site
from ..stores.ledger import Ledger
from ..stores.protocol import Store
from .queue import Taken, WorkQueue
from .worker import WorkerTally, run_worker

SETTLED = frozenset({"completed", "partial"})


def encode_job(job: PageJob) -> dict[str, Any]:
    only = job.only
    if job.refs is not None:
        only = frozenset(str(ref.url) for ref in job.refs)
    return {
        "page": job.page,
        "url": job.url,
        "last_page": job.shape.last_page,
        "on_last": job.shape.on_last,
        "only": None if only is None else sorted(only),
        "stored": sorted(job.stored),
        "held": sorted(job.held),
    }


def decode_job(data: dict[str, Any], stored: frozenset[str]) -> PageJob:
    """The job `data` describes, skipping the urls stored now as well as those stored when it
    was planned."""
    only = data["only"]
    return PageJob(
        int(data["page"]),
        str(data["url"]),
        CatalogueShape(int(data["last_page"]), int(data["on_last"])),
        None,
        stored | frozenset(data["stored"]),
        frozenset(int(held) for held in data["held"]),
        None if only is None else frozenset(only),
    )


@attrs.define
class Planned:
    """What the planning session put in the queue."""

    summary: SessionSummary | None = None
    batches: int = 0
    items: int = 0


async def plan_crawl(
    config: CrawlConfig,
    *,
    site: Site[Any],
    store: Store,
    queue: WorkQueue,
    politeness: Manners | None = None,
) -> Planned:
    """Plan the crawl once and put its batches in `queue`, then mark planning done. A plan
    that fails marks nothing: workers keep waiting for a `plan` that succeeds."""
    planned = Planned()

    def route(planner: Planner) -> Planner:
        async def enqueue(context: PlanContext) -> Plan:
            plan = as_plan(await planner(context))
            batches = [[encode_job(job) for job in batch] for batch in plan.batches]
            await queue.enqueue(batches)
            await queue.mark_planned()
            planned.batches, planned.items = len(batches), plan.items
            note = f"{len(batches)} batches of {plan.items} list pages enqueued for the workers"
            return Plan((), note="; ".join(n for n in (note, plan.note) if n))

        return enqueue

    async with open_session(
        config, site=site, store=store, route_plan=route, politeness=politeness
    ) as session:
        planned.summary = await session.wait()
    return planned


def batch_runner(
    config: CrawlConfig,
    site: Site[Any],
    store: Store,
    summaries: list[SessionSummary] | None = None,
    politeness: Manners | None = None,
) -> Callable[[Taken], Awaitable[bool]]:
    """Runs a taken batch in a session of its own; True once the ledger holds its outcome.
    Every batch's session shares `politeness` (the crawl's, in Redis) when one is given."""
    if not isinstance(store, Ledger):
        raise TypeError(f"a distributed crawl needs a store with a ledger, not {store!r}")
    ledger: Ledger = store

    async def run_batch(taken: Taken) -> bool:
        stored = (await ledger.view()).stored
        jobs: Sequence[PageJob] = [decode_job(item, stored) for item in taken.items]

        def route(_planner: Planner) -> Planner:
            async def these(context: PlanContext) -> Plan:
                return Plan((jobs,))

            return these

        async with open_session(
            config, site=site, store=store, route_plan=route, politeness=politeness
        ) as session:
            summary = await session.wait()
        if summaries is not None:
            summaries.append(summary)
        return summary.status in SETTLED

    return run_batch


async def work(
    config: CrawlConfig,
    *,
    site: Site[Any],
    store: Store,
    queue: WorkQueue,
    consumer: str,
    lease_ms: int,
    block_ms: int = 1000,
    summaries: list[SessionSummary] | None = None,
    politeness: Manners | None = None,
) -> WorkerTally:
    """Take and run the crawl's batches as `consumer` until the crawl is finished."""
    run_batch = batch_runner(config, site, store, summaries, politeness)
    return await run_worker(queue, consumer, run_batch, lease_ms=lease_ms, block_ms=block_ms)
