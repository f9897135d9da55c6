"""The library's front door: `crawl()` and `open_session()` in both of their forms.

With `stages=` they run any plug-in stages on the engine; with `site=` and `store=` they build
the catalogue crawl (fetcher, politeness, planner, the four stages) and record the session in
the store's `crawl_runs`.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from .config.model import CrawlConfig
from .crawling.http import Fetcher, FetchSettings
from .crawling.planner import CataloguePlanner
from .crawling.politeness import Politeness
from .crawling.stages import CatalogueCrawl
from .engine import session as engine_session
from .engine.session import Planner, Session, SessionSummary
from .engine.stage import Stage
from .sites.protocol import Site
from .stores.protocol import Store


def fetch_settings(config: CrawlConfig) -> FetchSettings:
    """The HTTP settings a config asks for."""
    crawl = config.crawl
    return FetchSettings(
        request_timeout_secs=crawl.request_timeout_secs,
        max_response_bytes=crawl.max_response_bytes,
        allow_offsite_redirects=crawl.allow_offsite_redirects,
        max_connections=config.concurrency.max_connections,
    )


@asynccontextmanager
async def open_session(
    config: CrawlConfig,
    *,
    site: Site | None = None,
    store: Store | None = None,
    stages: Sequence[Stage] | None = None,
    planner: Planner | None = None,
    items: Sequence[Any] | None = None,
    rng: random.Random | None = None,
    session_id: str | None = None,
) -> AsyncIterator[Session]:
    """Open a running session; see `trio_crawl.engine.session.open_session` for the semantics.

    Either `site=` and `store=` (a catalogue crawl), or `stages=` with `planner=`/`items=`.
    """
    if site is None and store is None:
        if stages is None:
            raise TypeError("open_session needs site= and store=, or stages=")
        async with engine_session.open_session(
            config, stages=stages, planner=planner, items=items, rng=rng, session_id=session_id
        ) as session:
            yield session
        return
    if site is None or store is None:
        raise TypeError("a catalogue crawl needs both site= and store=")
    if stages is not None or items is not None or planner is not None:
        raise TypeError("site=/store= build their own stages and planner")
    session_id = session_id or uuid.uuid4().hex
    rate = config.rate_limit
    politeness = Politeness(rate.requests_per_second, rate.per_host_concurrency)
    async with Fetcher.open(fetch_settings(config), politeness) as fetcher:
        crawl = CatalogueCrawl(site, store, fetcher)
        await store.start_run(session_id, config.to_dict())

        async def record(summary: SessionSummary) -> None:
            error = summary.error.describe() if summary.error is not None else None
            if error is None and summary.reason:
                error = {"reason": summary.reason}
            await store.finish_run(summary.session_id, summary.status, summary.counts, error)

        async with engine_session.open_session(
            config,
            stages=crawl.stages(),
            planner=CataloguePlanner(site, store, crawl.fetch_list),
            rng=rng,
            session_id=session_id,
            on_finish=record,
        ) as session:

            def retune(new: CrawlConfig) -> None:
                fetcher.update_settings(fetch_settings(new))
                politeness.update(
                    new.rate_limit.requests_per_second, new.rate_limit.per_host_concurrency
                )

            session.live_config.on_change(retune)
            yield session


async def crawl(
    config: CrawlConfig,
    *,
    site: Site | None = None,
    store: Store | None = None,
    stages: Sequence[Stage] | None = None,
    planner: Planner | None = None,
    items: Sequence[Any] | None = None,
    rng: random.Random | None = None,
) -> SessionSummary:
    """Run a whole session and return its summary."""
    async with open_session(
        config, site=site, store=store, stages=stages, planner=planner, items=items, rng=rng
    ) as session:
        return await session.wait()
