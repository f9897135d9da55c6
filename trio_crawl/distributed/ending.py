"""How a distributed crawl ends: exactly one party concludes it, everyone reads its summary.

Every worker that sees the queue finished tries to conclude; a Redis ``SET NX`` on
`{prefix}:end` lets one through (`crawl --workers` needs no part of its own: one of its workers
concludes). That one runs the settle check (`settle`), accounts for every item of the plan
against the store (`account`), stores the summary in Redis and records the crawl's one run row
(`record_run`). The others wait for the summary and return it. The mark is a lease: a
concluder that dies leaves it to expire, and the next worker to look concludes instead.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import coredis
import trio

from ..stores.ledger import Ledger
from .queue import WorkQueue
from .rounds import CrawlRound, current_round
from .summary import CrawlSummary, FailedItem, stored_summary, worker_counts

logger = logging.getLogger(__name__)

CONCLUDE_LEASE_MS = 600_000
WAIT_SECS = 0.25

Settle = Callable[[CrawlRound], Awaitable[str]]
"""Runs the settle check for a round: "" when the catalogue is as the crawl stored it, else
what moved (or why it could not be checked)."""


async def conclude(
    queue: WorkQueue, ledger: Ledger, store: Any, consumer: str, settle: Settle
) -> CrawlSummary:
    """The finished crawl's summary, concluding the crawl first if no one has."""
    client = queue.client
    mark = f"{queue.prefix}:end"
    while True:
        done = await stored_summary(queue)
        if done is not None:
            return done
        if await client.set(mark, consumer, condition=coredis.PureToken.NX, px=CONCLUDE_LEASE_MS):
            try:
                crawl = await current_round(queue)
                if crawl is None:
                    raise RuntimeError(f"the crawl {queue.prefix!r} has no round to conclude")
                outcome = await settle(crawl)
                summary = await account(queue, ledger, crawl, outcome, consumer)
                await client.set(f"{queue.prefix}:summary", summary.to_json())
            except BaseException:
                with trio.CancelScope(shield=True):
                    await client.delete([mark])  # another worker concludes instead
                raise
            await record_run(store, summary)
            return summary
        await trio.sleep(WAIT_SECS)


async def planned_items(queue: WorkQueue) -> tuple[int, set[str], set[str]]:
    """The plan, as the stream holds it (acknowledged entries stay in the stream): how many
    batches, the list page urls, the product urls."""
    batches = 0
    pages: set[str] = set()
    products: set[str] = set()
    start = "-"
    while True:
        entries = await queue.client.xrange(queue.stream, start, "+", count=500)
        if not entries:
            break
        for entry in entries:
            batches += 1
            for job in _items(entry):
                pages.add(str(job["url"]))
                products.update(job["only"] or ())
        start = f"({entries[-1].identifier!s}"
    return batches, pages, products


def _items(entry: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(entry.field_values["batch"])
    return items


async def account(
    queue: WorkQueue, ledger: Ledger, crawl: CrawlRound, settle: str, by: str
) -> CrawlSummary:
    """The whole crawl's summary: every product url of the plan is stored, failed for good
    (with its reason) or unaccounted for, as the store says now."""
    batches, pages, products = await planned_items(queue)
    stored = await ledger.stored_among(products)
    failures = await ledger.failed_among([*sorted(products - stored), *sorted(pages)])
    failed = tuple(
        FailedItem(f.url, f.item, f.stage, f.kind, f.attempts, f.last_error) for f in failures
    )
    products_failed = sum(1 for f in failed if f.item == "product")
    pages_failed = sum(1 for f in failed if f.item == "page")
    unaccounted = len(products) - len(stored) - products_failed
    whole = unaccounted == 0 and not failed and not settle
    return CrawlSummary(
        crawl_id=crawl.id,
        round=crawl.round,
        status="completed" if whole else "partial",
        planned_batches=batches,
        planned_pages=len(pages),
        planned_products=len(products),
        products_stored=len(stored),
        products_failed=products_failed,
        unaccounted=unaccounted,
        pages_failed=pages_failed,
        failed=failed,
        workers=await worker_counts(queue),
        settle=settle,
        settled_by=by,
        finished_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )


async def record_run(store: Any, summary: CrawlSummary) -> None:
    """The crawl's one run row says how the whole crawl ended."""
    counts = {
        "pages_ok": summary.planned_pages - summary.pages_failed,
        "pages_failed": summary.pages_failed,
        "products_saved": summary.products_stored,
        "products_failed": summary.products_failed,
    }
    error: dict[str, Any] = {}
    if summary.settle:
        error["reason"] = summary.settle
    if summary.unaccounted:
        error["note"] = f"{summary.unaccounted} planned products neither stored nor failed"
    if summary.failed:
        error["failed_items"] = {"total": len(summary.failed)}
    try:
        await store.finish_run(summary.crawl_id, summary.status, counts, error or None)
    except Exception as exc:  # the summary stands; the row is the store's view
        logger.warning("the crawl's run row could not be recorded: %s", exc)
