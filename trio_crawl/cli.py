"""The `trio-crawl` command: demo, crawl, export, status, serve-demo.

Exit status: 0 when the crawl completed (even partially: failed items are listed), 1 when it
failed, 3 when it timed out, 130 when it was cancelled (Ctrl-C), 2 for bad arguments or config
(one line naming the problem).
"""

from __future__ import annotations

import argparse
import errno
import functools
import logging
import os
import shlex
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import attrs
import trio
from rich.console import Console

from .api import open_session
from .config.errors import ConfigError
from .config.model import CrawlConfig
from .demo.catalogue import add_change_option
from .engine.events import BatchCompleted, BatchFailed, Event, ItemFailed, Subscription
from .engine.summary import SessionSummary
from .interrupted import interrupted
from .ui.dashboard import run_dashboard, summary_table

T = TypeVar("T")

log = logging.getLogger("trio_crawl")
event_log = logging.getLogger("trio_crawl.events")

EXIT_CODES = {"completed": 0, "partial": 0, "failed": 1, "timed_out": 3, "cancelled": 130}

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


class UsageError(Exception):
    """Bad command-line input; reported on one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """Options are spelled out (`--base-ur` is not `--base-url`: an abbreviation that a new
    option would make ambiguous is a script broken later), and a mistyped command or option
    gets the close matches."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message + _close_matches(message, self))


def _close_matches(message: str, parser: argparse.ArgumentParser) -> str:
    """ "; did you mean …?" for an invalid choice or an unknown option in argparse's `message`."""
    import difflib
    import re

    choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if choice is not None:
        wrong, known = choice.group(1), re.findall(r"'([^']*)'", choice.group(2))
    else:
        unknown = re.search(r"unrecognized arguments: (\S+)", message)
        if unknown is None:
            return ""
        wrong, known = unknown.group(1), list(parser._option_string_actions)
        for action in parser._actions:  # the commands' own options are its subparsers'
            if isinstance(action, argparse._SubParsersAction):
                for command in action.choices.values():
                    known += list(command._option_string_actions)
    close = difflib.get_close_matches(wrong, list(dict.fromkeys(known)), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def _whole_number(text: str, what: str, accept: range, out_of_range: str) -> int:
    """The argparse `type=` check both number options share; messages name `text`."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if value not in accept:
        raise argparse.ArgumentTypeError(out_of_range.format(text=repr(text)))
    return value


def positive_int(text: str) -> int:
    """argparse `type=`: a whole number of at least 1 (a catalogue size)."""
    return _whole_number(text, "a whole number", range(1, sys.maxsize), "{text} must be at least 1")


def listen_port(text: str) -> int:
    """argparse `type=`: a TCP port to listen on, 0..65535 (0 = any free port)."""
    return _whole_number(
        text, "a port number", range(65536), "port {text} is out of range: give 0..65535 (0 = any)"
    )


def base_url(text: str) -> str:
    """argparse `type=`: an http(s) URL with a host and, if given, a port 1..65535."""
    hint = "give e.g. http://127.0.0.1:8000"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid URL ({exc}); {hint}") from None
    if parts.scheme not in ("http", "https"):
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL; {hint}")
    if not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} has no host; {hint}")
    if port is not None and not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} has port {port}, not 1..65535; {hint}")
    return text


def version() -> str:
    """The installed distribution's version (the package's own `__version__` otherwise)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("trio-crawl")
    except PackageNotFoundError:
        import trio_crawl

        return str(getattr(trio_crawl, "__version__", "unknown"))


def _add_logging_options(parser: argparse.ArgumentParser, *, default: Any) -> None:
    """-v/-q/--log-file, accepted before the command and after it (`default` SUPPRESS there,
    so a command's parser never overwrites what was given before it)."""
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument(
        "-v", "--verbose", action="store_true", default=default, help="also log every batch"
    )
    loudness.add_argument(
        "-q", "--quiet", action="store_true", default=default, help="log warnings only"
    )
    parser.add_argument(
        "--log-file",
        type=Path,
        default=None if default is not argparse.SUPPRESS else default,
        metavar="FILE",
        help="write one line per session event (timestamp, level, session id) to FILE",
    )


def web_address(text: str) -> Any:
    """argparse `type=`: ``PORT`` or ``HOST:PORT`` for the web page (0 = any free port)."""
    from .ui.web.server import WebAddress, WebAddressError

    try:
        return WebAddress.parse(text)
    except WebAddressError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_web_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--web",
        type=web_address,
        metavar="[HOST:]PORT",
        help="serve a live page of the crawl (0 = any free port; the URL with its token is"
        " printed; host 127.0.0.1 unless given)",
    )
    parser.add_argument(
        "--keep-serving",
        action="store_true",
        help="with --web: keep the page up after the crawl ends, until Ctrl-C",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="trio-crawl", description="Crawl paginated catalogues with trio.")
    parser.add_argument("--version", action="version", version=f"trio-crawl {version()}")
    _add_logging_options(parser, default=False)
    common = _Parser(add_help=False)
    _add_logging_options(common, default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    demo = commands.add_parser(
        "demo", parents=[common], help="serve the demo catalogue and crawl it into SQLite"
    )
    demo.add_argument(
        "--site",
        choices=("matter", "bookshop"),
        default="matter",
        help="which demo catalogue to crawl (matter; bookshop: books listed oldest first)",
    )
    demo.add_argument("--products", type=positive_int, default=3000, help="catalogue size (3000)")
    demo.add_argument("--seed", type=int, default=7, help="catalogue seed (7)")
    demo.add_argument("--db", default="demo.db", help="SQLite file (demo.db)")
    demo.add_argument("--faults", choices=("low", "none"), default="low", help="faults (low)")
    demo.add_argument("--config", type=Path, help="TOML config (demo defaults otherwise)")
    demo.add_argument("--no-dashboard", action="store_true", help="print only the summary")
    demo.add_argument(
        "--markup",
        choices=("nested", "block", "flat"),
        default="nested",
        help="how list pages lay out their cards (nested, as the live site does)",
    )
    _add_web_options(demo)

    crawl = commands.add_parser("crawl", parents=[common], help="crawl a catalogue into SQLite")
    crawl.add_argument("--config", type=Path, help="TOML config file")
    crawl.add_argument("--base-url", type=base_url, required=True, help="catalogue base URL")
    crawl.add_argument(
        "--site",
        default="matter",
        metavar="SITE",
        help="package.module:factory of the site, called with the base URL and the config's"
        " [site] options (matter: the Matter catalogue, the default; bookshop: the demo shop)",
    )
    crawl.add_argument("--db", required=True, help="SQLite file")
    crawl.add_argument("--no-dashboard", action="store_true", help="print only the summary")
    _add_web_options(crawl)

    export = commands.add_parser("export", parents=[common], help="export stored products")
    export.add_argument("--db", required=True, help="SQLite file")
    export.add_argument("--format", choices=("jsonl", "csv"), required=True)
    export.add_argument("--out", type=Path, help="output file (stdout otherwise)")

    status = commands.add_parser(
        "status", parents=[common], help="show how far the crawl stored in a database got"
    )
    status.add_argument("--db", required=True, help="SQLite file")
    status.add_argument("--json", action="store_true", help="print JSON instead of text")
    status.add_argument(
        "--failures", action="store_true", help="list every failed item (the first 10 otherwise)"
    )

    web = commands.add_parser(
        "web", parents=[common], help="serve the status of a database as a web page"
    )
    web.add_argument("--db", required=True, help="SQLite file")
    web.add_argument(
        "--web",
        type=web_address,
        default=None,
        metavar="[HOST:]PORT",
        help="where to serve (127.0.0.1:8765; 0 = any free port)",
    )

    serve = commands.add_parser(
        "serve-demo", parents=[common], help="serve the demo catalogue on 127.0.0.1"
    )
    serve.add_argument("--port", type=listen_port, default=8000, help="port (8000; 0 = any free)")
    serve.add_argument("--products", type=positive_int, default=4000, help="catalogue size (4000)")
    serve.add_argument("--seed", type=int, default=7, help="catalogue seed (7)")
    serve.add_argument(
        "--books", type=positive_int, default=47, help="bookshop size under /books/ (47)"
    )
    serve.add_argument("--faults", choices=("low", "none"), default="none", help="faults (none)")
    serve.add_argument(
        "--markup",
        choices=("nested", "block", "flat"),
        default="nested",
        help="how list pages lay out their cards (nested, as the live site does)",
    )
    add_change_option(serve)
    return parser


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
    from .stores import RecordTable, SqliteStore

    records = RecordTable.for_site(site)
    # Known before the store opens, so that every line the log file gets from here on names it.
    session_id = _session_id.session_id = uuid.uuid4().hex
    async with (
        SqliteStore.open(db, per_page=site.per_page, records=records) as store,
        open_session(config, site=site, store=store, session_id=session_id) as session,
    ):
        stop.session = session
        if page is not None:
            page.attach(session)
        subscription = session.events()
        events = session.events() if event_log.isEnabledFor(logging.INFO) else None
        async with trio.open_nursery() as subscribers:
            if events is not None:
                subscribers.start_soon(_log_events, events)
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


class _SessionId(logging.Filter):
    """Stamps every record with the session's id (`-` until the session has started)."""

    def __init__(self) -> None:
        super().__init__()
        self.session_id = "-"

    def filter(self, record: logging.LogRecord) -> bool:
        record.session_id = self.session_id
        return True


_session_id = _SessionId()


def setup_logging(verbose: bool, quiet: bool, log_file: Path | None) -> None:
    """stderr gets warnings (-q), info (default) or batch detail too (-v); `log_file` gets
    every record, session events included, one line each with timestamp, level, session id."""
    log.handlers.clear()
    event_log.handlers.clear()
    log.setLevel(logging.DEBUG)
    log.propagate = False
    event_log.propagate = False  # events go to the file only, never to stderr
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    stderr.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(stderr)
    if log_file is not None:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s session=%(session_id)s %(message)s")
        )
        handler.addFilter(_session_id)
        log.addHandler(handler)
        event_log.addHandler(handler)
        event_log.setLevel(logging.DEBUG)
    else:
        event_log.setLevel(logging.CRITICAL + 1)


def describe_event(event: Event) -> str:
    """One line for one event: its type and fields (not seq, ts or the summary object)."""
    fields = attrs.asdict(event, recurse=False)
    parts = [
        f"{key}={' '.join(str(value).split())}"
        for key, value in fields.items()
        if key not in ("seq", "ts", "summary")
    ]
    return " ".join([type(event).__name__, f"seq={event.seq}", *parts])


async def _log_events(subscription: Subscription) -> None:
    """The logging subscriber: one log-file line per session event."""
    async for event in subscription:
        # A given-up item is the one event an operator must see: its reason is logged here.
        level = logging.WARNING if isinstance(event, ItemFailed) else logging.INFO
        event_log.log(level, "%s", describe_event(event))


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
    from .ui.web import live_page, until_interrupted

    def announce(url: str) -> None:
        console.print(f"live page: {url}", markup=False, soft_wrap=True)

    async with live_page(args.web, announce) as page:
        summary = await crawl(stop, page=page)
        if args.keep_serving:
            console.print(f"crawl {summary.status}; the page stays up until Ctrl-C", markup=False)
            await until_interrupted()
    return summary


async def run_demo(
    stop: _Stop, args: argparse.Namespace, console: Console, page: Any = None
) -> SessionSummary:
    from .demo import DemoBookshop, DemoCatalogue, FaultConfig, Markup, serve_demo
    from .sites import MatterCatalogue
    from .sites.bookshop import Bookshop

    config = load_config(args.config, DEMO_SETTINGS)
    from .api import check_crawl_config

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
        console.print(f"{what}{where} → {args.db}", soft_wrap=True)
        site = Bookshop(server.base_url) if books else MatterCatalogue(server.base_url)
        summary = await run_crawl(stop, config, site, args.db, console, not args.no_dashboard, page)
        console.print(
            f"server saw {server.stats.requests} requests, "
            f"injected {sum(server.stats.faults.values())} faults"
        )
        nursery.cancel_scope.cancel()
    return summary


def _demo_port(db: str) -> int:
    """The port of the base URL the database at `db` recorded (0, any free port, if none)."""
    import sqlite3
    from contextlib import closing

    if not Path(db).is_file():
        return 0
    try:
        uri = Path(db).resolve().as_uri() + "?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as connection:
            row = connection.execute("SELECT base_url FROM catalogue_shape").fetchone()
    except sqlite3.Error:
        return 0
    port = urlsplit(row[0]).port if row and row[0] else None
    return port or 0


def main(argv: Sequence[str] | None = None) -> int:
    args: argparse.Namespace | None = None
    try:
        console = Console()
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        setup_logging(args.verbose, args.quiet, args.log_file)
        if args.command == "export":
            return _export(args)
        if args.command == "status":
            return _status(args)
        if args.command == "serve-demo":
            from .demo import FaultConfig, Markup, run_demo_server

            faults = FaultConfig.low() if args.faults == "low" else FaultConfig()
            markup = Markup(args.markup)
            serve_changed = functools.partial(run_demo_server, changes=args.change)
            trio.run(serve_changed, args.products, args.port, args.seed, faults, markup, args.books)
            return 0
        if args.command == "web":
            return _web(args, console)
        if args.command == "demo":
            demo = functools.partial(run_demo, args=args, console=console)
            summary = trio.run(interruptible, with_page, args, console, demo)
        else:
            config = load_config(args.config)
            from .api import check_crawl_config
            from .sites.loading import load_site

            # Before the database file exists: a config refused must leave nothing behind.
            check_crawl_config(config, None if args.config is None else str(args.config))

            site = load_site(args.site, args.base_url, config.site)
            crawl = functools.partial(
                run_crawl,
                config=config,
                site=site,
                db=args.db,
                console=console,
                dashboard=not args.no_dashboard,
            )
            summary = trio.run(interruptible, with_page, args, console, crawl)
        # The session has ended: a Ctrl-C now (a second one, say) must not cut the summary.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except BrokenPipeError:
        # `trio-crawl export ... | head`: the reader left. Point stdout at devnull so that the
        # flush at exit cannot fail again, and end quietly (as the Python docs recommend).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a pipeline cut short
    except (KeyboardInterrupt, StoppedAtStart):
        return interrupted()
    except BaseExceptionGroup as group:
        if group.subgroup((KeyboardInterrupt, StoppedAtStart)) is not None:
            return interrupted()
        message = operator_error(group, args)
        if message is None:
            raise
        return _fail(message)
    except Exception as exc:
        message = operator_error(exc, args)
        if message is None:
            raise
        return _fail(message)
    console.print(summary_table(summary))
    if summary.note:
        # What the catalogue's changes did to the store, and what the plan left for later.
        console.print(summary.note, markup=False, soft_wrap=True)
    if summary.reason:
        # On its own line, never cut to the table's width: it names the URL that failed.
        console.print(f"crawl {summary.status}: {summary.reason}", markup=False, soft_wrap=True)
    left = work_left(args)
    if left:
        console.print(left, markup=False, soft_wrap=True)
    return EXIT_CODES[summary.status]


def work_left(args: argparse.Namespace) -> str:
    """The crawl's last line when work is left (a stop, failed items, `page_range_limit`): how
    much, from the ledger, and the command that continues; "" when every product is stored."""
    from .stores import StoreOpenError, continue_command, read_status

    try:
        status = read_status(args.db)
    except StoreOpenError:
        return ""
    if status.shape is None or not status.products_left:
        return ""
    config = None if args.config is None else str(args.config)
    if args.command == "demo":
        words = ["trio-crawl", "demo", "--products", str(args.products), "--seed", str(args.seed)]
        words += ["--site", args.site] if args.site != "matter" else []
        words += ["--db", args.db, *(["--config", config] if config else [])]
        command = " ".join(shlex.quote(word) for word in words)
    else:
        command = continue_command(args.base_url, args.db, config)
        if args.site != "matter":
            command += f" --site {shlex.quote(args.site)}"
    pages = "page" if status.pages_left == 1 else "pages"
    return (
        f"left: {status.products_left} products on {status.pages_left} {pages};"
        f" continue with: {command}"
    )


def operator_error(exc: BaseException, args: argparse.Namespace | None = None) -> str | None:
    """The one-line message for a failure the operator can fix (bad arguments or config, a
    database that cannot be used, a port in use), or None for a bug (left as a traceback).
    An exception group from trio holding a single exception is looked through."""
    from .stores import StoreOpenError

    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    from .sites.loading import SiteLoadError

    if isinstance(exc, UsageError | SiteLoadError):
        return f"error: {exc}"
    if isinstance(exc, ConfigError):
        return f"config error: {' | '.join(str(exc).splitlines())}"
    if isinstance(exc, StoreOpenError):
        return f"database error: {' '.join(str(exc).split())}"
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
        return f"error: {exc}"
    if isinstance(exc, OSError) and exc.errno in (errno.EADDRINUSE, errno.EACCES):
        web = getattr(args, "web", None)
        if web is not None:
            where, option = f"{web.host}:{web.port}", "--web [HOST:]PORT"
        else:
            port = getattr(args, "port", None)
            where = f"127.0.0.1:{port}" if port is not None else "the address"
            option = "--port"
        return f"error: cannot listen on {where}: {exc.strerror}; choose another {option} (0 = any)"
    return None


def _fail(message: str) -> int:
    """Report a usage or config problem on one line (never wrapped) and exit with status 2."""
    print(f"trio-crawl: {message}", file=sys.stderr)
    return 2


def _export(args: argparse.Namespace) -> int:
    from .stores import check_output, export_products

    if args.out is not None:
        check_output(args.db, args.out)
    if args.out is None:
        count = export_products(args.db, args.format, sys.stdout)
    else:
        with open(args.out, "w", newline="", encoding="utf-8") as out:
            count = export_products(args.db, args.format, out)
    print(f"exported {count} products", file=sys.stderr)
    return 0


def _web(args: argparse.Namespace, console: Console) -> int:
    from .ui.web import WebAddress, serve_database

    address = args.web if args.web is not None else WebAddress("127.0.0.1", 8765)

    def announce(url: str) -> None:
        console.print(f"database page: {url} (Ctrl-C to stop)", markup=False, soft_wrap=True)

    trio.run(serve_database, args.db, address, announce)
    return 0


def _status(args: argparse.Namespace) -> int:
    import json

    from .stores import read_status
    from .ui.status_text import status_lines

    status = read_status(args.db, None if args.failures else 10)
    print(json.dumps(status.to_dict(), indent=2) if args.json else "\n".join(status_lines(status)))
    return 0


if __name__ == "__main__":
    sys.exit(main())  # (`python -m trio_crawl` also covers a Ctrl-C while this module loads)
