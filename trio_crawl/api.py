"""The library's front door: `crawl()` and `open_session()` in both of their forms.

With `stages=` they run any plug-in stages on the engine; with `site=` and `store=` they build
the catalogue crawl (fetcher, politeness, planner, the four stages) and record the session in
the store's `crawl_runs`. Either way this layer turns the `CrawlConfig` into the engine's
settings, and, when the config came from a file, watches that file and reconfigures the
running session (the engine itself reads no files).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import trio

from .config.errors import ConfigError
from .config.model import CrawlConfig
from .config.watch import watch_config
from .crawling.http import Fetcher, FetchSettings
from .crawling.parsing import ParsePool, default_processes
from .crawling.planner import CataloguePlanner
from .crawling.politeness import Manners, Politeness
from .crawling.stages import CatalogueCrawl
from .engine.handle import Session
from .engine.handle import open_session as open_engine_session
from .engine.planning import Planner
from .engine.results import ErrorKind, StageError
from .engine.session import SessionHook
from .engine.stage import Stage
from .engine.summary import SessionSummary
from .sites.protocol import Site
from .stores.ledger import Ledger
from .stores.liveness import HEARTBEAT_SECS
from .stores.protocol import RunHeartbeat, Store

logger = logging.getLogger(__name__)

STATUS_CHECK = "status_check"
"""The catalogue planner's retry policy: a settings key besides the stages'."""


def fetch_settings(config: CrawlConfig) -> FetchSettings:
    """The HTTP settings a config asks for: its own sections, as it checked them."""
    return FetchSettings.of(config)


def recorded_config(config: CrawlConfig) -> dict[str, Any]:
    """`config` as the store records it with the run: cookie values and a proxy's password
    are secrets, so they are masked (the names stay, to say they were set)."""
    data = config.to_dict()
    http = data["http"]
    http["cookies"] = {name: "***" for name in http["cookies"]}
    proxy = urllib.parse.urlsplit(http["proxy"])
    if proxy.password is not None:
        netloc = f"{proxy.username}:***@{proxy.netloc.rpartition('@')[2]}"
        http["proxy"] = proxy._replace(netloc=netloc).geturl()
    return data


_BUILT_IN_SITES = {
    "trio_crawl.sites.matter:MatterCatalogue": "matter",
    "trio_crawl.sites.bookshop:Bookshop": "bookshop",
}
"""The ``--site`` name of each built-in site's class (exactly that class, not a subclass)."""


def invocation(site: Site[Any], config: CrawlConfig) -> dict[str, Any]:
    """How to crawl the same way again, recorded with the run beside its config (under
    ``invocation``): the ``--site`` factory and the ``--config`` file, so that a status read
    later can print a command that continues this crawl rather than another. The built-in sites
    are told by their class's name, so that a crawl does not import the ones it does not use."""
    kind = type(site)
    spec = _BUILT_IN_SITES.get(f"{kind.__module__}:{kind.__qualname__}")
    return {
        "invocation": {
            "site": spec or f"{kind.__module__}:{kind.__qualname__}",
            "config_file": None if config.source is None else str(config.source),
        }
    }


def check_crawl_config(config: CrawlConfig, source: str | None = None) -> None:
    """Refuse (`ConfigError`) a config whose ``[retry.<stage>]`` or ``[concurrency]`` keys
    name no stage of a catalogue crawl, before a database is opened or created; `source` (the
    file) is named in the error, as the loader names it in its own."""
    from .config.errors import ConfigError
    from .crawling.stages import STAGE_NAMES

    try:
        config.engine_settings((*STAGE_NAMES, STATUS_CHECK))
    except ConfigError as exc:
        if source is None:
            raise
        raise ConfigError.from_problems(
            attrs.evolve(problem, origin=problem.origin or f"file {source}")
            for problem in exc.problems
        ) from None


def _keys(stages: Sequence[Stage], extra: Sequence[str] = ()) -> tuple[str, ...]:
    return (*(stage.key for stage in stages), *extra)


@asynccontextmanager
async def open_session(
    config: CrawlConfig,
    *,
    site: Site[Any] | None = None,
    store: Store | None = None,
    stages: Sequence[Stage] | None = None,
    planner: Planner | None = None,
    items: Sequence[Any] | None = None,
    rng: random.Random | None = None,
    session_id: str | None = None,
    on_finish: SessionHook | None = None,
    route_plan: Callable[[Planner], Planner] | None = None,
    politeness: Manners | None = None,
    tools: CrawlTools | None = None,
) -> AsyncIterator[Session]:
    """Open a running session; see `trio_crawl.engine.open_session` for its semantics.

    Either `site=` and `store=` (a catalogue crawl), or `stages=` with `planner=`/`items=`
    (and, if you like, an `on_finish` hook). Raises `ConfigError` when the config names a
    stage the session does not have. A catalogue crawl's `route_plan` is handed its planner and
    returns the one the session runs: a distributed crawl's planning session enqueues the plan
    instead of running it, and a worker's session runs the batches it took. `politeness` (a
    catalogue crawl's) replaces the session's own: a distributed crawl's workers share one
    through Redis, so the rate and per-host limits hold for the whole crawl. `tools` (from
    `open_crawl_tools`) are a catalogue crawl's parse processes and fetcher kept for many
    sessions; without them the session opens its own.
    """
    if site is None and store is None:
        if stages is None:
            raise TypeError("open_session needs site= and store=, or stages=")
        keys = _keys(stages)
        async with _configured(
            config,
            keys,
            stages=stages,
            planner=planner,
            items=items,
            rng=rng,
            session_id=session_id,
            on_finish=on_finish,
        ) as session:
            yield session
        return
    if site is None or store is None:
        raise TypeError("a catalogue crawl needs both site= and store=")
    if stages is not None or items is not None or planner is not None or on_finish is not None:
        raise TypeError("site=/store= build their own stages, planner and outcome hook")
    _check_store_fits(site, store)
    session_id = session_id or uuid.uuid4().hex
    ledger = store if isinstance(store, Ledger) else None
    given = None if tools is None else contextlib.nullcontext(tools)
    async with given or open_crawl_tools(config, site, politeness) as opened:
        parser, fetcher, manners = opened.parser, opened.fetcher, opened.politeness
        crawl = CatalogueCrawl(site, store, fetcher, ledger, session_id, parser)
        crawl_stages = crawl.stages()
        keys = _keys(crawl_stages, (STATUS_CHECK,))
        config.engine_settings(keys)  # a bad config is refused before a run is recorded
        await store.start_run(session_id, {**recorded_config(config), **invocation(site, config)})

        async def record(summary: SessionSummary) -> None:
            # The ledger first: a run recorded as ended has its failed items kept. The run row
            # even when the ledger cannot be written (a full disk may still take an update).
            try:
                await crawl.record_failures(summary.failed_items)
            finally:
                await store.finish_run(
                    summary.session_id, summary.status, summary.counts, run_error(summary)
                )

        def retune(new: CrawlConfig) -> None:
            fetcher.update_settings(fetch_settings(new))
            manners.update(new.rate_limit.requests_per_second, new.rate_limit.per_host_concurrency)

        planner = CataloguePlanner(
            site,
            store,
            crawl.fetch_list,
            config.crawl,
            ledger,
            session_id,
            list_concurrency=config.concurrency.list_pages,
            fetch_url=crawl.fetch_list_url,
            lists=crawl,
        )
        routed: Planner = planner if route_plan is None else route_plan(planner)
        async with _configured(
            config,
            keys,
            stages=crawl_stages,
            planner=routed,
            rng=rng,
            session_id=session_id,
            on_finish=record,
            on_reload=retune,
        ) as session:
            beat = (
                functools.partial(_heartbeat, store, session)
                if isinstance(store, RunHeartbeat)
                else None
            )
            async with _alongside(beat):
                yield session


@attrs.frozen
class CrawlTools:
    """What a catalogue crawl's sessions may share: its parse processes, its fetcher (with
    its connections and the robots.txt it read) and its politeness."""

    parser: ParsePool
    fetcher: Fetcher
    politeness: Manners


@asynccontextmanager
async def open_crawl_tools(
    config: CrawlConfig, site: Site[Any], politeness: Manners | None = None
) -> AsyncIterator[CrawlTools]:
    """A catalogue crawl's tools, open for as long as the block runs: a distributed worker
    runs a session a batch, and would otherwise start its parse processes and connect anew
    for every batch."""
    if politeness is None:
        rate = config.rate_limit
        politeness = Politeness(rate.requests_per_second, rate.per_host_concurrency)
    async with (
        ParsePool.open(
            site,
            default_processes(config.concurrency.parse_processes),
            stuck_after=config.crawl.parse_timeout_secs,
            max_nesting=config.crawl.max_page_nesting,
        ) as parser,
        Fetcher.open(fetch_settings(config), politeness) as fetcher,
    ):
        yield CrawlTools(parser, fetcher, politeness)


def _check_store_fits(site: Site[Any], store: Store) -> None:
    """A database store must be opened for the site's record table, or its items would meet
    another site's table."""
    from .stores.records import MATTER_RECORDS, RecordTable

    records = getattr(store, "records", None)
    if not isinstance(records, RecordTable):
        return
    wanted = RecordTable.for_site(site) or MATTER_RECORDS
    if records != wanted:
        raise TypeError(
            f"{site!r} keeps its items in table {wanted.name}, but the store was opened for"
            f" {records.name}: open it with"
            " open_store(db, records=RecordTable.for_site(site), per_page=site.per_page)"
        )


def run_error(summary: SessionSummary) -> dict[str, Any] | None:
    """What `crawl_runs.error_json` keeps of a session: its error or reason, the plan's note,
    and its failed items by kind (with the first URLs); None when there is nothing to say."""
    error: dict[str, Any] = summary.error.describe() if summary.error is not None else {}
    if summary.reason:
        error["reason"] = summary.reason
    if summary.note:
        error["note"] = summary.note
    if summary.failed_items:
        error["failed_items"] = summary.failures_by_kind()
    return error or None


async def _heartbeat(
    store: RunHeartbeat, session: Session, *, task_status: trio.TaskStatus[None]
) -> None:
    """Refresh the run's heartbeat while the session is open (see `stores.liveness`); fail the
    session once the store can take no more writes (its file deleted or replaced, say)."""
    task_status.started()
    while True:
        await trio.sleep(HEARTBEAT_SECS)
        try:
            await store.heartbeat(session.session_id)
        except StageError as error:
            if error.kind is ErrorKind.database_unusable:
                session.fail(error)
                return
            # A busy database now and then is no reason to stop.
            logger.debug("heartbeat of %s not recorded: %s", session.session_id, error)


@asynccontextmanager
async def _alongside(
    task: Callable[..., Awaitable[None]] | None,
) -> AsyncIterator[None]:
    """Run `task` (started with `nursery.start`) for as long as the block runs. An exception of
    the block is re-raised as it was, outside the nursery (not wrapped in a group)."""
    if task is None:
        yield
        return
    raised: BaseException | None = None
    async with trio.open_nursery() as nursery:
        await nursery.start(task)
        try:
            yield
        except GeneratorExit:
            raise
        except BaseException as exc:
            raised = exc
        nursery.cancel_scope.cancel()
    if raised is not None:
        raise raised


@asynccontextmanager
async def _configured(
    config: CrawlConfig,
    keys: Sequence[str],
    *,
    stages: Sequence[Stage],
    planner: Planner | None = None,
    items: Sequence[Any] | None = None,
    rng: random.Random | None = None,
    session_id: str | None = None,
    on_finish: SessionHook | None = None,
    on_reload: Callable[[CrawlConfig], None] | None = None,
) -> AsyncIterator[Session]:
    """An engine session under `config`, reconfigured live from `config.source` if it has one."""
    settings = config.engine_settings(keys)
    async with open_engine_session(
        settings,
        stages=stages,
        planner=planner,
        items=items,
        rng=rng,
        session_id=session_id,
        on_finish=on_finish,
    ) as session:
        source = config.source
        reloader = _Reloader(session, config, keys, on_reload)
        watch = None if source is None else functools.partial(reloader.watch, source)
        async with _alongside(watch):
            yield session


APPLIED_AT_START = frozenset(
    {
        "crawl.strategy",
        "crawl.page_range_limit",
        "crawl.batch_size",
        "crawl.parallel_batches",
        "crawl.parse_timeout_secs",
        "crawl.max_page_nesting",
        "concurrency.parse_processes",
        "system.config_poll_secs",
    }
)
"""Keys a session reads once, when it opens (with every ``site.`` key): a change to one
applies from the next run, and the reload says so."""


def _changed_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two TOML-shaped dicts."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            changed
            for key in sorted(old.keys() | new.keys())
            for changed in _changed_keys(old.get(key), new.get(key), f"{prefix}{key}.")
        ]
    return [] if old == new else [prefix.rstrip(".")]


@attrs.define
class _Reloader:
    """Applies each valid change of the config file to the running session, and says so in
    the log (stderr, the log file): an applied change at info, with a note for the keys that
    only a new run reads; a rejected one as a warning (the session keeps its config)."""

    session: Session
    current: CrawlConfig
    keys: Sequence[str]
    on_reload: Callable[[CrawlConfig], None] | None

    async def watch(self, path: Path, *, task_status: trio.TaskStatus[None]) -> None:
        await watch_config(
            path,
            poll_secs=self.current.system.config_poll_secs,
            on_change=lambda new: self.changed(path, new),
            on_error=lambda error: self.rejected(path, error),
            task_status=task_status,
        )

    def rejected(self, path: Path, error: ConfigError) -> None:
        logger.warning(
            "config change in %s rejected, the crawl keeps its config: %s",
            path,
            " | ".join(str(error).splitlines()),
        )
        self.session.reject_config(str(path), str(error))

    def changed(self, path: Path, new: CrawlConfig) -> None:
        try:
            settings = new.engine_settings(self.keys)
        except ConfigError as error:
            self.rejected(path, error)
            return
        keys = _changed_keys(self.current.to_dict(), new.to_dict())
        later = [k for k in keys if k in APPLIED_AT_START or k.startswith("site.")]
        logger.info("config reloaded from %s: %s", path, ", ".join(keys) or "no change")
        if later:
            logger.warning(
                "config: %s %s read when a run starts: the change applies from the next run",
                ", ".join(later),
                "is" if len(later) == 1 else "are",
            )
        old, self.current = self.current, new
        sections = tuple(
            field.name
            for field in attrs.fields(type(old))
            if field.eq and getattr(old, field.name) != getattr(new, field.name)
        )
        if self.on_reload is not None:
            self.on_reload(new)
        self.session.reconfigure(settings, source=str(path), changed=sections)


async def crawl(
    config: CrawlConfig,
    *,
    site: Site[Any] | None = None,
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
