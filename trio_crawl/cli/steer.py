"""`trio-crawl pause|resume|cancel --redis URL --queue Q`: steer every worker of a crawl shared
through Redis, and a worker's side of it (the control stream followed, Ctrl-C and SIGTERM as
this worker's own stop).

A pause holds every worker's batch (items in flight finish, none starts) and no worker takes
a new one until `resume`; a cancel stops every worker, each keeping what it stored and giving
its batch back at once, and holds for workers started later until a new `plan`.
"""

from __future__ import annotations

import argparse
import shlex
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import trio

if TYPE_CHECKING:
    from ..distributed.control import CrawlState, Steering

STEER_HELP = {
    "pause": "pause every worker of a Redis-shared crawl (no new item or batch starts)",
    "resume": "resume a paused Redis-shared crawl",
    "cancel": "cancel a Redis-shared crawl: every worker stops, keeping what it stored",
}
SIGNAL_STOP = "interrupted by signal"


def add_commands(commands: Any, common: argparse.ArgumentParser, default_queue: str) -> None:
    for action, help_text in STEER_HELP.items():
        command = commands.add_parser(action, parents=[common], help=help_text)
        command.add_argument("--redis", required=True, help="redis://host:port/db")
        command.add_argument(
            "--queue", default=default_queue, help=f"the crawl's Redis key prefix ({default_queue})"
        )
        if action == "cancel":
            command.add_argument(
                "--reason", default="cancelled by trio-crawl cancel", help="said by every worker"
            )


def describe(state: CrawlState) -> str:
    if state.cancelled:
        return f"cancelled ({state.cancelled})"
    return "paused" if state.paused else "running"


async def run_steer(args: argparse.Namespace) -> int:
    from ..distributed.control import steer

    state = await steer(args.redis, args.queue, args.command, getattr(args, "reason", ""))
    print(f"crawl {args.queue}: {args.command} sent; the crawl is {describe(state)}", flush=True)
    return 0


@asynccontextmanager
async def steered_worker(
    client: Any, prefix: str, say: Callable[[str], None]
) -> AsyncIterator[Steering]:
    """A worker's steering for as long as the block runs: the crawl's control stream followed
    (its state read before the block starts), and Ctrl-C or SIGTERM stopping this worker."""
    from ..distributed.control import ControlChannel, Steering

    steering = Steering(on_change=lambda state: say(f"crawl {describe(state)}"))
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def stop_on_signal() -> None:
                async for _ in signals:
                    say("stopping: interrupted by signal")
                    steering.stop(SIGNAL_STOP)

            nursery.start_soon(stop_on_signal)
            await nursery.start(ControlChannel(client, prefix).follow, steering.apply)
            yield steering
            nursery.cancel_scope.cancel()


def shown_redis(url: str) -> str:
    """`url` without its password (it goes on a printed command line)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = (f"{parts.username}@" if parts.username else "") + host
    netloc += f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=netloc))


def distributed_command(args: argparse.Namespace, command: str, db: str, *extra: str) -> str:
    """The `command` (plan, worker, crawl) line for the same crawl, shell-quoted."""
    words = ["trio-crawl", command, "--base-url", args.base_url, "--db", db, *extra]
    words += ["--redis", shown_redis(args.redis), "--queue", args.queue]
    if args.config is not None:
        words += ["--config", str(args.config)]
    if args.site != "matter":
        words += ["--site", args.site]
    return " ".join(shlex.quote(word) for word in words)


def continue_line(args: argparse.Namespace, cancelled: bool) -> str:
    """What is left and the commands that finish the crawl ("" when the store holds it all):
    after a cancel of the whole crawl a new `plan` first (it lifts the cancel). A crawl
    stopped before its planning recorded the catalogue's shape has no count to give."""
    from ..stores import StoreOpenError, read_status
    from ..stores.location import locate

    try:
        status = read_status(args.db)
    except StoreOpenError:
        status = None
    if status is not None and status.shape is not None and not status.products_left:
        return ""
    db = locate(args.db).shown if status is None else status.path
    if args.command == "crawl":
        then = distributed_command(args, "crawl", db, "--workers", str(args.workers))
    else:
        then = distributed_command(args, "worker", db)
        if cancelled:
            then = f"{distributed_command(args, 'plan', db)}, then {then}"
    if status is None or status.shape is None:
        return f"continue with: {then}"
    pages = "page" if status.pages_left == 1 else "pages"
    return (
        f"left: {status.products_left} products on {status.pages_left} {pages};"
        f" continue with: {then}"
    )
