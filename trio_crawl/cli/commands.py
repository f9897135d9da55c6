"""The `trio-crawl` command's entry (`main`): which command runs, and how it ends.

Exit status: 0 when the crawl completed (even partially: failed items are listed), 1 when it
failed, 3 when it timed out, 130 when it was cancelled (Ctrl-C), 2 for bad arguments or config
(one line naming the problem).
"""

from __future__ import annotations

import argparse
import errno
import functools
import os
import shlex
import signal
import sys
from collections.abc import Sequence

import trio
from rich.console import Console

from ..config.errors import ConfigError
from ..interrupted import interrupted
from ..ui.dashboard import summary_table
from .collector import crawl_collector
from .logs import setup_logging
from .parser import UsageError, build_parser
from .runs import StoppedAtStart, interruptible, load_config, run_crawl, run_demo, with_page

EXIT_CODES = {"completed": 0, "partial": 0, "failed": 1, "timed_out": 3, "cancelled": 130}


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
            from ..demo import FaultConfig, Markup, run_demo_server

            faults = FaultConfig.low() if args.faults == "low" else FaultConfig()
            markup = Markup(args.markup)
            serve_changed = functools.partial(
                run_demo_server, changes=args.change, latency_ms=args.latency
            )
            trio.run(serve_changed, args.products, args.port, args.seed, faults, markup, args.books)
            return 0
        if args.command == "web":
            return _web(args, console)
        if args.command in ("pause", "resume", "cancel"):
            from .steer import run_steer

            return trio.run(run_steer, args)
        if args.command == "demo":
            demo = functools.partial(run_demo, args=args, console=console)
            with crawl_collector():
                summary = trio.run(interruptible, with_page, args, console, demo)
        else:
            config = load_config(args.config)
            from ..api import check_crawl_config
            from ..sites.loading import load_site

            # Before the database file exists: a config refused must leave nothing behind.
            check_crawl_config(config, None if args.config is None else str(args.config))

            site = load_site(args.site, args.base_url, config.site)
            from .distributed import run_crawl_with_workers, run_plan, run_worker

            if args.command in ("plan", "worker"):
                command = run_plan if args.command == "plan" else run_worker
                return trio.run(command, args, config, site)
            if check_workers(args):
                return trio.run(run_crawl_with_workers, args, config, site)
            crawl = functools.partial(
                run_crawl,
                config=config,
                site=site,
                db=args.db,
                console=console,
                dashboard=not args.no_dashboard,
            )
            with crawl_collector():
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
    from ..stores import StoreOpenError, continue_command, read_status

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
        words += ["--db", status.path, *(["--config", config] if config else [])]
        command = " ".join(shlex.quote(word) for word in words)
    else:
        # `status.path` names the database as `--db` did, but never with its password.
        command = continue_command(args.base_url, status.path, config)
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
    from ..stores import StoreOpenError

    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    from ..distributed.client import RedisUnavailable
    from ..sites.loading import SiteLoadError

    if isinstance(exc, UsageError | SiteLoadError):
        return f"error: {exc}"
    if isinstance(exc, RedisUnavailable):
        return f"redis error: {exc}"
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


def check_workers(args: argparse.Namespace) -> bool:
    """Whether `crawl` runs through Redis; `UsageError` for one of the two options alone."""
    workers, redis = getattr(args, "workers", None), getattr(args, "redis", None)
    if (workers is None) != (redis is None):
        raise UsageError("crawl: --workers N and --redis URL go together")
    return workers is not None


def _fail(message: str) -> int:
    """Report a usage or config problem on one line (never wrapped) and exit with status 2."""
    print(f"trio-crawl: {message}", file=sys.stderr)
    return 2


def _export(args: argparse.Namespace) -> int:
    from ..stores import check_output, export_products

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
    from ..ui.web import WebAddress, serve_database

    address = args.web if args.web is not None else WebAddress("127.0.0.1", 8765)

    def announce(url: str) -> None:
        console.print(f"database page: {url} (Ctrl-C to stop)", markup=False, soft_wrap=True)

    if getattr(args, "redis", None) is not None:
        from ..distributed.crawl_page import serve_crawl

        trio.run(serve_crawl, args.redis, args.queue, args.db, address, announce)
        return 0
    trio.run(serve_database, args.db, address, announce)
    return 0


def _status(args: argparse.Namespace) -> int:
    import json

    from ..stores import read_status
    from ..ui.status_text import status_lines

    status = read_status(args.db, None if args.failures else 10)
    print(json.dumps(status.to_dict(), indent=2) if args.json else "\n".join(status_lines(status)))
    if args.redis:
        from .distributed import distributed_status

        print("\n".join(trio.run(distributed_status, args.redis, args.queue)))
    return 0
