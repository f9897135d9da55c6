"""The `demo` and `crawl` commands' trio side: a session over the store `--db` names, its
subscribers (dashboard, log lines, the live page) and the one policy for Ctrl-C and SIGTERM."""

from __future__ import annotations

import argparse
import functools
import logging
import os
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import attrs
import trio
from rich.console import Console

from ..api import open_session
from ..config.model import CrawlConfig
from ..engine.events import BatchCompleted, BatchFailed, Subscription
from ..engine.summary import SessionSummary
from ..ui.dashboard import run_dashboard
from .logs import event_log, log, log_events, session_id_filter

T = TypeVar("T")

DEMO_SETTINGS: dict[str, Any] = {
    # The demo target is our own server on loopback: crawl all of it without a rate limit (a
    # rerun on the same file continues: what is stored is not fetched again), and retry the
    # malformed list pages its fault injection serves now and then.
    "crawl": {
        "strategy": "continue_from_db",
        "page_range_limit": 100_000,
        "request_timeout_secs": 10,
    },
    "rate_limit": {"requests_per_second": 0},
    "retry": {
        "list_pages": {
            "retry_on": [
                "network_timeout",
                "network_error",
                "server_error",
                "rate_limited",
                "parse_error",
            ]
        }
    },
}


def load_config(path: Path | None, defaults: dict[str, Any] | None = None) -> CrawlConfig:
    if path is not None:
        return CrawlConfig.load(path)
    return CrawlConfig.from_dict(defaults or {}, env=os.environ)


class StoppedAtStart(Exception):
    """Ctrl-C (or SIGTERM) stopped the command before a session ran."""


@attrs.define
class _Stop:
    """What Ctrl-C or SIGTERM does at this moment. The receiver is open from the first moment
    of `trio.run` to its last, so no signal ever lands as a KeyboardInterrupt in the middle of
    trio: once a session runs, every signal cancels it (it ends `cancelled`, with its summary,
    however many come); before that, a signal stops the start-up."""

    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    session: Any = None

    async def watch(self, signals: AsyncIterator[int]) -> None:
        async for _ in signals:
            if self.session is None:
                self.scope.cancel()
            elif not self.session.done:
                self.session.cancel("interrupted by signal")


async def interruptible(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """`fn(stop, *args)` (the command's trio main) with Ctrl-C and SIGTERM turned into a stop
    (`_Stop`); raises `StoppedAtStart` when a signal stopped it before a session ran."""
    stop = _Stop()
    raised: BaseException | None = None
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(stop.watch, signals)
            try:
                with stop.scope:
                    return await fn(stop, *args)
            except BaseException as exc:  # re-raised as it was, not in the nursery's group
                raised = exc
            finally:
                nursery.cancel_scope.cancel()
    if raised is not None:
        raise raised
    raise StoppedAtStart


async def run_crawl(
    stop: _Stop,
    config: CrawlConfig,
    site: Any,
    db: str,
    console: Console,
    dashboard: bool,
    page: Any = None,
) -> SessionSummary:
    """Crawl `site` into `db`, with the dashboard if asked (and the web `page`, a
    `trio_crawl.ui.web.LiveHub`, if given); a signal cancels it (`stop`)."""
    from ..stores import RecordTable, open_store

    records = RecordTable.for_site(site)
    # Known before the store opens, so that every line the log file gets from here on names it.
    session_id = session_id_filter.session_id = uuid.uuid4().hex
    async with (
        open_store(db, per_page=site.per_page, records=records) as store,
        open_session(config, site=site, store=store, session_id=session_id) as session,
    ):
        stop.session = session
        if page is not None:
            page.attach(session)
        subscription = session.events()
        events = session.events() if event_log.isEnabledFor(logging.INFO) else None
        async with trio.open_nursery() as subscribers:
            if events is not None:
                subscribers.start_soon(log_events, events)
            if dashboard:
                await run_dashboard(subscription, console)
            else:
                await _log_batches(subscription)
        return await session.wait()


async def _log_batches(subscription: Subscription) -> None:
    """Without a dashboard (logs, pipes): one log line per finished batch (shown with -v)."""
    saved = 0
    async for event in subscription:
        if isinstance(event, BatchCompleted | BatchFailed):
            if isinstance(event, BatchCompleted):
                saved += event.items_ok
                what = f"{event.outcome}, {event.items_ok} saved, {event.items_failed} failed"
            else:
                what = f"failed ({event.kind}: {event.message})"
            log.debug("batch %s: %s; %s saved so far", event.batch_id, what, saved)


async def with_page(
    stop: _Stop,
    args: argparse.Namespace,
    console: Console,
    crawl: Callable[..., Awaitable[SessionSummary]],
) -> SessionSummary:
    """Run `crawl(stop, page=page)`: with ``--web``, the page is served from before the session
    starts until the crawl returns (or, with ``--keep-serving``, until Ctrl-C)."""
    if args.web is None:
        return await crawl(stop, page=None)
    from ..ui.web import live_page, until_interrupted

    def announce(url: str) -> None:
        console.print(f"live page: {url}", markup=False, soft_wrap=True)

    async with live_page(args.web, announce) as page:
        summary = await crawl(stop, page=page)
        if args.keep_serving:
            console.print(
                f"crawl {summary.status}; the page stays up until Ctrl-C", markup=False
            )
            await until_interrupted()
    return summary


async def run_demo(
    stop: _Stop, args: argparse.Namespace, console: Console, page: Any = None
) -> SessionSummary:
    from ..demo import DemoBookshop, DemoCatalogue, FaultConfig, Markup, serve_demo
    from ..sites import MatterCatalogue
    from ..sites.bookshop import Bookshop

    config = load_config(args.config, DEMO_SETTINGS)
    from ..api import check_crawl_config

    check_crawl_config(config, None if args.config is None else str(args.config))
    books = args.site == "bookshop"
    catalogue = DemoCatalogue(products=24 if books else args.products, seed=args.seed)
    bookshop = DemoBookshop(books=args.products, seed=args.seed) if books else None
    faults = FaultConfig.low(seed=args.seed) if args.faults == "low" else FaultConfig()
    async with trio.open_nursery() as nursery:
        serve = functools.partial(
            serve_demo, catalogue, faults=faults, markup=Markup(args.markup), bookshop=bookshop
        )
        try:
            # The port of the demo crawled into this file before, so that a rerun continues
            # the same catalogue (one catalogue per file) rather than starting another.
            server = await nursery.start(functools.partial(serve, port=_demo_port(args.db)))
        except OSError:
            server = await nursery.start(serve)
        if bookshop is not None:
            what = f"demo bookshop: {bookshop.total} books on {bookshop.last_page} pages at "
            where = f"{server.bookshop_url} (faults: {args.faults})"
        else:
            what = f"demo catalogue: {catalogue.total} products on {catalogue.last_page} pages at "
            where = f"{server.base_url} (faults: {args.faults}, markup: {args.markup})"
        from ..stores.location import locate

        shown = locate(args.db).shown  # (a server's database: without its password)
        console.print(f"{what}{where} → {shown}", soft_wrap=True)
        site = Bookshop(server.base_url) if books else MatterCatalogue(server.base_url)
        summary = await run_crawl(
            stop, config, site, args.db, console, not args.no_dashboard, page
        )
        console.print(
            f"server saw {server.stats.requests} requests, "
            f"injected {sum(server.stats.faults.values())} faults"
        )
        nursery.cancel_scope.cancel()
    return summary


def _demo_port(db: str) -> int:
    """The port of the base URL the database at `db` recorded (0, any free port, if none)."""
    from ..stores.location import recorded_base_url
    from ..stores.schema import StoreOpenError

    try:
        base_url = recorded_base_url(db)
    except StoreOpenError:
        return 0  # opening the store says why it cannot be used
    port = urlsplit(base_url).port if base_url else None
    return port or 0
