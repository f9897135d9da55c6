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

Every session of a round runs under the round's crawl id, carried by each job (`rounds`,
`run_part`); a worker beats while it works (`heartbeat`), reports each batch's counts
(`summary.record_batch`), and once the queue is finished reads, or makes, the whole crawl's
summary (`ending.conclude`, which runs the settle check of `settle`).
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import attrs
import trio

from ..api import CrawlTools, open_crawl_tools, open_session
from ..config.model import CrawlConfig
from ..crawling.last_page import CatalogueShape
from ..crawling.planner import PageJob
from ..crawling.politeness import Manners
from ..engine.planning import Plan, PlanContext, Planner, as_plan
from ..engine.results import StageError
from ..engine.retry import RetryPolicy
from ..engine.summary import SessionSummary
from ..sites.protocol import Site
from ..stores.ledger import Ledger
from ..stores.protocol import RunHeartbeat, Store
from .control import ControlChannel, Steering
from .ending import conclude
from .events import EventPublisher
from .heartbeat import HEARTBEAT_SECS, WorkerState, keep_beating, leave
from .outage import STORE_DOWN, RetryingQueue, ServerLost, Servers
from .queue import Taken, WorkQueue
from .rounds import CrawlRound, PlanRefused, planning, record_plan
from .run_part import CrawlPart
from .settle import record_listing, recorded_sweep, settle_route
from .summary import CrawlSummary, record_batch
from .worker import WorkerTally, run_worker

SETTLED = frozenset({"completed", "partial"})


def encode_job(job: PageJob, crawl_id: str = "") -> dict[str, Any]:
    only = job.only
    if job.refs is not None:
        only = frozenset(str(ref.url) for ref in job.refs)
    return {
        "page": job.page,
        "url": job.url,
        "last_page": job.shape.last_page,
        "on_last": job.shape.on_last,
        "only": None if only is None else sorted(only),
        # A job that names its urls needs no list of what not to fetch (the worker asks the
        # ledger about those urls); only a page the planner could not read carries it.
        "stored": sorted(job.stored) if only is None else [],
        "held": sorted(job.held),
        "crawl": crawl_id,
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
    """What the planning session put in the queue; `refused` says why it planned nothing."""

    summary: SessionSummary | None = None
    batches: int = 0
    items: int = 0
    round: CrawlRound | None = None
    refused: str = ""


async def plan_crawl(
    config: CrawlConfig,
    *,
    site: Site[Any],
    store: Store,
    queue: WorkQueue,
    politeness: Manners | None = None,
) -> Planned:
    """Plan the crawl once and put its batches in `queue`, then mark planning done. A plan
    that fails marks nothing: workers keep waiting for a `plan` that succeeds. A crawl planned
    and not finished is not planned again (`refused` says so); a finished one is planned
    again as a new round over what the store does not hold (`rounds`)."""
    planned = Planned()
    # A new plan is a new run of the crawl: a cancel of the last one no longer holds.
    await ControlChannel(queue.client, queue.prefix).send("plan")
    try:
        async with planning(queue) as this:
            planned.round = this

            def route(planner: Planner) -> Planner:
                async def enqueue(context: PlanContext) -> Plan:
                    plan = as_plan(await planner(context))
                    batches = [[encode_job(job, this.id) for job in b] for b in plan.batches]
                    swept = getattr(planner, "swept", None)
                    if swept is not None:
                        await record_listing(queue, swept)
                    await queue.enqueue(batches)
                    done = attrs.evolve(
                        this,
                        planned_at=datetime.datetime.now(datetime.UTC).isoformat("T", "seconds"),
                        batches=len(batches),
                        pages=plan.items,
                        products=plan.expected.get("products_saved", 0),
                    )
                    await record_plan(queue, done)
                    await queue.mark_planned()
                    planned.batches, planned.items, planned.round = len(batches), plan.items, done
                    note = f"{len(batches)} batches of {plan.items} list pages enqueued"
                    return Plan((), note="; ".join(n for n in (note, plan.note) if n))

                return enqueue

            part = cast(Store, CrawlPart(store, planning=True))
            async with open_session(
                config,
                site=site,
                store=part,
                session_id=this.id,
                route_plan=route,
                politeness=politeness,
            ) as session:
                planned.summary = await session.wait()
    except PlanRefused as refused:
        planned.refused = str(refused)
    return planned


def batch_runner(
    config: CrawlConfig,
    site: Site[Any],
    store: Store,
    summaries: list[SessionSummary] | None = None,
    report: Callable[[Taken, SessionSummary, int], Awaitable[None]] | None = None,
    servers: Servers | None = None,
    *,
    steering: Steering | None = None,
    publisher: EventPublisher | None = None,
    politeness: Manners | None = None,
    tools: CrawlTools | None = None,
) -> Callable[[Taken], Awaitable[bool]]:
    """Runs a taken batch in a session of its own, steered by `steering` (pause, resume,
    cancel), its events to `publisher`; True once the ledger holds its outcome.
    Every batch's session shares `tools` (parse processes, fetcher and the politeness they
    keep) when given, else `politeness` (the crawl's, in Redis) when given.
    `report` hears of each batch's summary and how many of its products were stored before
    it began. A batch during which the store went away is run again once the store is back
    (`servers` says for how long it is waited for, and what the error names when it is not)."""
    if not isinstance(store, Ledger):
        raise TypeError(f"a distributed crawl needs a store with a ledger, not {store!r}")
    ledger: Ledger = store
    part = cast(Store, CrawlPart(store))
    servers = servers or Servers(_server_policy(config))
    steering = steering or Steering()
    manners = politeness if tools is None else tools.politeness

    async def run_once(taken: Taken) -> tuple[SessionSummary, int]:
        found = await servers.store_call(lambda: _stored_now(ledger, taken.items))
        jobs: Sequence[PageJob] = [decode_job(item, stored) for item, stored in found]
        skipped = sum(len(stored & set(item["only"] or ())) for item, stored in found)
        crawl_id = next((str(item.get("crawl") or "") for item in taken.items), "")

        def route(_planner: Planner) -> Planner:
            async def these(context: PlanContext) -> Plan:
                return Plan((jobs,))

            return these

        async with open_session(
            config,
            site=site,
            store=part,
            session_id=crawl_id or None,
            route_plan=route,
            politeness=manners,
            tools=tools,
        ) as session:
            with steering.steer(session):
                async with trio.open_nursery() as nursery:
                    if publisher is not None:
                        nursery.start_soon(publisher.follow, session.session_id, session.events())
                    return await session.wait(), skipped

    async def store_was_away() -> bool:
        """Whether the store is away now; if so, wait for it under the policy (or stop:
        `ServerLost`). A store that answers at once failed the batch's items for their own
        sake (a value it refuses), not by going away."""
        try:
            await ledger.stored_among([STORE_PROBE])
        except StageError as error:
            if error.kind not in STORE_DOWN:
                raise
            await servers.store_call(lambda: ledger.stored_among([STORE_PROBE]))
            return True
        return False

    async def run_batch(taken: Taken) -> bool:
        for _ in range(servers.policy.max_attempts):
            summary, skipped = await run_once(taken)
            # Redis went away under the shared politeness for longer than the policy waits:
            # the worker stops; the batch, not acknowledged, goes back through the lease.
            lost = getattr(manners, "lost", None)
            if isinstance(lost, ServerLost):
                raise lost
            # The store went away during the batch: what it lost is not the batch's outcome.
            # Once it is back, the batch runs again (the ledger skips what it stored).
            if not (_store_failed(summary) and await store_was_away()):
                break
        else:
            raise ServerLost(f"lost {servers.store}: every run of batch {taken.id} met it away")
        if summaries is not None:
            summaries.append(summary)
        if report is not None:
            await report(taken, summary, skipped)
        return summary.status in SETTLED

    return run_batch


STORE_PROBE = "trio-crawl:is-the-store-back"


def _server_policy(config: CrawlConfig) -> RetryPolicy:
    """The store's retry policy (`[retry.saving]`) also paces a worker's waits for a server."""
    return config.retry.for_stage("saving") or RetryPolicy()


def _store_failed(summary: SessionSummary) -> bool:
    kinds = {failed.kind for failed in summary.failed_items}
    if summary.error is not None:
        kinds.add(summary.error.kind)
    return bool(kinds & STORE_DOWN)


async def _stored_now(
    ledger: Ledger, items: Sequence[dict[str, Any]]
) -> list[tuple[dict[str, Any], frozenset[str]]]:
    """Each job of a batch with the urls of it stored by now. The ledger is asked about the
    batch's own urls, so a batch costs the same on a catalogue of any size; a page the planner
    could not read names no urls, and only for such a page is every stored url read."""
    named = [url for item in items if item["only"] is not None for url in item["only"]]
    stored = await ledger.stored_among(named) if named else frozenset()
    if any(item["only"] is None for item in items):
        stored |= (await ledger.view()).stored
    return [(item, stored) for item in items]


@attrs.frozen
class Worked:
    """What a worker did, and the whole crawl's summary once it was finished."""

    tally: WorkerTally
    summary: CrawlSummary | None
    """None when the worker was stopped (cancelled, or a signal) before the crawl finished."""


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
    beat_secs: float = HEARTBEAT_SECS,
    redis_name: str = "Redis",
    store_name: str = "the store",
    steering: Steering | None = None,
    publisher: EventPublisher | None = None,
    politeness: Manners | None = None,
) -> Worked:
    """Take and run the crawl's batches as `consumer` until the crawl is finished or
    `steering` stops it, beating all the while; then, unless stopped, the whole crawl's
    summary (concluding the crawl if no one has).
    Raises `ServerLost` (in an exception group) when Redis or the store, named by
    `redis_name` and `store_name`, stays away longer than the `saving` retry policy waits."""
    servers = Servers(_server_policy(config), redis_name, store_name)
    queue = RetryingQueue(queue, lost=redis_name, policy=servers.policy)
    state = WorkerState(consumer, lease_ms / 1000)
    crawl_ids: set[str] = set()

    async def report(taken: Taken, summary: SessionSummary, skipped: int) -> None:
        counts = {
            "batches": 1,
            "reclaimed": int(taken.reclaimed),
            "pages_ok": summary.pages_ok,
            "pages_failed": summary.pages_failed,
            "products_saved": summary.products_saved,
            "products_failed": summary.products_failed,
            "products_skipped": skipped,
        }
        for name, value in counts.items():
            state.counts[name] = state.counts.get(name, 0) + value
        crawl_ids.update(str(item.get("crawl") or "") for item in taken.items)
        await servers.redis_call(lambda: record_batch(queue, consumer, counts))

    async def also_beat() -> None:
        # The crawl's one run row stays `running` while any worker works on it.
        if isinstance(store, RunHeartbeat):
            for crawl_id in crawl_ids - {""}:
                await store.heartbeat(crawl_id)

    steering = steering or Steering()

    async def holding(taken: Taken) -> bool:
        state.batch = taken.id
        try:
            return await run_batch(taken)
        finally:
            state.batch = None

    async def settle(crawl: CrawlRound) -> str:
        before = await recorded_sweep(queue)
        if before is None:
            return "the plan recorded no reading of the catalogue to compare with"
        route = settle_route(before, crawl.products > 0)
        part = cast(Store, CrawlPart(store))
        async with open_session(
            config,
            site=site,
            store=part,
            session_id=crawl.id,
            route_plan=route,
            tools=tools,
        ) as session:
            checked = await session.wait()
        if checked.status in SETTLED:
            return checked.reason
        return f"the settle check ended {checked.status}: {checked.reason}"

    assert isinstance(store, Ledger)
    # One set of parse processes and one fetcher (its connections, its robots.txt) for every
    # batch this worker runs, not one a batch.
    async with open_crawl_tools(config, site, politeness) as tools, trio.open_nursery() as nursery:
        run_batch = batch_runner(
            config, site, store, summaries, report, servers, steering=steering,
            publisher=publisher, tools=tools,
        )  # fmt: skip
        await nursery.start(
            functools.partial(keep_beating, queue, state, every_secs=beat_secs, also=also_beat)
        )
        tally = await run_worker(
            queue, consumer, holding, lease_ms=lease_ms, block_ms=block_ms, steering=steering
        )
        whole = None
        if not tally.stopped:
            whole = await servers.both(lambda: conclude(queue, store, store, consumer, settle))
        nursery.cancel_scope.cancel()
    await servers.redis_call(lambda: leave(queue, consumer))
    return Worked(tally, whole)
