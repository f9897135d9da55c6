"""`trio-crawl plan` and `trio-crawl worker`: one crawl shared by workers on many machines
through Redis (`trio_crawl.distributed`).

`plan` runs the crawl's planning once and puts its batches in the crawl's stream; `worker`
takes batches until the crawl is finished (any number of workers, started anywhere, before or
after `plan`). Both name the crawl by `--queue` (the prefix of its Redis keys), so several
crawls can share a Redis server.
"""

from __future__ import annotations

import argparse
import functools
import os
import socket
from pathlib import Path
from signal import SIGINT, SIGTERM
from typing import Any

import attrs

from ..config.model import CrawlConfig

DEFAULT_QUEUE = "trio-crawl"
DEFAULT_LEASE_SECS = 60.0
CANCELLED_EXIT = 130
"""A worker or crawl stopped before the crawl was finished (as `crawl` exits when cancelled)."""


def add_crawl_options(crawl: argparse.ArgumentParser, positive_int: Any) -> None:
    """`crawl --workers N --redis URL`: the plan, then N local worker processes."""
    crawl.add_argument(
        "--workers", type=positive_int, help="plan, then run N worker processes (needs --redis)"
    )
    crawl.add_argument("--redis", help="redis://host:port/db, for --workers")
    crawl.add_argument(
        "--queue", default=DEFAULT_QUEUE, help=f"the crawl's Redis key prefix ({DEFAULT_QUEUE})"
    )


def add_commands(
    commands: Any, common: argparse.ArgumentParser, base_url: Any, db_help: str
) -> None:
    for name, help_text in (
        ("plan", "plan a crawl shared through Redis: status check, then enqueue its batches"),
        ("worker", "take a Redis-shared crawl's batches until it is finished"),
    ):
        command = commands.add_parser(name, parents=[common], help=help_text)
        command.add_argument("--config", type=Path, help="TOML config file")
        command.add_argument("--base-url", type=base_url, required=True, help="catalogue base URL")
        command.add_argument("--site", default="matter", metavar="SITE", help="as for crawl")
        command.add_argument("--db", required=True, help=db_help)
        command.add_argument("--redis", required=True, help="redis://host:port/db")
        command.add_argument(
            "--queue", default=DEFAULT_QUEUE, help=f"the crawl's Redis key prefix ({DEFAULT_QUEUE})"
        )
        if name == "worker":
            command.add_argument("--name", help="this worker's consumer name (host-pid by default)")
            command.add_argument(
                "--lease-secs",
                type=float,
                default=DEFAULT_LEASE_SECS,
                help="silence after which another worker takes this one's batch"
                f" ({DEFAULT_LEASE_SECS:g})",
            )


async def run_plan(
    args: argparse.Namespace, config: CrawlConfig, site: Any, *, stop_on_signal: bool = False
) -> int:
    """0 when the plan is in the queue, or when nothing was planned because the crawl is
    planned already (the message says so); 1 when planning failed; 2, in one line, when Redis
    cannot be reached. With `stop_on_signal`, Ctrl-C or SIGTERM cancels the planning:
    `CANCELLED_EXIT`. Only the planning is cancelled, inside the connection to Redis, so that
    what it holds there is given back on the way out."""
    try:
        return await _plan(args, config, site, stop_on_signal)
    except BaseException as error:
        said = _unreachable("plan", args.redis, error)
        if said is None:
            raise
        return said


async def _plan(
    args: argparse.Namespace, config: CrawlConfig, site: Any, stop_on_signal: bool
) -> int:
    from ..distributed.client import connect
    from ..distributed.crawl import plan_crawl
    from ..distributed.politeness import open_crawl_politeness
    from ..distributed.queue import WorkQueue
    from ..stores import RecordTable, open_store
    from .worker_processes import unless_interrupted

    records = RecordTable.for_site(site)
    async with (
        connect(args.redis) as client,
        open_store(args.db, per_page=site.per_page, records=records) as store,
        open_crawl_politeness(client, args.queue, config) as politeness,
    ):
        plan = functools.partial(
            plan_crawl,
            config,
            site=site,
            store=store,
            queue=WorkQueue(client, args.queue),
            politeness=politeness,
        )
        if not stop_on_signal:
            planned = await plan()
        else:
            maybe, interrupted = await unless_interrupted(plan)
            if interrupted or maybe is None:
                return CANCELLED_EXIT
            planned = maybe
    if planned.refused:
        print(f"plan: {planned.refused}", flush=True)
        return 0
    summary = planned.summary
    assert summary is not None
    number = "" if planned.round is None else f" (round {planned.round.round})"
    print(f"plan{number} {summary.status}: {summary.note or summary.reason}", flush=True)
    return 0 if summary.status == "completed" else 1


async def run_worker(args: argparse.Namespace, config: CrawlConfig, site: Any) -> int:
    """0 once the crawl is finished (its summary printed); 130 when stopped: cancelled, or
    Ctrl-C/SIGTERM (with what is left and the command that continues); 1, with one line
    naming the server, when Redis or the store stayed away longer than the retry policy
    waits."""
    import sys

    from ..distributed.client import connect
    from ..distributed.crawl import Worked, work
    from ..distributed.events import publishing
    from ..distributed.outage import first_lost
    from ..distributed.politeness import open_crawl_politeness
    from ..distributed.queue import WorkQueue
    from ..stores import RecordTable, open_store
    from ..stores.location import locate
    from .steer import continue_line, steered_worker

    name = args.name or f"{socket.gethostname()}-{os.getpid()}"
    records = RecordTable.for_site(site)
    worked: Worked | None = None
    try:
        async with (
            connect(args.redis) as client,
            steered_worker(
                client, args.queue, lambda line: print(f"{name}: {line}", flush=True)
            ) as steering,
            publishing(client, args.queue, name) as publisher,
            open_store(args.db, per_page=site.per_page, records=records) as store,
            open_crawl_politeness(
                client, args.queue, config, lost_name=f"Redis at {_shown(args.redis)}"
            ) as politeness,
        ):
            worked = await work(
                config,
                site=site,
                store=store,
                queue=WorkQueue(client, args.queue),
                consumer=name,
                lease_ms=int(args.lease_secs * 1000),
                redis_name=f"Redis at {_shown(args.redis)}",
                store_name=f"the store at {locate(args.db).shown}",
                steering=steering,
                publisher=publisher,
                politeness=politeness,
            )
    except BaseException as error:
        lost = first_lost(error)
        if worked is not None:
            raise
        if lost is None:
            # Not there from the start (a Redis that goes away later is waited for).
            said = _unreachable(f"worker {name}", args.redis, error)
            if said is None:
                raise
            return said
        print(f"worker {name} stopped: {lost}", file=sys.stderr, flush=True)
        return 1
    assert worked is not None
    tally = worked.tally
    fields = ", ".join(
        f"{key} {value}" for key, value in attrs.asdict(tally).items() if key != "stopped"
    )
    ended = f"cancelled ({tally.stopped})" if tally.stopped else "finished"
    print(f"worker {ended}: {fields}", flush=True)
    if worked.summary is not None:
        # The whole crawl: every worker's counts and every failed item.
        print("\n".join(worked.summary.lines()), flush=True)
        return 0
    # Stopped before the end: what the store holds so far, and how to go on.
    print("\n".join(_stored_so_far(args.db)), flush=True)
    left = continue_line(args, cancelled=bool(steering.state.cancelled))
    if left:
        print(left, flush=True)
    return CANCELLED_EXIT


async def run_crawl_with_workers(args: argparse.Namespace, config: CrawlConfig, site: Any) -> int:
    """Plan, then `args.workers` worker processes on this machine; each worker's tally and
    the whole crawl's summary once at the end. 0 only when the plan and every worker succeeded
    and the whole crawl completed: a worker ends well once the queue is finished, even when
    some of its products failed for good. A crawl planned already and not finished is not
    planned again: the workers finish it."""
    import sys

    from ..distributed.client import connect
    from ..distributed.queue import WorkQueue
    from ..distributed.summary import stored_summary
    from ..stores import read_status
    from .steer import continue_line
    from .worker_processes import run_workers

    status = await run_plan(args, config, site, stop_on_signal=True)
    if status == CANCELLED_EXIT:
        print("crawl cancelled: interrupted by signal while planning", flush=True)
        print(continue_line(args, cancelled=True), flush=True)
        return CANCELLED_EXIT
    if status != 0:
        return status or 1
    command = [
        sys.executable, "-m", "trio_crawl", "worker", "--base-url", args.base_url,
        "--db", args.db, "--redis", args.redis, "--queue", args.queue, "--site", args.site,
    ]  # fmt: skip
    if args.config is not None:
        command += ["--config", str(args.config)]
    name = f"{socket.gethostname()}-{os.getpid()}"
    workers = await run_workers(command, args.workers, name)
    failed = stopped = 0
    for worker in workers.processes:
        ended = ("worker finished", "worker cancelled")
        tally = next((line for line in worker.lines if line.startswith(ended)), "")
        print(f"w{worker.number}: exit {worker.returncode}; {tally or 'no tally'}", flush=True)
        # A SIGTERM passed on before a worker could catch it ends it as a signal does.
        signalled = workers.interrupted and worker.returncode in (-SIGTERM, -SIGINT)
        stopped += worker.returncode == CANCELLED_EXIT or signalled
        failed += worker.returncode not in (0, CANCELLED_EXIT) and not signalled
    if failed == 0 and stopped:
        print("\n".join(_stored_so_far(args.db)), flush=True)
        why = "interrupted by signal" if workers.interrupted else "cancelled"
        print(f"crawl cancelled: {why}; {stopped} of {args.workers} workers stopped", flush=True)
        left = continue_line(args, cancelled=True)
        if left:
            print(left, flush=True)
        return CANCELLED_EXIT
    async with connect(args.redis) as client:
        whole = await stored_summary(WorkQueue(client, args.queue))
    if whole is None:
        print("no summary of the whole crawl: no worker concluded it", flush=True)
    else:
        print("\n".join(whole.lines()), flush=True)
    still_left = read_status(args.db, 10).continue_with
    done_well = whole is not None and whole.status == "completed"
    return 0 if failed == 0 and done_well and still_left is None else 1


def _stored_so_far(db: str) -> list[str]:
    """What the store holds of a crawl stopped before its end, without the single-process
    command that `status` gives to go on: a stopped distributed crawl prints its own."""
    from ..stores import read_status
    from ..ui.status_text import status_lines

    lines = status_lines(read_status(db, 10))
    return [line for line in lines if "continue with: " not in line and "start with: " not in line]


def _unreachable(who: str, url: str, error: BaseException) -> int | None:
    """2, said in one line, when `error` holds a failure to reach Redis; else None."""
    import sys

    from ..distributed.outage import first_line, redis_unreachable

    unreachable = redis_unreachable(error)
    if unreachable is None:
        return None
    print(f"{who}: cannot reach Redis at {_shown(url)}: {first_line(unreachable)}", file=sys.stderr)
    return 2


def _shown(url: str) -> str:
    """`url` without its password, for messages."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return parts._replace(netloc=f"{parts.username or ''}:***@{host}{port}").geturl()


def add_status_options(status: argparse.ArgumentParser) -> None:
    """`status --redis URL --queue Q`: the distributed crawl's round, summary and workers."""
    status.add_argument("--redis", help="redis://host:port/db: also show a distributed crawl")
    status.add_argument(
        "--queue", default=DEFAULT_QUEUE, help=f"the crawl's Redis key prefix ({DEFAULT_QUEUE})"
    )


async def distributed_status(redis_url: str, prefix: str) -> list[str]:
    """The distributed crawl `prefix` as `status` prints it: its round and progress, the whole
    crawl's summary once it is finished, and every worker that beats (or went silent)."""
    from ..distributed.client import connect
    from ..distributed.heartbeat import workers_seen
    from ..distributed.queue import WorkQueue
    from ..distributed.rounds import current_round
    from ..distributed.summary import stored_summary

    async with connect(redis_url) as client:
        queue = WorkQueue(client, prefix)
        crawl = await current_round(queue)
        if crawl is None:
            return [f"distributed crawl {prefix!r}: not planned yet"]
        progress = await queue.progress()
        whole = await stored_summary(queue)
        seen = await workers_seen(queue)
    lines = [
        f"distributed crawl {prefix!r}: crawl {crawl.id}, round {crawl.round},"
        + (
            f" planned {crawl.planned_at}: {crawl.batches} batches, {crawl.products} products"
            if progress.planned
            else " planning"
        )
    ]
    if whole is not None:
        lines += whole.lines()
    elif progress.planned:
        state = "finished, concluding" if progress.finished else "running"
        lines.append(f"  {state}: {progress.pending} batches in workers' hands")
    lost = sum(1 for worker in seen if worker.lost)
    lines.append(f"  workers: {len(seen) - lost} live, {lost} lost")
    lines += [worker.line() for worker in seen]
    return lines
